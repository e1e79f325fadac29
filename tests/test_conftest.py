"""The shared-folder helper (conftest.shared_path): a CI run without ../shared fails, a local run skips.

Otherwise a CI run where ../shared was never checked out passes green with every real-page test skipped.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
PROBE = '''
from conftest import corpus_path, shared_path


def test_needs_the_corpus():
    assert corpus_path("outlets/index.tsv").read_text("utf-8")


def test_needs_the_seeds():
    assert shared_path("seeds").is_dir()
'''


def run_probe(tmp_path: Path, shared: Path, ci: bool) -> subprocess.CompletedProcess[str]:
    """pytest, in a subprocess, on a two-test file that needs the shared folder at `shared`."""
    (tmp_path / "test_probe.py").write_text(PROBE, encoding="utf-8")
    (tmp_path / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "PYTEST_ADDOPTS")}
    env.update(INGEST_SHARED=str(shared), PYTHONPATH=os.pathsep.join([str(TESTS), env.get("PYTHONPATH", "")]))
    if ci:
        env["CI"] = "1"
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-rfs", "-p", "no:cacheprovider", "test_probe.py"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize(("ci", "word"), [(True, "2 failed"), (False, "2 skipped")])
def test_a_missing_shared_folder_fails_under_ci_and_skips_elsewhere(tmp_path: Path, ci: bool, word: str) -> None:
    done = run_probe(tmp_path, tmp_path / "no-such-shared", ci)
    assert word in done.stdout, done.stdout + done.stderr
    assert done.returncode == (1 if ci else 0), done.stdout
    assert "no-such-shared/corpus/outlets/index.tsv" in done.stdout
    assert "INGEST_SHARED" in done.stdout


def test_a_present_shared_folder_is_used(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    (shared / "corpus" / "outlets").mkdir(parents=True)
    (shared / "seeds").mkdir()
    (shared / "corpus" / "outlets" / "index.tsv").write_text("slug\tfile\n", encoding="utf-8")
    done = run_probe(tmp_path, shared, ci=True)
    assert "2 passed" in done.stdout, done.stdout + done.stderr
