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
