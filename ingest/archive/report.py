"""Read-only summaries of the database for `ingest sources`, `ingest stats` and `ingest history`.

database -> lists of dicts. The same numbers are a SQL query away in Datasette; these are the ones
an operator wants at a glance: is each source alive, what fails and why, did a layout drift.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import sqlite_utils

from ingest.archive import revdiff
from ingest.archive.store import rows
from ingest.config import Config
from ingest.storage import REVISION_FIELDS, History, Revision
from ingest.urls import article_ref

FAILING_PASSES = 3  # a source whose last this many passes failed is flagged in `ingest sources`
FAILING_STATUSES = ("failed", "error")  # `stopped` and `running` passes say nothing about the source


def source_rows(db: sqlite_utils.Database, config: Config) -> list[dict[str, Any]]:
    """One row per configured source: adapter, schedule, last run (ok, failed, stopped, error), article counts, and
    `failing` when its last FAILING_PASSES passes failed."""
    out = []
    for source in config.sources.values():
        last = next(rows(db, "SELECT started_at, finished_at, status, new, failed FROM runs"
                             " WHERE source = ? ORDER BY id DESC LIMIT 1", [source.slug]), {})
        articles = db.execute("SELECT count(*), sum(duplicate_of IS NOT NULL) FROM articles WHERE source = ?",
                              [source.slug]).fetchone()
        pending = db.execute("SELECT count(*) FROM frontier WHERE source = ? AND state IN ('pending', 'failed')",
                             [source.slug]).fetchone()[0]
        out.append({
            "source": source.slug, "adapter": source.adapter, "enabled": source.enabled,
            "interval_min": round(source.interval / 60), "last_run": last.get("started_at"),
            "last_status": last.get("status"), "last_new": last.get("new"),
            "articles": articles[0], "duplicates": articles[1] or 0, "pending": pending,
            "failing": _flag(failed_streak(db, source.slug)),
        })
    return out


def failed_streak(db: sqlite_utils.Database, slug: str, limit: int = 100) -> int:
    """How many of the source's most recent finished passes failed in a row (up to `limit`)."""
    statuses = [row[0] for row in db.execute(
        "SELECT status FROM runs WHERE source = ? AND status NOT IN ('running', 'stopped')"
        " ORDER BY started_at DESC, id DESC LIMIT ?", [slug, limit])]
    return next((i for i, status in enumerate(statuses) if status not in FAILING_STATUSES), len(statuses))


def _flag(streak: int) -> str | None:
    """The `failing` column: set once the last FAILING_PASSES passes failed, so a dead source stands out."""
    return f"FAILING: last {streak} passes failed" if streak >= FAILING_PASSES else None


def stats(db: sqlite_utils.Database, config: Config, *, days: int = 7) -> dict[str, Any]:
    """Totals, per-source health (last success, lag, errors by reason, layout drift), per-day counts.

    lag = now - the newest published_at that is not in the future (a mis-dated article must not
    hide a source that stopped delivering); None when the source has no dated article.
    """
    # stored times are ISO 8601 UTC strings, so a cutoff in the same form compares correctly
    now = datetime.now(UTC)
    window = (now - timedelta(days=days)).isoformat(timespec="seconds")
    total = db.execute("SELECT count(*), sum(duplicate_of IS NOT NULL) FROM articles").fetchone()
    per_source = []
    for slug in config.sources:
        last_ok = db.execute("SELECT max(time) FROM fetches WHERE source = ? AND outcome IN"
                             " ('new', 'duplicate', 'updated', 'unchanged')", [slug]).fetchone()[0]
        newest = db.execute("SELECT max(published_at) FROM articles WHERE source = ?", [slug]).fetchone()[0]
        latest = db.execute("SELECT max(published_at) FROM articles WHERE source = ? AND published_at <= ?",
                            [slug, now.isoformat(timespec="seconds")]).fetchone()[0]
        lag = int((now - datetime.fromisoformat(latest)).total_seconds()) if latest else None
        errors = {r["reason"]: r["n"] for r in rows(
            db, "SELECT reason, count(*) AS n FROM fetches WHERE source = ? AND outcome IN ('failed', 'rejected')"
                " AND time >= ? GROUP BY reason ORDER BY n DESC", [slug, window])}
        drift = db.execute("SELECT count(*), max(fetched_at) FROM articles WHERE source = ? AND fallback = 1"
                           " AND fetched_at >= ?", [slug, window]).fetchone()
        per_source.append({"source": slug, "last_success": last_ok, "newest_article": newest,
                           "lag": format_lag(lag), "lag_seconds": lag, "errors": errors,
                           "layout_fallbacks": drift[0], "last_fallback": drift[1]})
    per_day = list(rows(db, "SELECT substr(published_at, 1, 10) AS day, source, count(*) AS articles"
                            " FROM articles WHERE published_at >= ?"
                            " GROUP BY day, source ORDER BY day DESC, source", [window]))
    outcomes = {r["outcome"]: r["n"] for r in rows(
        db, "SELECT outcome, count(*) AS n FROM fetches WHERE time >= ? GROUP BY outcome",
        [window])}
    return {"articles": total[0], "duplicates": total[1] or 0, "days": days, "outcomes": outcomes,
            "sources": per_source, "per_day": per_day}


def format_lag(seconds: int | None) -> str | None:
    """3725 -> '1h 2m'; 200000 -> '2d 7h'; the two largest units."""
    if seconds is None:
        return None
    days, rest = divmod(max(0, seconds), 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    parts = [(days, "d"), (hours, "h"), (minutes, "m")]
    first = next((i for i, (n, _) in enumerate(parts) if n), len(parts) - 1)
    return " ".join(f"{n}{unit}" for n, unit in parts[first:first + 2])


def article_history(db: sqlite_utils.Database, ref: str) -> History | None:
    """See storage.Reports.article_history: the article by id, URL key or alias key, its revisions by id (the order
    they were made in); columns an older archive lacks read as None."""
    found = article_ref(ref)
    if found is None:
        return None
    removed = ("a.removed_at, a.removed_status" if "removed_at" in db["articles"].columns_dict
               else "NULL AS removed_at, NULL AS removed_status")
    where = ("a.id = ?", [found]) if isinstance(found, int) else (
        "a.url_key = ? OR a.id = (SELECT article_id FROM url_aliases WHERE url_key = ?)", [found, found])
    article = next(rows(db, "SELECT a.id, a.url, a.source, a.title, a.text, a.published_at, a.modified_at,"
                            f" a.fetched_at, {removed} FROM articles a WHERE {where[0]} LIMIT 1", where[1]), None)
    if article is None:
        return None
    stored = db["revisions"].columns_dict if db["revisions"].exists() else {}
    columns = ", ".join(name if name in stored else f"NULL AS {name}" for name in REVISION_FIELDS)
    earlier = tuple(Revision(**row) for row in rows(
        db, f"SELECT {columns} FROM revisions WHERE article_id = ? ORDER BY id", [article["id"]])) if stored else ()
    return revdiff.with_diffs(History(article_id=article.pop("id"), **article, revisions=earlier))
