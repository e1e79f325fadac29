"""What a WARC backfill takes: paths and globs -> files, a record's URL -> its source, and the dry run's count.

`expand(patterns)` checks every file before anything is written (a typo is one line and exit 2, not a
half-done run); `Router(sources, forced)` is the routing `ingest backfill --warc` uses, by the URL's host first;
`plan(...)` counts what a replay (replay.py) would parse per source and month of the records' dates, reading
no body and writing nothing; `ReplayStats` is what both say about the files they read.
"""

from __future__ import annotations

import glob
import os
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from ingest.archive.warc import WarcError as WarcError  # re-exported: what a WARC path that fails raises
from ingest.archive.warcscan import Scanned, scan
from ingest.clean.parse import HTML_TYPES
from ingest.config import Source
from ingest.models import OPEN_WINDOW, Window

EARLIEST_OFFSET = timedelta(hours=14)  # UTC+14 (Kiribati): where a calendar day begins first


@dataclass
class ReplayStats:
    """What a replay read, beside the per-source summaries."""

    files: int = 0
    bytes: int = 0  # read, from each file's cursor on
    records: int = 0
    foreign: int = 0  # responses of no configured source (not logged per record: CC-NEWS has millions)
    early: int = 0  # fetched before --since: they cannot hold an article published in the window
    over_limit: int = 0  # of a source that already had --limit articles
    older: int = 0  # older than the copy already stored: history must not overwrite what is newer
    broken: int = 0
    resumed: int = 0  # files continued from a cursor
    stopped: bool = False

    def line(self) -> str:
        """One line for the terminal."""
        return (f"warc: {self.files} file{'s' * (self.files != 1)}, {self.bytes / 2**20:.1f} MiB, {self.records} "
                f"records: {self.foreign} foreign, {self.early} fetched before --since, {self.over_limit} over "
                f"--limit, {self.older} older than the stored copy, {self.broken} broken"
                + (f"; {self.resumed} resumed from a cursor" if self.resumed else ""))


def expand(patterns: Iterable[str]) -> list[Path]:
    """Paths and globs -> the files, each glob's sorted, none twice; WarcError naming what matches nothing or
    cannot be read."""
    files: dict[Path, Path] = {}  # resolved -> as given
    for pattern in patterns:
        matched = sorted(glob.glob(pattern)) if any(c in pattern for c in "*?[") else [pattern]
        if not matched:
            raise WarcError(f"{pattern}: no file matches")
        for name in matched:
            path = Path(name)
            try:
                with path.open("rb"):
                    pass
            except IsADirectoryError:
                raise WarcError(f"{path}: is a folder, not a WARC file") from None
            except FileNotFoundError:
                raise WarcError(f"{path}: no such WARC file") from None
            except OSError as exc:
                raise WarcError(f"{path}: cannot read: {exc.strerror or exc}") from None
            files.setdefault(path.resolve(), path)
    return list(files.values())


class Router:
    """URL -> the source it belongs to: `forced`, else the first of `sources` that wants it, else None.

    Sources are looked up by the URL's host and its parent domains first: a CC-NEWS file has millions of
    records, and asking every source's `wants` about each was most of the reading cost.
    """

    def __init__(self, sources: Sequence[Source], forced: Source | None = None) -> None:
        self.forced = forced
        self._by_domain: dict[str, list[Source]] = {}
        for source in sources:
            for domain in source.domains:
                named = self._by_domain.setdefault(domain.partition(":")[0].lower(), [])
                if source not in named:
                    named.append(source)
        self._order = {source.slug: n for n, source in enumerate(sources)}

    def __call__(self, url: str) -> Source | None:
        if self.forced is not None:
            return self.forced
        try:
            labels = (urlsplit(url).hostname or "").split(".")
        except ValueError:
            return None
        found = {s.slug: s for n in range(len(labels)) for s in self._by_domain.get(".".join(labels[n:]), ())}
        return next((s for s in sorted(found.values(), key=lambda s: self._order[s.slug]) if s.wants(url)), None)


def plan(paths: Sequence[Path], sources: Sequence[Source], *, forced: Source | None = None,
         window: Window = OPEN_WINDOW, stop: threading.Event | None = None,
         on_file: Callable[[Path, int, int], None] | None = None,
         on_bytes: Callable[[int], None] | None = None) -> tuple[Counter[tuple[str, str]], ReplayStats]:
    """What a replay would parse, per (source, "YYYY-MM" of the record's date); reads no body, writes nothing."""
    route, stats, counts = Router(sources, forced), ReplayStats(), Counter[tuple[str, str]]()
    for path in paths:
        with path.open("rb") as handle:
            stats.files += 1
            if on_file:
                on_file(path, os.fstat(handle.fileno()).st_size, 0)
            for rec in scan(handle):
                if stop is not None and stop.is_set():
                    stats.stopped = True
                    return counts, stats
                stats.records += 1
                stats.bytes += rec.end - rec.start
                stats.broken += rec.kind == "broken"
                if on_bytes and rec.end >> 20 != rec.start >> 20:  # at most once a MiB
                    on_bytes(rec.end)
                source = route(rec.url) if rec.kind == "response" and rec.status is not None else None
                if source is None:
                    stats.foreign += rec.kind == "response" and rec.status is not None
                elif early(rec, window):
                    stats.early += 1
                elif rec.status == 200 and rec.content_type in HTML_TYPES:
                    month = f"{rec.date.astimezone(ZoneInfo(source.zone)):%Y-%m}" if rec.date else "undated"
                    counts[source.slug, month] += 1
    return counts, stats


def early(rec: Scanned, window: Window) -> bool:
    """Fetched before the window opens in any timezone (its first day begins at 10:00 UTC the day before, 14 h
    east of UTC): nothing in it can have been published in the window, on any outlet's calendar."""
    if window.since is None or rec.date is None:
        return False
    return rec.date < datetime.combine(window.since, time(), UTC) - EARLIEST_OFFSET
