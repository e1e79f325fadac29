"""What the parse workers' forkserver preloads: the cleaning stage, and what a main script makes every worker import.

(The workers' deaths, timeouts and retirement are tested in test_crash.py.)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = """\
import json

from ingest.run import workers
from ingest.urls import url_key


def later():
    import csv  # never run: not loaded, not preloaded


print(json.dumps(workers.main_imports()))
"""


def run(args: list[str], cwd: Path) -> list[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(cwd)])}
    done = subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=60,
                          check=False)
    assert done.returncode == 0, done.stderr
    result: list[str] = json.loads(done.stdout)
    return result


def test_a_script_run_by_path_has_its_loaded_imports_preloaded(tmp_path: Path) -> None:
    # multiprocessing runs such a script again in every worker (the `ingest` console script is one)
    (tmp_path / "script.py").write_text(SCRIPT, encoding="utf-8")
    assert run(["script.py"], tmp_path) == ["json", "ingest.run", "ingest.run.workers", "ingest.urls"]


def test_a_package_main_is_not_run_again_so_nothing_is_added(tmp_path: Path) -> None:
    # `python -m ingest`, `python -m pytest`: multiprocessing leaves a package's __main__ alone
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("", encoding="utf-8")
    (tmp_path / "pkg" / "__main__.py").write_text(SCRIPT, encoding="utf-8")
    assert run(["-m", "pkg"], tmp_path) == []


def test_the_parse_preload_is_the_cleaning_stage_and_not_the_cli(tmp_path: Path) -> None:
    code = ("import json, sys\nfrom ingest.run.parsing import parse_preload\n"
            "for name in parse_preload(): __import__(name)\n"
            "from ingest.clean.adapters import ADAPTERS\n"
            "print(json.dumps(sorted({c.__module__ for c in ADAPTERS.values()} - set(sys.modules))"
            " + sorted(m for m in ('ingest.cli', 'ingest.run.scheduler', 'ingest.crawl.fetch', 'httpx',"
            " 'ingest.archive.store') if m in sys.modules)))\n")
    # every adapter a task may carry is loaded (unpickling it imports nothing), and nothing of the CLI or crawler
    assert run(["-c", code], tmp_path) == []
