"""Adapter stage: Page -> Article or Rejected, in this process or in a worker process under a deadline.

`parse_page` runs the source's adapter and the window check (what `ingest extract` calls).
`parse_isolated` runs the same in a worker process (workers.py): a page whose cleaning takes longer
than the timeout is rejected as `parse-timeout` and its worker replaced, a worker that dies costs its
page `parse-crash`, so no page can hang or kill the daemon (a 9 MB page took 4.7 s to clean, and
50,000 nested divs are quadratic). Cheap refusals (`not-html`, `empty`) happen before any worker.
The worker also decodes the page's bytes and hashes the article's near-duplicate fingerprint, so the
process that fetches and writes (one GIL for every fetch thread) spends no CPU on either.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from selectolax.lexbor import LexborHTMLParser

from ingest.adapters import checks
from ingest.adapters.base import Adapter, Cleaned
from ingest.adapters.page import read_page
from ingest.config import Source
from ingest.dedup import content_hash
from ingest.models import NOTHING_LEARNED, Article, BlockKey, Learned, Page, Rejected
from ingest.neardup import Fingerprint, fingerprint
from ingest.warc import Packed, pack
from ingest.workers import PoolClosed, WorkerDied, WorkerError, WorkerPool, WorkerTimeout

HTML_TYPES = ("text/html", "application/xhtml+xml", "")
# Real news pages clean in 20-170 ms; a 9 MB page took 4.7 s. Ten seconds is a hostile page.
PARSE_TIMEOUT = 10.0
PARSE_WORKER_TASKS = 500  # pages a parse worker cleans before it is replaced (bounds cache growth)


@dataclass(frozen=True)
class Window:
    """Inclusive publication-date window of a backfill; open ends are None.

    The days are the outlet's calendar days: every check takes the source's timezone, so `--since 2024-09-10`
    keeps an article a Kyiv outlet dates 10 September 00:30 (21:30 UTC on the 9th).
    """

    since: date | None = None
    until: date | None = None

    @property
    def bounded(self) -> bool:
        return self.since is not None or self.until is not None

    def contains(self, when: datetime | None, zone: str = "UTC") -> bool:
        """True when `when` (naive: UTC) falls on a day of `zone` inside the window, or is unknown."""
        if when is None:
            return True
        day = local_day(when, zone)
        return (self.since is None or day >= self.since) and (self.until is None or day <= self.until)

    def bounds(self, zone: str = "UTC") -> tuple[datetime | None, datetime | None]:
        """The window as UTC instants [start, end): local midnight of `since`, local midnight after `until`."""
        tz = ZoneInfo(zone)
        start = datetime.combine(self.since, time(), tz).astimezone(UTC) if self.since else None
        end = (datetime.combine(self.until + timedelta(days=1), time(), tz).astimezone(UTC)
               if self.until else None)
        return start, end


def local_day(when: datetime, zone: str = "UTC") -> date:
    """The calendar day `when` (naive: UTC) falls on in `zone`."""
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).astimezone(ZoneInfo(zone)).date()


OPEN_WINDOW = Window()  # every date

def parse_pool(size: int | None = None) -> WorkerPool:
    """Worker processes for parse_isolated: one per CPU by default, the adapters preloaded."""
    size = size or os.cpu_count() or 1
    # multiprocessing re-runs the main script's imports in every worker (the `ingest` console script
    # imports the whole CLI): with them preloaded in the forkserver a worker starts in 7 ms, not 350.
    # ingest.extract (trafilatura, lxml: ~25 MiB) is imported by the adapters only when they clean a page,
    # so the fetching and writing process never loads it, and the forkserver loads it once for every worker.
    return WorkerPool(size, max_tasks=PARSE_WORKER_TASKS, preload=parse_preload())


def parse_preload() -> tuple[str, ...]:
    """The modules a parse pool's forkserver imports once for all its workers."""
    loaded = sorted(m for m in sys.modules if m.startswith("ingest.") and m != "ingest.__main__")
    return ("ingest.parse", "ingest.extract", *loaded)


@dataclass(frozen=True)
class Parsed:
    """A worker's result: the article, its near-duplicate fingerprint (hashed there to spare the writer) and
    the keys of its text blocks, for the source's learned boilerplate."""

    article: Article
    fingerprint: Fingerprint
    blocks: tuple[BlockKey, ...] = ()
    digest: str = ""  # dedup.content_hash of the text
    packed: Packed | None = None  # the page's WARC records, built here when the raw page is kept


def parse_isolated(pool: WorkerPool, adapter: Adapter, source: Source, page: Page, window: Window = OPEN_WINDOW,
                   timeout: float = PARSE_TIMEOUT, learned: Learned = NOTHING_LEARNED,
                   keep_raw: Mapping[str, str] | None = None) -> Parsed:
    """parse_page in a worker process; raises Rejected, incl. parse-timeout, parse-crash and stopped.

    `keep_raw`: the request headers the page was fetched with; given, the worker also builds the page's WARC
    records (Parsed.packed) for the archive, where the CPU for it is (the fetching process feeds the workers).
    """
    check_page(page)  # cheap refusals need no worker, and no image or PDF crosses the pipe
    try:
        result = pool.call(parse_task, adapter, source, page, window, learned, keep_raw, timeout=timeout)
    except PoolClosed:
        raise Rejected("stopped", "the parse pool was closed") from None
    except WorkerTimeout:
        raise Rejected("parse-timeout", f"cleaning took more than {timeout:g} s; worker replaced") from None
    except WorkerDied as exc:
        raise Rejected("parse-crash", str(exc)) from None
    except WorkerError as exc:
        raise Rejected("parse-error", str(exc)) from None
    if isinstance(result, Parsed):
        return result
    raise Rejected(*result)


def parse_task(adapter: Adapter, source: Source, page: Page, window: Window, learned: Learned = NOTHING_LEARNED,
               keep_raw: Mapping[str, str] | None = None) -> Parsed | tuple[str, str]:
    """Runs in a parse worker: the article with its fingerprint, or (reason, detail) of the rejection."""
    try:
        cleaned = clean_page(adapter, source, page, window, learned)
        text = cleaned.article.text
        return Parsed(cleaned.article, fingerprint(text), cleaned.blocks, content_hash(text),
                      pack(page, keep_raw) if keep_raw is not None else None)
    except Rejected as exc:  # exceptions do not survive pickling with their reason; plain values do
        return exc.reason, exc.detail
    except Exception as exc:  # a hostile page may break a parser in any way
        return "parse-error", f"{type(exc).__name__}: {exc}"


def check_page(page: Page) -> None:
    """Raise Rejected for a page that is not HTML or has no content; reads only the bytes (no decoding)."""
    if page.content_type not in HTML_TYPES:
        raise Rejected("not-html", page.content_type)
    if not page.body.strip():
        raise Rejected("empty", "no body")


def parse_page(adapter: Adapter, source: Source, page: Page, window: Window = OPEN_WINDOW,
               learned: Learned = NOTHING_LEARNED) -> Article:
    """Page -> Article through the source's adapter; raises Rejected with a reason."""
    return clean_page(adapter, source, page, window, learned).article


def clean_page(adapter: Adapter, source: Source, page: Page, window: Window = OPEN_WINDOW,
               learned: Learned = NOTHING_LEARNED) -> Cleaned:
    """Page -> the Article and its block keys, through the source's adapter with what the source learned."""
    check_page(page)
    if not page.text.strip():  # bytes that decode to nothing but whitespace (a UTF-16 blank page)
        raise Rejected("empty", "no text")
    cleaned = adapter.clean(page, source=source.slug, language=source.language, timezone=source.timezone,
                            learned=learned)
    article = cleaned.article
    if not source.allows(article.url):  # a canonical link pointing elsewhere is not ours to trust
        article.url = page.url
    if article.url != page.url:
        article.fetched_url = page.url
    article.fetched_at = page.fetched_at
    if not window.contains(article.published_at, source.zone):
        raise Rejected("out-of-window", article.published_at.isoformat() if article.published_at else "")
    return cleaned


def page_from_bytes(body: bytes, url: str) -> Page:
    """A saved page as the fetcher would have produced it: bytes decoded as a browser would."""
    return Page(url=url, requested_url=url, status=200, headers={"content-type": "text/html"},
                body=body, fetched_at=datetime.now(UTC))


def own_url(page: Page) -> str | None:
    """The absolute http(s) address a saved page gives itself: `<link rel=canonical>`, else `og:url`; None when
    it names none. `ingest extract FILE` picks the outlet's adapter by it."""
    info = read_page(LexborHTMLParser(page.text[:checks.MAX_HTML_CHARS]))
    for candidate in (info.canonical, info.meta.get("og:url")):
        if candidate and urlsplit(candidate.strip()).scheme in ("http", "https") and urlsplit(candidate).hostname:
            return candidate.strip()
    return None

