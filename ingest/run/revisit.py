"""The revisit schedule: each stored article fetched again at growing intervals after publication, to see it edited.

A source's `revisit` steps (default 1 h, 6 h, 24 h, 3 days and 7 days after publication; `revisit = false`: never)
are places in the store's `revisits` table, so the schedule survives restarts and is shared by every process.
Articles take their place lazily (`schedule_new`, at each daemon pass): those of the source published (else first
seen) within its last step that have none yet go in at the first step that was still ahead of them when they were
stored (then possibly due at once). Articles stored by any
path (a pass, a worker, a WARC replay, an older ingest) are revisited alike, and a backfill's old articles never are.

After a revisit (pipeline.revisit_due, with what is left of a daemon pass's page budget once its new links are
fetched) `after_revisit` says what comes next: the next step still ahead of it (counted from publication, so a
late pass does not push the rest of the schedule later); the same step again a little later when the fetch failed
for a passing reason; no more revisits when the page is gone (404, 410: the article is marked removed, never
deleted) or the steps are used up.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Final

from ingest.config import Source
from ingest.storage import Revisit, Store

REVISITS_PER_PASS: Final = 200  # revisits a pass without a page limit takes at most
GONE: Final = frozenset({404, 410})  # a revisit answered so: the story was taken down


def next_step(base: float, steps: Sequence[float], now: float, start: int = 0) -> tuple[int, float | None]:
    """The first step from `start` whose time (`base` + its offset) is after `now`, and that time; (len(steps),
    None) when none is left."""
    for index in range(start, len(steps)):
        if base + steps[index] > now:
            return index, base + steps[index]
    return len(steps), None


def schedule_new(store: Store, source: Source, now: float) -> int:
    """Give the source's recent articles without a place in the schedule one; how many were placed."""
    if not source.revisit:
        return 0
    since = datetime.fromtimestamp(now - source.revisit[-1], UTC)
    rows: list[tuple[str, int, str, float, int, float | None]] = []
    for article_id, key, base, seen in store.revisit_candidates(source.slug, since):
        # the first step still ahead when it was stored, not when the schedule noticed it (a worker stores it
        # after the pass that queued it): an article first seen an hour late skips the steps it missed
        step, due = next_step(base.timestamp(), source.revisit, min(seen.timestamp(), now))
        rows.append((key, article_id, source.slug, base.timestamp(), step, due))
    if rows:
        store.schedule_revisits(rows)
    return len(rows)


def due_now(store: Store, source: Source, now: float, limit: int | None, fetching: int) -> list[Revisit]:
    """What a pass revisits: the source's recent articles placed in the schedule first (schedule_new), then those
    due at `now`, soonest first, as many as the pass's page budget (`limit`, else REVISITS_PER_PASS) leaves after
    its `fetching` new links."""
    schedule_new(store, source, now)
    budget = REVISITS_PER_PASS if limit is None else limit - fetching
    return store.due_revisits(source.slug, now, budget) if budget > 0 else []


def after_revisit(steps: Sequence[float], base: float, step: int, now: float, *, gone: bool = False,
                  retry: bool = False) -> tuple[int, float | None]:
    """The step and due time after a revisit at `step` of an article published at `base`: the next step still
    ahead (a pass that came late skips those it missed), or none; `retry`: this step again, its first gap (or
    less) later."""
    if gone or step >= len(steps):
        return len(steps), None
    if retry:
        gap = steps[step] - (steps[step - 1] if step else 0.0)
        return step, now + min(gap, steps[0])
    return next_step(base, steps, now, step + 1)
