"""The archive as every stage sees it: one interface, whatever database is behind it.

Stages (discovery, the pipeline, the WARC replay, re-cleaning, the daemon) talk to the archive only through
`Store`: plain values in and out (models.* dataclasses, str, int, datetime, tuples), no database types and no
SQL. ingest/archive/sqlite.py is today's implementation (SqliteStore, all of its SQL inside ingest/archive/); a
second one (PostgreSQL) is another module implementing the same methods.

Reports (`ingest sources`, `stats`, `health`, `topics`, `boilerplate`, `export`, `history`) read through
`Reports`, the read side: the same plain values, so a read-only opening of the archive (which never creates or
changes a file) is one as well. Export streams the matching articles into a binary file object in JSON lines, CSV
or Parquet; `output_file` and `export_format` are the file side every implementation shares.

Writes happen in batches: `with store.batch():` is one write transaction that takes the write lock up front,
so a read-then-write inside it (the dedup stage's lookups, then the save) is race-free across processes. Nested
batches join the outer one; an exception leaving the outermost rolls all of it back. A method that writes
outside any batch is its own transaction.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field, fields
from datetime import date, datetime
from pathlib import Path
from typing import IO, Any, Final, Protocol

from ingest.config import Config, Topic
from ingest.models import Article, BlockKey, Fingerprint, HostState, Link, WarcRef

CLAIM_SECONDS: Final = 600.0  # a claim lapses this long after it was taken or renewed: a killed process's links return
EXPORT_FORMATS: Final = ("jsonl", "csv", "parquet")
EXPORT_SUFFIXES: Final = {".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv", ".parquet": "parquet"}


# --- values that cross the interface -------------------------------------------------------------------------

@dataclass(frozen=True)
class Stored:
    """The article stored under a URL key, as the dedup stage compares a new fetch of it."""

    article_id: int
    content_hash: str
    duplicate_of: int | None
    title: str
    text: str
    fetched_at: str | None  # ISO 8601 UTC, as stored


@dataclass(frozen=True)
class Revisit:
    """A stored article due to be fetched again (run/revisit.py): where, the step of its source's revisit schedule
    it is at, and the validators its last fetch gave, for a conditional GET."""

    url_key: str
    url: str
    article_id: int
    base_at: float  # epoch seconds the steps count from: publication, else first seen
    step: int
    etag: str | None = None
    last_modified: str | None = None


@dataclass(frozen=True)
class Verdict:
    """What the dedup stage (archive/dedup.judge) decided an article is; save_article records exactly that.

    kind: "new" (an original), "same" (the stored text again: nothing to write), "changed" (the stored article's
    new text: the old one becomes a revision), "exact" or "near" (a new URL whose text copies the stored original
    `original`). `bands` are the band hashes to index for the article (an original's), `unindex` those of the text
    a changed original had.
    """

    kind: str
    url_key: str
    digest: str  # content_hash of the text
    stored: Stored | None = None  # same, changed
    original: int | None = None  # exact, near
    bands: tuple[int, ...] = ()
    unindex: tuple[int, ...] = ()


@dataclass(frozen=True)
class Saved:
    """What save_article did: outcome is new, duplicate, updated or unchanged."""

    outcome: str
    article_id: int
    duplicate_of: int | None = None


@dataclass(frozen=True)
class StoredPage:
    """A stored article whose raw page is archived: what re-cleaning reads."""

    article_id: int
    url: str
    raw: WarcRef


@dataclass(frozen=True)
class Recleaning:
    """Which of a source's articles with a raw page to clean again: since a day, all, or (neither) the stale ones,
    cleaned by an adapter older than `adapter_version` or before learned-set revision `learned_rev`."""

    source: str
    since: date | None = None
    everything: bool = False
    adapter_version: int = 0
    learned_rev: int = 0


@dataclass(frozen=True)
class Listing:
    """What was learned for one source, for `ingest boilerplate`."""

    source: str
    pages: int  # distinct pages of the source counted
    revision: int
    # kind, block (the sample text), pages, first_seen, last_seen, learned_at
    blocks: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class Health:
    """One source's health (`ingest health`): `ok`, and a line saying why."""

    source: str
    ok: bool
    line: str


@dataclass(frozen=True)
class Revision:
    """An earlier version of an article (a `revisions` row, times as ISO 8601 UTC text): what it was, when it was
    fetched and replaced, and what changed then (archive/revdiff.py; the diff as its JSON text). Rows an ingest
    older than schema 10 kept have only the first four."""

    title: str
    text: str
    fetched_at: str | None
    replaced_at: str | None
    title_after: str | None = None
    headline_changed: int | None = None
    paragraphs_added: int | None = None
    paragraphs_removed: int | None = None
    paragraphs_changed: int | None = None
    modified_at: str | None = None  # what the page that replaced it claimed
    said_updated: int | None = None
    diff: str | None = None


REVISION_FIELDS: Final = tuple(f.name for f in fields(Revision))  # the columns of `revisions` a reader sees


@dataclass(frozen=True)
class History:
    """An article's versions (`ingest history`): the stored one, its earlier ones oldest first, and whether its page
    was found gone (removed_at, the HTTP status)."""

    article_id: int
    url: str
    source: str
    title: str
    text: str
    published_at: str | None
    modified_at: str | None
    fetched_at: str | None
    removed_at: str | None
    removed_status: int | None
    revisions: tuple[Revision, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """The versions oldest first (the last is the stored one) and the change between each two, as `ingest
        history --json` prints it (its text output reads this too)."""
        versions = [{"version": n, "title": r.title, "text": r.text, "fetched_at": r.fetched_at,
                     "replaced_at": r.replaced_at} for n, r in enumerate(self.revisions, 1)]
        versions.append({"version": len(self.revisions) + 1, "title": self.title, "text": self.text,
                         "fetched_at": self.fetched_at, "replaced_at": None})
        changes = [{"from": n, "to": n + 1, "replaced_at": r.replaced_at,
                    "headline_changed": None if r.headline_changed is None else bool(r.headline_changed),
                    "paragraphs_added": r.paragraphs_added, "paragraphs_removed": r.paragraphs_removed,
                    "paragraphs_changed": r.paragraphs_changed, "modified_at": r.modified_at,
                    "said_updated": None if r.said_updated is None else bool(r.said_updated),
                    "diff": json.loads(r.diff) if r.diff else None} for n, r in enumerate(self.revisions, 1)]
        return {"id": self.article_id, "url": self.url, "source": self.source, "published_at": self.published_at,
                "modified_at": self.modified_at, "removed_at": self.removed_at, "removed_status": self.removed_status,
                "versions": versions, "changes": changes}


class ExportError(ValueError):
    """The export cannot run as asked (bad FTS query, unknown format, pyarrow missing)."""


def export_format(output: Path | None) -> str:
    """The format an output file's suffix implies (.jsonl, .ndjson, .csv, .parquet); jsonl otherwise."""
    return EXPORT_SUFFIXES.get(output.suffix.lower(), "jsonl") if output is not None else "jsonl"


@contextmanager
def output_file(path: Path) -> Iterator[IO[bytes]]:
    """A file to export into: written as PATH.partial, renamed to PATH on success, removed on failure.

    A FIFO or a device (/dev/stdout) is written in place.
    """
    direct = path.exists() and not path.is_file()
    target = path if direct else path.with_name(path.name + ".partial")
    try:
        with open(target, "wb") as out:
            yield out
    except BaseException:
        if not direct:
            target.unlink(missing_ok=True)
        raise
    if not direct:
        os.replace(target, path)


# --- the interfaces ----------------------------------------------------------------------------------------

class HostStateStore(Protocol):
    """Where per-host state survives restarts and is shared by processes (the fetcher's threads call it)."""

    def load_host(self, host: str) -> HostState | None: ...

    def save_host(self, state: HostState) -> None: ...

    def take_turn(self, host: str, holder: str, *, hold: float) -> tuple[bool, float, float]:
        """Take the host's lease (Turn) for `hold` seconds if it is free and the host is not backed off, else
        leave word that `holder` waits: (taken, next_request_at, backoff_until)."""
        ...

    def renew_turn(self, host: str, holder: str, *, hold: float) -> bool:
        """Extend `holder`'s lease by `hold` seconds from now; False when it lapsed and another took it."""
        ...

    def turn_wanted(self, host: str, holder: str) -> bool:
        """Is another process waiting for the lease `holder` holds?"""
        ...

    def end_turn(self, host: str, holder: str, next_request_at: float) -> None:
        """Give the lease back, to the waiting process if there is one (Turn.given_back); nobody's next request
        starts before `next_request_at` (epoch)."""
        ...

    def close(self) -> None: ...


class DedupLookups(Protocol):
    """What the dedup stage asks the archive: is this URL stored, is this text (or nearly it) stored?"""

    def stored_at(self, url_key: str) -> Stored | None:
        """The article stored under this URL key (its canonical key, not an alias)."""
        ...

    def exact_copy(self, digest: str) -> int | None:
        """The earliest original (duplicate_of unset) with this content hash."""
        ...

    def near_copy(self, fingerprint: Fingerprint) -> int | None:
        """The earliest original whose text the fingerprinted one nearly copies (archive/neardup.py)."""
        ...


class Reports(Protocol):
    """The archive read: what the reports show (`ingest sources`, `stats`, `health`, `topics`, `boilerplate`,
    `export`) and what cleaning reads of the learned boilerplate. Nothing here writes."""

    def close(self) -> None: ...

    def source_rows(self, config: Config) -> list[dict[str, Any]]:
        """One row per configured source: adapter, schedule, last run, article counts, `failing`."""
        ...

    def stats(self, config: Config, *, days: int = 7) -> dict[str, Any]:
        """Totals, per-source health (last success, lag, errors by reason, layout drift), per-day counts over the
        last `days` days."""
        ...

    def health(self, config: Config, *, max_lag: float | None = None) -> list[Health]:
        """A verdict per enabled source: healthy when it succeeded within its lag (`max_lag` seconds, else a
        multiple of its interval)."""
        ...

    def topic_counts(self) -> dict[str, int]:
        """Articles per stored topic, most first (empty when nothing was ever tagged)."""
        ...

    def learned_keys(self, source: str) -> frozenset[str]: ...

    def learned_revision(self, source: str) -> int:
        """Goes up each time one of the source's keys becomes boilerplate."""
        ...

    def boilerplate_listing(self, source: str, *, candidates: bool = False) -> Listing: ...

    def check_export(self, fmt: str, query: str | None) -> None:
        """Raise ExportError for an unknown format, a missing pyarrow or a bad full-text query; writes nothing."""
        ...

    def export_articles(self, out: IO[bytes], fmt: str, *, since: date | None = None, source: str | None = None,
                        query: str | None = None, revisions: bool = False) -> int:
        """Write the matching articles (published on or after `since`, of `source`, matching the full-text
        `query`) to `out` in `fmt` (EXPORT_FORMATS), oldest first; how many. With `revisions`, each also carries
        removed_at, removed_status and its earlier versions (export.REVISION_COLUMNS). ExportError before anything
        is written when the export cannot run as asked."""
        ...

    def article_history(self, ref: str) -> History | None:
        """The article `ref` names (its id, or a URL: any spelling of its key or of an alias) with its earlier
        versions, oldest first; None when there is no such article."""
        ...


class Store(DedupLookups, Reports, Protocol):
    """The archive: articles, the frontier, crawl state and what was learned, for every stage."""

    # transactions
    def batch(self) -> AbstractContextManager[None]:
        """One write transaction for everything inside (nested: joins the outer one)."""
        ...

    def close(self) -> None: ...

    # articles
    def save_article(self, article: Article, verdict: Verdict, *, raw: WarcRef | None = None) -> Saved:
        """Record `article` as the dedup stage judged it (in the batch its lookups were made in). `raw` is where
        its page's bytes are archived."""
        ...

    def replace_cleaning(self, article_id: int, article: Article, fingerprint: Fingerprint | None = None) -> bool:
        """A stored article's page cleaned again (`ingest reclean`): same id, URL and dedup links, no revision;
        True when anything a reader sees changed."""
        ...

    def save_topics(self, article_id: int, names: Iterable[str]) -> None:
        """Make `names` the article's set of topics (writes nothing when unchanged)."""
        ...

    def retag(self, topics: Mapping[str, Topic]) -> int:
        """Re-apply the `topics` rules to every stored article in short write transactions (`ingest topics
        --retag`); how many articles were read."""
        ...

    # the fetch log
    def log_fetch(self, *, url: str, source: str, outcome: str, status: int | None = None, reason: str | None = None,
                  detail: str | None = None, article_id: int | None = None) -> None:
        """One row per fetch outcome: new, duplicate, updated, unchanged, rejected, failed."""
        ...

    def prune_fetches(self, source: str, days: int, *, stop: threading.Event | None = None) -> int:
        """Delete `source`'s fetch-log rows older than `days` days (0: none), in short transactions that never
        stall the other writers; how many went."""
        ...

    # the frontier: links to fetch, and which process fetches each
    def add_links(self, links: Iterable[Link]) -> int:
        """Put new links in the frontier as pending (known ones stay as they are); how many were new."""
        ...

    def pending_links(self, source: str, *, start: datetime | None = None, end: datetime | None = None,
                      limit: int | None = None) -> list[Link]:
        """Links of `source` still to fetch and not claimed by another process, newest hint first; with
        `start`/`end`, those hinted in [start, end) or undated."""
        ...

    def claim_links(self, links: Iterable[Link], holder: str) -> list[Link]:
        """Of `links`, those `holder` may fetch now, claimed for it (for CLAIM_SECONDS) in one transaction."""
        ...

    def renew_claims(self, holder: str) -> None: ...

    def release_claims(self, holder: str) -> None:
        """Claims `holder` took and did not settle (a stopped pass) are free again."""
        ...

    def release_dead_claims(self) -> int:
        """End the claims of processes of this machine that are gone; how many links."""
        ...

    def settle_link(self, url: str, state: str, reason: str | None = None, *, attempted: bool = True) -> None:
        """Mark a link done, rejected, failed (retried later) or skipped and end its claim; `attempted=False`
        (no request was sent) does not use up one of its attempts."""
        ...

    def is_known(self, url: str) -> bool:
        """This URL (any variant) is stored, was fetched for a stored article, or was settled."""
        ...

    def stored_after(self, url: str, moment: datetime) -> bool:
        """The article at `url` (or an alias) was stored from a fetch later than `moment`."""
        ...

    # the revisit schedule (run/revisit.py): stored articles fetched again to see them edited
    def revisit_candidates(self, source: str, since: datetime) -> list[tuple[int, str, datetime, datetime]]:
        """The source's articles published (else first seen) at or after `since` that have no place in the
        schedule yet and were not removed: (article id, URL key, publication (else first-seen) time, first-seen
        time; aware)."""
        ...

    def schedule_revisits(self, rows: Iterable[tuple[str, int, str, float, int, float | None]]) -> None:
        """Put articles in the schedule: (URL key, article id, source, publication in epoch seconds, step, due at
        in epoch seconds or None when no revisit is left)."""
        ...

    def due_revisits(self, source: str, now: float, limit: int) -> list[Revisit]:
        """The source's scheduled articles due at `now` (epoch seconds), soonest first, not removed."""
        ...

    def due_revisit(self, url_key: str, now: float) -> Revisit | None:
        """The article under `url_key` if its revisit is due at `now` (a queued revisit job checks it is still
        due: another worker may have done it)."""
        ...

    def finish_revisit(self, url_key: str, step: int, due_at: float | None, etag: str | None = None,
                       last_modified: str | None = None) -> None:
        """After a revisit: its next step and when it is due (None: none left), the page's validators."""
        ...

    def revisit_modified(self, url: str, modified: datetime, now: float) -> bool:
        """A stored article (by URL or alias, not removed) whose feed or sitemap says it changed after its last
        fetch and last revisit: due at `now` (placed in the schedule at its first step when it had no place), its
        step kept. True when it was."""
        ...

    def mark_removed(self, article_id: int, status: int) -> None:
        """The article's page answered `status` (404, 410) on a revisit: it is marked removed, never deleted."""
        ...

    # feeds and sitemaps: validators for conditional GET
    def validators(self, url: str) -> tuple[str | None, str | None]:
        """(etag, last_modified) last seen for a feed, sitemap or listing URL."""
        ...

    def save_validators(self, url: str, *, source: str, kind: str, status: int, etag: str | None,
                        last_modified: str | None) -> None: ...

    # runs
    def start_run(self, source: str, kind: str) -> int: ...

    def finish_run(self, run_id: int, counts: Mapping[str, int], status: str) -> None: ...

    # resume cursors: backfills per (source, window, stage), WARC replays per file, re-cleaning per scope
    def read_cursor(self, source: str, window: str, stage: str) -> str | None: ...

    def save_cursor(self, source: str, window: str, stage: str, value: str) -> None: ...

    def clear_cursors(self, source: str, window: str, stage: str | None = None) -> None:
        """Forget a finished window's cursors (one stage's, or all of them)."""
        ...

    def read_reclean_cursor(self, source: str, scope: str) -> int:
        """The last article id an interrupted re-cleaning of `scope` finished (0: none)."""
        ...

    def save_reclean_cursor(self, source: str, scope: str, last_id: int) -> None: ...

    def clear_reclean_cursor(self, source: str, scope: str) -> None: ...

    # re-cleaning: stored articles with raw pages
    def count_pages(self, selection: Recleaning, after: int = 0) -> int:
        """How many articles of the selection have an id above `after`."""
        ...

    def stored_pages(self, selection: Recleaning, after: int, limit: int) -> list[StoredPage]:
        """The next `limit` articles of the selection by id, above `after`."""
        ...

    def count_without_raw_page(self, source: str) -> int: ...

    # learned boilerplate (the rules are archive/learn.py's)
    def observe_blocks(self, source: str, url_key: str, keys: Iterable[BlockKey]) -> bool:
        """Count one page's block keys for `source`; True when a key just became boilerplate."""
        ...

    # host state, shared by the fetcher's threads and every process
    def host_states(self) -> HostStateStore:
        """Per-host state on its own connection (fetcher threads); the caller closes it (`close()`) when done."""
        ...
