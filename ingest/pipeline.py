"""One source, one pass: discover -> skip known -> fetch -> adapter -> dedup -> store.

`run_source` is the single entry point the daemon and the backfill both call. Discovered URLs go
to the frontier in the database first, so a crash between discovery and fetching loses nothing:
the next pass fetches what is still pending. Fetching runs in a small thread pool (the fetcher
keeps per-host politeness); each page is parsed in a worker process under a deadline (parse.py),
so a page that takes longer than `parse_timeout` is rejected as `parse-timeout` and cannot hang
the daemon. Every database write happens on the calling thread, one transaction per page.
"""

from __future__ import annotations

import logging
import os
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime

import sqlite_utils

from ingest import discover, store
from ingest.adapters import get_adapter
from ingest.adapters.base import Adapter
from ingest.config import Source, Topic
from ingest.fetch import Fetcher
from ingest.models import Article, FetchError, Link, Page, Rejected
from ingest.parse import OPEN_WINDOW, PARSE_TIMEOUT, parse_isolated, parse_pool
from ingest.parse import Window as Window  # re-exported: callers build windows for run_source
from ingest.parse import parse_page as parse_page  # re-exported: `ingest extract` parses one page
from ingest.topics import match_topics, save_topics
from ingest.workers import WorkerPool

log = logging.getLogger("ingest")

MAX_CHILD_SITEMAPS = 3  # per daemon pass; a backfill with a window walks every overlapping one


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


# --- discovery ----------------------------------------------------------------------------------

def discover_links(db: sqlite_utils.Database, fetcher: Fetcher, source: Source, adapter: Adapter,
                   window: Window = OPEN_WINDOW) -> list[Link]:
    """Every link the source's feeds, sitemaps and listing pages offer, in the window."""
    links: list[Link] = []
    for url in source.feeds:
        page = _fetch_resource(db, fetcher, source, url, "feed")
        if page is not None:
            links += _parsed(source, url, lambda p: discover.parse_feed(p.body, p.url, source.slug), page)
    links += _walk_sitemaps(db, fetcher, source, window)
    pages = source.max_pages * (10 if window.since else 1)
    for template in source.listings:
        for url in discover.listing_urls(template, pages):
            page = _fetch_resource(db, fetcher, source, url, "listing")
            if page is None:
                break
            found = _parsed(source, url, lambda p: discover.parse_listing(
                p.text, p.url, source.slug, adapter.is_article_url), page)
            links += found
            if not found:
                break
    seen: set[str] = set()
    unique = []
    for link in links:
        if link.url not in seen and source.wants(link.url) and _in_window(link, window):
            seen.add(link.url)
            unique.append(link)
    return unique


def _in_window(link: Link, window: Window) -> bool:
    return discover.in_window(link, window.since, window.until)


def _walk_sitemaps(db: sqlite_utils.Database, fetcher: Fetcher, source: Source, window: Window) -> list[Link]:
    links: list[Link] = []
    queue = [(url, 0) for url in source.sitemaps]
    visited: set[str] = set()
    while queue:
        url, depth = queue.pop(0)
        if url in visited or depth > 3:
            continue
        visited.add(url)
        page = _fetch_resource(db, fetcher, source, url, "sitemap")
        if page is None:
            continue
        try:
            found, children = discover.parse_sitemap(page.body, page.url, source.slug)
        except ValueError as exc:
            _log_resource_error(db, source, url, "parse-error", str(exc))
            continue
        links += found
        children = [c for c in discover.select_sitemaps(children, window.since, window.until)
                    if source.allows(c.url)]
        if not window.bounded:  # the daemon wants what is new: the most recently changed children
            children.sort(key=lambda c: c.lastmod or datetime.min.replace(tzinfo=UTC), reverse=True)
            children = children[:MAX_CHILD_SITEMAPS]
        queue += [(child.url, depth + 1) for child in children]
    return links


def _parsed(source: Source, url: str, parse: Callable[[Page], list[Link]], page: Page) -> list[Link]:
    try:
        return parse(page)
    except ValueError as exc:
        log.warning("%s discover-error %s (%s)", source.slug, url, exc)
        return []


def _fetch_resource(db: sqlite_utils.Database, fetcher: Fetcher, source: Source, url: str,
                    kind: str) -> Page | None:
    """Fetch a feed, sitemap or listing with a conditional GET; None when unchanged or failed."""
    etag, modified = store.validators(db, url)
    try:
        page = fetcher.fetch(url, allowed=source.allows, etag=etag, last_modified=modified)
    except FetchError as exc:
        if exc.reason != "stopped":
            _log_resource_error(db, source, url, exc.reason, exc.detail, exc.status)
        return None
    with store.transaction(db):
        store.save_validators(db, url, source=source.slug, kind=kind, status=page.status,
                              etag=page.headers.get("etag"), last_modified=page.headers.get("last-modified"))
    if page.status == 304:
        log.info("%s not-modified %s", source.slug, url)
        return None
    return page


def _log_resource_error(db: sqlite_utils.Database, source: Source, url: str, reason: str, detail: str,
                        status: int | None = None) -> None:
    log.warning("%s failed %s (%s %s)", source.slug, url, reason, detail)
    with store.transaction(db):
        store.log_fetch(db, url=url, source=source.slug, outcome="failed", status=status,
                        reason=reason, detail=detail)


# --- one page -----------------------------------------------------------------------------------

def fetch_article(fetcher: Fetcher, pool: WorkerPool, adapter: Adapter, source: Source, link: Link,
                  window: Window = OPEN_WINDOW, parse_timeout: float = PARSE_TIMEOUT) -> Outcome:
    """Fetch and clean one article page; never raises for a bad page, returns the reason instead."""
    status: int | None = None
    try:
        page = fetcher.fetch(link.url, allowed=source.allows)
        status = page.status
        return Outcome(link, parse_isolated(pool, adapter, source, page, window, parse_timeout), status=status)
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
            saved = store.save_article(db, outcome.article)
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
    try:
        links = discover_links(db, fetcher, source, adapter, window)
        summary.discovered = store.add_links(db, (lk for lk in links if not store.is_known(db, lk.url)))
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
            for future in done:
                outcome = future.result()
                if outcome.error is not None and outcome.error.reason == "stopped":
                    continue  # cancelled before it was fetched: it stays pending in the frontier
                result = record(db, outcome, summary, topics)
                if on_outcome:
                    on_outcome(result)
