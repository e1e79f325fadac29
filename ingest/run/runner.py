"""The runner seam: what the daemon's schedule and `ingest backfill` ask of whatever executes passes.

A pass is one source's discovery, then the fetching and cleaning of its pending links, into the archive:
(source, kind, window, limit) -> pipeline.Summary. A reclean is the cleaning again of a source's stored
pages: source -> reclean.RecleanSummary. The callers schedule passes, watch their progress through plain
callbacks, and say when to stop; how the work is spread (threads and a local pool of parse processes
today, one queued task per link with workers elsewhere later) is the runner's business, so `Runner`
promises nothing about threads, processes or where a page is cleaned.

`InProcessRunner` is today's runner: one Fetcher (the caller's, who closes it), one pool of parse worker
processes (its own), `pipeline.run_source` on a connection of its own per pass, so the daemon's passes run
in parallel from the scheduler's threads.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from ingest.archive.sqlite import open_store
from ingest.config import Config, Source
from ingest.crawl.fetch import Fetcher
from ingest.models import OPEN_WINDOW, Window
from ingest.run import reclean
from ingest.run.parsing import parse_pool
from ingest.run.pipeline import Summary, raw_archive, run_source


class Runner(Protocol):
    """Executes passes; every method may be called from any thread."""

    def run_pass(self, source: Source, *, kind: str = "run", window: Window = OPEN_WINDOW, limit: int | None = None,
                 on_discovered: Callable[[int, int], None] | None = None,
                 on_total: Callable[[int], None] | None = None,
                 on_outcome: Callable[[str], None] | None = None) -> Summary:
        """One pass over `source` (see pipeline.run_source for `kind`, `window`, `limit` and the callbacks)."""
        ...

    def reclean(self, source: Source, *, on_total: Callable[[int], None] | None = None,
                on_done: Callable[[str], None] | None = None) -> reclean.RecleanSummary:
        """Clean again the source's stored pages cleaned before what has been learned since."""
        ...

    def stop(self) -> None:
        """Take no more work: passes in progress return after their pages in flight (Summary.stopped)."""
        ...

    def close(self) -> None:
        """Release what the runner holds; pages still being cleaned are given up (they stay pending). Idempotent."""
        ...


class InProcessRunner:
    """Passes in this process: the fetcher's threads and a pool of parse workers (`pool_size`, default one per
    CPU), on the database at `db_path`."""

    def __init__(self, config: Config, db_path: Path, fetcher: Fetcher, *, pool_size: int | None = None) -> None:
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
        """pipeline.run_source on a connection of the pass's own (sqlite3's are per thread)."""
        db = open_store(self.db_path)
        try:
            return run_source(db, self.fetcher, source, kind=kind, window=window, limit=limit, stop=self.stopping,
                              workers=self.config.settings.concurrency, on_outcome=on_outcome, on_total=on_total,
                              on_discovered=on_discovered, pool=self.pool, topics=self.config.topics,
                              archive=self.archive)
        finally:
            db.close()

    def reclean(self, source: Source, *, on_total: Callable[[int], None] | None = None,
                on_done: Callable[[str], None] | None = None) -> reclean.RecleanSummary:
        """reclean.reclean_source of the stale pages, through the same parse pool."""
        db = open_store(self.db_path)
        try:
            return reclean.reclean_source(db, self.archive, source, self.pool, topics=self.config.topics,
                                          stop=self.stopping, on_total=on_total, on_done=on_done)
        finally:
            db.close()

    def stop(self) -> None:
        """Set the passes' stop; fetches waiting out a politeness delay give up at once."""
        self.stopping.set()
        self.fetcher.cancel()

    def close(self) -> None:
        """Close the parse pool (the fetcher is the caller's)."""
        self.pool.close()

    def __enter__(self) -> InProcessRunner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
