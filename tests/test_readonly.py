"""Databases that can't be used: missing, a folder, empty, not SQLite, damaged, another program's, read-only, locked.

Writers (run, backfill, reclean, topics --retag) end with one line and exit 2, the file untouched; read-only
commands (stats, sources, topics, boilerplate, export, history, serve) open the file read-only and work, and refuse a
database that isn't there. Every command of the group, run as a real process with each bad --db and --config,
ends with one line and exit 2, no traceback, nothing created or changed (test_every_command_...). The tests run as
root on these machines, where file modes block nothing: the file or folder is made immutable (chattr +i) instead.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from ingest.archive import serve, store
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
READERS = [["stats"], ["sources"], ["topics"], ["boilerplate", "x"], ["export", "--format", "jsonl"], ["history", "1"],
           ["export", "--revisions"]]


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


def fill(path: Path) -> None:
    """A current database at `path` with one stored article, closed cleanly (no -wal or -shm beside it)."""
    db = store.open_db(path)
    with store.transaction(db):
        store.save_article(db, Article(url="http://127.0.0.1:9/kyiv-story", source="x", title="Kyiv story",
                                       text="A story from Kyiv, told in full.", language="en",
                                       published_at=datetime(2026, 11, 30, tzinfo=UTC)))
    db.close()


def make_database(tmp_path: Path) -> Path:
    """db/news.db, filled (see fill), beside a sources.toml."""
    path = tmp_path / "db" / "news.db"
    fill(path)
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
        assert "  Kyiv story" in ingest(tmp_path, path, "history", "http://127.0.0.1:9/kyiv-story").stdout
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


def test_read_only_commands_refuse_a_missing_database_and_create_nothing(tmp_path: Path) -> None:
    """A typo in --db must not look like an empty archive: every command that only reads says there is no database
    there and how to make one, exit 2, and no folder or file appears."""
    (tmp_path / "sources.toml").write_text(CONFIG, encoding="utf-8")
    path = tmp_path / "db" / "news.db"
    commands = [[*c, "--json"] for c in READERS if c[0] in ("stats", "sources")] + [
        c for c in every_command() if c[0] not in CREATES | OPTIONAL]
    assert {c[0] for c in commands} >= {"stats", "sources", "topics", "boilerplate", "export", "serve", "reclean",
                                        "history"}
    for command, done in run_all(tmp_path, commands, tmp_path / "sources.toml", path):
        assert done.returncode == 2, (command, done.stderr)
        assert done.stderr.splitlines() == [f"Error: no database at {path}: `ingest run` or `ingest backfill` "
                                            "creates it; give another with --db"], command
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sources.toml"]


def test_a_database_locked_by_another_process_stops_a_writer_with_one_line(tmp_path: Path) -> None:
    """Another process holds the write lock longer than the busy timeout (30 s): each writer (backfill, run,
    reclean, topics --retag, all at once) waits that long, then says so in one line; a reader meanwhile reads."""
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
        with ThreadPoolExecutor(len(WRITERS)) as pool:
            runs = list(pool.map(lambda command: ingest(tmp_path, path, *command), WRITERS))
        assert time.monotonic() - started >= store.BUSY_TIMEOUT_MS / 1000 - 1
        for command, done in zip(WRITERS, runs, strict=True):
            assert done.returncode == 2, (command, done.stderr[-2000:])
            errors = [line for line in done.stderr.splitlines() if line.startswith("Error:")]
            assert len(errors) == 1, (command, done.stderr)
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
    from ingest.crawl.fetch import Fetcher, MemoryHostStates
    from ingest.run.runner import InProcessRunner
    from ingest.run.scheduler import Daemon

    path = make_database(tmp_path)
    data = bytearray(path.read_bytes())
    data[:4096] = b"\x00garbage" * 512
    path.write_bytes(bytes(data))
    config = load_config(tmp_path / "sources.toml")
    with Fetcher(config.settings, MemoryHostStates()) as fetcher, InProcessRunner(config, path, fetcher) as runner:
        daemon = Daemon(config, path, runner)
        daemon.job(config.sources["x"])
    assert daemon.stopping.is_set()
    assert daemon.failure is not None
    assert "damaged" in daemon.failure
    failures = [r for r in caplog.records if "pass failed" in r.getMessage()]
    assert len(failures) == 1
    assert failures[0].exc_info is None
    assert path.read_bytes() == bytes(data)


# --- every command, every bad path ---------------------------------------------------------------------------

# The arguments a command needs to get as far as its database; a command not listed gets none (a new one is run by
# the matrix below all the same: give it its arguments here).
ARGUMENTS: dict[str, list[str]] = {"boilerplate": ["x"], "extract": ["{page}"], "backup": ["{tmp}/copy.db"],
                                   "history": ["1"],
                                   "publish": ["--to", "{tmp}/copy.db"],
                                   "capture": ["{page}", "--name", "probe", "--fixtures", "{tmp}/fixtures"]}
VARIANTS = [["topics", "--retag"], ["backfill", "--dry-run"], ["reclean", "--all"], ["export", "--format", "csv"]]
# A missing database, or a 0-byte file (SQLite's empty database), is made one (run would then go on): not a bad
# path for them; test_writers_fill_a_0_byte_file shows it.
CREATES = {"run", "backfill", "demo"}
OPTIONAL = {"extract", "capture"}  # the database only lends its learned boilerplate: none is fine
PAGE = Path(__file__).resolve().parent.parent / "ingest" / "demo_site" / "ukrinform" / "ua-2026-rada-energy.html"


def every_command() -> list[list[str]]:
    """Each command of the `ingest` group with its minimal arguments, and the variants that write."""
    from ingest.cli import cli

    return [[name, *ARGUMENTS.get(name, [])] for name in sorted(cli.commands)] + VARIANTS


def corrupt(path: Path) -> None:
    """An ingest database whose first page past SQLite's 100-byte header (the schema) is garbled: 'malformed'."""
    fill(path)
    data = bytearray(path.read_bytes())
    data[100:4096] = b"\xa5" * 3996
    path.write_bytes(bytes(data))


def foreign(path: Path) -> None:
    with closing(sqlite3.connect(path)) as conn:
        conn.execute("CREATE TABLE notes (body TEXT)")
        conn.commit()


# case -> (how to make the bad --db in an existing folder, the words its one line has)
BAD_DATABASES: dict[str, tuple[Any, str]] = {
    "missing-folder": (None, "no database at"),
    "missing-file": (None, "no database at"),
    "folder": (lambda p: p.mkdir(), "is a directory"),
    "not-sqlite": (lambda p: p.write_bytes(b"id,title\n1,Kyiv story\n" * 50), "is not an SQLite database"),
    "empty": (lambda p: p.write_bytes(b""), "empty file (0 bytes)"),
    "corrupt": (corrupt, "damaged"),
    "foreign": (foreign, "another program"),
}
BAD_CONFIGS: dict[str, tuple[Any, str]] = {
    "missing-config": (None, "file not found"),
    "config-folder": (lambda p: p.mkdir(), "is a directory"),
    "not-toml": (lambda p: p.write_bytes(b"\x00\xffnot toml at all [[["), "not valid TOML"),
    "bad-key": (lambda p: p.write_text("[settings]\nper_host_delay = -1\n", encoding="utf-8"), "per_host_delay"),
}


def tree(folder: Path) -> dict[str, tuple[int, int, str]]:
    """Every file under `folder` with its size, mtime and content hash, and every folder."""
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns,
                                         hashlib.sha256(p.read_bytes()).hexdigest()) if p.is_file() else (0, 0, "")
            for p in sorted(folder.rglob("*"))}


def commands_for(case: str, cases: dict[str, tuple[Any, str]], sweep: str | None = None) -> list[list[str]]:
    """Every command meets the `sweep` case; the other cases take turns over the commands, so that each command
    meets one of them as well and the whole matrix stays near three processes per command (each costs ~0.8 s of
    CPU, most of it imports). Bad configs need no sweep: one check in the group callback refuses them all."""
    commands = every_command()
    if case == sweep:
        return commands
    others = sorted(c for c in cases if c != sweep)
    return commands[others.index(case)::len(others)]


def run_all(tmp_path: Path, commands: list[list[str]], config: Path, db: Path) -> list[tuple[list[str], Any]]:
    """Each command as a real `python -m ingest` process, four at a time."""
    def one(command: list[str]) -> subprocess.CompletedProcess[str]:
        args = [a.format(page=PAGE, tmp=tmp_path) for a in command]
        return subprocess.run([sys.executable, "-m", "ingest", "--config", str(config), "--db", str(db), *args],
                              capture_output=True, text=True, timeout=60, cwd=tmp_path, stdin=subprocess.DEVNULL)
    with ThreadPoolExecutor(4) as pool:
        return list(zip(commands, pool.map(one, commands), strict=True))


def assert_refused(runs: list[tuple[list[str], Any]], words: str) -> None:
    for command, done in runs:
        assert "Traceback" not in done.stderr, (command, done.stderr[-3000:])
        assert done.returncode == 2, (command, done.returncode, done.stdout[-500:], done.stderr[-2000:])
        errors = [line for line in done.stderr.splitlines() if line.startswith("Error:")]
        assert len(errors) == 1, (command, done.stderr)
        assert words in errors[0], (command, errors[0])


@pytest.mark.parametrize("case", sorted(BAD_DATABASES))
def test_every_command_refuses_a_bad_database_with_one_line_and_changes_nothing(case: str, tmp_path: Path) -> None:
    """The bad file is named demo.db: `ingest demo` keeps its database beside --db under that name."""
    make, words = BAD_DATABASES[case]
    (tmp_path / "sources.toml").write_text(CONFIG, encoding="utf-8")
    (tmp_path / "db").mkdir()
    db = tmp_path / ("nowhere" if case == "missing-folder" else "db") / "demo.db"
    if make is not None:
        make(db)
    commands = commands_for(case, BAD_DATABASES, sweep="corrupt")
    if case.startswith("missing") or case == "empty":  # where run, backfill and demo create a database
        commands = [c for c in commands if c[0] not in CREATES | OPTIONAL] or [["stats"]]
    before = tree(tmp_path)
    assert_refused(run_all(tmp_path, commands, tmp_path / "sources.toml", db), words)
    assert tree(tmp_path) == before


def damage_articles(path: Path) -> None:
    """A database whose schema reads fine but whose `articles` table's root page is garbled: only a command that
    reads that table, or checks the whole file, can tell."""
    fill(path)
    with closing(sqlite3.connect(path)) as conn:
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
        root = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = 'articles'").fetchone()[0]
    data = bytearray(path.read_bytes())
    data[(root - 1) * page_size:root * page_size] = b"\xa5" * page_size
    path.write_bytes(bytes(data))


def test_a_damaged_table_page_is_refused_by_the_writers_health_and_serve(tmp_path: Path) -> None:
    """`health` and `serve` check the whole file as the writers do (a monitor must not say OK, nor Datasette serve
    broken pages, on a damaged archive); the reports that read the damaged table refuse on reading it."""
    path = make_database(tmp_path)
    damage_articles(path)
    commands = [["run"], ["backfill"], ["reclean", "--all"], ["health"], ["serve", "--port", "9"],
                ["stats"], ["sources"], ["export"], ["history", "1"], ["backup", "{tmp}/copy.db"]]
    before = tree(tmp_path)
    assert_refused(run_all(tmp_path, commands, tmp_path / "sources.toml", path), "damaged")
    assert tree(tmp_path) == before


@pytest.mark.parametrize("case", sorted(BAD_CONFIGS))
def test_every_command_refuses_a_bad_config_with_one_line_and_changes_nothing(case: str, tmp_path: Path) -> None:
    """A config named with --config must be right, whether the command reads it or not; the database is good."""
    make, words = BAD_CONFIGS[case]
    path = make_database(tmp_path)
    config = tmp_path / "nowhere" / "sources.toml" if case == "missing-config" else tmp_path / "bad.toml"
    if make is not None:
        make(config)
    before = tree(tmp_path)
    assert_refused(run_all(tmp_path, commands_for(case, BAD_CONFIGS), config, path), words)
    assert tree(tmp_path) == before


def test_writers_fill_a_0_byte_file(tmp_path: Path) -> None:
    """A 0-byte file is SQLite's empty database (a plain sqlite3.connect() leaves one): a backfill makes it an
    archive, where a reader refuses it (test_every_command_... [empty])."""
    (tmp_path / "sources.toml").write_text(CONFIG.replace("[sources.x]", "[sources.x]\nenabled = false"),
                                           encoding="utf-8")
    path = tmp_path / "news.db"
    path.write_bytes(b"")
    done = ingest(tmp_path, path, "backfill")
    assert done.returncode == 0, done.stderr
    assert "0 articles" in ingest(tmp_path, path, "stats").stdout
