"""Views for plain sqlite3: created idempotently, updated when their definition changes, right rows."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import sqlite_utils

from ingest.archive import store, topics, views
from ingest.models import Article


def archive(path: Path) -> sqlite_utils.Database:
    """Three articles (the third a copy of the first) and three fetch outcomes, written by the store."""
    db = store.open_db(path)
    long_text = "Tokyo and Kyiv signed a security agreement.\n\n" + "More detail follows here. " * 20
    with store.transaction(db):
        first = store.save_article(db, Article(
            url="https://www.ukrinform.net/1", source="ukrinform_en", title="Japan, Ukraine sign agreement",
            text=long_text, published_at=datetime(2024, 11, 17, 6, 23, tzinfo=UTC), language="en"))
        store.log_fetch(db, url="https://www.ukrinform.net/1", source="ukrinform_en", outcome="new", status=200,
                        article_id=first.article_id)
        store.save_article(db, Article(
            url="https://unn.ua/news/2", source="unn_uk", title="Рада ухвалила закон", lead="Коротко.",
            text="Коротко.\n\nВерховна Рада ухвалила закон.", published_at=datetime(2024, 11, 18, tzinfo=UTC),
            language="uk"))
        store.save_article(db, Article(
            url="https://kyivindependent.com/3", source="kyiv_independent", title="Japan, Ukraine sign agreement",
            text=long_text, published_at=datetime(2024, 11, 19, tzinfo=UTC), language="en"))
        store.log_fetch(db, url="https://unn.ua/x", source="unn_uk", outcome="rejected", status=200,
                        reason="bot-challenge", detail="cf-chl-widget")
        store.log_fetch(db, url="https://unn.ua/y", source="unn_uk", outcome="failed", reason="timeout")
    return db


def test_create_views_is_idempotent_and_writes_nothing_when_current(tmp_path: Path) -> None:
    db = archive(tmp_path / "news.db")
    views.create_views(db)
    assert set(views.VIEWS) <= set(db.view_names())
    assert db["article_topics"].exists()
    version = db.execute("PRAGMA schema_version").fetchone()
    views.create_views(db)
    assert db.execute("PRAGMA schema_version").fetchone() == version
    assert views.outdated_views(db) == []
    db.close()


def test_a_changed_definition_is_replaced(tmp_path: Path) -> None:
    db = archive(tmp_path / "news.db")
    assert views.outdated_views(db) == []  # open_db created the current views
    db.create_view("latest", "SELECT 1 AS old", replace=True)  # an older release's definition
    assert views.outdated_views(db) == ["latest"]
    views.create_views(db)
    assert views.outdated_views(db) == []
    assert "snippet" in db["latest"].columns_dict
    db.close()


def test_views_answer_the_everyday_questions_in_plain_sqlite3(tmp_path: Path) -> None:
    path = tmp_path / "news.db"
    db = archive(path)
    views.create_views(db)
    topics.save_topics(db, 1, ["japan-ukraine"])
    db.close()
    conn = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)  # as a reader next to the daemon
    conn.row_factory = sqlite3.Row
    latest = [dict(r) for r in conn.execute("SELECT * FROM latest")]
    assert [(r["day"], r["source"]) for r in latest] == [("2024-11-18", "unn_uk"), ("2024-11-17", "ukrinform_en")]
    assert latest[0]["snippet"] == "Коротко."  # the lead when there is one
    snippet = latest[1]["snippet"]
    assert snippet.startswith("Tokyo and Kyiv signed a security agreement. More detail")
    assert "\n" not in snippet
    assert snippet.endswith("…")
    assert len(snippet) <= views.SNIPPET_CHARS + 1
    duplicates = [dict(r) for r in conn.execute("SELECT * FROM duplicates")]
    assert len(duplicates) == 1
    assert duplicates[0]["copy_source"] == "kyiv_independent"
    assert duplicates[0]["original_source"] == "ukrinform_en"
    assert duplicates[0]["original_url"] == "https://www.ukrinform.net/1"
    errors = [(r["outcome"], r["reason"]) for r in conn.execute("SELECT * FROM fetch_errors")]
    assert sorted(errors) == [("failed", "timeout"), ("rejected", "bot-challenge")]
    tagged = {r["id"]: json.loads(r["topics"]) for r in conn.execute("SELECT * FROM articles_with_topics")}
    assert tagged == {1: ["japan-ukraine"], 2: [], 3: []}
    conn.close()


def edited(path: Path) -> sqlite_utils.Database:
    """The archive above, then edits as a revisit stores them: article 1's headline changed twice (its text once
    with it), article 2's text alone once, article 3 removed (410)."""
    db = archive(path)
    for title in ("Japan and Ukraine sign a security agreement", "Japan and Ukraine sign a 10-year security agreement"):
        store.save_article(db, Article(
            url="https://www.ukrinform.net/1", source="ukrinform_en", title=title,
            text="Tokyo and Kyiv signed a security agreement.", published_at=datetime(2024, 11, 17, 6, 23, tzinfo=UTC),
            language="en"))
    store.save_article(db, Article(
        url="https://unn.ua/news/2", source="unn_uk", title="Рада ухвалила закон", lead="Коротко.",
        text="Коротко.\n\nВерховна Рада ухвалила закон.\n\nОновлено: закон підписав президент.",
        published_at=datetime(2024, 11, 18, tzinfo=UTC), language="uk"))
    store.mark_removed(db, 3, 410)
    db.execute("UPDATE revisions SET replaced_at = ? WHERE id = ?", ["2024-11-17T09:00:00+00:00", 1])
    db.execute("UPDATE revisions SET replaced_at = ? WHERE id = ?", ["2024-11-17T15:00:00+00:00", 2])
    db.execute("UPDATE revisions SET replaced_at = ? WHERE id = ?", ["2024-11-18T12:00:00+00:00", 3])
    db.execute("UPDATE articles SET removed_at = ? WHERE id = 3", ["2024-11-20T06:30:00+00:00"])
    db.conn.commit()
    return db


def rows(path: Path, sql: str) -> list[dict[str, object]]:
    conn = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)
    conn.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in conn.execute(sql)]
    finally:
        conn.close()


def test_edit_views_show_headline_changes_most_revised_and_removed_stories(tmp_path: Path) -> None:
    path = tmp_path / "news.db"
    edited(path).close()
    changes = rows(path, "SELECT * FROM headline_changes")
    assert [(r["id"], r["headline_before"], r["headline_after"], r["changed_at"]) for r in changes] == [
        (1, "Japan and Ukraine sign a security agreement", "Japan and Ukraine sign a 10-year security agreement",
         "2024-11-17T15:00:00+00:00"),
        (1, "Japan, Ukraine sign agreement", "Japan and Ukraine sign a security agreement",
         "2024-11-17T09:00:00+00:00")]  # newest first; article 2's text-only edit is no headline change
    assert changes[0]["url"] == "https://www.ukrinform.net/1"
    assert changes[0]["source"] == "ukrinform_en"
    assert changes[0]["published_at"] == "2024-11-17T06:23:00+00:00"
    revised = rows(path, "SELECT * FROM most_revised")
    assert [(r["id"], r["revisions"], r["headline_changes"], r["last_change"]) for r in revised] == [
        (1, 2, 2, "2024-11-17T15:00:00+00:00"), (2, 1, 0, "2024-11-18T12:00:00+00:00")]
    assert revised[0]["title"] == "Japan and Ukraine sign a 10-year security agreement"  # the current headline
    removed = rows(path, "SELECT * FROM removed_stories")
    assert [(r["id"], r["source"], r["removed_status"], r["hours_online"]) for r in removed] == [
        (3, "kyiv_independent", 410, 30.5)]
    assert removed[0]["published_at"] == "2024-11-19T00:00:00+00:00"


def test_headline_changes_reads_revisions_from_before_schema_10(tmp_path: Path) -> None:
    """Rows kept before revisions had title_after: the next revision's title, else the article's, is the after."""
    path = tmp_path / "news.db"
    db = edited(path)
    db.execute("UPDATE revisions SET title_after = NULL, headline_changed = NULL, diff = NULL")
    db.conn.commit()
    db.close()
    changes = rows(path, "SELECT id, headline_before, headline_after FROM headline_changes")
    assert changes == [
        {"id": 1, "headline_before": "Japan and Ukraine sign a security agreement",
         "headline_after": "Japan and Ukraine sign a 10-year security agreement"},
        {"id": 1, "headline_before": "Japan, Ukraine sign agreement",
         "headline_after": "Japan and Ukraine sign a security agreement"}]


def test_an_archive_made_before_the_edit_views_gets_them_on_open(tmp_path: Path) -> None:
    path = tmp_path / "news.db"
    db = edited(path)
    for name in ("headline_changes", "most_revised", "removed_stories"):
        db.execute(f"DROP VIEW {name}")  # as an archive written by the release before them
    db.conn.commit()
    assert views.outdated_views(db) == ["headline_changes", "most_revised", "removed_stories"]
    db.close()
    store.open_db(path).close()  # what the daemon, `ingest serve` and `ingest publish` do first
    assert len(rows(path, "SELECT * FROM headline_changes")) == 2
    assert [r["id"] for r in rows(path, "SELECT id FROM removed_stories")] == [3]
