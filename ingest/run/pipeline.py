"""One source, one pass: discover -> skip known -> fetch -> adapter -> dedup -> store.

`run_source` is the single entry point the daemon and the backfill both call. Discovered URLs go
to the frontier in the database first, so a crash between discovery and fetching loses nothing:
the next pass fetches what is still pending. Fetching runs in a small thread pool (the fetcher
keeps per-host politeness); each page is parsed in a worker process under a deadline (parse.py),
so a page that takes longer than `parse_timeout` is rejected as `parse-timeout` and cannot hang
the daemon. Every write to the archive (a storage.Store) happens on the calling thread: the pages that finished
together are written in one batch (one transaction), each page all or nothing, the dedup stage (archive/dedup.py)
judging each article inside it just before it is saved.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import os
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Final

from ingest.archive import dedup, learn
from ingest.archive.location import raw_archive as raw_archive  # re-exported: the runners, demo and benches use it
from ingest.archive.topics import match_topics
from ingest.archive.warc import Packed, WarcArchive
from ingest.clean.adapters import get_adapter
from ingest.clean.adapters.base import Adapter
from ingest.clean.parse import parse_page as parse_page  # re-exported: `ingest extract` parses one page
from ingest.config import Source, Topic
from ingest.crawl.fetch import Fetcher
from ingest.crawl.harvest import Harvest, discover_links
from ingest.logs import fields
from ingest.models import (
    NOTHING_LEARNED,
    OPEN_WINDOW,
    Article,
    BlockKey,
    FetchError,
    Fingerprint,
    Learned,
    Link,
    Rejected,
    WarcRef,
    holder_name,
)
from ingest.models import Window as Window  # re-exported: callers build windows for run_source
from ingest.run import revisit
from ingest.run.parsing import PARSE_TIMEOUT, parse_isolated, parse_pool
from ingest.run.workers import WorkerPool
from ingest.storage import CLAIM_SECONDS, Reports, Revisit, Store
from ingest.urls import url_key

log = logging.getLogger("ingest")

# Finished pages are written together, in one transaction, once WRITE_BATCH are waiting or the first of them
# has waited WRITE_EVERY seconds: a commit per page took a tenth of the writing process's CPU.
WRITE_BATCH: Final = 8
WRITE_EVERY: Final = 0.25
CLAIM_BATCH: Final = 16  # links claimed in one transaction (a claim per link took a commit per page)
RELEASE_EVERY: Final = 1.0  # a pass gives back the leases of hosts it has not used for this long, this often
# Daemon passes (the demo's are daemon passes too) revisit stored articles when due, after their new links, with
# what is left of the pass's page budget; a backfill never does.
REVISITING_KINDS: Final = frozenset({"run", "demo"})


@dataclass
class Summary:
    """Counts of one pass over one source."""

    source: str
    discovered: int = 0
    new: int = 0
    duplicate: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    failed: Counter[str] = field(default_factory=Counter)
    stopped: bool = False
    learned: int = 0  # times a block of the source's pages became boilerplate during the pass
    read: int = 0  # feeds, sitemaps and listing pages read (304 included)
    unread: Counter[str] = field(default_factory=Counter)  # those that could not be, by reason
    # Handed to workers elsewhere (run/queue.py): the jobs queued (None: this process fetched the pages itself), and
    # those that were waiting in the queue already; the pages' outcomes are then the workers'.
    queued: int | None = None
    already_queued: int = 0
    revisited: int = 0  # stored articles fetched again (run/revisit.py); their outcomes are counted above too
    removed: int = 0  # of those, pages gone (404, 410): the articles are marked removed

    @property
    def all_failed(self) -> bool:
        """Every request of the pass failed (discovery's included) and at least one was made: the outlet, or the
        network, is down. A page the outlet answered and we rejected, or a 304, is an answer, not a failure."""
        answered = self.read + self.new + self.duplicate + self.updated + self.unchanged + sum(self.rejected.values())
        return answered == 0 and bool(self.unread or self.failed)

    @property
    def status(self) -> str:
        """How the pass ended, as `runs.status` and the daemon's pass line say it: "stopped" (SIGTERM, Ctrl-C: it
        did not get to the end, whatever it met), "failed" (all_failed), else "ok"."""
        return "stopped" if self.stopped else "failed" if self.all_failed else "ok"

    def add(self, outcome: str, reason: str | None) -> None:
        """Count one fetch outcome."""
        if outcome == "rejected":
            self.rejected[reason or "unknown"] += 1
        elif outcome == "failed":
            self.failed[reason or "unknown"] += 1
        else:
            setattr(self, outcome, getattr(self, outcome) + 1)

    def counts(self) -> dict[str, int]:
        """Flat counts, as stored in the runs table."""
        return {"discovered": self.discovered, "new": self.new, "duplicate": self.duplicate,
                "updated": self.updated, "unchanged": self.unchanged,
                "rejected": sum(self.rejected.values()), "failed": sum(self.failed.values())}


@dataclass(frozen=True)
class Outcome:
    """What fetching and parsing one link produced; computed off the database thread."""

    link: Link
    article: Article | None = None
    error: Rejected | None = None
    status: int | None = None
    fingerprint: Fingerprint | None = None  # the article's, computed by the parse worker
    blocks: tuple[BlockKey, ...] = ()  # its text blocks' keys, for the source's learned boilerplate
    raw: WarcRef | None = None  # where the page's bytes were archived
    digest: str = ""  # the text's content hash, computed by the parse worker
    ms: int | None = None  # how long fetching and parsing the page took
    validators: tuple[str | None, str | None] = (None, None)  # the page's ETag and Last-Modified (revisits)


def format_summaries(summaries: list[Summary]) -> str:
    """The backfill's closing report: one line per source and a total."""
    lines = []
    total = Summary("total")
    for s in summaries:
        lines.append(_summary_line(s))
        for name in ("discovered", "new", "duplicate", "updated", "unchanged"):
            setattr(total, name, getattr(total, name) + getattr(s, name))
        total.rejected.update(s.rejected)
        total.failed.update(s.failed)
        total.read += s.read
        total.unread.update(s.unread)
        if s.queued is not None:
            total.queued = (total.queued or 0) + s.queued
            total.already_queued += s.already_queued
    if len(summaries) > 1:
        lines.append(_summary_line(total))
    if any(s.stopped for s in summaries):
        lines.append("stopped early: run the same command again to continue")
    return "\n".join(lines)


def _summary_line(s: Summary) -> str:
    def reasons(counter: Counter[str]) -> str:
        return f" ({', '.join(f'{k}: {v}' for k, v in counter.most_common())})" if counter else ""
    if s.queued is not None:
        return (f"{s.source}: {s.discovered} links discovered, {s.queued} queued for the workers"
                f"{f' ({s.already_queued} were queued already)' if s.already_queued else ''}")
    line = (f"{s.source}: {s.new} new, {s.duplicate} duplicate, {s.updated} updated, {s.unchanged} unchanged, "
            f"{sum(s.rejected.values())} rejected{reasons(s.rejected)}, "
            f"{sum(s.failed.values())} failed{reasons(s.failed)}")
    if s.all_failed:
        line += (f"; FAILED: every request failed, {sum(s.unread.values())} feeds, sitemaps or listing pages "
                 f"unread{reasons(s.unread)}")
    return line


# --- one page -----------------------------------------------------------------------------------

def fetch_article(fetcher: Fetcher, pool: WorkerPool, adapter: Adapter, source: Source, link: Link,
                  window: Window = OPEN_WINDOW, parse_timeout: float = PARSE_TIMEOUT,
                  learned: Learned = NOTHING_LEARNED, archive: WarcArchive | None = None,
                  validators: tuple[str | None, str | None] = (None, None)) -> Outcome:
    """Fetch and clean one article page; never raises for a bad page, returns the reason instead.

    With an `archive`, the bytes of a page that cleans into an article are kept (ingest/archive/warc.py; the parse
    worker builds the records), so `ingest reclean` can clean it again with what is learned later.
    The outcome's `ms` is the wall time of the fetch and the parse (waits for the host's turn included).
    `validators` (ETag, Last-Modified of an earlier fetch) make it a conditional GET: a 304 is an outcome with
    that status and neither article nor error.
    """
    started = time.monotonic()
    outcome = _fetch_article(fetcher, pool, adapter, source, link, window, parse_timeout, learned, archive,
                             validators)
    return dataclasses.replace(outcome, ms=elapsed_ms(started))


def elapsed_ms(started: float) -> int:
    """Milliseconds since `started` (a time.monotonic() reading)."""
    return round((time.monotonic() - started) * 1000)


def _fetch_article(fetcher: Fetcher, pool: WorkerPool, adapter: Adapter, source: Source, link: Link,
                   window: Window, parse_timeout: float, learned: Learned, archive: WarcArchive | None,
                   validators: tuple[str | None, str | None] = (None, None)) -> Outcome:
    status: int | None = None
    try:
        page = fetcher.fetch(link.url, allowed=source.allows, etag=validators[0], last_modified=validators[1])
        status = page.status
        found = (page.headers.get("etag") or validators[0], page.headers.get("last-modified") or validators[1])
        if status == 304:
            return Outcome(link, status=status, validators=found)
        keep = archive is not None and archive.enabled and page.status == 200
        parsed = parse_isolated(pool, adapter, source, page, window, parse_timeout, learned,
                                fetcher.sent_headers if keep else None)
        raw = keep_raw(archive, source, parsed.packed, page.url) if archive is not None and parsed.packed else None
        return Outcome(link, parsed.article, status=status, fingerprint=parsed.fingerprint, blocks=parsed.blocks,
                       raw=raw, digest=parsed.digest, validators=found)
    except FetchError as exc:
        return Outcome(link, error=exc, status=exc.status)
    except Rejected as exc:
        return Outcome(link, error=exc, status=status)
    except Exception as exc:  # a bug of ours must not take the daemon down either
        log.exception("%s parse-error %s", source.slug, link.url,
                      extra=fields(source=source.slug, outcome="rejected", url=link.url, reason="parse-error"))
        return Outcome(link, error=Rejected("parse-error", f"{type(exc).__name__}: {exc}"), status=status)


def keep_raw(archive: WarcArchive, source: Source, packed: Packed, url: str) -> WarcRef | None:
    """Append a page's records (built by the parse worker) to the raw archive; where they are, or None."""
    try:
        return archive.append(source.slug, packed)
    except OSError as exc:  # a full disk costs the raw copy, not the article
        log.error("%s warc-error %s (%s)", source.slug, url, exc)
        return None


PERMANENT_FETCH_ERRORS = frozenset({"robots", "off-domain", "too-large", "bad-url", "redirects", "bad-encoding"})


def is_transient(error: Rejected) -> bool:
    """A failure worth retrying on a later pass: network trouble, 5xx, 408, 429, host backoff."""
    if not isinstance(error, FetchError) or error.reason in PERMANENT_FETCH_ERRORS:
        return False
    return not (error.reason.startswith("http-4") and error.reason not in ("http-408", "http-429"))


def record(store: Store, outcome: Outcome, summary: Summary,
           topics: Mapping[str, Topic] | None = None) -> str:
    """Store one outcome: dedup stage, article, its topics, fetch log row and frontier state in one transaction
    (the dedup stage's lookups and the save in the same one, so no other process stores the URL or text between).

    A link deferred because its host is backing off was never requested: it keeps its attempts and
    gets no fetch-log row (a host down for a day would add one per pending link per pass); the pass
    logs one line for all of them.
    """
    link, source = outcome.link, outcome.link.source
    deferred = outcome.error is not None and outcome.error.reason == "host-backoff"
    with store.batch():
        if outcome.article is not None:
            verdict = dedup.judge(store, outcome.article, outcome.fingerprint, outcome.digest or None)
            saved = store.save_article(outcome.article, verdict, raw=outcome.raw)
            result, reason, article_id = saved.outcome, None, saved.article_id
            summary.learned += store.observe_blocks(source, url_key(outcome.article.url), outcome.blocks)
            if topics:
                store.save_topics(article_id, match_topics(outcome.article.title, outcome.article.text, topics))
            if any(outcome.validators):  # the first revisit is a conditional GET too (run/revisit.py)
                store.save_validators(outcome.article.url, source=source, kind="article", status=outcome.status or 200,
                                      etag=outcome.validators[0], last_modified=outcome.validators[1])
            store.settle_link(link.url, "done")
        else:
            assert outcome.error is not None
            reason, article_id = outcome.error.reason, None
            transient = is_transient(outcome.error)
            result = "failed" if transient else "rejected"
            state = "skipped" if reason == "out-of-window" else ("failed" if transient else "rejected")
            store.settle_link(link.url, state, reason, attempted=not deferred)
        if not deferred:
            store.log_fetch(url=link.url, source=source, outcome=result, status=outcome.status,
                            reason=reason, detail=outcome.error.detail if outcome.error else None,
                            article_id=article_id)
    summary.add(result, reason)
    log.log(logging.DEBUG if deferred else logging.INFO, "%s %s %s%s", source, result, link.url,
            f" ({reason})" if reason else "",
            extra=fields(source=source, outcome=result, url=link.url, reason=reason, ms=outcome.ms))
    return result


# --- a whole pass -------------------------------------------------------------------------------

def run_source(store: Store, fetcher: Fetcher, source: Source, *, kind: str = "run",
               window: Window = OPEN_WINDOW, limit: int | None = None,
               stop: threading.Event | None = None, workers: int = 4,
               on_outcome: Callable[[str], None] | None = None,
               on_total: Callable[[int], None] | None = None,
               on_discovered: Callable[[int, int], None] | None = None,
               pool: WorkerPool | None = None, parse_timeout: float = PARSE_TIMEOUT,
               topics: Mapping[str, Topic] | None = None, archive: WarcArchive | None = None) -> Summary:
    """Discover, then fetch every pending link of one source; stops early when `stop` is set.

    `kind` "run" is a daemon pass (what is new); "backfill" walks the whole archive, or `window`'s part of it
    (harvest.py). `on_discovered(resources, links)` follows discovery, `on_total` and `on_outcome` the fetching.

    `pool` parses pages; without one, a pass starts (and closes) its own. Share one across passes.
    `topics` are the keyword rules articles are tagged with as they are stored; `archive` keeps the raw
    pages (see `raw_archive`).
    """
    stop = stop or threading.Event()
    adapter = get_adapter(source.adapter)
    summary = Summary(source.slug)
    run_id = store.start_run(source.slug, kind)
    status = "error"
    own_pool = pool is None
    parser = pool or parse_pool(min(max(1, workers), os.cpu_count() or 1))
    parser.warm()  # workers start while discovery fetches
    try:
        pending = discover_pending(store, fetcher, source, adapter, summary, kind=kind, window=window, limit=limit,
                                   stop=stop, on_discovered=on_discovered)
        if on_total:
            on_total(len(pending))
        task = _Task(fetcher, parser, adapter, source, window, parse_timeout, LearnedCache(store, source), archive)
        _fetch_all(store, task, pending, stop, workers, summary, on_outcome, topics)
        if kind in REVISITING_KINDS and source.revisit and not stop.is_set():  # with what is left of the budget
            revisit_due(store, task, summary, revisit.due_now(store, source, time.time(), limit, len(pending)), stop,
                        topics)
        if summary.failed["host-backoff"]:
            log.warning("%s deferred %d links: their host is backing off (hosts.backoff_until)",
                        source.slug, summary.failed["host-backoff"])
        summary.stopped = stop.is_set()
        status = summary.status
    finally:
        if own_pool:
            parser.close()
        store.finish_run(run_id, summary.counts(), status)
    return summary


def discover_pending(store: Store, fetcher: Fetcher, source: Source, adapter: Adapter, summary: Summary, *,
                     kind: str, window: Window, limit: int | None, stop: threading.Event,
                     on_discovered: Callable[[int, int], None] | None = None) -> list[Link]:
    """A pass's discovery (harvest.py: what is new, or with `kind` "backfill" the whole archive or the window's part
    of it) into the frontier, its counts in `summary`; then the source's pending links in the window, at most
    `limit`, the claims of dead processes released first. Passes fetch them here or queue them (run/queue.py)."""
    harvest = Harvest(store, source, window, backfill=kind == "backfill", stop=stop, on_read=on_discovered)
    discover_links(harvest, fetcher, adapter)
    summary.discovered, summary.unread = harvest.added, harvest.failures
    summary.read = harvest.read + harvest.not_modified
    start, end = window.bounds(source.zone)
    store.release_dead_claims()
    return store.pending_links(source.slug, start=start, end=end, limit=limit)


def revisit_due(store: Store, task: _Task, summary: Summary, due: Iterable[Revisit], stop: threading.Event,
                topics: Mapping[str, Topic] | None = None) -> int:
    """Fetch again the stored articles `due` (revisit.due_now), one at a time (one outlet: its host's turn paces
    them anyway); how many were revisited."""
    done = 0
    for each in due:
        if stop.is_set():
            break
        outcome = fetch_revisit(store, task.fetcher, task.pool, task.adapter, task.source, each, task.parse_timeout,
                                task.learned.current, task.archive)
        record_revisit(store, each, outcome, task.source, summary, topics)
        done += 1
    return done


def fetch_revisit(store: Store, fetcher: Fetcher, pool: WorkerPool, adapter: Adapter, source: Source, due: Revisit,
                  parse_timeout: float = PARSE_TIMEOUT, learned: Learned = NOTHING_LEARNED,
                  archive: WarcArchive | None = None) -> Outcome:
    """fetch_article for a revisit: a conditional GET with the last revisit's ETag and Last-Modified, else the
    first fetch's (kept by `record` with the feeds' and sitemaps' validators)."""
    validators = (due.etag, due.last_modified) if due.etag or due.last_modified else store.validators(due.url)
    return fetch_article(fetcher, pool, adapter, source, Link(due.url, source.slug, "revisit"), OPEN_WINDOW,
                         parse_timeout, learned, archive, validators)


def record_revisit(store: Store, due: Revisit, outcome: Outcome, source: Source, summary: Summary,
                   topics: Mapping[str, Topic] | None = None) -> str:
    """Store what a revisit found, in one transaction: unchanged (304, or the same story: counters and spacing
    aside), updated (a revision with its diff: store.save_article's changed path; its topics again), removed (404,
    410: marked, kept), or the fetch's failure; the fetch log row; the article's next place in the schedule."""
    now = time.time()
    reason: str | None = None
    gone = retry = False
    with store.batch():
        if outcome.status == 304:
            result = "unchanged"
        elif outcome.article is not None:
            article = dataclasses.replace(outcome.article, url=due.url)  # judged against the article it revisits
            verdict = dedup.judge(store, article, outcome.fingerprint, outcome.digest or None)
            if verdict.stored is None:  # the stored row went (re-keyed, deleted by hand): nothing to compare with
                result, reason = "rejected", "not-stored"
            else:
                saved = store.save_article(article, verdict, raw=outcome.raw)
                result = saved.outcome
                if topics and result == "updated":
                    store.save_topics(saved.article_id, match_topics(article.title, article.text, topics))
        else:
            assert outcome.error is not None
            reason = outcome.error.reason
            gone = outcome.status in revisit.GONE
            retry = not gone and is_transient(outcome.error)
            result = "removed" if gone else "failed" if retry else "rejected"
            if gone:
                store.mark_removed(due.article_id, outcome.status or 0)
        step, due_at = revisit.after_revisit(source.revisit, due.base_at, due.step, now, gone=gone, retry=retry)
        store.finish_revisit(due.url_key, step, due_at, *outcome.validators)
        store.log_fetch(url=due.url, source=source.slug, outcome=result, status=outcome.status, reason=reason,
                        detail=outcome.error.detail if outcome.error else None, article_id=due.article_id)
    summary.revisited += 1
    summary.add(result, reason)
    log.info("%s %s %s (revisit %d)%s", source.slug, result, due.url, due.step + 1, f" ({reason})" if reason else "",
             extra=fields(source=source.slug, outcome=result, url=due.url, reason=reason, ms=outcome.ms))
    return result


def learned_for(store: Reports, source: Source) -> Learned:
    """What cleaning `source`'s pages removes besides its adapter's rules: its learned keys and its pins."""
    return learn.learned(store, source.slug, keep=source.keep, junk=source.junk)


class LearnedCache:
    """The source's learned boilerplate as the pass's pages are cleaned with it: read from the store at the
    start and again whenever a page makes a block boilerplate (or another process did, seen at that time)."""

    def __init__(self, store: Store, source: Source) -> None:
        self.source = source
        self.current = NOTHING_LEARNED
        self.refresh(store)

    def refresh(self, store: Store) -> None:
        """Read the source's learned keys and pins again (one attribute swap: fetch threads read it)."""
        self.current = learned_for(store, self.source)


@dataclass(frozen=True)
class _Task:
    """What every page of one pass is fetched and parsed with."""

    fetcher: Fetcher
    pool: WorkerPool
    adapter: Adapter
    source: Source
    window: Window
    parse_timeout: float
    learned: LearnedCache
    archive: WarcArchive | None = None

    def __call__(self, link: Link) -> Outcome:
        return fetch_article(self.fetcher, self.pool, self.adapter, self.source, link, self.window,
                             self.parse_timeout, self.learned.current, self.archive)


def _fetch_all(store: Store, task: _Task, links: Iterable[Link], stop: threading.Event,
               workers: int, summary: Summary, on_outcome: Callable[[str], None] | None,
               topics: Mapping[str, Topic] | None) -> None:
    prefix = f"fetch-{task.source.slug}"
    held: list[Outcome] = []  # finished, not yet written
    first_held = 0.0
    claims = _Claims(store, links)
    released = time.monotonic()
    try:
        with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix=prefix) as threads:
            running: set[Future[Outcome]] = set()
            while True:
                for link in claims.take(0 if stop.is_set() else workers * 2 - len(running)):
                    running.add(threads.submit(task, link))
                if not running and not held:
                    if claims.done or stop.is_set():
                        return
                    continue  # every one of them claimed by another process: the next ones
                claims.renew()
                if time.monotonic() - released > RELEASE_EVERY:
                    task.fetcher.release_idle(RELEASE_EVERY)  # hosts we hold and stopped using, for others
                    released = time.monotonic()
                if running:
                    wait_for = 0.5 if not held else max(0.0, first_held + WRITE_EVERY - time.monotonic())
                    done, running = wait(running, timeout=wait_for, return_when=FIRST_COMPLETED)
                    # Cancelled before it was fetched: it stays pending in the frontier.
                    finished = [o for o in (f.result() for f in done)
                                if o.error is None or o.error.reason != "stopped"]
                    if finished and not held:
                        first_held = time.monotonic()
                    held += finished
                    # Pages finish one at a time: writing each alone made a commit (the writer's dearest step) per
                    # page. Held up to WRITE_BATCH pages or WRITE_EVERY seconds, they share one.
                    if running and len(held) < WRITE_BATCH and time.monotonic() - first_held < WRITE_EVERY:
                        continue
                if not held:
                    continue
                outcomes, held = held, []
                _write(store, task, outcomes, summary, on_outcome, topics)
    finally:
        claims.release()
        task.fetcher.release_idle()


class _Claims:
    """A pass's links, claimed CLAIM_BATCH at a time just before threads take them, so another process on the
    database (the daemon beside a backfill) skips them. A claim ends when its link is settled (record), or in
    release() when the pass stops; renew() keeps the pass's claims from lapsing."""

    def __init__(self, store: Store, links: Iterable[Link]) -> None:
        self.store = store
        self.holder = holder_name()
        self._todo = iter(links)
        self._ready: deque[Link] = deque()  # claimed, not yet taken
        self._exhausted = False
        self._renewed = time.monotonic()

    @property
    def done(self) -> bool:
        """Every link was claimed (by us or another process) and taken."""
        return self._exhausted and not self._ready

    def take(self, room: int) -> list[Link]:
        """Up to `room` claimed links; claims the next batch first when fewer are ready (a claim is a commit)."""
        if room > len(self._ready) and not self._exhausted:
            wanted = list(itertools.islice(self._todo, CLAIM_BATCH))
            self._exhausted = len(wanted) < CLAIM_BATCH
            self._ready.extend(self.store.claim_links(wanted, self.holder) if wanted else [])
        return [self._ready.popleft() for _ in range(min(max(room, 0), len(self._ready)))]

    def renew(self) -> None:
        """Renew the claims every third of their life."""
        if time.monotonic() - self._renewed > CLAIM_SECONDS / 3:
            self.store.renew_claims(self.holder)
            self._renewed = time.monotonic()

    def release(self) -> None:
        """Free the links claimed and not settled."""
        self.store.release_claims(self.holder)


def _write(store: Store, task: _Task, outcomes: list[Outcome], summary: Summary,
           on_outcome: Callable[[str], None] | None, topics: Mapping[str, Topic] | None) -> None:
    """Store finished pages in one transaction, each page still all or nothing inside it."""
    learned_before = summary.learned
    with store.batch():
        results = [record(store, outcome, summary, topics) for outcome in outcomes]
    # A block became boilerplate here, or in another process writing the same database.
    newest = store.learned_revision(task.source.slug)
    if summary.learned != learned_before or newest != task.learned.current.revision:
        task.learned.refresh(store)
    if on_outcome:
        for result in results:
            on_outcome(result)
