"""archive/migrations.py: one version list for both stores.

The existing steps are tested on real old SQLite databases where they were written (test_store.py, test_neardup.py,
test_rekey.py, test_crash.py); here, a hypothetical version 11 is added to the list (the only monkeypatching) to
show that each store applies a new step once, also when several threads open the database together; a database
of a newer ingest is refused by both stores with nothing changed; read-only openers never migrate; and every
version has both dialects (or, before PostgreSQL's baseline, the explicit marker).
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ingest.archive import migrations, pgschema, sqlite, store
from ingest.archive.migrations import CREATED_AT_BASELINE, STEPS, Step, check_steps
from ingest.models import Article

HELD = 0.3  # seconds version 11's step holds the lock: the other openers have read version 10 by then


def test_every_version_has_a_sqlite_and_a_postgresql_part() -> None:
    assert check_steps(STEPS) == []
    assert [step.version for step in STEPS][-1] == migrations.SCHEMA_VERSION == store.SCHEMA_VERSION
    baseline = [step.version for step in STEPS if step.postgres is CREATED_AT_BASELINE]
    assert baseline == list(range(1, migrations.POSTGRES_BASELINE))  # "created at 9", said, not silent
    assert STEPS[migrations.POSTGRES_BASELINE - 1].postgres == pgschema.TABLES


@pytest.mark.parametrize(("added", "problem"), [
    (Step(11, "no PostgreSQL part", ["SELECT 1"], CREATED_AT_BASELINE), "version 11 has no PostgreSQL part"),
    (Step(11, "an empty PostgreSQL part", ["SELECT 1"], []), "version 11 has no PostgreSQL part"),
    (Step(11, "no SQLite part", [], ["SELECT 1"]), "version 11 has no SQLite part"),
    (Step(12, "a version skipped", ["SELECT 1"], ["SELECT 1"]), "are not 1..11 in order"),
])
def test_a_new_version_lacking_a_dialect_fails_the_check(added: Step, problem: str) -> None:
    problems = check_steps((*STEPS, added), 11)
    assert len(problems) == 1
    assert problem in problems[0]


def test_a_step_needs_both_parts_to_be_written() -> None:
    with pytest.raises(TypeError):
        Step(11, "SQLite only", ["SELECT 1"])  # type: ignore[call-arg]


def version_next(monkeypatch: pytest.MonkeyPatch, sqlite_part: Any, postgres_part: Any) -> None:
    monkeypatch.setattr(migrations, "STEPS", (*STEPS, Step(11, "articles.summary", sqlite_part, postgres_part)))
    monkeypatch.setattr(migrations, "SCHEMA_VERSION", 11)


def sqlite_next(db: Any) -> None:
    """Version 11 in SQLite, not idempotent on purpose: applied twice, it fails (ADD COLUMN) or logs twice."""
    time.sleep(HELD)
    db.execute("ALTER TABLE articles ADD COLUMN summary TEXT")
    db.execute("CREATE TABLE IF NOT EXISTS applied (version INTEGER)")
    db.execute("INSERT INTO applied VALUES (11)")


POSTGRES_NEXT = (f"SELECT pg_sleep({HELD})", "ALTER TABLE articles ADD COLUMN summary text",
               "CREATE TABLE IF NOT EXISTS applied (version integer)", "INSERT INTO applied VALUES (11)")


def sqlite_archive(path: Path) -> None:
    """A version 10 archive holding one article, made by today's opener."""
    db = store.open_db(path)
    store.save_article(db, Article(url="https://a.example/1", source="s", title="Рада", text="Бюджет ухвалено."))
    db.close()


def together(count: int, open_one: Callable[[], object]) -> list[BaseException]:
    """Call `open_one` in `count` threads released at once; the errors they raised."""
    errors: list[BaseException] = []
    start = threading.Barrier(count)

    def run() -> None:
        start.wait()
        try:
            opened = open_one()
            opened.close()  # type: ignore[attr-defined]
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


def test_sqlite_applies_a_new_step_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "news.db"
    sqlite_archive(path)
    version_next(monkeypatch, sqlite_next, POSTGRES_NEXT)
    for _ in range(2):
        store.open_db(path).close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone() == (11,)
        assert conn.execute("SELECT count(*) FROM applied").fetchone() == (1,)
        assert conn.execute("SELECT url, summary FROM articles").fetchall() == [("https://a.example/1", None)]
    conn.close()
    fresh = tmp_path / "fresh.db"  # a new database: versions 1 to 11, in order
    store.open_db(fresh).close()
    with sqlite3.connect(fresh) as conn:
        assert conn.execute("SELECT count(*) FROM applied").fetchone() == (1,)
    conn.close()


def test_sqlite_threads_opening_together_apply_a_new_step_once(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "news.db"
    sqlite_archive(path)
    version_next(monkeypatch, sqlite_next, POSTGRES_NEXT)
    assert together(4, lambda: store.open_db(path)) == []
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone() == (11,)
        assert conn.execute("SELECT count(*) FROM applied").fetchone() == (1,)
    conn.close()


def test_sqlite_read_only_openers_never_migrate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "news.db"
    sqlite_archive(path)
    before = path.read_bytes()
    version_next(monkeypatch, sqlite_next, POSTGRES_NEXT)
    opened = sqlite.open_readonly_store(path)
    assert opened.db.execute("PRAGMA user_version").fetchone() == (10,)
    assert opened.db.execute("SELECT count(*) FROM articles").fetchone() == (1,)
    opened.close()
    assert path.read_bytes() == before


def folder_state(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_sqlite_refuses_a_database_of_a_newer_ingest_and_changes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "news.db"
    sqlite_archive(path)
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA user_version = 11")
        conn.execute("PRAGMA journal_mode = DELETE")  # as a newer ingest might leave it: WAL would be a write
    conn.close()
    before = folder_state(tmp_path)
    line = (f"{path} was made by a newer ingest (schema 11; this ingest knows schema 10 and older): upgrade ingest "
            "to use it; nothing was changed in it")
    for opener in (store.open_db, sqlite.open_store, sqlite.open_for_reading,
                   lambda p: store.check_database(p, create=True)):
        with pytest.raises(store.DatabaseTrouble) as refused:
            opener(path)
        assert str(refused.value) == line
        assert folder_state(tmp_path) == before


# --- PostgreSQL ---------------------------------------------------------------------------------

def postgres_archive(dsn: str) -> None:
    """A version 10 archive holding one article, made by today's opener."""
    from ingest.archive import dedup
    from ingest.archive.postgres import open_postgres_store

    pg = open_postgres_store(dsn)
    item = Article(url="https://a.example/1", source="s", title="Рада", text="Бюджет ухвалено.")
    with pg.batch():
        pg.save_article(item, dedup.judge(pg, item))
    pg.close()


def pg_rows(dsn: str, query: str) -> list[tuple[Any, ...]]:
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        return conn.execute(query).fetchall()  # type: ignore[arg-type]


def pg_state(dsn: str) -> list[tuple[Any, ...]]:
    """Every column of every table, the schema version and the articles: what a refusal must leave as it was."""
    return [*pg_rows(dsn, "SELECT table_name, column_name, data_type FROM information_schema.columns"
                          " WHERE table_schema = 'public' ORDER BY 1, 2"),
            *pg_rows(dsn, "SELECT * FROM ingest_schema"), *pg_rows(dsn, "SELECT id, url, title FROM articles")]


def test_postgresql_applies_a_new_step_once(pg_dsn: str, pg_server: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from ingest.archive.postgres import open_postgres_store

    postgres_archive(pg_dsn)
    version_next(monkeypatch, sqlite_next, POSTGRES_NEXT)
    for _ in range(2):
        open_postgres_store(pg_dsn).close()
    assert pg_rows(pg_dsn, "SELECT version FROM ingest_schema") == [(11,)]
    assert pg_rows(pg_dsn, "SELECT count(*) FROM applied") == [(1,)]
    assert pg_rows(pg_dsn, "SELECT url, summary FROM articles") == [("https://a.example/1", None)]
    fresh = pg_server.create_database()  # a new database: the baseline (9), then 10 and 11
    open_postgres_store(fresh).close()
    assert pg_rows(fresh, "SELECT version FROM ingest_schema") == [(11,)]
    assert pg_rows(fresh, "SELECT count(*) FROM applied") == [(1,)]


def test_postgresql_threads_opening_together_apply_a_new_step_once(pg_dsn: str,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from ingest.archive.postgres import open_postgres_store

    postgres_archive(pg_dsn)
    version_next(monkeypatch, sqlite_next, POSTGRES_NEXT)
    assert together(4, lambda: open_postgres_store(pg_dsn)) == []
    assert pg_rows(pg_dsn, "SELECT version FROM ingest_schema") == [(11,)]
    assert pg_rows(pg_dsn, "SELECT count(*) FROM applied") == [(1,)]


def test_postgresql_read_only_opener_never_migrates(pg_dsn: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from ingest.archive.postgres import ArchiveTrouble, open_postgres_archive

    postgres_archive(pg_dsn)
    before = pg_state(pg_dsn)
    version_next(monkeypatch, sqlite_next, POSTGRES_NEXT)
    for read_only in (True, False):
        with pytest.raises(ArchiveTrouble) as refused:
            open_postgres_archive(pg_dsn, read_only=read_only)
        assert ("holds an ingest archive of schema 10 (this ingest reads schema 11), `ingest run` or `ingest backfill` "
                "on it upgrades") in str(refused.value)
        assert len(str(refused.value).splitlines()) == 1
    assert pg_state(pg_dsn) == before


@pytest.mark.parametrize(("version", "words"), [
    (11, "was made by a newer ingest (schema 11; this ingest knows schema 10 and older): upgrade ingest to use it;"
         " nothing was changed in it"),
    (5, "claims schema 5, older than any PostgreSQL archive of ingest (the first is 9)"),
])
def test_postgresql_refuses_a_database_it_cannot_migrate_and_changes_nothing(pg_dsn: str, version: int,
                                                                          words: str) -> None:
    from ingest.archive.postgres import ArchiveTrouble, open_postgres_archive, open_postgres_store

    postgres_archive(pg_dsn)
    pg_rows(pg_dsn, f"UPDATE ingest_schema SET version = {version} RETURNING version")
    before = pg_state(pg_dsn)
    with pytest.raises(ArchiveTrouble) as refused:
        open_postgres_store(pg_dsn)
    assert words in str(refused.value)
    assert str(refused.value).startswith("PostgreSQL at 127.0.0.1:")
    assert len(str(refused.value).splitlines()) == 1
    with pytest.raises(ArchiveTrouble) as read:
        open_postgres_archive(pg_dsn)
    assert f"holds an ingest archive of schema {version} (this ingest reads schema 10)" in str(read.value)
    assert pg_state(pg_dsn) == before


def test_the_commands_on_an_older_postgresql_archive(pg_dsn: str, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """What the refusal says is what works: a worker or a report on an older archive is one line, nothing changed;
    `ingest backfill` upgrades it, and then the worker starts."""
    from click.testing import CliRunner

    from ingest.cli import cli

    postgres_archive(pg_dsn)
    version_next(monkeypatch, sqlite_next, POSTGRES_NEXT)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sources.toml").write_text('[sources.news]\nfeeds = ["http://127.0.0.1:9/feed.xml"]\n',
                                           encoding="utf-8")
    before = pg_state(pg_dsn)
    for command in (["stats"], ["worker"]):
        refused = CliRunner().invoke(cli, ["--db", pg_dsn, *command])
        assert refused.exit_code == 2, refused.output
        assert "of schema 10 (this ingest reads schema 11), `ingest run` or `ingest backfill` on it upgrades it" \
               in refused.output
        assert pg_state(pg_dsn) == before
    done = CliRunner().invoke(cli, ["--db", pg_dsn, "backfill"])  # the feed is not there: nothing to queue
    assert done.exit_code == 1, done.output  # every request failed (FAILED, exit 1); the archive is upgraded anyway
    assert pg_rows(pg_dsn, "SELECT version FROM ingest_schema") == [(11,)]
    assert pg_rows(pg_dsn, "SELECT version FROM applied") == [(11,)]
