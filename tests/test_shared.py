"""The daemon and a backfill on one database: one request slot per host and one fetch per page between them.

Both are real `ingest` processes on a loopback outlet. Each would keep its own politeness and read the same
pending links: the host saw twice the rate, and 186 of 344 pages were fetched by both. The host's slot (next
start, the lease of the request in flight) and the links being fetched (claims) now live in the database.
"""

from __future__ import annotations

import itertools
import os
import signal
import sqlite3
import subprocess
import sys
import time
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
from conftest import Route, Site, article_html, query, rss, send

from ingest.archive import store
from ingest.models import Link

UA = "ingest-test/1.0 (+https://example.org/contact)"
PAGES = 50
TEXT = "The council agreed that spending on schools and roads would rise in the coming year, the mayor said."


def page(i: int) -> str:
    return f"/news/2026/12/01/story-{i:02d}"


def article(i: int, pause: float) -> Route:
    body = article_html(f"Story {i}", [f"Story {i}, paragraph {j}. {TEXT}" for j in range(4)]).encode()

    def route(h: BaseHTTPRequestHandler) -> None:
        time.sleep(pause)
        send(h, 200, body)
    return route


def outlet(pause: float) -> Site:
    site = Site({"/robots.txt": lambda h: send(h, 200, b"User-agent: *\nAllow: /\n", "text/plain"),
                 **{page(i): article(i, pause) for i in range(PAGES)}})
    site.routes["/feed.xml"] = lambda h: send(h, 200, rss([site.url(page(i)) for i in range(PAGES)]),
                                              "application/rss+xml")
    return site


def passes_started(db: Path) -> int:
    try:
        return int(query(db, "SELECT count(*) FROM runs WHERE kind = 'run'")[0][0]) if db.exists() else 0
    except sqlite3.OperationalError:  # the daemon is still creating the schema
        return 0


def daemon_and_backfill(tmp_path: Path, site: Site, per_host_delay: float) -> Path:
    """Start the daemon, then a backfill beside it; stop the daemon once every page is stored."""
    db = tmp_path / "news.db"
    config = tmp_path / "sources.toml"
    config.write_text(f'[settings]\nuser_agent = "{UA}"\nper_host_delay = {per_host_delay}\ntimeout = 5\n'
                      f'concurrency = 4\n\n[sources.city]\nfeeds = ["{site.url("/feed.xml")}"]\ninterval = "1h"\n',
                      encoding="utf-8")
    env = {**os.environ, "INGEST_CONFIG": str(config), "INGEST_DB": str(db)}
    log = (tmp_path / "daemon.log").open("w+")
    daemon = subprocess.Popen([sys.executable, "-m", "ingest", "run"], env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while not passes_started(db):
            assert daemon.poll() is None, log.read()
            assert time.monotonic() < deadline, "the daemon's first pass never started"
            time.sleep(0.02)
        backfill = subprocess.run([sys.executable, "-m", "ingest", "backfill"], env=env, capture_output=True,
                                  text=True, timeout=120)
        assert backfill.returncode == 0, backfill.stderr
        deadline = time.monotonic() + 60
        while query(db, "SELECT count(*) FROM runs WHERE kind = 'run' AND finished_at IS NULL")[0][0]:
            assert time.monotonic() < deadline, "the daemon's pass never finished"
            time.sleep(0.05)
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(timeout=30) == 0
        log.seek(0)
        assert "Traceback" not in log.read()
    finally:
        if daemon.poll() is None:
            daemon.kill()
            daemon.wait()
        log.close()
    return db


def assert_each_page_once(db: Path, site: Site) -> None:
    fetched = [h.path for h in site.hits if h.path.startswith("/news/")]
    assert sorted(fetched) == sorted(set(fetched)), f"{len(fetched) - len(set(fetched))} pages fetched twice"
    assert set(fetched) == {page(i) for i in range(PAGES)}
    assert query(db, "SELECT count(*) FROM articles")[0][0] == PAGES
    assert query(db, "SELECT count(*) FROM frontier WHERE state != 'done' OR claimed_by IS NOT NULL")[0][0] == 0
    # Both processes did fetch pages: the sharing was exercised, not avoided by one finishing first.
    by_kind = dict(query(db, "SELECT kind, sum(new) FROM runs GROUP BY kind"))
    assert by_kind["run"] > 0
    assert by_kind["backfill"] > 0
    assert by_kind["run"] + by_kind["backfill"] == PAGES


def test_together_they_keep_the_host_delay_and_fetch_each_page_once(tmp_path: Path) -> None:
    delay = 0.1
    site = outlet(pause=0.0)
    try:
        db = daemon_and_backfill(tmp_path, site, per_host_delay=delay)
    finally:
        site.close()
    assert_each_page_once(db, site)
    starts = sorted(h.at for h in site.hits)
    gaps = [later - earlier for earlier, later in itertools.pairwise(starts)]
    assert min(gaps) >= delay - 0.03, sorted(gaps)[:5]  # arrival times: some ms of scheduling noise
    assert query(db, "SELECT count(*) FROM hosts WHERE lease_holder IS NOT NULL")[0][0] == 0


def test_together_they_keep_one_request_in_flight_per_host(tmp_path: Path) -> None:
    site = outlet(pause=0.05)  # no delay between requests: only the lease keeps them apart
    try:
        db = daemon_and_backfill(tmp_path, site, per_host_delay=0.0)
    finally:
        site.close()
    assert_each_page_once(db, site)
    assert site.most_in_flight == 1


def test_claims_and_leases_of_a_dead_process_are_void(tmp_path: Path) -> None:
    """A process killed mid-pass leaves its claims and its lease behind: on this machine they end at once."""
    dead = subprocess.run([sys.executable, "-c", "from ingest.models import holder_name; print(holder_name())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    db = store.open_db(tmp_path / "news.db")
    links = [Link(url=f"http://127.0.0.1:9/story-{i}", source="x") for i in range(3)]
    store.add_links(db, links)
    assert len(store.claim_links(db, links, dead)) == 3
    assert store.pending_links(db, "x") == []  # another process's claims: not ours to fetch
    assert store.release_dead_claims(db) == 3
    assert len(store.pending_links(db, "x")) == 3
    hosts = store.HostStore(tmp_path / "news.db")
    try:
        host = "127.0.0.1:9"
        assert hosts.take_turn(host, "elsewhere:1:abc", hold=3600)[0]
        assert not hosts.take_turn(host, "me", hold=3600)[0]  # a live holder's lease: wait, and leave word
        assert hosts.turn_wanted(host, "elsewhere:1:abc")  # which the holder reads after its request
        hosts.end_turn(host, "elsewhere:1:abc", time.time() + 5)  # handed to the waiter, not back to the pool
        assert not hosts.take_turn(host, "elsewhere:1:abc", hold=3600)[0]  # the giver waits its turn
        assert hosts.take_turn(host, "me", hold=3600) == (True, pytest.approx(time.time() + 5, abs=1), 0.0)
        hosts.end_turn(host, "me", 0.0)  # to the giver, waiting now
        assert hosts.take_turn(host, "elsewhere:1:abc", hold=3600)[0]
        hosts.end_turn(host, "elsewhere:1:abc", 0.0)  # nobody waits: free
        assert hosts.take_turn(host, dead, hold=3600)[0]
        assert hosts.take_turn(host, "me", hold=3600)[0]  # the dead holder's lease is void
    finally:
        hosts.close()
        db.close()


@pytest.mark.parametrize("hand_over", [False, True])
def test_a_workers_fetcher_hands_a_host_over_when_it_has_nothing_more_for_it(tmp_path: Path,
                                                                              hand_over: bool) -> None:
    """A worker (hand_over) gives a host's lease back as soon as none of its threads waits for the host: its next
    jobs may be other hosts', and a lease kept on this one would hold up the workers that now have its jobs (two
    workers stalled on each other's idle hosts: bench/scaleout.py). A daemon's pass keeps it for its next request
    (release_idle gives it back after a second idle)."""
    from ingest.archive.sqlite import open_host_states, open_store
    from ingest.config import Settings
    from ingest.crawl.fetch import Fetcher

    site = outlet(pause=0.0)
    db = tmp_path / "news.db"
    open_store(db).close()
    hosts = open_host_states(db)
    try:
        settings = Settings(user_agent="ingest-test/1.0 (+https://example.org/contact)", per_host_delay=0.0,
                            respect_robots=False)
        with Fetcher(settings, hosts, hand_over=hand_over) as fetcher:
            assert fetcher.fetch(site.url(page(0))).status == 200
            held = query(db, "SELECT lease_holder FROM hosts")[0][0]
            assert (held is None) == hand_over
    finally:
        hosts.close()
        site.close()
