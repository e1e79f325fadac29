"""The runner seam: the daemon asks a Runner for passes and knows nothing of how they run (no fetcher, no pool)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path

from ingest.config import Source, parse_config
from ingest.models import OPEN_WINDOW, Window
from ingest.run.pipeline import Summary
from ingest.run.reclean import RecleanSummary
from ingest.run.replay import Replayed
from ingest.run.runner import Runner
from ingest.run.scheduler import PAGES_PER_PASS, Daemon
from ingest.run.warcplan import ReplayStats


class RecordingRunner:
    """A Runner that runs nothing: it records what it was asked."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, ...]] = []
        self.passed = threading.Event()

    def run_pass(self, source: Source, *, kind: str = "run", window: Window = OPEN_WINDOW, limit: int | None = None,
                 on_discovered: Callable[[int, int], None] | None = None,
                 on_total: Callable[[int], None] | None = None,
                 on_outcome: Callable[[str], None] | None = None) -> Summary:
        self.calls.append(("run_pass", source.slug, kind, str(limit)))
        self.passed.set()
        summary = Summary(source.slug)
        summary.new = 3
        return summary

    def reclean(self, source: Source, *, since: date | None = None, everything: bool = False,
                on_total: Callable[[int], None] | None = None,
                on_done: Callable[[str], None] | None = None) -> RecleanSummary:
        self.calls.append(("reclean", source.slug))
        return RecleanSummary(source.slug)

    def replay(self, paths: Sequence[Path], sources: Sequence[Source], *, forced: Source | None = None,
               window: Window = OPEN_WINDOW, limit: int | None = None,
               on_file: Callable[[Path, int, int], None] | None = None,
               on_bytes: Callable[[int], None] | None = None) -> Replayed:
        self.calls.append(("replay", *map(str, paths)))
        return Replayed([], ReplayStats())

    def stop(self) -> None:
        self.calls.append(("stop",))

    def close(self) -> None:
        self.calls.append(("close",))


def test_the_daemon_runs_its_passes_and_stops_through_the_runner(tmp_path: Path) -> None:
    config = parse_config({"settings": {"user_agent": "ingest-test/1.0 (+https://example.org/contact)"},
                           "sources": {"news": {"feeds": ["http://127.0.0.1:9/feed.xml"], "interval": "1h"}}})
    runner = RecordingRunner()
    typed: Runner = runner  # any Runner will do (cli.py hands the daemon an InProcessRunner, checked by mypy)
    daemon = Daemon(config, tmp_path / "news.db", typed)
    daemon.job(config.sources["news"])
    assert runner.calls == [("run_pass", "news", "run", str(PAGES_PER_PASS))]
    assert daemon.failure is None
    # run() schedules the source's first pass at once; a stop ends the daemon and closes the runner
    runner.passed.clear()
    threading.Thread(target=lambda: (runner.passed.wait(10), daemon.stop()), daemon=True).start()
    assert daemon.run(install_signals=False)
    assert runner.calls[1:] == [("run_pass", "news", "run", str(PAGES_PER_PASS)), ("stop",), ("close",), ("close",)]
