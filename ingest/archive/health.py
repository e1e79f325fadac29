"""Is each source being fetched? database + config -> one verdict per enabled source, for `ingest health`.

A success is a pass that ended `ok` (some request of it was answered: a feed read, a 304, a page stored or
rejected) or a page stored, updated or found unchanged; a pass whose every request failed ends `failed`
(pipeline.Summary.all_failed). A source is unhealthy when its last success is older than its lag: `--max-lag`,
else LAG_INTERVALS times its `interval` (at least MIN_LAG, since a daemon pass of PAGES_PER_PASS pages at a
polite per-host delay can outlast a short interval). Only reads: works on a read-only database.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlite_utils

from ingest.archive.report import failed_streak, format_lag
from ingest.config import Config, Source
from ingest.storage import Health

LAG_INTERVALS = 3  # the default lag: this many of the source's intervals without a success
MIN_LAG = 3600.0  # seconds; the default lag is never shorter
STORED_OUTCOMES = ("new", "duplicate", "updated", "unchanged")


Verdict = Health  # one source's health: `ok`, and a line saying why (storage.Health)


def last_success(db: sqlite_utils.Database, slug: str) -> str | None:
    """When the source last had a successful pass or stored a page (ISO 8601 UTC), or None."""
    run = db.execute("SELECT max(finished_at) FROM runs WHERE source = ? AND status = 'ok'", [slug]).fetchone()[0]
    marks = ", ".join("?" * len(STORED_OUTCOMES))
    fetch = db.execute(f"SELECT max(time) FROM fetches WHERE source = ? AND outcome IN ({marks})",
                       [slug, *STORED_OUTCOMES]).fetchone()[0]
    return max((t for t in (run, fetch) if t), default=None)


def default_lag(source: Source) -> float:
    """Seconds without a success after which `source` is unhealthy, when no --max-lag is given."""
    return max(LAG_INTERVALS * source.interval, MIN_LAG)


def check(db: sqlite_utils.Database, config: Config, *, max_lag: float | None = None,
          now: datetime | None = None) -> list[Verdict]:
    """A verdict per enabled source: healthy when it succeeded within its lag."""
    return verdicts(config, max_lag=max_lag, now=now or datetime.now(UTC),
                    last_success=lambda slug: last_success(db, slug), evidence=lambda slug: _evidence(db, slug))


def verdicts(config: Config, *, max_lag: float | None, now: datetime, last_success: Callable[[str], str | None],
             evidence: Callable[[str], str]) -> list[Verdict]:
    """The verdicts, whichever store answers `last_success` (ISO 8601 UTC, or None) and `evidence` per source."""
    found = []
    for source in (s for s in config.sources.values() if s.enabled):
        lag = max_lag if max_lag is not None else default_lag(source)
        limit = f"max lag {format_lag(int(lag))}"
        success = last_success(source.slug)
        age = now - datetime.fromisoformat(success) if success is not None else None
        ago = format_lag(int(age.total_seconds())) if age is not None else None
        if age is not None and age <= timedelta(seconds=lag):
            found.append(Verdict(source.slug, True, f"{source.slug}: ok, last success {ago} ago ({limit})"))
            continue
        why = f"no successful pass or fetch for {ago}" if ago is not None else "no successful pass or fetch yet"
        found.append(Verdict(source.slug, False, f"{source.slug}: {why} ({limit}){evidence(source.slug)}"))
    return found


def _evidence(db: sqlite_utils.Database, slug: str) -> str:
    """What the last passes and failures say: '; last 4 passes failed; last failure: connection (...)'."""
    last = db.execute("SELECT status, started_at FROM runs WHERE source = ? ORDER BY started_at DESC, id DESC"
                      " LIMIT 1", [slug]).fetchone()
    streak = failed_streak(db, slug) if last is not None else 0
    # A host backing off says only that earlier requests failed: the failure behind it tells more.
    failure = db.execute("SELECT reason, detail, time FROM fetches WHERE source = ? AND outcome = 'failed'"
                         " ORDER BY reason = 'host-backoff', time DESC, id DESC LIMIT 1", [slug]).fetchone()
    return evidence_line(last, streak, failure)


def evidence_line(last: Sequence[Any] | None, streak: int, failure: Sequence[Any] | None) -> str:
    """The evidence of an unhealthy source, from its last pass (status, started_at), its failed streak and its
    last failure (reason, detail, time), times as ISO 8601 UTC."""
    if last is None:
        parts = ["no pass has run (is `ingest run` running on this database?)"]
    else:
        parts = [f"last {streak} passes failed" if streak > 1 else f"last pass {last[0]} at {last[1]}"]
    if failure is not None:
        detail = f": {failure[1][:120]}" if failure[1] else ""
        parts.append(f"last failure {failure[2]}: {failure[0]}{detail}")
    return "; " + "; ".join(parts)
