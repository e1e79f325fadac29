"""SQL views that make the archive pleasant in plain `sqlite3` and in Datasette.

`create_views(db)` runs after `store.open_db()` (it needs the store's tables) and is idempotent: a
view is (re)created only when missing or when its definition here changed, so calling it on
every start writes nothing in the usual case. It also creates the `article_topics` table the
`articles_with_topics` view reads. The views:

- `latest`: original articles (no duplicates), newest first, with day, source, language, title,
  a one-line snippet of the lead or text, and URL;
- `duplicates`: each copy next to its original (ids, sources, dates, URLs);
- `fetch_errors`: rejected and failed fetches, newest first, with the reason and detail;
- `articles_with_topics`: every article with `topics`, a JSON array of its topic names (a
  Datasette array facet: `?_facet_array=topics`, `?topics__arraycontains=japan-ukraine`).
"""

from __future__ import annotations

import sqlite_utils

from ingest.archive import topics
from ingest.archive.db import transaction

SNIPPET_CHARS = 200

VIEWS: dict[str, str] = {
    "latest": f"""SELECT a.id, a.published_at, substr(a.published_at, 1, 10) AS day, a.source, a.language, a.title,
       replace(replace(substr(coalesce(nullif(a.lead, ''), a.text), 1, {SNIPPET_CHARS}), char(10), ' '), '  ', ' ')
       || CASE WHEN length(coalesce(nullif(a.lead, ''), a.text)) > {SNIPPET_CHARS} THEN '…' ELSE '' END AS snippet,
       a.url
FROM articles a
WHERE a.duplicate_of IS NULL
ORDER BY a.published_at DESC, a.id DESC""",
    "duplicates": """SELECT c.id AS copy_id, c.source AS copy_source, c.published_at AS copy_published_at,
       o.id AS original_id, o.source AS original_source, o.published_at AS original_published_at,
       o.title AS title, c.url AS copy_url, o.url AS original_url
FROM articles c
JOIN articles o ON o.id = c.duplicate_of
ORDER BY c.id DESC""",
    "fetch_errors": """SELECT f.id, f.time, f.source, f.outcome, f.reason, f.status, f.url, f.detail
FROM fetches f
WHERE f.outcome IN ('rejected', 'failed')
ORDER BY f.time DESC, f.id DESC""",
    "articles_with_topics": """SELECT a.id, a.published_at, substr(a.published_at, 1, 10) AS day, a.source, a.language,
       a.title,
       (SELECT json_group_array(t.topic)
        FROM (SELECT topic FROM article_topics WHERE article_id = a.id ORDER BY topic) t) AS topics,
       a.duplicate_of, a.url
FROM articles a""",
}


def outdated_views(db: sqlite_utils.Database) -> list[str]:
    """Names of the views that are missing or whose stored definition differs from VIEWS."""
    stored = dict(db.execute("SELECT name, sql FROM sqlite_master WHERE type = 'view'").fetchall())
    # sqlite_master keeps the CREATE statement as written: "CREATE VIEW <quoted name> AS <sql>"
    return [name for name, sql in VIEWS.items() if not (stored.get(name) or "").endswith(f" AS {sql}")]


def create_views(db: sqlite_utils.Database) -> None:
    """Create or update the views (and the article_topics table they read); a no-op when current."""
    if db["article_topics"].exists() and not outdated_views(db):
        return
    with transaction(db):  # re-checked under the write lock: two processes may start at once
        topics.ensure_table(db)
        for name, sql in VIEWS.items():
            db.create_view(name, sql, replace=True)
