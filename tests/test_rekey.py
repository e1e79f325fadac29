"""Schema 8 on a real file: a schema-7 archive holding one page under several spellings is re-keyed, and merged
where its keys now agree, without losing an article, a copy link, an alias, a revision or a frontier link."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from ingest.archive import neardup, rekey, store
from ingest.archive.dedup import content_hash
from ingest.models import Article
from ingest.urls import url_key

HOST = "xn--b1alf1j.xn--j1amh"  # київ.укр
NEWS = "https://київ.укр/новини/%d0%bd"  # one page: київ.укр/новини/н
OTHER = "https://xn--b1alf1j.xn--j1amh/інше"  # another page, which two rows hold under two spellings of its host
# Long enough (25 words and more) for the near-duplicate index.
TEXT = " ".join(f"Київ отримав партію генераторів номер {i} від уряду Японії." for i in range(6))
OTHER_TEXT = " ".join(f"Рада ухвалила бюджет, пункт {i}, після суперечки про оборону." for i in range(6))
OTHER_TEXT_2 = OTHER_TEXT + " Депутати сперечалися до ранку."

# What schema 7's url_key made of these URLs (the keys as such an archive holds them).
ARTICLES = [  # id, url, old key, fetched_url, text, duplicate_of
    (1, NEWS, "київ.укр/новини/%d0%bd", "https://m.київ.укр/новини/%D0%BD?utm_source=x", TEXT, None),
    (2, "https://київ.укр/новини/н", "київ.укр/новини/н", None, TEXT, 1),  # the same page: a copy of 1
    (3, OTHER, "xn--b1alf1j.xn--j1amh/інше", None, OTHER_TEXT, None),
    (4, "https://київ.укр/інше", "київ.укр/інше", None, OTHER_TEXT_2, None),  # the same page: an original too
    (5, "https://other.ua/copy", "other.ua/copy", None, OTHER_TEXT_2, 4),  # a copy of 4
]
ALIASES = [("київ.укр/новини/%D0%BD", 1), ("other.ua/copy-amp", 5)]
FRONTIER = [  # url_key, url, state, attempts
    ("київ.укр/новини/%D0%BD", "https://київ.укр/новини/%D0%BD", "pending", 0),
    ("xn--b1alf1j.xn--j1amh/новини/н", "https://xn--b1alf1j.xn--j1amh/новини/н", "done", 1),
    ("київ.укр/ще?a=%D0%BD&b=2", "https://київ.укр/ще?b=2&a=%d0%bd", "failed", 2),
]
PAGES = [("s", "київ.укр/новини/%d0%bd", 1, b"A" * 8), ("s", "київ.укр/новини/н", 2, b"B" * 8)]


def make_schema_7(path: Path) -> None:
    """An archive as schema 7 left it: the tables are the same as schema 8's, the keys spelled the old way."""
    store.open_db(path).close()
    conn = sqlite3.connect(path)
    conn.executemany("INSERT INTO articles (id, url, url_key, fetched_url, source, title, text, content_hash,"
                     " duplicate_of) VALUES (?, ?, ?, ?, 's', 'T', ?, ?, ?)",
                     [(i, u, k, f, t, content_hash(t), d) for i, u, k, f, t, d in ARTICLES])
    for article_id, _, _, _, text, duplicate_of in ARTICLES:
        if duplicate_of is None:
            conn.executemany(f"INSERT INTO {neardup.LEVELS[0]} (band, hash, article_id) VALUES (?, ?, ?)",
                             [(b, h, article_id) for b, h in enumerate(neardup.fingerprint(text).bands)])
    conn.executemany("INSERT INTO url_aliases (url_key, article_id) VALUES (?, ?)", ALIASES)
    conn.execute("INSERT INTO revisions (article_id, content_hash, title, text) VALUES (4, 'h0', 'T', 'Old text.')")
    conn.execute("INSERT INTO article_topics (article_id, topic) VALUES (4, 'budget')")
    conn.execute("INSERT INTO fetches (url, source, outcome, article_id) VALUES (?, 's', 'new', 4)",
                 ["https://київ.укр/інше"])
    conn.executemany("INSERT INTO frontier (url_key, url, source, via, state, attempts, discovered_at, updated_at)"
                     " VALUES (?, ?, 's', 'feed', ?, ?, '2024-01-01', '2024-01-01')", FRONTIER)
    conn.executemany("INSERT INTO boilerplate_pages (source, url_key, serial, keys) VALUES (?, ?, ?, ?)", PAGES)
    conn.execute("INSERT INTO hosts (host, robots_txt, robots_status) VALUES ('київ.укр', 'User-agent: *', 200)")
    conn.execute("PRAGMA user_version = 7")
    conn.commit()
    conn.close()


def dump(db: store.sqlite_utils.Database) -> list[str]:
    return list(db.conn.iterdump())


def test_a_schema_7_archive_is_rekeyed_and_merged_without_losing_anything(tmp_path: Path) -> None:
    path = tmp_path / "news.db"
    make_schema_7(path)
    db = store.open_db(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == store.SCHEMA_VERSION == 10
    news, other = f"{HOST}{'/%D0%BD%D0%BE%D0%B2%D0%B8%D0%BD%D0%B8/%D0%BD'}", url_key(OTHER)
    rows = db.execute("SELECT id, url_key, duplicate_of, url, text FROM articles ORDER BY id").fetchall()
    assert [r[:3] for r in rows] == [
        (1, news, None),
        (2, rekey.merged_key(news, 2), 1),  # a copy already: its link stays
        (3, other, None),
        (4, rekey.merged_key(other, 4), 3),  # the same page as the older 3: now its copy
        (5, "other.ua/copy", 3),  # a copy of 4 points at 4's original
    ]
    assert [(r[3], r[4]) for r in rows] == [(u, t) for _, u, _, _, t, _ in ARTICLES]  # URLs and texts as they were
    # every row that pointed at an article still does
    assert db.execute("SELECT article_id FROM revisions").fetchall() == [(4,)]
    assert db.execute("SELECT article_id, topic FROM article_topics").fetchall() == [(4, "budget")]
    assert db.execute("SELECT article_id FROM fetches").fetchall() == [(4,)]
    assert db.execute("PRAGMA foreign_key_check").fetchall() == []
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    # originals stay in the near-duplicate index, copies are out of it
    indexed = {r[0] for t in neardup.LEVELS for r in db.execute(f"SELECT DISTINCT article_id FROM {t}")}
    assert indexed == {1, 3}
    assert neardup.find_original(db, neardup.fingerprint(OTHER_TEXT_2)) == 3  # not 4, a copy now
    assert dict(db.execute("SELECT url_key, article_id FROM url_aliases").fetchall()) == {
        news: 1, "other.ua/copy-amp": 5}
    frontier = db.execute("SELECT url_key, state, attempts FROM frontier ORDER BY url_key").fetchall()
    assert frontier == [(news, "done", 1), (f"{HOST}/%D1%89%D0%B5?a=%D0%BD&b=2", "failed", 2)]
    assert db.execute("SELECT source, url_key, serial, keys FROM boilerplate_pages").fetchall() == [
        ("s", news, 1, b"A" * 8 + b"B" * 8)]
    assert db.execute("SELECT host, robots_txt FROM hosts").fetchall() == [(HOST, "User-agent: *")]
    # the full-text index kept every article and its update trigger
    assert {t.name for t in db.table("articles").triggers} >= {"articles_ai", "articles_ad", "articles_au"}
    assert len(db.execute("SELECT rowid FROM articles_fts WHERE articles_fts MATCH 'бюджет'").fetchall()) == 3
    for spelling in (NEWS, "https://КИЇВ.УКР/новини/%D0%BD", "https://київ.укр/новини/н",
                     "http://www.xn--b1alf1j.xn--j1amh/новини/%D0%BD/", "https://m.київ.укр/новини/н#top",
                     OTHER, "https://київ.укр/інше", "https://київ.укр/%D1%96%D0%BD%D1%88%D0%B5"):
        assert store.is_known(db, spelling), spelling
    assert not store.is_known(db, "https://київ.укр/ще?a=%D0%BD&b=2")  # failed: it will be tried again
    # the page fetched again under yet another spelling is the kept article, unchanged
    saved = store.save_article(db, Article(url="https://КИЇВ.укр/новини/%D0%BD", source="s", title="T", text=TEXT))
    assert (saved.outcome, saved.article_id) == ("unchanged", 1)
    before = dump(db)
    db.close()

    db = store.open_db(path)  # opened again: nothing to do
    assert dump(db) == before
    with store.transaction(db):  # and run again (a crash before user_version was written): nothing changes
        rekey.rekey(db)
    assert dump(db) == before
    db.close()


def test_keys_that_trade_places_are_rekeyed_in_two_steps(tmp_path: Path) -> None:
    """One row's new key may be another's old one: no key is held twice on the way."""
    path = tmp_path / "news.db"
    store.open_db(path).close()
    conn = sqlite3.connect(path)
    # a stale key on each: row 1 holds the key row 2's URL now has, row 2 the one row 1's URL has
    conn.executemany("INSERT INTO articles (id, url, url_key, source, title, text) VALUES (?, ?, ?, 's', 'T', ?)",
                     [(1, "https://a.com/1", "a.com/2", "One."), (2, "https://a.com/2", "a.com/1", "Two.")])
    conn.execute("PRAGMA user_version = 7")
    conn.commit()
    conn.close()
    db = store.open_db(path)
    assert db.execute("SELECT id, url_key FROM articles ORDER BY id").fetchall() == [(1, "a.com/1"), (2, "a.com/2")]
    db.close()


@pytest.mark.parametrize("version", [store.SCHEMA_VERSION, store.SCHEMA_VERSION + 1])
def test_a_current_or_newer_archive_is_not_rekeyed(tmp_path: Path, version: int) -> None:
    path = tmp_path / "news.db"
    make_schema_7(path)
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {version}")
    conn.commit()
    conn.close()
    if version > store.SCHEMA_VERSION:  # made by a newer ingest: refused, nothing changed
        with pytest.raises(store.DatabaseTrouble, match="made by a newer ingest"):
            store.open_db(path)
        db = store.open_readonly(path)
    else:
        db = store.open_db(path)
    assert db.execute("SELECT url_key FROM articles WHERE id = 1").fetchone() == ("київ.укр/новини/%d0%bd",)
    db.close()
