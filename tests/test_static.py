"""The house gates as tests, so the README test command enforces them: mypy strict and ruff."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_ruff_is_clean() -> None:
    proc = subprocess.run([sys.executable, "-m", "ruff", "check", "ingest", "tests", "bench"], cwd=ROOT,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_mypy_strict_is_clean() -> None:
    proc = subprocess.run([sys.executable, "-m", "mypy", "ingest"], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_importing_ingest_does_no_io() -> None:
    code = ("import socket, builtins\n"
            "def refuse(*a, **k): raise AssertionError('I/O at import')\n"
            "socket.socket.connect = refuse\n"
            "import ingest.cli, ingest.run.pipeline, ingest.run.scheduler, ingest.crawl.fetch, ingest.archive.store\n")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_only_the_archive_talks_sqlite_and_crawling_never_imports_it() -> None:
    """The storage seam (ingest/storage.py): SQLite stays inside ingest/archive/; discovery and fetching see only
    the Store interface."""
    for path in sorted((ROOT / "ingest").rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        relative = path.relative_to(ROOT / "ingest").as_posix()
        if not relative.startswith("archive/"):
            assert "import sqlite3" not in text, relative
            assert "import sqlite_utils" not in text, relative
        if relative.startswith("crawl/"):
            assert "ingest.archive" not in text, relative
    storage = (ROOT / "ingest" / "storage.py").read_text(encoding="utf-8")
    imported = {line.split()[1] for line in storage.splitlines() if line.startswith(("import ", "from "))}
    assert {name for name in imported if name.startswith("ingest")} <= {"ingest.models", "ingest.config"}
