"""The discovery pass of one source: feeds, sitemaps and listing pages -> links in the frontier.

source + window -> links, written to the frontier as each feed, sitemap or listing page is read.
A daemon pass is incremental: conditional GETs, the MAX_CHILD_SITEMAPS most recently changed child
sitemaps, the source's `max_pages` listing pages. A backfill walks the whole archive, or the part of it
a window names: every child sitemap however deep the index, every listing page until the listing ends
(or is older than the window), with no validators sent or saved (validators saved by a pass that keeps
only part of a feed would make the daemon's next request answer 304 and hide the rest; validators the
daemon saved would hide the archive from a backfill). A backfill keeps a cursor per source and window
recording what is done, in the same transaction as the links: interrupted, it resumes where it stopped;
completed, it clears the cursor.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final, Protocol
from zoneinfo import ZoneInfo

from ingest.config import Source
from ingest.crawl import discover
from ingest.crawl.fetch import Fetcher
from ingest.decoding import page_text
from ingest.logs import fields
from ingest.models import FetchError, Link, Page, Window, local_day
from ingest.storage import Store
from ingest.urls import without_userinfo


class ArticleUrls(Protocol):
    """What discovery asks of an adapter (clean/adapters): which of a listing's links are articles."""

    def is_article_url(self, url: str) -> bool: ...


log = logging.getLogger("ingest")
# A feed, sitemap or listing page's ETag and Last-Modified, as Store.save_validators takes them.
Validators = dict[str, Any]

MAX_CHILD_SITEMAPS: Final = 3  # per daemon pass; a backfill walks every one (with a window: every overlapping one)
MAX_SITEMAP_DEPTH: Final = 8  # indexes of indexes: a loop or a runaway generator ends here
MAX_BACKFILL_PAGES: Final = 100_000  # listing pages a backfill walks back through: a listing that never ends ends here


def window_key(window: Window) -> str:
    """A window as the cursors table keys it: "2024-01-01..2024-03-31", open ends empty."""
    since, until = window.since, window.until
    return f"{since.isoformat() if since else ''}..{until.isoformat() if until else ''}"


@dataclass
class Harvest:
    """Where discovered links go: the frontier (with a cursor), or a list for a dry run."""

    store: Store
    source: Source
    window: Window
    persist: bool = True
    # The whole archive (or the window's part), not what is new; with a cursor that skips what an interrupted
    # run of this window finished.
    backfill: bool = False
    stop: threading.Event = field(default_factory=threading.Event)
    on_read: Callable[[int, int], None] | None = None  # (resources read, links found) after each one
    added: int = 0
    read: int = 0
    not_modified: int = 0  # answered 304: the outlet is up, nothing changed
    modified: int = 0  # stored articles the feeds or sitemaps said changed since: due for a revisit now
    failures: Counter[str] = field(default_factory=Counter)  # feeds, sitemaps, listing pages not read, by reason
    links: list[Link] = field(default_factory=list)
    seen: set[str] = field(default_factory=set)
    new_urls: set[str] = field(default_factory=set)  # of those, the ones not stored or pending before
    modified_seen: set[str] = field(default_factory=set)  # known ones a date of change was seen for

    @property
    def resume(self) -> bool:
        """Keep a cursor: a backfill that writes to the frontier."""
        return self.backfill and self.persist

    @property
    def key(self) -> str:
        return window_key(self.window)

    def take(self, found: list[Link], stage: str | None = None, value: str = "done",
             validators: Validators | None = None) -> None:
        """Keep the new, wanted, in-window links; record `stage` as done with them, and the `validators` of the
        resource they came from, atomically: a validator saved without its links would make every later pass
        get 304 and never see them."""
        found = [dataclasses.replace(lk, url=without_userinfo(lk.url)) if "@" in lk.url else lk for lk in found]
        fresh = [lk for lk in found if lk.url not in self.seen and self.source.wants(lk.url)
                 and self.window.contains(lk.published_at, self.source.zone)]  # undated: the page's date decides
        self.seen.update(lk.url for lk in fresh)
        unknown = [lk for lk in fresh if not self.store.is_known(lk.url)]
        self.new_urls.update(lk.url for lk in unknown)
        # Known pages the feed or sitemap says changed: revisited first (run/revisit.py), if the source revisits.
        # Whichever resource names the page first: a feed with no <updated> read before the sitemap whose
        # <lastmod> says the story changed must not hide the change.
        modified = [lk for lk in found if lk.modified_at is not None and lk.url not in self.new_urls
                    and lk.url not in self.modified_seen and self.source.wants(lk.url)
                    and self.window.contains(lk.published_at, self.source.zone)] if self.source.revisit else []
        self.modified_seen.update(lk.url for lk in modified)
        self.read += 1
        if not self.persist:
            self.links += unknown
            self._report()
            return
        with self.store.batch():
            self.added += self.store.add_links(unknown)
            now = time.time()
            self.modified += sum(self.store.revisit_modified(lk.url, lk.modified_at, now) for lk in modified
                                 if lk.modified_at is not None)
            if validators is not None:
                self.store.save_validators(**validators)
            if stage and self.resume:
                self.store.save_cursor(self.source.slug, self.key, stage, value)
        self._report()

    def _report(self) -> None:
        if self.on_read:
            self.on_read(self.read, self.added if self.persist else len(self.links))

    def done(self, stage: str) -> str | None:
        """What an earlier, interrupted run of this window recorded for `stage`."""
        if not self.resume:
            return None
        return self.store.read_cursor(self.source.slug, self.key, stage)

    def finish(self) -> None:
        """Discovery of this window completed: forget the cursor, the next run starts afresh."""
        if self.resume and not self.stop.is_set():
            self.store.clear_cursors(self.source.slug, self.key)


def discover_links(harvest: Harvest, fetcher: Fetcher, adapter: ArticleUrls) -> Harvest:
    """Read every feed, sitemap and listing page of the source into `harvest`; returns it."""
    source, stop = harvest.source, harvest.stop
    conditional = harvest.persist and not harvest.backfill
    for url in source.feeds:
        if stop.is_set():
            return harvest
        fetched = _fetch_resource(harvest, fetcher, url, "feed", conditional)
        if fetched is not None:
            page, validators = fetched
            harvest.take(_parsed(source, url, lambda p: discover.parse_feed(
                p.body, p.url, source.slug, source.zone), page), validators=validators)
    _walk_sitemaps(harvest, fetcher, conditional)
    for template in source.listings:
        _walk_listing(harvest, fetcher, adapter, template, conditional)
    harvest.finish()
    return harvest


def _walk_sitemaps(harvest: Harvest, fetcher: Fetcher, conditional: bool) -> None:
    source, window = harvest.source, harvest.window
    queue = [(url, 0) for url in source.sitemaps]
    visited: set[str] = set()
    while queue and not harvest.stop.is_set():
        url, depth = queue.pop(0)
        if url in visited or depth > MAX_SITEMAP_DEPTH:
            continue
        visited.add(url)
        if depth and harvest.done(f"sitemap {url}"):
            continue  # an interrupted run of this window already put its links in the frontier
        fetched = _fetch_resource(harvest, fetcher, url, "sitemap", conditional)
        if fetched is None:
            continue
        page, validators = fetched
        try:
            found, children = discover.parse_sitemap(page.body, page.url, source.slug, source.zone)
        except ValueError as exc:
            _log_resource_error(harvest, url, "parse-error", str(exc))
            continue
        # An index is never marked done nor are its validators kept: a resumed run, or a 304, would skip the
        # children a crash kept it from reading.
        leaf = depth and not children
        harvest.take(found, f"sitemap {url}" if leaf else None, validators=None if children else validators)
        children = [c for c in discover.select_sitemaps(children, window.since, window.until, source.zone)
                    if source.allows(c.url)]
        if not harvest.backfill:  # the daemon wants what is new: the most recently changed children
            children = discover.newest_first(children)[:MAX_CHILD_SITEMAPS]
        queue += [(child.url, depth + 1) for child in children]


def _walk_listing(harvest: Harvest, fetcher: Fetcher, adapter: ArticleUrls, template: str, conditional: bool) -> None:
    """Page through a listing: `max_pages` for the daemon; for a backfill, until the listing ends or its pages
    are older than the window."""
    source, since = harvest.source, harvest.window.since
    stage = f"listing {template}"
    start = int(harvest.done(stage) or 0) + 1
    last = MAX_BACKFILL_PAGES if harvest.backfill else source.max_pages
    on_listing: set[str] = set()
    for number, url in enumerate(discover.listing_urls(template, max(0, last - start + 1), start), start):
        if harvest.stop.is_set():
            return
        fetched = _fetch_resource(harvest, fetcher, url, "listing", conditional)
        if fetched is None:
            return
        page, validators = fetched
        found = _parsed(source, url, lambda p: discover.parse_listing(
            page_text(p), p.url, source.slug, adapter.is_article_url, source.zone), page)
        fresh = [lk for lk in found if lk.url not in on_listing]
        if not fresh:  # an empty page, or the last page served again: the end of the listing
            return
        on_listing.update(lk.url for lk in fresh)
        harvest.take(fresh, stage, str(number), validators=validators)
        days = [local_day(lk.published_at, source.zone) for lk in fresh if lk.published_at]
        if since and days and max(days) < since:  # newest first: everything further back is older
            return
    if harvest.backfill:
        log.warning("%s listing %s: stopped after %d pages and it had not ended", source.slug, template, last)


def _parsed(source: Source, url: str, parse: Callable[[Page], list[Link]], page: Page) -> list[Link]:
    try:
        return parse(page)
    except ValueError as exc:
        log.warning("%s discover-error %s (%s)", source.slug, url, exc,
                    extra=fields(source=source.slug, outcome="discover-error", url=url, reason=str(exc)))
        return []


def _fetch_resource(harvest: Harvest, fetcher: Fetcher, url: str, kind: str,
                    conditional: bool) -> tuple[Page, Validators | None] | None:
    """Fetch a feed, sitemap or listing page: the page and the validators to save with its links (take), or
    None when unchanged (304) or failed (logged)."""
    source = harvest.source
    etag, modified = harvest.store.validators(url) if conditional else (None, None)
    try:
        page = fetcher.fetch(url, allowed=source.allows, etag=etag, last_modified=modified)
    except FetchError as exc:
        if exc.reason != "stopped":
            _log_resource_error(harvest, url, exc.reason, exc.detail, exc.status)
        return None
    if page.status == 304:
        harvest.not_modified += 1
        log.info("%s not-modified %s", source.slug, url,
                 extra=fields(source=source.slug, outcome="not-modified", url=url))
        return None
    validators: Validators | None = None
    if conditional:
        validators = {"url": url, "source": source.slug, "kind": kind, "status": page.status,
                      "etag": page.headers.get("etag"), "last_modified": page.headers.get("last-modified")}
    return page, validators


def _log_resource_error(harvest: Harvest, url: str, reason: str, detail: str, status: int | None = None) -> None:
    harvest.failures[reason] += 1
    log.warning("%s failed %s (%s %s)", harvest.source.slug, url, reason, detail,
                extra=fields(source=harvest.source.slug, outcome="failed", url=url, reason=reason))
    if harvest.persist:
        with harvest.store.batch():
            harvest.store.log_fetch(url=url, source=harvest.source.slug, outcome="failed", status=status,
                                    reason=reason, detail=detail)


def planned(store: Store, fetcher: Fetcher, source: Source, adapter: ArticleUrls, window: Window,
            stop: threading.Event | None = None, on_read: Callable[[int, int], None] | None = None) -> Counter[str]:
    """What a backfill of `window` would fetch, per month of the outlet's calendar ("YYYY-MM", or "undated"),
    fetching no article.

    Walks feeds, sitemaps and listings as the backfill would, unconditionally, and writes nothing: not the
    frontier, not a cursor.
    """
    harvest = discover_links(Harvest(store, source, window, persist=False, backfill=True,
                                     stop=stop or threading.Event(), on_read=on_read), fetcher, adapter)
    start, end = window.bounds(source.zone)
    links = {lk.url: lk for lk in [*store.pending_links(source.slug, start=start, end=end), *harvest.links]}
    zone = ZoneInfo(source.zone)
    return Counter(f"{lk.published_at.astimezone(zone):%Y-%m}" if lk.published_at else "undated"
                   for lk in links.values())
