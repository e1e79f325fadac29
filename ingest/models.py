"""Small values passed between pipeline stages: Link -> Page -> Article, or Rejected.

Every stage is a plain function over these values, so a later distributed runner can ship
them between processes; nothing here does I/O.
"""

from __future__ import annotations

import dataclasses
import os
import socket
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

_TEXT_TYPES = frozenset({"", "application/xhtml+xml", "application/xml", "application/json",
                         "application/ld+json", "application/javascript"})


class Rejected(Exception):
    """A stage refused a page; `reason` is a short stable code stored in the fetch log.

    Codes in use: robots, off-domain, http-<status>, too-large, timeout, connection, redirects,
    host-backoff, not-html, empty, bad-encoding, stopped, bot-challenge, not-article, too-short,
    out-of-window, parse-timeout, parse-crash, parse-error.
    """

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


class FetchError(Rejected):
    """A fetch failed (network, HTTP status, caps); `retry_after` is seconds, when the server said."""

    def __init__(self, reason: str, detail: str = "", *, retry_after: float | None = None,
                 status: int | None = None) -> None:
        super().__init__(reason, detail)
        self.retry_after = retry_after
        self.status = status


@dataclass(frozen=True)
class Link:
    """A URL found by discovery, with whatever the feed/sitemap/listing said about it."""

    url: str
    source: str
    # How it was found: "feed", "sitemap" or "listing" (crawl/discover.py), "warc" (a record run/replay.py replays);
    # "" when nothing found it (a WARC record that failed before its source was known). A link the frontier hands
    # back keeps the via it was stored with.
    via: str = ""
    published_at: datetime | None = None  # a hint (feed pubDate, sitemap lastmod), not the truth
    title: str | None = None
    # When the feed (<updated>) or sitemap (<lastmod>) says the page last changed: a stored article's moving past
    # its last fetch puts it first in the revisit schedule (run/revisit.py).
    modified_at: datetime | None = None


@dataclass(frozen=True)
class Page:
    """A fetched HTTP response: bytes as received; decoding.page_text decodes them as a browser would, on demand.

    Decoding waits until a stage reads the text: an article page is decoded in the parse worker, so the
    fetching process spends no CPU on it and only the bytes cross the pipe (pickling drops the text).
    """

    DECODED: ClassVar[str] = "_decoded"  # where decoding.page_text caches (text, encoding) on the page

    url: str  # final URL after redirects
    requested_url: str
    status: int
    headers: dict[str, str]  # lower-cased names
    body: bytes  # decompressed
    fetched_at: datetime  # aware, UTC

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()

    @property
    def textual(self) -> bool:
        """True for media types whose body is text (HTML, XML, JSON, scripts); images and PDFs are not."""
        mime = self.content_type
        return mime.startswith("text/") or mime in _TEXT_TYPES or mime.endswith(("+xml", "+json"))

    def __getstate__(self) -> dict[str, Any]:
        # The decoded text is as large as the body again and cheap to rebuild where it is needed.
        return {k: v for k, v in self.__dict__.items() if k != self.DECODED}


@dataclass(frozen=True)
class BlockKey:
    """A key a page's text block is known by across its source's pages (ingest/clean/adapters/blocks.py)."""

    key: str  # "t:<hash>", "l:<lead-in words>", "p:<tag/class path>" or "b:<tag/class path>"
    kind: str  # "text", "lead", "path" or "box"
    sample: str  # the block's text, cut to 300 characters: what `ingest boilerplate` and Datasette show
    variant: str = ""  # for a box: the key of its words, to count how many different things it says


@dataclass(frozen=True)
class Learned:
    """What cleaning a source's pages removes besides the adapter's rules: the block keys its pages repeat
    (learned by ingest/archive/learn.py) and the source's pins from sources.toml. Small: it goes with every page."""

    keys: frozenset[str] = frozenset()
    keep: tuple[str, ...] = ()  # casefolded phrases: a block holding one is never removed
    junk: tuple[str, ...] = ()  # casefolded phrases: a block holding one is always removed
    revision: int = 0  # of the source's learned keys; stored on each article as learned_rev


NOTHING_LEARNED = Learned()


@dataclass
class Article:
    """A cleaned article, ready to store."""

    url: str  # canonical
    source: str
    title: str
    text: str  # paragraphs separated by a blank line
    authors: list[str] = field(default_factory=list)
    published_at: datetime | None = None  # aware
    modified_at: datetime | None = None  # aware
    # Where published_at was read: json-ld, meta, selector, time, text, url, htmldate (adapters/dating.py)
    date_source: str | None = None
    language: str | None = None
    lead: str | None = None
    section: str | None = None
    tags: list[str] = field(default_factory=list)
    image: str | None = None
    adapter: str = "generic"
    adapter_version: int = 1
    fallback: bool = False  # the adapter's selectors did not match; the generic path was used
    paywalled: bool = False
    fetched_url: str | None = None  # URL we fetched, when it differs from the canonical one
    fetched_at: datetime | None = None
    learned_rev: int = 0  # revision of the source's learned boilerplate the text was cleaned with
    truncated: bool = False  # the page was over MAX_HTML_CHARS: cleaned up to an element boundary before it

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict: datetimes as ISO 8601 strings with offset."""
        out = dataclasses.asdict(self)
        for key in ("published_at", "modified_at", "fetched_at"):
            value = out[key]
            out[key] = value.isoformat() if value is not None else None
        return out


@dataclass(frozen=True)
class Fingerprint:
    """A text's shingles and its LSH band hashes (empty when the text is too short to judge); made by
    archive/neardup.py, carried from the parse worker to the dedup stage and the store."""

    shingles: frozenset[int]
    bands: tuple[int, ...]


@dataclass(frozen=True)
class WarcRef:
    """Where a page's response record is: `file` relative to the archive root, its gzip member's byte range."""

    file: str  # e.g. "ukrinform_uk-2026-05.warc.gz"
    offset: int
    length: int


@dataclass
class HostState:
    """Per-host crawl state that must survive restarts: robots.txt and backoff.

    Times are UNIX epoch seconds so that any process (or a later distributed worker) reads them alike.
    """

    host: str  # "example.com:8080" when a port is given
    robots_txt: str | None = None  # None: not fetched yet; "" : allow all (4xx, or empty file)
    robots_fetched_at: float = 0.0
    robots_status: int = 0  # HTTP status of the robots.txt answer; 5xx means disallow for now
    backoff_until: float = 0.0  # no request to this host before this time
    failures: int = 0  # consecutive failed requests (circuit breaker)


def holder_name() -> str:
    """A name for this process's claims and leases in tables every process reads: machine, pid, a fresh suffix."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def holder_alive(holder: str) -> bool:
    """False when `holder` (holder_name) was a process of this machine that is gone: its claims and leases are
    void at once, not when they lapse (a daemon restarted after kill -9 would otherwise wait for its own links)."""
    machine, _, rest = holder.partition(":")
    pid = rest.partition(":")[0]
    if machine != socket.gethostname() or not pid.isdigit():
        return True
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except OSError:  # someone else's process: alive
        return True
    return True


TURN_POLL = 0.05  # seconds between looks at a host another process holds
# A lease given back while another process waits goes to that process (else the giver, whose next request is
# already queued, would take it again first, every time), for this long: the waiter takes it up at its next look.
HANDOVER_SECONDS = 5.0


@dataclass(frozen=True)
class Turn:
    """A host's lease as every process on one database sees it (columns of `hosts`). The holder alone sends the
    host requests, paced in its own memory, until it gives the lease back (when it has no more work for the host,
    or another process waits: `waiter`) with the time its next request could have started; a killed holder's
    lease lapses at `lease_until`, at once when it ran on this machine."""

    next_request_at: float = 0.0  # epoch seconds: no request before it, whoever holds the lease next
    holder: str | None = None
    lease_until: float = 0.0
    waiter: str | None = None  # a process waiting for the lease: the holder hands it over after its request

    def given_back(self, next_request_at: float, now: float) -> Turn:
        """The lease once its holder gives it back: to the waiter, if one is waiting."""
        handed = now + HANDOVER_SECONDS if self.waiter is not None else 0.0
        return Turn(max(self.next_request_at, next_request_at), self.waiter, handed)

    def free_for(self, holder: str, now: float, backoff_until: float = 0.0) -> bool:
        """May `holder` take the lease at `now`, the host backed off until `backoff_until`?"""
        if backoff_until > now:
            return False
        return (self.holder is None or self.holder == holder or self.lease_until <= now
                or not holder_alive(self.holder))

    def taken(self, holder: str, now: float, *, hold: float) -> Turn:
        """The lease once `holder` takes it at `now` for `hold` seconds (no longer waiting, if it was)."""
        return Turn(self.next_request_at, holder, now + hold, None if self.waiter == holder else self.waiter)

    def awaited(self, holder: str) -> Turn:
        """The lease once `holder` leaves word that it waits for it."""
        return dataclasses.replace(self, waiter=holder)

    def wanted(self, holder: str) -> bool:
        """Does a live process other than `holder` wait for the lease?"""
        return self.waiter is not None and self.waiter != holder and holder_alive(self.waiter)


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
