"""`--db postgresql://...` in the CLI and `ingest publish`: a PostgreSQL archive (a real server, tests/pg.py) to a
read-only SQLite snapshot that the SQLite store, sqlite3 and Datasette (`ingest serve`) read."""

from __future__ import annotations

import asyncio
import sqlite3
import stat
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from ingest.archive import dedup
from ingest.archive.sqlite import open_readonly_store
from ingest.cli import cli
from ingest.models import Article

UNREACHABLE = "postgresql://postgres@127.0.0.1:1/nothing"
TEXT = ("Tokyo and Kyiv signed a security agreement on Sunday, the ministers said after long talks. "
        "The accord covers training, equipment and reconstruction over ten years, officials added. ")


def article(url: str, title: str, text: str, day: int, source: str = "ukrinform_en") -> Article:
    return Article(url=url, source=source, title=title, text=text, language="en",
                   published_at=datetime(2024, 11, day, 6, 30, tzinfo=UTC),
                   fetched_at=datetime(2024, 11, day, 7, tzinfo=UTC))


def stored_archive(dsn: str) -> None:
    """Four articles through the pipeline's dedup and save: two originals, an exact copy, one revised."""
    from ingest.archive.postgres import open_postgres_store

    store = open_postgres_store(dsn)
    items = [article("https://www.ukrinform.net/1-japan.html", "Japan, Ukraine sign security agreement", TEXT, 17),
             article("https://unn.ua/news/2-rada", "Рада ухвалила закон",
                     "Верховна Рада ухвалила закон про енергетику. " * 5, 18, source="unn_uk"),
             article("https://unn.ua/news/3-copy", "Japan and Ukraine sign", TEXT, 19, source="unn_uk"),
             article("https://unn.ua/news/2-rada", "Рада ухвалила закон (оновлено)",
                     "Верховна Рада ухвалила закон про енергетику і бюджет. " * 5, 18, source="unn_uk")]
    for item in items:
        with store.batch():
            store.save_article(item, dedup.judge(store, item))
    store.close()


def counts(dsn: str) -> dict[str, int]:
    import psycopg

    with psycopg.connect(dsn) as conn:
        return {table: conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # type: ignore[index]
                for table in ("articles", "revisions", "url_aliases", "article_bands", "fetches", "runs")}


def ingest(*args: str) -> Any:
    return CliRunner().invoke(cli, list(args))


def get_json(path: Path, url: str) -> Any:
    """What `ingest --db path serve` serves: its metadata, its Datasette app."""
    from ingest.archive import serve

    async def go() -> Any:
        metadata, _ = serve.prepare(path)
        response = await serve.datasette_app(path, metadata).client.get(url)
        assert response.status_code == 200, response.text
        return response.json()
    return asyncio.run(go())


def test_publish_writes_a_read_only_sqlite_archive_datasette_serves(pg_dsn: str, tmp_path: Path) -> None:
    stored_archive(pg_dsn)
    before = counts(pg_dsn)
    target = tmp_path / "news.db"
    result = ingest("--db", pg_dsn, "publish", "--to", str(target))
    assert result.exit_code == 0, result.output
    assert "published 3 articles (1 revisions" in result.output
    assert counts(pg_dsn) == before  # nothing written to PostgreSQL
    assert not stat.S_IMODE(target.stat().st_mode) & 0o222  # read-only
    assert sorted(p.name for p in tmp_path.iterdir()) == ["news.db"]  # one file: no -wal, -shm, partial

    db = sqlite3.connect(f"{target.as_uri()}?mode=ro", uri=True)
    rows = db.execute("SELECT id, url, title, duplicate_of FROM articles ORDER BY id").fetchall()
    assert rows == [(1, "https://www.ukrinform.net/1-japan.html", "Japan, Ukraine sign security agreement", None),
                    (2, "https://unn.ua/news/2-rada", "Рада ухвалила закон (оновлено)", None),
                    (3, "https://unn.ua/news/3-copy", "Japan and Ukraine sign", 1)]
    assert db.execute("SELECT article_id, title FROM revisions").fetchall() == [(2, "Рада ухвалила закон")]
    assert db.execute("SELECT rowid FROM articles_fts WHERE articles_fts MATCH 'бюджет'").fetchall() == [(2,)]
    assert db.execute("SELECT rowid FROM articles_fts WHERE articles_fts MATCH 'Tokyo' ORDER BY rowid").fetchall() \
        == [(1,), (3,)]
    assert db.execute("SELECT published_at FROM articles WHERE id = 1").fetchone() == ("2024-11-17T06:30:00+00:00",)
    assert db.execute("PRAGMA journal_mode").fetchone() == ("delete",)
    db.close()

    store = open_readonly_store(target)  # the SQLite store reads it like its own
    assert store.stored_at(dedup.url_key("https://unn.ua/news/3-copy")).duplicate_of == 1  # type: ignore[union-attr]
    assert store.db["latest"].exists()
    assert store.db["duplicates"].exists()
    store.close()

    latest = get_json(target, "/news/latest.json?_shape=array")
    assert [r["id"] for r in latest] == [2, 1]  # originals, newest first
    duplicates = get_json(target, "/news/duplicates.json?_shape=array")
    assert [(r["copy_id"], r["original_id"]) for r in duplicates] == [(3, 1)]
    hits = get_json(target, "/news/articles.json?_search=енергетику&_shape=array")
    assert [h["id"] for h in hits] == [2]


def test_publish_filters_by_day_and_source_and_keeps_the_originals_of_copies(
        pg_dsn: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from ingest.archive import publish

    monkeypatch.setattr(publish, "BATCH", 1)  # every row its own batch
    stored_archive(pg_dsn)
    target = tmp_path / "part.db"
    result = ingest("--db", pg_dsn, "publish", "--to", str(target), "--since", "2024-11-19", "--until", "2024-11-19")
    assert result.exit_code == 0, result.output
    db = sqlite3.connect(f"{target.as_uri()}?mode=ro", uri=True)
    assert db.execute("SELECT id, duplicate_of FROM articles ORDER BY id").fetchall() == [(1, None), (3, 1)]
    db.close()
    result = ingest("--db", pg_dsn, "publish", "--to", str(target), "--source", "unn_uk", "--until", "2024-11-18")
    assert result.exit_code == 2
    assert "exists: give --force" in result.output
    result = ingest("--db", pg_dsn, "publish", "--to", str(target), "--source", "unn_uk", "--until", "2024-11-18",
                    "--force")
    assert result.exit_code == 0, result.output
    db = sqlite3.connect(f"{target.as_uri()}?mode=ro", uri=True)
    assert db.execute("SELECT id FROM articles").fetchall() == [(2,)]
    assert db.execute("SELECT count(*) FROM revisions").fetchone() == (1,)
    db.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["part.db"]


def test_a_failed_publish_leaves_no_file(tmp_path: Path) -> None:
    target = tmp_path / "news.db"
    result = ingest("--db", UNREACHABLE, "publish", "--to", str(target))
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        "Error: cannot reach PostgreSQL at 127.0.0.1:1: Connection refused"]
    assert list(tmp_path.iterdir()) == []


def test_publish_of_a_database_without_an_archive_says_so(pg_dsn: str, tmp_path: Path) -> None:
    result = ingest("--db", pg_dsn, "publish", "--to", str(tmp_path / "news.db"))
    assert result.exit_code == 2
    assert "no ingest archive" in result.output
    assert "Traceback" not in result.output
    assert list(tmp_path.iterdir()) == []


def test_publish_from_a_sqlite_database_is_refused_with_one_line(tmp_path: Path) -> None:
    from ingest.archive.sqlite import open_store

    open_store(tmp_path / "news.db").close()
    result = ingest("--db", str(tmp_path / "news.db"), "publish", "--to", str(tmp_path / "copy.db"))
    assert result.exit_code == 2
    assert "publish copies a PostgreSQL archive" in result.output
    assert not (tmp_path / "copy.db").exists()


# The reports (sources, stats, health, topics, export, boilerplate) run on PostgreSQL: tests/test_cli_postgres.py;
# run, backfill, reclean, extract, capture and worker: tests/test_queue_cli.py.
SQLITE_ONLY = {"backup": (["backup", "copy.db"], "Error: backup copies a SQLite file; a PostgreSQL archive's copy to a "
                          "file is `ingest --db URL publish --to FILE.db` (or pg_dump for the whole database)."),
               "demo": (["demo"], "Error: demo runs on a SQLite file of its own; give one with --db.")}


@pytest.mark.parametrize("where", ["server", "unreachable"])
@pytest.mark.parametrize("command", SQLITE_ONLY)
def test_commands_not_on_postgresql_say_so_in_one_line(command: str, where: str, request: Any,
                                                       tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    dsn = request.getfixturevalue("pg_dsn") if where == "server" else UNREACHABLE
    monkeypatch.chdir(tmp_path)
    args, line = SQLITE_ONLY[command]
    result = ingest("--db", dsn, *args)
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [line]
    assert list(tmp_path.rglob("*")) == []  # no file named postgresql:/... nor anything else


@pytest.mark.parametrize("command", [*SQLITE_ONLY, "serve"])
def test_a_command_s_help_on_a_postgresql_url_is_its_help(command: str, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = ingest("--db", UNREACHABLE, command, "--help")
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"Usage: cli {command} ")  # CliRunner names the program "cli"
    assert list(tmp_path.rglob("*")) == []


@pytest.mark.parametrize("where", ["server", "unreachable"])
def test_serve_on_postgresql_says_to_publish_first(where: str, request: Any, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    dsn = request.getfixturevalue("pg_dsn") if where == "server" else UNREACHABLE
    monkeypatch.chdir(tmp_path)
    result = ingest("--db", dsn, "serve")
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        "Error: serve does not run on a PostgreSQL database: Datasette reads SQLite files: run "
        "`ingest --db URL publish --to FILE.db`, then `ingest --db FILE.db serve`."]
    assert list(tmp_path.rglob("*")) == []


def test_a_db_url_of_another_kind_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = ingest("--db", "mysql://me@host/news", "stats")
    assert result.exit_code == 2
    assert "mysql:// is not a database ingest reads" in result.output
    assert list(tmp_path.rglob("*")) == []


def test_publish_copies_the_topics_when_the_archive_has_them(pg_dsn: str, tmp_path: Path) -> None:
    """PostgreSQL's article_topics, tagged through the store as the pipeline tags: the rows, as SQLite's."""
    from ingest.archive.postgres import open_postgres_store

    stored_archive(pg_dsn)
    store = open_postgres_store(pg_dsn)
    with store.batch():
        store.save_topics(1, ["japan-ukraine"])
        store.save_topics(3, ["japan-ukraine"])
        store.save_topics(2, ["energy"])
    store.close()
    target = tmp_path / "news.db"
    result = ingest("--db", pg_dsn, "publish", "--to", str(target), "--source", "ukrinform_en")
    assert result.exit_code == 0, result.output
    assert "1 topic tags" in result.output
    db = sqlite3.connect(f"{target.as_uri()}?mode=ro", uri=True)
    assert db.execute("SELECT id, topics FROM articles_with_topics").fetchall() == [(1, '["japan-ukraine"]')]
    db.close()


def test_publish_copies_the_fetch_log_and_runs_of_the_window_and_source(pg_dsn: str, tmp_path: Path) -> None:
    """The dashboard's and `ingest stats`' tables come along, filtered by their own times and by source."""
    import psycopg

    from ingest.archive.postgres import open_postgres_store

    stored_archive(pg_dsn)
    store = open_postgres_store(pg_dsn)
    for url, source in (("https://unn.ua/a", "unn_uk"), ("https://unn.ua/b", "unn_uk"),
                        ("https://www.ukrinform.net/c", "ukrinform_en")):
        store.log_fetch(url=url, source=source, outcome="rejected", reason="not-article")
    for source in ("unn_uk", "ukrinform_en"):
        store.finish_run(store.start_run(source, "run"), {"new": 1}, "ok")
    store.close()
    with psycopg.connect(pg_dsn) as conn:  # one fetch and one run on an earlier day
        conn.execute("UPDATE fetches SET \"time\" = '2024-11-01T12:00:00Z' WHERE url = 'https://unn.ua/b'")
        conn.execute("UPDATE runs SET started_at = '2024-11-01T12:00:00Z' WHERE source = 'ukrinform_en'")

    def published(*args: str) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
        target = tmp_path / "copy.db"
        result = ingest("--db", pg_dsn, "publish", "--to", str(target), "--force", *args)
        assert result.exit_code == 0, result.output
        db = sqlite3.connect(f"{target.as_uri()}?mode=ro", uri=True)
        try:
            return (db.execute("SELECT url, source, reason FROM fetches ORDER BY id").fetchall(),
                    db.execute("SELECT source, status, new FROM runs ORDER BY id").fetchall())
        finally:
            db.close()

    fetches, runs = published()
    assert fetches == [("https://unn.ua/a", "unn_uk", "not-article"), ("https://unn.ua/b", "unn_uk", "not-article"),
                       ("https://www.ukrinform.net/c", "ukrinform_en", "not-article")]
    assert runs == [("unn_uk", "ok", 1), ("ukrinform_en", "ok", 1)]
    assert published("--source", "unn_uk") == (fetches[:2], runs[:1])
    assert published("--until", "2024-11-02") == ([fetches[1]], [runs[1]])
    assert published("--since", "2024-11-02", "--source", "ukrinform_en") == ([fetches[2]], [])
