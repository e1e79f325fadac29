"""The read-only reports on `--db postgresql://...`: `ingest sources`, `stats`, `health`, `topics` (and `--retag`),
`export` and `boilerplate` print byte for byte what they print on a SQLite archive holding the same data
(tests/test_reports_contract.py's archive, stored through both stores, the reports' clock frozen); on a database
without an ingest archive they say so in one line and create nothing; on a server out of reach, one line.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from test_reports_contract import Frozen, fill, iso, run
from test_store_contract import AnyStore, page_blocks

from ingest.archive import health, pgreports, report
from ingest.archive.sqlite import open_store
from ingest.archive.store import SCHEMA_VERSION
from ingest.cli import cli

UNREACHABLE = "postgresql://postgres@127.0.0.1:1/nothing"
SOURCES_TOML = """\
[sources.alpha]
adapter = "generic"
feeds = ["https://alpha.example/rss"]
interval = "15m"

[sources.beta]
adapter = "unn"
feeds = ["https://beta.example/rss"]
interval = "1h"

[sources.gamma]
feeds = ["https://gamma.example/rss"]
enabled = false

[sources.delta]
feeds = ["https://delta.example/rss"]

[topics.japan-ukraine]
keywords = ["Japan", "Ukraine"]

[topics.security]
keywords = ["security agreement"]
"""
REPORTS = [
    ["sources"], ["sources", "--json"],
    ["stats"], ["stats", "--json"], ["stats", "--days", "30"],
    ["health"], ["health", "--max-lag", "30d"], ["health", "--max-lag", "10m"],
    ["topics"], ["topics", "--json"],
    ["export"], ["export", "--format", "csv"], ["export", "--source", "beta", "--since", "2026-06-01"],
    ["export", "--query", "NEAR(Japan Ukraine)"], ["export", "--query", "Japan AND"], ["export", "--format", "xml"],
    ["boilerplate", "alpha"], ["boilerplate", "alpha", "--all"], ["boilerplate", "alpha", "--all", "--json"],
    ["boilerplate", "nobody", "--json"],
]
READS = [["sources"], ["stats"], ["health"], ["topics"], ["topics", "--retag"], ["export"], ["boilerplate", "alpha"]]


def learn(store: AnyStore) -> None:
    """alpha's pages teach boilerplate (tests/test_store_contract.py's pages); its times set as both stores' same."""
    for n in range(1, 26):
        with store.batch():
            store.observe_blocks("alpha", f"k{n}", page_blocks(n))
    run(store, "UPDATE boilerplate SET first_seen = ?, last_seen = ?",
        (iso(timedelta(days=-2)), iso(timedelta(hours=-5))))
    run(store, "UPDATE boilerplate SET learned_at = ? WHERE learned_at IS NOT NULL", (iso(timedelta(days=-1)),))
    run(store, "UPDATE boilerplate_sources SET updated_at = ?", (iso(timedelta(hours=-5)),))


@pytest.fixture
def both(tmp_path: Path, pg_dsn: str, monkeypatch: pytest.MonkeyPatch) -> tuple[str, str]:
    """(SQLite file, PostgreSQL URL) holding the same archive; the working folder holds sources.toml."""
    from ingest.archive.postgres import open_postgres_store

    for module in (report, health, pgreports):
        monkeypatch.setattr(module, "datetime", Frozen)
    (tmp_path / "sources.toml").write_text(SOURCES_TOML, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    lite, pg = open_store(tmp_path / "archive.db"), open_postgres_store(pg_dsn)
    try:
        for store, is_pg in ((lite, False), (pg, True)):
            fill(store, is_pg)
            learn(store)
    finally:
        lite.close()
        pg.close()
    return str(tmp_path / "archive.db"), pg_dsn


def ingest(db: str, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--db", db, *args])


def same(both: tuple[str, str], *args: str) -> Result:
    """The command on both archives: the same exit code, standard output and standard error."""
    lite, pg = (ingest(db, *args) for db in both)
    assert pg.exception is None or isinstance(pg.exception, SystemExit), pg.exception
    assert (pg.exit_code, pg.stdout_bytes, pg.stderr_bytes) == (lite.exit_code, lite.stdout_bytes, lite.stderr_bytes)
    return pg


@pytest.mark.parametrize("command", REPORTS, ids=" ".join)
def test_a_report_on_postgresql_prints_what_it_prints_on_sqlite(both: tuple[str, str], command: list[str]) -> None:
    result = same(both, *command)
    assert result.stdout_bytes or result.stderr_bytes


def test_the_compared_outputs_hold_the_archive(both: tuple[str, str]) -> None:
    """Two stores agreeing on nothing would pass the comparisons: some values by hand."""
    assert '"source": "alpha"' in same(both, "sources", "--json").output
    assert same(both, "health").exit_code == 1
    assert "UNHEALTHY beta: no successful pass or fetch for 4h 59m" in same(both, "health").output
    lines = same(both, "health", "--max-lag", "30d").output.splitlines()
    assert [line.split(":")[0] for line in lines] == ["UNHEALTHY delta"]  # never a success; alpha and beta within
    assert same(both, "export").stdout.count("\n") == 6
    assert same(both, "export", "--query", "NEAR(Japan Ukraine)").stdout.count("\n") == 3
    assert same(both, "export", "--query", "Japan AND").exit_code == 2
    assert "japan-ukraine" in same(both, "topics").output
    assert "alpha: 2 blocks over 25 pages seen (revision 1)" in same(both, "boilerplate", "alpha").output


def test_export_to_a_file_is_the_same_file(both: tuple[str, str], tmp_path: Path) -> None:
    for fmt in ("jsonl", "csv"):
        lite, pg = (ingest(db, "export", "-o", str(tmp_path / f"{name}.{fmt}"))
                    for db, name in zip(both, ("lite", "pg"), strict=True))
        assert (lite.exit_code, pg.exit_code) == (0, 0), pg.output
        assert pg.stderr == f"6 articles written to {tmp_path / f'pg.{fmt}'}\n"
        assert (tmp_path / f"pg.{fmt}").read_bytes() == (tmp_path / f"lite.{fmt}").read_bytes()


def test_retag_on_postgresql_tags_as_on_sqlite(both: tuple[str, str]) -> None:
    result = same(both, "topics", "--retag", "--json")
    assert result.stderr == "retagged 6 articles with 2 topics\n"
    assert '"topic": "security"' in result.stdout
    same(both, "topics")  # and the tags stay the same


def test_reports_write_nothing_to_postgresql(both: tuple[str, str]) -> None:
    import psycopg

    from ingest.archive.postgres import open_postgres_archive

    def contents() -> list[Any]:
        with psycopg.connect(both[1]) as conn:
            return [conn.execute(f"SELECT count(*), md5(string_agg(t::text, '' ORDER BY t::text)) FROM {table} t")
                    .fetchone() for table in ("articles", "article_topics", "boilerplate", "runs", "fetches")]
    before = contents()
    for command in REPORTS:
        ingest(both[1], *command)
    assert contents() == before
    db = open_postgres_archive(both[1])
    try:
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            db.conn.execute("CREATE TABLE stray (x int)")
    finally:
        db.close()


def tables(dsn: str) -> list[str]:
    import psycopg

    with psycopg.connect(dsn) as conn:
        return [row[0] for row in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]


@pytest.mark.parametrize("command", READS, ids=" ".join)
def test_a_database_without_an_archive_is_one_line_and_stays_empty(command: list[str], pg_dsn: str, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "sources.toml").write_text(SOURCES_TOML, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    port, name = pg_dsn.rsplit(":", 1)[1].split("/")
    result = ingest(pg_dsn, *command)
    assert result.exit_code == 2
    assert result.output.splitlines() == [
        f"Error: PostgreSQL at 127.0.0.1:{port}: database {name} holds no ingest archive (this ingest reads schema "
        f"{SCHEMA_VERSION}); nothing was created in it: `ingest run` or `ingest backfill` makes one"]
    assert tables(pg_dsn) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sources.toml"]


def test_an_archive_of_another_schema_is_one_line(pg_dsn: str, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    import psycopg

    from ingest.archive.postgres import open_postgres_store

    open_postgres_store(pg_dsn).close()
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute("UPDATE ingest_schema SET version = 99")
    monkeypatch.chdir(tmp_path)
    result = ingest(pg_dsn, "export")
    assert result.exit_code == 2
    assert "holds an ingest archive of schema 99 (this ingest reads schema" in result.output
    assert len(result.output.splitlines()) == 1


@pytest.mark.parametrize("command", READS, ids=" ".join)
def test_a_server_out_of_reach_is_one_line(command: list[str], tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "sources.toml").write_text(SOURCES_TOML, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    result = ingest(UNREACHABLE, *command)
    assert result.exit_code == 2
    assert result.output.splitlines() == ["Error: cannot reach PostgreSQL at 127.0.0.1:1: Connection refused"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sources.toml"]


def test_a_query_the_server_fails_is_one_line(pg_dsn: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import psycopg

    from ingest.archive.postgres import open_postgres_store

    open_postgres_store(pg_dsn).close()
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute("DROP TABLE runs")  # a damaged archive: its schema version says whole
    (tmp_path / "sources.toml").write_text(SOURCES_TOML, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    result = ingest(pg_dsn, "sources")
    assert result.exit_code == 2
    port = pg_dsn.rsplit(":", 1)[1].split("/")[0]
    assert result.output.splitlines() == [f'Error: PostgreSQL at 127.0.0.1:{port}: relation "runs" does not exist']
