"""The runner seam: what the daemon's schedule and the CLI's `backfill` and `reclean` ask of whatever executes work.

A pass is one source's discovery, then the fetching and cleaning of its pending links, into the archive:
(source, kind, window, limit) -> pipeline.Summary. A reclean is the cleaning again of a source's stored
pages: source -> reclean.RecleanSummary. A replay sends the records of WARC files through the same cleaning
and dedup into the archive, with a cursor per file: paths -> replay.Replayed. The callers schedule the work,
watch its progress through plain callbacks, and say when to stop; how the work is spread (threads and a
local pool of parse processes today, one queued task per link or per WARC file with workers elsewhere
later) is the runner's business, so `Runner` promises nothing about threads, processes or where a page is
cleaned.

`InProcessRunner` is today's runner: one Fetcher (the caller's, who closes it; none for a runner that only
recleans or replays), one pool of parse worker processes (its own), and a connection of its own per call
(`pipeline.run_source`, `reclean.reclean_source`, `replay.replay`), so the daemon's passes run in parallel
from the scheduler's threads.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path
from typing import Protocol

from ingest.archive.location import Database, open_archive, raw_archive
from ingest.config import Config, Source
from ingest.crawl.fetch import Fetcher
from ingest.models import OPEN_WINDOW, Window
from ingest.run import reclean, replay
from ingest.run.parsing import parse_pool
from ingest.run.pipeline import Summary, run_source
from ingest.run.replay import Replayed


class Passes(Protocol):
    """What the daemon's schedule asks of a runner: a pass per source when it is due, then stop and close. Every
    method may be called from any thread."""

    def run_pass(self, source: Source, *, kind: str = "run", window: Window = OPEN_WINDOW, limit: int | None = None,
                 on_discovered: Callable[[int, int], None] | None = None,
                 on_total: Callable[[int], None] | None = None,
                 on_outcome: Callable[[str], None] | None = None) -> Summary:
        """One pass over `source` (see pipeline.run_source for `kind`, `window`, `limit` and the callbacks), or
        its handing over to workers elsewhere (then Summary.queued says so)."""
        ...

    def stop(self) -> None:
        """Take no more work: passes in progress return after their pages in flight (Summary.stopped)."""
        ...

    def close(self) -> None:
        """Release what the runner holds; pages still being cleaned are given up (they stay pending). Idempotent."""
        ...


class Runner(Passes, Protocol):
    """Passes, and the cleaning again of stored pages and of WARC files' records."""

    def reclean(self, source: Source, *, since: date | None = None, everything: bool = False,
                on_total: Callable[[int], None] | None = None,
                on_done: Callable[[str], None] | None = None) -> reclean.RecleanSummary:
        """Clean again the source's stored pages: the stale ones (cleaned before what has been learned since, or
        by an older adapter), else those published since `since`, or all of them (`everything`)."""
        ...

    def replay(self, paths: Sequence[Path], sources: Sequence[Source], *, forced: Source | None = None,
               window: Window = OPEN_WINDOW, limit: int | None = None,
               on_file: Callable[[Path, int, int], None] | None = None,
               on_bytes: Callable[[int], None] | None = None) -> Replayed:
        """The records of WARC files through the pipeline (see replay.replay), resumable per file."""
        ...


class InProcessRunner:
    """Passes in this process: the fetcher's threads and a pool of parse workers (`pool_size`, default one per
    CPU), on the archive `db_path` names (a SQLite file, or a PostgreSQL URL: location.open_archive)."""

    def __init__(self, config: Config, db_path: Database, fetcher: Fetcher | None = None, *,
                 pool_size: int | None = None) -> None:
        self.config = config
        self.db_path = db_path
        self.fetcher = fetcher
        self.pool = parse_pool(pool_size)  # workers start on demand
        self.archive = raw_archive(db_path, config.settings)
        self.stopping = threading.Event()

    def run_pass(self, source: Source, *, kind: str = "run", window: Window = OPEN_WINDOW, limit: int | None = None,
                 on_discovered: Callable[[int, int], None] | None = None,
                 on_total: Callable[[int], None] | None = None,
                 on_outcome: Callable[[str], None] | None = None) -> Summary:
        """pipeline.run_source on a connection of the pass's own (sqlite3's are per thread, psycopg's per batch)."""
        if self.fetcher is None:
            raise ValueError("a pass needs a fetcher: this runner was made without one")
        db = open_archive(self.db_path)
        try:
            return run_source(db, self.fetcher, source, kind=kind, window=window, limit=limit, stop=self.stopping,
                              workers=self.config.settings.concurrency, on_outcome=on_outcome, on_total=on_total,
                              on_discovered=on_discovered, pool=self.pool, topics=self.config.topics,
                              archive=self.archive)
        finally:
            db.close()

    def reclean(self, source: Source, *, since: date | None = None, everything: bool = False,
                on_total: Callable[[int], None] | None = None,
                on_done: Callable[[str], None] | None = None) -> reclean.RecleanSummary:
        """reclean.reclean_source through the same parse pool, fed by `concurrency` threads."""
        db = open_archive(self.db_path)
        try:
            return reclean.reclean_source(db, self.archive, source, self.pool, since=since, everything=everything,
                                          topics=self.config.topics, stop=self.stopping, on_total=on_total,
                                          on_done=on_done, workers=self.config.settings.concurrency)
        finally:
            db.close()

    def replay(self, paths: Sequence[Path], sources: Sequence[Source], *, forced: Source | None = None,
               window: Window = OPEN_WINDOW, limit: int | None = None,
               on_file: Callable[[Path, int, int], None] | None = None,
               on_bytes: Callable[[int], None] | None = None) -> Replayed:
        """replay.replay through the same parse pool; WarcError when a file cannot be opened."""
        db = open_archive(self.db_path)
        try:
            return replay.replay(db, paths, sources, pool=self.pool, forced=forced, window=window, limit=limit,
                                 stop=self.stopping, topics=self.config.topics, archive=self.archive,
                                 max_bytes=self.config.settings.max_bytes, on_file=on_file, on_bytes=on_bytes)
        finally:
            db.close()

    def stop(self) -> None:
        """Set the passes' stop; fetches waiting out a politeness delay give up at once."""
        self.stopping.set()
        if self.fetcher is not None:
            self.fetcher.cancel()

    def close(self) -> None:
        """Close the parse pool (the fetcher is the caller's)."""
        self.pool.close()

    def __enter__(self) -> InProcessRunner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
