"""`ingest worker` (issue 20): a real `python -m ingest` process on a real PostgreSQL (tests/pg.py) takes the
queued jobs of a loopback outlet (conftest.Site), stores each article once, and drains on SIGTERM within 10 s."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner
from conftest import Site, article_html, rss, send

from ingest.archive.postgres import open_postgres_host_states, open_postgres_store
from ingest.archive.sqlite import open_store
from ingest.cli import cli
from ingest.config import Config, Settings, Source
from ingest.crawl.fetch import Fetcher
from ingest.run.queue import QueueRunner, pending_jobs, run_worker

ROOT = Path(__file__).resolve().parent.parent
PAGES = 9
SETTINGS = Settings(user_agent="ingest-test/1.0 (+https://example.org/contact)", per_host_delay=0.0, max_retries=0,
                    respect_robots=False)


def body(i: int) -> bytes:
    return article_html(f"Story {i}", [f"Story number {i} tells of event {i} in some detail, again. " * 5
                                       for _ in range(3)]).encode()


def outlet_of(pages: int, gate: threading.Event | None = None) -> Site:
    """An outlet of `pages` articles and their feed; with `gate`, an article's reply waits for it (a slow page)."""
    site = Site({"/robots.txt": lambda h: send(h, 200, b"User-agent: *\nAllow: /\n", "text/plain")})
    for i in range(pages):
        def reply(h: object, data: bytes = body(i)) -> None:
            if gate is not None:
                gate.wait(60)
            send(h, 200, data)  # type: ignore[arg-type]
        site.routes[f"/news/{i}"] = reply
    site.routes["/feed.xml"] = lambda h: send(h, 200, rss([site.url(f"/news/{i}") for i in range(pages)]),
                                              "application/rss+xml")
    return site


def sources_toml(site: Site) -> str:
    return (f'[settings]\nuser_agent = "{SETTINGS.user_agent}"\nper_host_delay = 0\nmax_retries = 0\n'
            f'respect_robots = false\n\n[sources.news]\nfeeds = ["{site.url("/feed.xml")}"]\n'
            'domains = ["127.0.0.1"]\n')


def config_for(site: Site) -> Config:
    return Config(settings=SETTINGS, sources={"news": Source(slug="news", feeds=(site.url("/feed.xml"),),
                                                               domains=("127.0.0.1",))})


def rows(dsn: str, sql: str) -> list[tuple[object, ...]]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(sql).fetchall()  # type: ignore[arg-type]


def queue_a_pass(dsn: str, config: Config) -> None:
    """The archive made, then one pass: a job per article link."""
    open_postgres_store(dsn).close()
    hosts = open_postgres_host_states(dsn)
    try:
        with Fetcher(SETTINGS, hosts) as fetcher, QueueRunner(config, dsn, fetcher) as runner:
            runner.run_pass(config.sources["news"], kind="backfill")
    finally:
        hosts.close()


def start_worker(tmp_path: Path, site: Site, dsn: str, *args: str) -> subprocess.Popen[str]:
    (tmp_path / "sources.toml").write_text(sources_toml(site), encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-m", "ingest", "--db", dsn, "worker", *args], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def until(check: object, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


@pytest.fixture
def outlet() -> Iterator[Site]:
    site = outlet_of(PAGES)
    yield site
    site.close()


def article_hits(site: Site) -> list[str]:
    return [p for p in site.paths() if p.startswith("/news/")]


def test_a_pass_defers_a_job_per_link(pg_dsn: str, outlet: Site) -> None:
    queue_a_pass(pg_dsn, config_for(outlet))
    assert pending_jobs(pg_dsn) == {"todo": PAGES}
    assert article_hits(outlet) == []


def test_a_worker_process_stores_every_article_once_and_stops_on_sigterm(pg_dsn: str, outlet: Site,
                                                                         tmp_path: Path) -> None:
    queue_a_pass(pg_dsn, config_for(outlet))
    worker = start_worker(tmp_path, outlet, pg_dsn, "--concurrency", "3")
    try:
        until(lambda: pending_jobs(pg_dsn) == {"succeeded": PAGES})
        worker.send_signal(signal.SIGTERM)
        _, err = worker.communicate(timeout=10)
    finally:
        worker.kill()
    assert worker.returncode == 0, err
    assert sorted(article_hits(outlet)) == sorted(f"/news/{i}" for i in range(PAGES))
    assert rows(pg_dsn, "SELECT count(*), count(DISTINCT url) FROM articles") == [(PAGES, PAGES)]
    assert rows(pg_dsn, "SELECT outcome, count(*) FROM fetches GROUP BY outcome") == [("new", PAGES)]
    assert rows(pg_dsn, "SELECT count(*) FROM frontier WHERE claimed_by IS NOT NULL") == [(0,)]
    assert sum(" new http" in line for line in err.splitlines()) == PAGES  # a log line per page, as the daemon's
    assert "worker stopped" in err
    assert "Starting job" not in err  # Procrastinate's own lines are for -v


def test_sigterm_with_a_slow_page_in_flight_drains_within_10s_and_gives_it_back(pg_dsn: str, tmp_path: Path) -> None:
    gate = threading.Event()
    site = outlet_of(2, gate)
    try:
        config = config_for(site)
        queue_a_pass(pg_dsn, config)
        worker = start_worker(tmp_path, site, pg_dsn, "--concurrency", "2")
        try:
            # one page in flight (its reply waits on the gate), the other waiting for the host: one at a time
            until(lambda: len(article_hits(site)) == 1
                  and rows(pg_dsn, "SELECT count(*) FROM frontier WHERE claimed_by IS NOT NULL") == [(2,)])
            signalled = time.monotonic()
            worker.send_signal(signal.SIGTERM)
            _, err = worker.communicate(timeout=15)
            took = time.monotonic() - signalled
        finally:
            worker.kill()
        assert worker.returncode == 0, err
        assert took < 10, err
        assert err.count("given-back") == 2, err
        assert "Traceback" not in err  # a job given back is not an error
        assert rows(pg_dsn, "SELECT count(*) FROM frontier WHERE claimed_by IS NOT NULL") == [(0,)]
        assert rows(pg_dsn, "SELECT state, count(*) FROM frontier GROUP BY state") == [("pending", 2)]
        assert pending_jobs(pg_dsn) == {"todo": 2}  # both jobs queued again
        assert rows(pg_dsn, "SELECT count(*) FROM articles") == [(0,)]

        gate.set()  # the outlet answers now: a later worker stores both, once
        assert run_worker(pg_dsn, config, concurrency=2, wait=False, pool_size=1, install_signal_handlers=False)
        assert pending_jobs(pg_dsn) == {"succeeded": 2}
        assert rows(pg_dsn, "SELECT count(*), count(DISTINCT url) FROM articles") == [(2, 2)]
        assert rows(pg_dsn, "SELECT outcome, count(*) FROM fetches GROUP BY outcome") == [("new", 2)]
        assert rows(pg_dsn, "SELECT state, count(*) FROM frontier GROUP BY state") == [("done", 2)]
    finally:
        gate.set()
        site.close()


def test_a_sqlite_db_is_refused_in_one_line(tmp_path: Path) -> None:
    open_store(tmp_path / "some.db").close()
    size = (tmp_path / "some.db").stat().st_size
    result = CliRunner().invoke(cli, ["--db", str(tmp_path / "some.db"), "worker"])
    assert result.exit_code == 2
    assert result.output.strip().count("\n") == 0
    assert "workers need a PostgreSQL archive" in result.output
    assert (tmp_path / "some.db").stat().st_size == size  # checked (as every command checks --db), not written


def test_a_database_without_an_archive_is_one_line(pg_dsn: str, tmp_path: Path) -> None:
    (tmp_path / "sources.toml").write_text('[sources.news]\nfeeds = ["https://news.example/rss"]\n', encoding="utf-8")
    result = CliRunner().invoke(cli, ["--config", str(tmp_path / "sources.toml"), "--db", pg_dsn, "worker"])
    assert result.exit_code == 2
    assert "holds no ingest archive" in result.output
    assert rows(pg_dsn, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'") == [(0,)]
