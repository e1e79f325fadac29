"""PostgresStore's own side (tests/test_store_contract.py holds what both stores do alike): the schema, made once
however many processes open a new database, and full-text search by the generated tsvector column."""

from __future__ import annotations

import subprocess
import sys
import threading
from datetime import UTC, datetime

import pytest

from ingest.archive import dedup, pgschema
from ingest.archive.postgres import PostgresStore, open_postgres_store
from ingest.archive.store import SCHEMA_VERSION
from ingest.models import Article


def test_the_schema_is_made_once_by_processes_opening_a_new_database_together(pg_dsn: str) -> None:
    opened: list[PostgresStore] = []
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def open_one() -> None:
        start.wait()
        try:
            opened.append(open_postgres_store(pg_dsn))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=open_one) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert [pgschema.schema_version(each.conn) for each in opened] == [SCHEMA_VERSION] * 4
    assert opened[0].conn.execute("SELECT count(*) FROM ingest_schema").fetchone() == (1,)
    for each in opened:
        each.close()


def test_full_text_search_with_the_simple_configuration(pg_dsn: str) -> None:
    store = open_postgres_store(pg_dsn)
    for url, title, text in (("https://a.example/1", "Рада ухвалила закон", "Депутати проголосували за бюджет."),
                             ("https://a.example/2", "Running news", "The runners were running fast.")):
        item = Article(url=url, source="s", title=title, text=text, fetched_at=datetime(2025, 3, 1, tzinfo=UTC))
        with store.batch():
            store.save_article(item, dedup.judge(store, item))

    def search(words: str) -> list[int]:
        return [row[0] for row in store.conn.execute(
            "SELECT id FROM articles WHERE fts @@ plainto_tsquery('simple', %s) ORDER BY id", [words])]

    assert search("бюджет") == [1]
    assert search("РАДА") == [1]  # case-folded
    assert search("running") == [2]
    assert search("run") == []  # simple: no stemming, in any language
    store.conn.execute("SET enable_seqscan = off")  # two rows: the planner would scan them, but can it use the index?
    plan = "\n".join(row[0] for row in store.conn.execute(
        "EXPLAIN SELECT id FROM articles WHERE fts @@ plainto_tsquery('simple', 'x')"))
    assert "articles_fts" in plan  # the GIN index serves the search
    store.close()


def test_the_sqlite_store_needs_no_psycopg() -> None:
    """SQLite users install nothing new: opening and using a SQLite archive never imports psycopg."""
    code = ("import sys, tempfile, pathlib\n"
            "from ingest.archive.sqlite import open_store\n"
            "import ingest.cli\n"
            "open_store(pathlib.Path(tempfile.mkdtemp()) / 'a.db').close()\n"
            "assert 'psycopg' not in sys.modules, 'psycopg imported'\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("bad", ["postgresql://postgres@127.0.0.1:1/none"])
def test_a_server_that_is_not_there_is_an_operational_error(bad: str) -> None:
    import psycopg

    with pytest.raises(psycopg.OperationalError):
        open_postgres_store(bad)


def test_host_state_connects_again_after_its_connection_is_lost(pg_dsn: str) -> None:
    """A worker's politeness state outlives a lost connection (a server restart, a terminated backend): the call in
    progress fails, the next one connects again and reads what was stored."""
    import psycopg

    from ingest.archive.postgres import open_postgres_host_states
    from ingest.models import HostState

    open_postgres_store(pg_dsn).close()
    hosts = open_postgres_host_states(pg_dsn)
    try:
        hosts.save_host(HostState(host="example.org", robots_txt="User-agent: *\nDisallow: /x\n", robots_status=200))
        backend = hosts.conn.info.backend_pid
        with psycopg.connect(pg_dsn, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", [backend])
        with pytest.raises(psycopg.OperationalError):
            hosts.load_host("example.org")
        state = hosts.load_host("example.org")
        assert state is not None
        assert state.robots_txt == "User-agent: *\nDisallow: /x\n"
        assert hosts.conn.info.backend_pid != backend
        assert hosts.take_turn("example.org", "me", hold=5.0)[0]
    finally:
        hosts.close()
