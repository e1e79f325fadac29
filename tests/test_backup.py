"""`ingest backup FILE`: a consistent, checked copy while another process writes; refusals with one line, exit 2,
and nothing written but FILE."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import query
from test_readonly import read_only

from ingest.archive import store
from ingest.models import Article

CONFIG = Path(__file__).resolve().parent.parent / "sources.toml"
BATCH = 10  # rows the writer commits together
WRITER = textwrap.dedent(f"""
    import sys, time
    from pathlib import Path
    from ingest.archive import store
    db = store.open_db(sys.argv[1])
    stop = Path(sys.argv[2])
    batch = 0
    while not stop.exists():
        batch += 1
        with store.transaction(db):
            for i in range({BATCH}):
                store.log_fetch(db, url=f"http://127.0.0.1:9/{{batch}}/{{i}}", source="writer", outcome="new",
                                reason=str(batch))
        print(batch, time.time(), flush=True)
    db.close()
""")


def make_database(path: Path, ballast_mib: int = 0) -> None:
    """An ingest database with one article (and `ballast_mib` MiB of incompressible rows), closed cleanly."""
    db = store.open_db(path)
    with store.transaction(db):
        store.save_article(db, Article(url="http://127.0.0.1:9/story", source="x", title="Story",
                                       text="A story, told in full.", language="en",
                                       published_at=datetime(2026, 11, 30, tzinfo=UTC)))
        if ballast_mib:
            db.execute("CREATE TABLE ballast (data BLOB)")
            db.execute(f"WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {ballast_mib * 16})"
                       " INSERT INTO ballast SELECT randomblob(65536) FROM n")
    db.close()


def ingest(db: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ingest", "--db", str(db), "backup", *args],
                          capture_output=True, text=True, timeout=300)


def files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_a_backup_while_another_process_writes_is_consistent_and_checked(tmp_path: Path) -> None:
    source = tmp_path / "db" / "news.db"
    make_database(source, ballast_mib=96)
    out = tmp_path / "backups" / "news-backup.db"
    out.parent.mkdir()
    stop, log = tmp_path / "stop", tmp_path / "commits.log"
    with log.open("w") as sink:  # a file, not a pipe: a full pipe would stop the writer mid-backup
        writer = subprocess.Popen([sys.executable, "-c", WRITER, str(source), str(stop)], stdout=sink)
    try:
        deadline = time.monotonic() + 30
        while not log.read_text() and time.monotonic() < deadline:
            time.sleep(0.05)  # writing
        started = time.time()
        done = ingest(source, str(out))
        ended = time.time()
        stop.touch()
        writer.wait(timeout=60)
    finally:
        if writer.poll() is None:
            writer.kill()
            writer.wait()
    commits = [float(line.split()[1]) for line in log.read_text().splitlines()]
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"backed up {source} to {out} (")
    assert "1 articles; integrity ok" in done.stdout
    assert writer.returncode == 0
    assert sum(started < t < ended for t in commits) > 0, "the writer never committed during the backup"
    # One snapshot: every batch whole, and later commits not in it.
    assert query(out, "PRAGMA integrity_check")[0][0] == "ok"
    assert query(out, "PRAGMA journal_mode")[0][0] == "delete"  # one file: no -wal needed to read it
    torn = query(out, "SELECT reason, count(*) FROM fetches GROUP BY reason HAVING count(*) != ?", (BATCH,))
    assert torn == []
    copied = query(out, "SELECT count(*) FROM fetches")[0][0]
    assert 0 < copied < query(source, "SELECT count(*) FROM fetches")[0][0]
    assert query(out, "SELECT count(*) FROM ballast")[0][0] == 96 * 16
    assert query(out, "PRAGMA user_version")[0][0] == store.SCHEMA_VERSION
    assert sorted(p.name for p in out.parent.iterdir()) == ["news-backup.db"]  # nothing else left behind


def test_a_backup_writes_nothing_but_file_and_is_a_working_database(tmp_path: Path) -> None:
    source = tmp_path / "db" / "news.db"
    make_database(source)
    before = files(source.parent)
    out = tmp_path / "news-backup.db"
    done = ingest(source, str(out))
    assert done.returncode == 0, done.stderr
    assert files(source.parent) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["db", "news-backup.db"]
    stats = subprocess.run([sys.executable, "-m", "ingest", "--db", str(out), "--config", str(CONFIG), "stats",
                            "--json"], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert stats.returncode == 0, stats.stderr
    assert '"articles": 1' in stats.stdout


@pytest.mark.parametrize("where", ["file", "folder"])
def test_a_read_only_database_is_backed_up(where: str, tmp_path: Path) -> None:
    source = tmp_path / "db" / "news.db"
    make_database(source)
    before = files(source.parent)
    out = tmp_path / "news-backup.db"
    with read_only(source if where == "file" else source.parent):
        done = ingest(source, str(out))
    assert done.returncode == 0, done.stderr
    assert query(out, "SELECT count(*) FROM articles")[0][0] == 1
    if where == "folder":
        assert files(source.parent) == before
    else:  # SQLite reading a WAL file it cannot write leaves its (empty) -wal and -shm, as every reader does
        assert files(source.parent)["news.db"] == before["news.db"]


def test_an_existing_file_is_kept_unless_force(tmp_path: Path) -> None:
    source = tmp_path / "news.db"
    make_database(source)
    out = tmp_path / "old-backup.db"
    out.write_bytes(b"last week's backup")
    refused = ingest(source, str(out))
    assert refused.returncode == 2
    assert refused.stderr.strip().splitlines() == [f"Error: {out} already exists: give --force to replace it"]
    assert out.read_bytes() == b"last week's backup"
    forced = ingest(source, str(out), "--force")
    assert forced.returncode == 0, forced.stderr
    assert query(out, "SELECT title FROM articles")[0][0] == "Story"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["news.db", "old-backup.db"]


@pytest.mark.parametrize(("case", "message"), [
    ("missing", "no database at {source}: `ingest run` or `ingest backfill` creates it; give another with --db"),
    ("not-a-database", "{source} -> {out}: damaged, or not an SQLite database"),
    ("folder-missing", "folder {out_parent} does not exist"),
    ("file-is-a-folder", "{out} is a folder: give the backup's file name"),
    ("file-is-the-database", "{out} is the database itself"),
])
def test_refusals_are_one_line_exit_2_and_write_nothing(case: str, message: str, tmp_path: Path) -> None:
    source = tmp_path / "db" / "news.db"
    out = tmp_path / "backup.db"
    if case == "not-a-database":
        source.parent.mkdir()
        source.write_bytes(b"this is not SQLite" * 300)
    elif case != "missing":
        make_database(source)
    if case == "folder-missing":
        out = tmp_path / "nowhere" / "backup.db"
    elif case == "file-is-a-folder":
        out = tmp_path / "folder"
        out.mkdir()
    elif case == "file-is-the-database":
        out = source
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    done = ingest(source, str(out), "--force")
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("Error: " + message.format(source=source, out=out, out_parent=out.parent)), lines
    assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == before
