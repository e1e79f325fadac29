"""Honest health: a pass whose every request failed is `failed` (runs, the daemon's log, `ingest sources`, the
backfill's summary); a source failing FAILING_PASSES passes in a row is flagged; `ingest health` exits 1 naming it
and why, and 0 once a pass succeeds within the lag. Real daemon passes (Daemon.job) against loopback ports that
refuse connections or answer 503, real SQLite files, `python -m ingest` subprocesses.
"""

from __future__ import annotations

import contextlib
import json
import socket
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import Route, Site, article_html, query, rss, send
from test_readonly import read_only

from ingest.archive import store
from ingest.archive.health import LAG_INTERVALS, MIN_LAG, default_lag
from ingest.archive.report import FAILING_PASSES
from ingest.archive.sqlite import open_store
from ingest.cli import cli
from ingest.config import load_config
from ingest.crawl.fetch import Fetcher
from ingest.run.pipeline import run_source
from ingest.run.runner import InProcessRunner
from ingest.run.scheduler import Daemon

UA = "ingest-test/1.0 (+https://example.org/contact)"
LOREM = ("Members of the council agreed that spending on schools, roads and the water supply would rise "
         "in the coming year while administrative costs would fall by a tenth.")
STORY = "/news/2025/03/01/council-budget"


def refused_base() -> str:
    """A loopback address nothing listens on: a port bound, then closed."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


class Outlet:
    """A loopback outlet (robots.txt, feed, one story) that answers 503 to everything while `down` is set."""

    def __init__(self) -> None:
        self.down = threading.Event()
        self.site = Site()
        story = article_html("Council budget", [f"Paragraph {i}. {LOREM}" for i in range(4)]).encode()
        routes: dict[str, Route] = {
            "/robots.txt": lambda h: send(h, 200, b"User-agent: *\nAllow: /\n", "text/plain"),
            "/feed.xml": lambda h: send(h, 200, rss([self.site.url(STORY)]), "application/rss+xml"),
            STORY: lambda h: send(h, 200, story),
        }
        self.site.routes = {path: self._unless_down(route) for path, route in routes.items()}

    def _unless_down(self, route: Route) -> Route:
        def answer(h: BaseHTTPRequestHandler) -> None:
            if self.down.is_set():
                send(h, 503, b"down for maintenance", "text/plain")
            else:
                route(h)
        return answer


@pytest.fixture
def outlet() -> Iterator[Outlet]:
    served = Outlet()
    yield served
    served.site.close()


def write_config(tmp_path: Path, base: str, interval: str = "10m") -> Path:
    path = tmp_path / "sources.toml"
    path.write_text("\n".join([
        "[settings]", f'user_agent = "{UA}"', "per_host_delay = 0", "timeout = 5", "max_retries = 0",
        "[sources.news]", f'feeds = ["{base}/feed.xml"]', f'sitemaps = ["{base}/sitemap.xml"]',
        f'interval = "{interval}"',
        "[sources.spare]", 'feeds = ["http://127.0.0.1:9/feed.xml"]', "enabled = false",
    ]) + "\n", encoding="utf-8")
    return path


def daemon_pass(config_path: Path, db: Path, slug: str = "news") -> None:
    """One pass of the daemon's job for `slug`, wired as `ingest run` wires it."""
    config = load_config(config_path)
    store.open_db(db).close()
    hosts = store.HostStore(db)
    try:
        with Fetcher(config.settings, hosts, backoff_base=0.05) as fetcher, \
                InProcessRunner(config, db, fetcher) as runner:
            Daemon(config, db, runner).job(config.sources[slug])
    finally:
        hosts.close()


def ingest(config: Path, db: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ingest", "--config", str(config), "--db", str(db), *args],
                          capture_output=True, text=True, timeout=120)


def sources_row(config: Path, db: Path) -> dict[str, object]:
    done = ingest(config, db, "sources", "--json")
    assert done.returncode == 0, done.stderr
    return next(r for r in json.loads(done.stdout) if r["source"] == "news")


def statuses(db: Path) -> list[str]:
    return [r[0] for r in query(db, "SELECT status FROM runs WHERE source = 'news' ORDER BY id")]


@pytest.mark.parametrize("down", ["refused", "503"])
def test_passes_with_every_request_failed_are_failed_flagged_and_unhealthy(
        down: str, tmp_path: Path, outlet: Outlet, caplog: pytest.LogCaptureFixture) -> None:
    if down == "503":
        outlet.down.set()
    config = write_config(tmp_path, outlet.site.base_url if down == "503" else refused_base())
    db = tmp_path / "db" / "news.db"
    for number in range(1, FAILING_PASSES + 1):
        daemon_pass(config, db)
        assert statuses(db) == ["failed"] * number
        row = sources_row(config, db)
        assert row["last_status"] == "failed"
        assert (row["failing"] is not None) == (number >= FAILING_PASSES), row
    assert f"last {FAILING_PASSES} passes failed" in str(row["failing"])
    lines = [r.getMessage() for r in caplog.records if " pass " in r.getMessage()]
    assert len(lines) == FAILING_PASSES
    assert all(line.startswith("news pass FAILED, every request failed") for line in lines), lines
    # 503 on robots.txt means "disallowed for now" (RFC 9309): a failure, not the site's word.
    assert ("robots-unreachable: 2" if down == "503" else "connection: 2") in lines[0]

    health = ingest(config, db, "health")
    assert health.returncode == 1, health.stderr
    assert health.stdout.startswith("UNHEALTHY news: no successful pass or fetch yet")
    assert f"last {FAILING_PASSES} passes failed" in health.stdout
    assert ("robots.txt answered 503" if down == "503" else "Connection refused") in health.stdout
    assert "spare" not in health.stdout  # disabled: not checked
    assert health.stderr == ""


def test_a_good_pass_clears_the_flag_and_health_passes(tmp_path: Path, outlet: Outlet) -> None:
    config = write_config(tmp_path, outlet.site.base_url)
    db = tmp_path / "db" / "news.db"
    outlet.down.set()
    for _ in range(FAILING_PASSES):
        daemon_pass(config, db)
    assert ingest(config, db, "health").returncode == 1
    outlet.down.clear()
    store_db = store.open_db(db)
    with store.transaction(store_db):  # ten minutes later: the breaker's wait and robots.txt's cached 503 are over
        store_db.execute("UPDATE hosts SET backoff_until = 0, failures = 0, robots_fetched_at = 0")
    store_db.close()
    daemon_pass(config, db)
    assert statuses(db) == ["failed"] * FAILING_PASSES + ["ok"]
    row = sources_row(config, db)
    assert (row["last_status"], row["failing"], row["articles"]) == ("ok", None, 1)
    health = ingest(config, db, "health")
    assert (health.returncode, health.stdout.strip()) == (0, "OK: 1 enabled sources, each with a success within "
                                                            "its lag"), health.stderr


def test_health_measures_the_lag_from_the_last_success(tmp_path: Path, outlet: Outlet) -> None:
    config = write_config(tmp_path, outlet.site.base_url, interval="10m")
    db = tmp_path / "db" / "news.db"
    daemon_pass(config, db)
    assert ingest(config, db, "health").returncode == 0
    # Two hours pass with the daemon stopped.
    conn = store.open_db(db)
    with store.transaction(conn):
        for table, column in (("runs", "started_at"), ("runs", "finished_at"), ("fetches", "time")):
            conn.execute(f"UPDATE {table} SET {column} = ?",
                         [(datetime.now(UTC) - timedelta(hours=2)).isoformat(timespec="seconds")])
    conn.close()
    late = ingest(config, db, "health")  # the default lag: 3 x 10m, at least an hour
    assert late.returncode == 1
    assert late.stdout.startswith("UNHEALTHY news: no successful pass or fetch for 2h 0m (max lag 1h 0m)")
    assert ingest(config, db, "health", "--max-lag", "3h").returncode == 0
    assert ingest(config, db, "health", "--max-lag", "90m").returncode == 1
    assert ingest(config, db, "health", "--max-lag", "1.5d").returncode == 0


def test_the_default_lag_is_a_multiple_of_the_interval(tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path, refused_base(), interval="2h"))
    assert default_lag(config.sources["news"]) == LAG_INTERVALS * 7200
    short = load_config(write_config(tmp_path, refused_base(), interval="1m"))
    assert default_lag(short.sources["news"]) == MIN_LAG


@pytest.mark.parametrize("value", ["xx", "6", "0", "-1h", "1w", "", "h"])
def test_a_bad_max_lag_is_refused_with_exit_2(value: str, tmp_path: Path) -> None:
    config = write_config(tmp_path, refused_base())
    result = CliRunner().invoke(cli, ["--config", str(config), "--db", str(tmp_path / "news.db"), "health",
                                      "--max-lag", value])
    assert result.exit_code == 2, result.output
    assert "Error: Invalid value for '--max-lag'" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_health_refuses_a_missing_database_and_creates_nothing(tmp_path: Path) -> None:
    config = write_config(tmp_path, refused_base())
    db = tmp_path / "nowhere" / "news.db"
    done = ingest(config, db, "health")
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [f"Error: no database at {db}: `ingest run` or `ingest backfill` "
                                                 "creates it; give another with --db"]
    assert not (tmp_path / "nowhere").exists()


def test_health_refuses_a_file_that_is_not_an_ingest_database(tmp_path: Path) -> None:
    config = write_config(tmp_path, refused_base())
    for name, content in (("text.db", b"not a database at all" * 100), ("empty.db", None)):
        path = tmp_path / name
        if content is None:
            with contextlib.closing(sqlite3.connect(path)) as conn:
                conn.execute("CREATE TABLE other (x)")
        else:
            path.write_bytes(content)
        done = ingest(config, path, "health")
        assert done.returncode == 2, done.stderr
        assert len(done.stderr.strip().splitlines()) == 1, done.stderr
        assert "Traceback" not in done.stderr


@pytest.mark.parametrize("where", ["file", "folder"])
def test_health_works_on_a_read_only_database(where: str, tmp_path: Path, outlet: Outlet) -> None:
    config = write_config(tmp_path, outlet.site.base_url)
    db = tmp_path / "db" / "news.db"
    daemon_pass(config, db)
    store.open_db(db).close()  # closed cleanly: no -wal beside it
    with read_only(db if where == "file" else db.parent):
        done = ingest(config, db, "health")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("OK:")


def test_a_pass_is_failed_only_when_nothing_was_answered(tmp_path: Path, outlet: Outlet) -> None:
    """A 304, or a feed read whose pages all fail, is an answer: the pass is ok. Pages pending from an earlier
    pass, fetched while the feed is down, make it ok too; failing as well, it is failed."""
    db_path = tmp_path / "news.db"
    config = load_config(write_config(tmp_path, outlet.site.base_url))
    source = config.sources["news"]

    def one_pass() -> str:
        db = open_store(db_path)
        hosts = store.HostStore(db_path)
        try:
            with Fetcher(config.settings, hosts, backoff_base=0.05) as fetcher:
                run_source(db, fetcher, source, workers=1)
            with db.batch():  # each pass starts with the host's breaker closed
                db.db.execute("UPDATE hosts SET backoff_until = 0, failures = 0")
            return str(query(db_path, "SELECT status FROM runs ORDER BY id DESC LIMIT 1")[0][0])
        finally:
            hosts.close()
            db.close()

    story = outlet.site.routes[STORY]
    outlet.site.routes[STORY] = lambda h: send(h, 503, b"busy", "text/plain")
    assert one_pass() == "ok"  # the feed answered; its page failed and stays pending
    feed = outlet.site.routes["/feed.xml"]
    outlet.site.routes["/feed.xml"] = lambda h: send(h, 503, b"busy", "text/plain")
    assert one_pass() == "failed"  # the feed and the pending page: nothing answered
    outlet.site.routes[STORY] = story
    assert one_pass() == "ok"  # the feed is down, the pending page came
    assert query(db_path, "SELECT count(*) FROM articles")[0][0] == 1
    outlet.site.routes["/feed.xml"] = lambda h: send(h, 304, b"", "application/rss+xml", {"ETag": '"1"'})
    assert one_pass() == "ok"  # not modified: the outlet is up
    outlet.site.routes["/feed.xml"] = feed


def test_a_backfill_whose_requests_all_failed_says_so(tmp_path: Path) -> None:
    config = write_config(tmp_path, refused_base())
    db = tmp_path / "news.db"
    done = ingest(config, db, "backfill", "news")
    assert done.returncode == 1, done.stderr  # for a script or cron job: nothing could be read
    assert "news: 0 new" in done.stdout
    assert "FAILED: every request failed, 2 feeds, sitemaps or listing pages unread (connection: 2)" in done.stdout
    assert statuses(db) == ["failed"]
