"""The SQLite store on a real file: schema, atomic page writes, dedup outcomes, frontier, host state."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ingest.archive import store
from ingest.archive.dedup import content_hash
from ingest.models import Article, HostState, Link


def article(url: str, text: str, **kw: object) -> Article:
    kw.setdefault("published_at", datetime(2024, 11, 17, 15, 23, tzinfo=UTC))
    return Article(url=url, source=str(kw.pop("source", "s")), title=str(kw.pop("title", "A title")), text=text,
                   **kw)  # type: ignore[arg-type]


@pytest.fixture
def db(tmp_path: Path) -> store.sqlite_utils.Database:
    database = store.open_db(tmp_path / "sub" / "news.db")
    yield database
    database.close()


def test_open_db_is_idempotent_and_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "folder" / "news.db"
    store.open_db(path).close()
    db = store.open_db(path)
    assert db.journal_mode == "wal"
    assert {"articles", "fetches", "frontier", "hosts", "resources", "runs", "articles_fts"} <= set(db.table_names())
    db.close()


def test_new_unchanged_updated_duplicate(db: store.sqlite_utils.Database) -> None:
    first = store.save_article(db, article("https://a.com/1", "Київ. Перший абзац.\n\nДругий абзац."))
    assert first.outcome == "new"
    again = store.save_article(db, article("http://www.a.com/1/?utm_source=x", "Київ. Перший абзац.\n\nДругий абзац."))
    assert (again.outcome, again.article_id) == ("unchanged", first.article_id)
    changed = store.save_article(db, article("https://a.com/1", "Київ. Перший абзац, оновлено.\n\nДругий."))
    assert (changed.outcome, changed.article_id) == ("updated", first.article_id)
    copy = store.save_article(db, article("https://b.com/9", "київ  перший абзац, оновлено!\n\nдругий"))
    assert copy.outcome == "duplicate"
    assert copy.duplicate_of == first.article_id
    rows = list(db.query("select id, url, duplicate_of, authors from articles order by id"))
    assert [r["duplicate_of"] for r in rows] == [None, first.article_id]
    assert rows[0]["authors"] == "[]"


def test_fts_stays_in_sync(db: store.sqlite_utils.Database) -> None:
    saved = store.save_article(db, article("https://a.com/1", "Японія надасть генератори.", title="Japan aid"))
    hits = db.execute("select rowid from articles_fts where articles_fts match 'генератори'").fetchall()
    assert hits == [(saved.article_id,)]
    store.save_article(db, article("https://a.com/1", "Японія надасть турбіни.", title="Japan aid"))
    assert not db.execute("select rowid from articles_fts where articles_fts match 'генератори'").fetchall()
    assert db.execute("select rowid from articles_fts where articles_fts match 'турбіни'").fetchall()


def test_page_writes_are_atomic(db: store.sqlite_utils.Database) -> None:
    def crash_between_writes() -> None:
        with store.transaction(db):
            saved = store.save_article(db, article("https://a.com/1", "Text of the page."))
            store.log_fetch(db, url="https://a.com/1", source="s", outcome=saved.outcome, article_id=saved.article_id)
            raise RuntimeError("crash between writes")

    with pytest.raises(RuntimeError):
        crash_between_writes()
    assert db["articles"].count == 0
    assert db["fetches"].count == 0
    assert db.execute("pragma integrity_check").fetchone()[0] == "ok"


def test_frontier(db: store.sqlite_utils.Database) -> None:
    links = [Link("https://a.com/1", "s", "feed", datetime(2024, 1, 5, tzinfo=UTC)),
             Link("https://a.com/2", "s", "sitemap"),
             Link("https://a.com/1?utm_source=rss", "s", "listing")]
    assert store.add_links(db, links) == 2
    assert store.add_links(db, links) == 0
    assert [lk.url for lk in store.pending_links(db, "s")] == ["https://a.com/1", "https://a.com/2"]
    assert [lk.url for lk in store.pending_links(db, "s", start=datetime(2024, 2, 1, tzinfo=UTC))] == [
        "https://a.com/2"]  # undated links stay in every window
    jan5 = datetime(2024, 1, 5, tzinfo=UTC)
    assert [lk.url for lk in store.pending_links(db, "s", start=jan5, end=jan5 + timedelta(seconds=1))] == [
        "https://a.com/1", "https://a.com/2"]  # [start, end): the start is in
    assert [lk.url for lk in store.pending_links(db, "s", end=jan5)] == ["https://a.com/2"]  # the end is not
    store.settle_link(db, "https://a.com/1", "done")
    assert store.is_known(db, "http://a.com/1#top")
    for _ in range(store.MAX_ATTEMPTS):
        assert [lk.url for lk in store.pending_links(db, "s")] == ["https://a.com/2"]
        store.settle_link(db, "https://a.com/2", "failed", "connection")
    assert store.pending_links(db, "s") == []
    assert not store.is_known(db, "https://a.com/2")


def test_validators_roundtrip(db: store.sqlite_utils.Database) -> None:
    assert store.validators(db, "https://a.com/rss") == (None, None)
    store.save_validators(db, "https://a.com/rss", source="s", kind="feed", status=200, etag='"x1"',
                          last_modified="Sun, 17 Nov 2024 06:23:00 GMT")
    assert store.validators(db, "https://a.com/rss") == ('"x1"', "Sun, 17 Nov 2024 06:23:00 GMT")


def test_host_store_survives_reopen(tmp_path: Path) -> None:
    path = tmp_path / "news.db"
    store.open_db(path).close()
    hosts = store.HostStore(path)
    assert hosts.load_host("a.com") is None
    hosts.save_host(HostState("a.com", robots_txt="User-agent: *\nDisallow: /x", robots_status=200,
                              robots_fetched_at=1.5, backoff_until=99.0, failures=3))
    hosts.close()
    again = store.HostStore(path)
    assert again.load_host("a.com") == HostState("a.com", "User-agent: *\nDisallow: /x", 1.5, 200, 99.0, 3)
    again.close()


def test_reader_does_not_block_writer(tmp_path: Path) -> None:
    """A Datasette-style reader holding a read transaction must not make the writer fail (WAL)."""
    path = tmp_path / "news.db"
    db = store.open_db(path)
    store.save_article(db, article("https://a.com/0", "Zero."))
    reader = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    reader.execute("BEGIN")
    assert reader.execute("select count(*) from articles").fetchone() == (1,)
    with store.transaction(db):
        store.save_article(db, article("https://a.com/1", "One."))
    assert reader.execute("select count(*) from articles").fetchone() == (1,)  # snapshot isolation
    reader.rollback()
    assert reader.execute("select count(*) from articles").fetchone() == (2,)
    reader.close()
    db.close()


def test_concurrent_writers_wait_their_turn(tmp_path: Path) -> None:
    """Two daemon jobs (and a backfill) write at once: none may fail with 'database is locked'."""
    import threading

    path = tmp_path / "news.db"
    store.open_db(path).close()
    errors: list[BaseException] = []

    def writer(name: str) -> None:
        db = store.open_db(path)
        try:
            for i in range(150):
                with store.transaction(db):
                    saved = store.save_article(db, article(f"https://{name}.com/{i}", f"{name} text {i}."))
                    store.log_fetch(db, url=f"https://{name}.com/{i}", source=name, outcome=saved.outcome)
        except BaseException as exc:
            errors.append(exc)
        finally:
            db.close()

    threads = [threading.Thread(target=writer, args=(n,)) for n in ("a", "b", "c")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    db = store.open_db(path)
    assert db.table("articles").count == 450
    db.close()


def test_updates_keep_earlier_versions_in_revisions(db: store.sqlite_utils.Database) -> None:
    first = store.save_article(db, article("https://a.com/1", "Київ. Перший абзац.", title="Version one"))
    store.save_article(db, article("https://a.com/1?utm_source=x", "Київ. Перший абзац.",  # unchanged: no revision
                                   title="Version one"))
    store.save_article(db, article("https://a.com/1", "Київ.  Перший абзац.\n\n57 переглядів",  # a counter
                                   title="Version one"))
    assert db["revisions"].count == 0
    store.save_article(db, article("https://a.com/1", "Київ. Перший абзац, оновлено.", title="Version two"))
    store.save_article(db, article("https://a.com/1", "Київ. Третя версія тексту.", title="Version three"))
    revisions = list(db.query("SELECT article_id, title, text, content_hash, fetched_at, replaced_at"
                              " FROM revisions ORDER BY id"))
    assert [(r["article_id"], r["title"], r["text"]) for r in revisions] == [
        (first.article_id, "Version one", "Київ. Перший абзац."),
        (first.article_id, "Version two", "Київ. Перший абзац, оновлено.")]
    assert revisions[0]["content_hash"] == content_hash("Київ. Перший абзац.")
    assert revisions[0]["fetched_at"] <= revisions[0]["replaced_at"]
    what = db.execute("SELECT title_after, headline_changed, paragraphs_added, paragraphs_removed, paragraphs_changed,"
                      " diff FROM revisions ORDER BY id").fetchall()
    assert [row[:5] for row in what] == [("Version two", 1, 0, 0, 1), ("Version three", 1, 1, 1, 0)]  # rewritten
    assert json.loads(what[0][5])["paragraphs"] == [{
        "kind": "changed", "before": "Київ. Перший абзац.", "after": "Київ. Перший абзац, оновлено.",
        "words": [["=", "Київ. Перший"], ["-", "абзац."], ["+", "абзац, оновлено."]]}]
    current = db.execute("SELECT title, text FROM articles WHERE id = ?", [first.article_id]).fetchone()
    assert current == ("Version three", "Київ. Третя версія тексту.")


def test_the_url_an_article_was_fetched_at_is_known_before_fetching(db: store.sqlite_utils.Database) -> None:
    """Fetched at A (a redirect target, a mobile or AMP page) whose canonical is B: A and B are both known."""
    fetched = "https://m.unn.ua/amp/news/kyiv-metro?utm_source=tg"
    store.save_article(db, article("https://unn.ua/news/u-kyievi-metro", "Text.", fetched_url=fetched))
    assert db["frontier"].count == 0  # nothing settled: only the article and its alias know these URLs
    assert store.is_known(db, "https://unn.ua/news/u-kyievi-metro/")
    assert store.is_known(db, "https://m.unn.ua/amp/news/kyiv-metro")
    assert store.is_known(db, "http://unn.ua/amp/news/kyiv-metro#comments")
    assert not store.is_known(db, "https://unn.ua/news/kyiv-metro-2")
    # Fetched again through yet another URL: that one is remembered too.
    store.save_article(db, article("https://unn.ua/news/u-kyievi-metro", "Text.",
                                   fetched_url="https://unn.ua/news/1234567"))
    assert store.is_known(db, "https://unn.ua/news/1234567")


def test_the_publication_time_is_stored_in_utc_with_where_it_was_read(db: store.sqlite_utils.Database) -> None:
    """A Kyiv page's 00:30 of 10 September is 21:30 UTC on the 9th; date_source says which step read it."""
    kyiv = datetime.fromisoformat("2024-09-10T00:30:00+03:00")
    saved = store.save_article(db, article("https://a.com/1", "Рада ухвалила бюджет.", published_at=kyiv,
                                           date_source="text"))
    row = db.execute("SELECT published_at, date_source FROM articles WHERE id = ?", [saved.article_id]).fetchone()
    assert row == ("2024-09-09T21:30:00+00:00", "text")


def older_archive(tmp_path: Path, column: str, version: int) -> Path:
    """An archive of one article as schema `version` left it: without articles.`column`, which it added later."""
    path = tmp_path / "news.db"
    db = store.open_db(path)
    store.save_article(db, article("https://a.com/1", "Японія надасть генератори."))
    db.close()
    conn = sqlite3.connect(path)
    conn.execute(f"ALTER TABLE articles DROP COLUMN {column}")
    conn.execute(f"PRAGMA user_version = {version}")
    conn.commit()
    conn.close()
    return path


def test_a_schema_4_archive_gets_date_source_and_keeps_its_rows(tmp_path: Path) -> None:
    path = older_archive(tmp_path, "date_source", 4)
    db = store.open_db(path)
    assert "date_source" in db.table("articles").columns_dict
    assert db.execute("PRAGMA user_version").fetchone()[0] == store.SCHEMA_VERSION
    assert db.execute("SELECT url, date_source FROM articles").fetchall() == [("https://a.com/1", None)]
    assert db.execute("SELECT rowid FROM articles_fts WHERE articles_fts MATCH 'генератори'").fetchall()
    db.close()


def test_a_schema_8_archive_gets_the_truncated_column_once(tmp_path: Path) -> None:
    """Schema 9 adds articles.truncated to an older archive, its rows kept (null: stored before it was recorded);
    opening again changes nothing, and a cut article is stored as such."""
    path = older_archive(tmp_path, "truncated", 8)
    for _ in range(2):
        db = store.open_db(path)
        assert db.table("articles").columns_dict["truncated"] is int
        assert db.execute("PRAGMA user_version").fetchone()[0] == store.SCHEMA_VERSION == 10
        assert db.execute("SELECT url, truncated FROM articles").fetchall() == [("https://a.com/1", None)]
        db.close()
    db = store.open_db(path)
    store.save_article(db, Article(url="https://a.com/2", source="x", title="Long", text="Рада. " * 50,
                                   truncated=True))
    assert db.execute("SELECT truncated FROM articles WHERE url = 'https://a.com/2'").fetchone() == (1,)
    db.close()
