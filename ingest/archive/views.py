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
  Datasette array facet: `?_facet_array=topics`, `?topics__arraycontains=japan-ukraine`);
- `headline_changes`: each revision that changed the headline, newest first: the headline before and after;
- `most_revised`: articles by their number of revisions, most first, with the last change;
- `removed_stories`: articles gone (404/410) on a revisit, with the hours they were online after publication.

A `revisions` row is the version an edit replaced: its `title` is the headline before `replaced_at`, its
`title_after` the one after (rows from before schema 10 have none: the next revision's title stands in, or the
article's own when the row is its last).
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
    "headline_changes": """SELECT id, url, source, headline_before, headline_after, changed_at, published_at, revision
FROM (SELECT r.article_id AS id, a.url, a.source, r.title AS headline_before,
             coalesce(r.title_after, (SELECT n.title FROM revisions n WHERE n.article_id = r.article_id AND n.id > r.id
                                      ORDER BY n.id LIMIT 1), a.title) AS headline_after,
             r.replaced_at AS changed_at, a.published_at, r.id AS revision, r.headline_changed
      FROM revisions r
      JOIN articles a ON a.id = r.article_id)
WHERE headline_changed = 1 OR (headline_changed IS NULL AND headline_before IS NOT headline_after)
ORDER BY changed_at DESC, revision DESC""",
    "most_revised": """SELECT a.id, a.url, a.source, a.title, count(*) AS revisions,
       count(CASE WHEN r.headline_changed = 1 THEN 1 END) AS headline_changes, max(r.replaced_at) AS last_change,
       a.published_at
FROM revisions r
JOIN articles a ON a.id = r.article_id
GROUP BY a.id
ORDER BY revisions DESC, last_change DESC, a.id DESC""",
    "removed_stories": """SELECT a.id, a.url, a.source, a.title, a.published_at, a.removed_at, a.removed_status,
       round((julianday(a.removed_at) - julianday(a.published_at)) * 24, 1) AS hours_online
FROM articles a
WHERE a.removed_at IS NOT NULL
ORDER BY a.removed_at DESC, a.id DESC""",
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
