"""One source, one pass: discover -> skip known -> fetch -> adapter -> dedup -> store.

`run_source` is the single entry point the daemon and the backfill both call. Discovered URLs go
to the frontier in the database first, so a crash between discovery and fetching loses nothing:
the next pass fetches what is still pending. Fetching runs in a small thread pool (the fetcher
keeps per-host politeness); each page is parsed in a worker process under a deadline (parse.py),
so a page that takes longer than `parse_timeout` is rejected as `parse-timeout` and cannot hang
the daemon. Every database write happens on the calling thread: the pages that finished together are
written in one transaction, each page all or nothing.
"""

from __future__ import annotations

import logging
import os
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field

import sqlite_utils

from ingest import store
from ingest.adapters import get_adapter
from ingest.adapters.base import Adapter
from ingest.config import Source, Topic
from ingest.fetch import Fetcher
from ingest.harvest import Harvest, discover_links
from ingest.models import Article, FetchError, Link, Rejected
from ingest.neardup import Fingerprint
from ingest.parse import OPEN_WINDOW, PARSE_TIMEOUT, parse_isolated, parse_pool
from ingest.parse import Window as Window  # re-exported: callers build windows for run_source
from ingest.parse import parse_page as parse_page  # re-exported: `ingest extract` parses one page
from ingest.topics import match_topics, save_topics
from ingest.workers import WorkerPool

log = logging.getLogger("ingest")



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
    if len(summaries) > 1:
        lines.append(_summary_line(total))
    if any(s.stopped for s in summaries):
        lines.append("stopped early: run the same command again to continue")
    return "\n".join(lines)


def _summary_line(s: Summary) -> str:
    def reasons(counter: Counter[str]) -> str:
        return f" ({', '.join(f'{k}: {v}' for k, v in counter.most_common())})" if counter else ""
    return (f"{s.source}: {s.new} new, {s.duplicate} duplicate, {s.updated} updated, {s.unchanged} unchanged, "
            f"{sum(s.rejected.values())} rejected{reasons(s.rejected)}, "
            f"{sum(s.failed.values())} failed{reasons(s.failed)}")


# --- one page -----------------------------------------------------------------------------------

def fetch_article(fetcher: Fetcher, pool: WorkerPool, adapter: Adapter, source: Source, link: Link,
                  window: Window = OPEN_WINDOW, parse_timeout: float = PARSE_TIMEOUT) -> Outcome:
    """Fetch and clean one article page; never raises for a bad page, returns the reason instead."""
    status: int | None = None
    try:
        page = fetcher.fetch(link.url, allowed=source.allows)
        status = page.status
        parsed = parse_isolated(pool, adapter, source, page, window, parse_timeout)
        return Outcome(link, parsed.article, status=status, fingerprint=parsed.fingerprint)
    except FetchError as exc:
        return Outcome(link, error=exc, status=exc.status)
    except Rejected as exc:
        return Outcome(link, error=exc, status=status)
    except Exception as exc:  # a bug of ours must not take the daemon down either
        log.exception("%s parse-error %s", source.slug, link.url)
        return Outcome(link, error=Rejected("parse-error", f"{type(exc).__name__}: {exc}"), status=status)


PERMANENT_FETCH_ERRORS = frozenset({"robots", "off-domain", "too-large", "bad-url", "redirects", "bad-encoding"})


def is_transient(error: Rejected) -> bool:
    """A failure worth retrying on a later pass: network trouble, 5xx, 408, 429, host backoff."""
    if not isinstance(error, FetchError) or error.reason in PERMANENT_FETCH_ERRORS:
        return False
    return not (error.reason.startswith("http-4") and error.reason not in ("http-408", "http-429"))


def record(db: sqlite_utils.Database, outcome: Outcome, summary: Summary,
           topics: Mapping[str, Topic] | None = None) -> str:
    """Store one outcome: article, its topics, fetch log row and frontier state in one transaction.

    A link deferred because its host is backing off was never requested: it keeps its attempts and
    gets no fetch-log row (a host down for a day would add one per pending link per pass); the pass
    logs one line for all of them.
    """
    link, source = outcome.link, outcome.link.source
    deferred = outcome.error is not None and outcome.error.reason == "host-backoff"
    with store.transaction(db):
        if outcome.article is not None:
            saved = store.save_article(db, outcome.article, outcome.fingerprint)
            result, reason, article_id = saved.outcome, None, saved.article_id
            if topics:
                save_topics(db, article_id, match_topics(outcome.article.title, outcome.article.text, topics))
            store.settle_link(db, link.url, "done")
        else:
            assert outcome.error is not None
            reason, article_id = outcome.error.reason, None
            transient = is_transient(outcome.error)
            result = "failed" if transient else "rejected"
            state = "skipped" if reason == "out-of-window" else ("failed" if transient else "rejected")
            store.settle_link(db, link.url, state, reason, attempted=not deferred)
        if not deferred:
            store.log_fetch(db, url=link.url, source=source, outcome=result, status=outcome.status,
                            reason=reason, detail=outcome.error.detail if outcome.error else None,
                            article_id=article_id)
    summary.add(result, reason)
    log.log(logging.DEBUG if deferred else logging.INFO, "%s %s %s%s", source, result, link.url,
            f" ({reason})" if reason else "")
    return result


# --- a whole pass -------------------------------------------------------------------------------

def run_source(db: sqlite_utils.Database, fetcher: Fetcher, source: Source, *, kind: str = "run",
               window: Window = OPEN_WINDOW, limit: int | None = None,
               stop: threading.Event | None = None, workers: int = 4,
               on_outcome: Callable[[str], None] | None = None,
               on_total: Callable[[int], None] | None = None,
               pool: WorkerPool | None = None, parse_timeout: float = PARSE_TIMEOUT,
               topics: Mapping[str, Topic] | None = None) -> Summary:
    """Discover, then fetch every pending link of one source; stops early when `stop` is set.

    `pool` parses pages; without one, a pass starts (and closes) its own. Share one across passes.
    `topics` are the keyword rules articles are tagged with as they are stored.
    """
    stop = stop or threading.Event()
    adapter = get_adapter(source.adapter)
    summary = Summary(source.slug)
    run_id = store.start_run(db, source.slug, kind)
    status = "error"
    own_pool = pool is None
    parser = pool or parse_pool(min(max(1, workers), os.cpu_count() or 1))
    parser.warm()  # workers start while discovery fetches
    try:
        harvest = Harvest(db, source, window, resume=window.bounded, stop=stop)
        summary.discovered = discover_links(harvest, fetcher, adapter).added
        since = window.since.isoformat() if window.since else None
        until = window.until.isoformat() if window.until else None
        pending = store.pending_links(db, source.slug, since=since, until=until, limit=limit)
        if on_total:
            on_total(len(pending))
        task = _Task(fetcher, parser, adapter, source, window, parse_timeout)
        _fetch_all(db, task, pending, stop, workers, summary, on_outcome, topics)
        if summary.failed["host-backoff"]:
            log.warning("%s deferred %d links: their host is backing off (hosts.backoff_until)",
                        source.slug, summary.failed["host-backoff"])
        summary.stopped = stop.is_set()
        status = "stopped" if summary.stopped else "ok"
    finally:
        if own_pool:
            parser.close()
        store.finish_run(db, run_id, summary.counts(), status)
    return summary


@dataclass(frozen=True)
class _Task:
    """What every page of one pass is fetched and parsed with."""

    fetcher: Fetcher
    pool: WorkerPool
    adapter: Adapter
    source: Source
    window: Window
    parse_timeout: float

    def __call__(self, link: Link) -> Outcome:
        return fetch_article(self.fetcher, self.pool, self.adapter, self.source, link, self.window,
                             self.parse_timeout)


def _fetch_all(db: sqlite_utils.Database, task: _Task, links: Iterable[Link], stop: threading.Event,
               workers: int, summary: Summary, on_outcome: Callable[[str], None] | None,
               topics: Mapping[str, Topic] | None) -> None:
    todo = iter(links)
    prefix = f"fetch-{task.source.slug}"
    with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix=prefix) as threads:
        running: set[Future[Outcome]] = set()
        while True:
            while not stop.is_set() and len(running) < workers * 2:
                link = next(todo, None)
                if link is None:
                    break
                running.add(threads.submit(task, link))
            if not running:
                return
            done, running = wait(running, timeout=0.5, return_when=FIRST_COMPLETED)
            # Cancelled before it was fetched: it stays pending in the frontier.
            outcomes = [o for o in (f.result() for f in done) if o.error is None or o.error.reason != "stopped"]
            if not outcomes:
                continue
            # Whatever finished while the last batch was written goes in one transaction (a commit is the
            # writer's dearest step); each page is still all or nothing inside it.
            with store.transaction(db):
                results = [record(db, outcome, summary, topics) for outcome in outcomes]
            if on_outcome:
                for result in results:
                    on_outcome(result)
