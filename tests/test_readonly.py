"""Databases that can't be written: a read-only file, a read-only folder, a file another process keeps locked.

Writers (run, backfill, reclean, topics --retag) end with one line and exit 2, the file untouched; read-only
commands (stats, sources, topics, boilerplate, export, serve) open the file read-only and work. The tests run as
root on these machines, where file modes block nothing: the file or folder is made immutable (chattr +i) instead.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ingest import serve, store
from ingest.models import Article

ROOT = Path(__file__).resolve().parent.parent
CONFIG = """[settings]
per_host_delay = 0

[sources.x]
feeds = ["http://127.0.0.1:9/feed.xml"]

[topics.kyiv]
keywords = ["Kyiv"]
"""
WRITERS = [["backfill"], ["run"], ["reclean", "--all"], ["topics", "--retag"]]
READERS = [["stats"], ["sources"], ["topics"], ["boilerplate", "x"], ["export", "--format", "jsonl"]]


@contextmanager
def read_only(path: Path) -> Iterator[None]:
    """`path` (a file or a folder) can't be written while inside, not even by root."""
    if os.geteuid() != 0:
        mode = path.stat().st_mode
        path.chmod(0o555 if path.is_dir() else 0o444)
        try:
            yield
        finally:
            path.chmod(mode)
        return
    chattr = shutil.which("chattr")
    if chattr is None or subprocess.run([chattr, "+i", str(path)], capture_output=True).returncode != 0:
        pytest.fail("running as root, and `chattr +i` is unavailable here: nothing can make a file read-only")
    try:
        yield
    finally:
        subprocess.run([chattr, "-i", str(path)], check=True)


def make_database(tmp_path: Path) -> Path:
    """A current database with one stored article, closed cleanly (no -wal or -shm beside it)."""
    path = tmp_path / "db" / "news.db"
    db = store.open_db(path)
    with store.transaction(db):
        store.save_article(db, Article(url="http://127.0.0.1:9/kyiv-story", source="x", title="Kyiv story",
                                       text="A story from Kyiv, told in full.", language="en",
                                       published_at=datetime(2026, 11, 30, tzinfo=UTC)))
    db.close()
    assert sorted(p.name for p in path.parent.iterdir()) == ["news.db"]
    (tmp_path / "sources.toml").write_text(CONFIG, encoding="utf-8")
    return path


def ingest(tmp_path: Path, path: Path, *args: str, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    """`ingest ARGS` in a subprocess (the daemon must end by itself: a timeout here is a failure)."""
    return subprocess.run([sys.executable, "-m", "ingest", "--config", str(tmp_path / "sources.toml"),
                           "--db", str(path), *args], capture_output=True, text=True, timeout=timeout, cwd=tmp_path)


def folder_state(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


@pytest.mark.parametrize("where", ["file", "folder"])
def test_writers_stop_with_one_line_and_readers_work_on_a_read_only_database(where: str, tmp_path: Path) -> None:
    path = make_database(tmp_path)
    before = folder_state(path.parent)
    with read_only(path if where == "file" else path.parent):
        for command in WRITERS:
            done = ingest(tmp_path, path, *command)
            assert done.returncode == 2, (command, done.stderr[-2000:])
            assert "Traceback" not in done.stderr, command
            errors = [line for line in done.stderr.splitlines() if line.startswith("Error:")]
            assert len(errors) == 1, (command, done.stderr)
            assert "cannot be written" in errors[0] or "cannot be opened" in errors[0], errors
        for command in READERS:
            done = ingest(tmp_path, path, *command)
            assert done.returncode == 0, (command, done.stderr[-2000:])
            assert "Traceback" not in done.stderr
        assert "1 articles" in ingest(tmp_path, path, "stats").stdout
        assert '"title": "Kyiv story"' in ingest(tmp_path, path, "export").stdout
        assert "kyiv" in ingest(tmp_path, path, "topics").stdout
    if where == "folder":
        assert folder_state(path.parent) == before
    else:
        assert folder_state(path.parent)["news.db"] == before["news.db"]


def test_serve_reads_a_database_in_a_read_only_folder(tmp_path: Path) -> None:
    path = make_database(tmp_path)
    with read_only(path.parent):
        metadata, written = serve.prepare(path)
        assert written is None  # no metadata.yml could be written beside it: the bundled metadata, in memory
        app = serve.datasette_app(path, metadata)

        async def get() -> list[dict[str, object]]:
            response = await app.client.get("/news/articles.json?_shape=array")
            assert response.status_code == 200, response.text[:500]
            rows: list[dict[str, object]] = response.json()
            return rows

        assert [r["title"] for r in asyncio.run(get())] == ["Kyiv story"]


def test_read_only_commands_create_no_database(tmp_path: Path) -> None:
    (tmp_path / "sources.toml").write_text(CONFIG, encoding="utf-8")
    path = tmp_path / "db" / "news.db"
    for command in (["stats"], ["sources"], ["topics"]):
        done = ingest(tmp_path, path, *command)
        assert done.returncode == 0, (command, done.stderr)
    assert "0 articles" in ingest(tmp_path, path, "stats").stdout
    assert not (tmp_path / "db").exists()


def test_a_database_locked_by_another_process_stops_a_writer_with_one_line(tmp_path: Path) -> None:
    """Another process holds the write lock longer than the busy timeout (30 s): the backfill waits that long,
    then says so in one line; a reader meanwhile reads (WAL)."""
    path = make_database(tmp_path)
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sqlite3, sys, time\n"
        f"c = sqlite3.connect({str(path)!r}, isolation_level=None)\n"
        "c.execute('BEGIN IMMEDIATE'); c.execute(\"INSERT INTO runs (source, kind) VALUES ('lock', 'lock')\")\n"
        "print('locked', flush=True); time.sleep(120)\n")], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "locked"
        started = time.monotonic()
        done = ingest(tmp_path, path, "backfill")
        assert done.returncode == 2, done.stderr[-2000:]
        assert time.monotonic() - started >= store.BUSY_TIMEOUT_MS / 1000 - 1
        errors = [line for line in done.stderr.splitlines() if line.startswith("Error:")]
        assert len(errors) == 1, done.stderr
        assert "locked by another process" in errors[0]
        assert "Traceback" not in done.stderr
        assert "1 articles" in ingest(tmp_path, path, "stats").stdout
    finally:
        holder.kill()
        holder.wait()
        if holder.stdout is not None:
            holder.stdout.close()
    with closing(store.open_readonly(path)) as db:
        runs = db.execute("SELECT count(*) FROM runs").fetchone()[0]
    assert runs == 0  # the backfill started nothing, the holder's insert was never committed


def test_the_daemon_stops_when_its_database_turns_out_damaged(tmp_path: Path,
                                                             caplog: pytest.LogCaptureFixture) -> None:
    """A file damaged after the start-up check: the pass fails with one line and the daemon stops, saying why,
    instead of writing on into it every pass."""
    from ingest.config import load_config
    from ingest.fetch import Fetcher, MemoryHostStates
    from ingest.scheduler import Daemon

    path = make_database(tmp_path)
    data = bytearray(path.read_bytes())
    data[:4096] = b"\x00garbage" * 512
    path.write_bytes(bytes(data))
    config = load_config(tmp_path / "sources.toml")
    with Fetcher(config.settings, MemoryHostStates()) as fetcher:
        daemon = Daemon(config, path, fetcher)
        try:
            daemon.job(config.sources["x"])
        finally:
            daemon.pool.close()
    assert daemon.stopping.is_set()
    assert daemon.failure is not None
    assert "damaged" in daemon.failure
    failures = [r for r in caplog.records if "pass failed" in r.getMessage()]
    assert len(failures) == 1
    assert failures[0].exc_info is None
    assert path.read_bytes() == bytes(data)
