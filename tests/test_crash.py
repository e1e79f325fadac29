"""Crashes and readers: `kill -9` of `ingest backfill` and `ingest run` at any moment, then a restart;
readers holding long transactions while a backfill writes; parse workers that die, hang or fail.

After every kill the database is consistent (integrity, FTS in sync, one row per URL, no article
without its fetch-log row), every stored article is whole, nothing committed is refetched, no worker
process outlives the killed one, and the next run fetches exactly what is still pending.
"""

from __future__ import annotations

import os
import random
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
from conftest import Route, Site, article_html, assert_consistent, query, rss, send

from ingest.archive import store
from ingest.run.workers import PoolClosed, WorkerDied, WorkerError, WorkerPool, WorkerTimeout

UA = "ingest-test/1.0 (+https://example.org/contact)"
PAGES = 24
LOREM = ("Members of the council agreed that spending on schools, roads and the water supply would rise "
         "in the coming year while administrative costs would fall by a tenth.")


def path(i: int) -> str:
    return f"/news/2025/03/01/story-{i:02d}"


def slow_article(i: int, delay: float) -> Route:
    body = article_html(f"Story {i}", [f"Story {i}, paragraph {j}. {LOREM}" for j in range(4)]
                        + [f"Closing line MARK-{i}-END"]).encode()

    def route(h: BaseHTTPRequestHandler) -> None:
        time.sleep(delay)
        send(h, 200, body)
    return route


def serve(count: int, delay: float) -> Site:
    site = Site({"/robots.txt": lambda h: send(h, 200, b"User-agent: *\nAllow: /\n", "text/plain"),
                 **{path(i): slow_article(i, delay) for i in range(count)}})
    site.routes["/feed.xml"] = lambda h: send(h, 200, rss([site.url(path(i)) for i in range(count)]),
                                              "application/rss+xml")
    return site


def write_config(tmp_path: Path, site: Site) -> dict[str, str]:
    config = tmp_path / "sources.toml"
    config.write_text("\n".join([
        "[settings]", f'user_agent = "{UA}"', "per_host_delay = 0", "timeout = 5", "max_retries = 0",
        "[sources.slow]", f'feeds = ["{site.url("/feed.xml")}"]', 'interval = "1m"']) + "\n", encoding="utf-8")
    return {**os.environ, "INGEST_CONFIG": str(config), "INGEST_DB": str(tmp_path / "news.db")}


def processes_with(marker: str) -> list[int]:
    """Live processes whose environment holds `marker` (ours: the parse workers and forkserver too)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if marker.encode() in (entry / "environ").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def kill_when(command: str, env: dict[str, str], ready: Callable[[], bool], timeout: float = 60) -> None:
    """Start `ingest <command>`, SIGKILL it as soon as ready() says so, and check nothing outlives it."""
    proc = subprocess.Popen([sys.executable, "-m", "ingest", command], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + timeout
        while not ready():
            assert proc.poll() is None, f"ingest {command} ended before it could be killed"
            assert time.monotonic() < deadline, "the kill moment never came"
            time.sleep(0.02)
    finally:
        proc.kill()
        proc.wait()
    deadline = time.monotonic() + 10
    while processes_with(env["INGEST_DB"]) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert processes_with(env["INGEST_DB"]) == [], "a worker process outlived the killed run"


def stored(db: Path) -> dict[str, str]:
    if not db.exists():
        return {}
    try:
        return {r["url"]: r["text"] for r in query(db, "SELECT url, text FROM articles")}
    except sqlite3.OperationalError:  # killed before the schema was committed
        return {}


def assert_whole(db: Path, site: Site) -> None:
    """No half-written article: each stored text ends with its own closing marker."""
    # What the next run does first: a kill during the very first start-up may leave the schema half
    # made (sqlite-utils commits enable_fts on its own); user_version is set last, so it is redone.
    store.open_db(db).close()
    assert query(db, "PRAGMA user_version")[0][0] == store.SCHEMA_VERSION
    assert_consistent(db)
    for url, text in stored(db).items():
        number = int(url.rsplit("-", 1)[1])
        assert url == site.url(path(number))
        assert text.endswith(f"MARK-{number}-END"), url


def test_kill_9_at_any_moment_then_restart_completes_the_set(tmp_path: Path) -> None:
    site = serve(PAGES, delay=0.1)
    env = write_config(tmp_path, site)
    db = tmp_path / "news.db"
    moment = random.Random()
    kills: list[tuple[str, Callable[[], bool]]] = [
        # during start-up or discovery: anywhere in the first second and a half
        ("backfill", lambda: time.monotonic() > start + moment.uniform(0.3, 1.5)),
        # mid-backfill, with pages committed and pages in flight
        ("backfill", lambda: len(stored(db)) >= 5 + moment.randrange(3)),
        # the daemon, mid-pass
        ("run", lambda: len(stored(db)) >= 12 + moment.randrange(3)),
    ]
    try:
        for command, ready in kills:
            before = set(stored(db))
            hits_before = len(site.hits)
            start = time.monotonic()
            kill_when(command, env, ready)
            assert_whole(db, site)
            refetched = {site.url(h.path) for h in site.hits[hits_before:]} & before
            assert refetched == set(), "a committed article was fetched again"
        assert 5 <= len(stored(db)) < PAGES
        assert query(db, "SELECT count(*) FROM frontier WHERE state = 'pending'")[0][0] >= 1
        # A clean run completes the set, fetching only what was not committed.
        before = set(stored(db))
        hits_before = len(site.hits)
        done = subprocess.run([sys.executable, "-m", "ingest", "backfill"], env=env, capture_output=True,
                              text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        fetched = [site.url(h.path) for h in site.hits[hits_before:] if h.path.startswith("/news/")]
        assert set(fetched).isdisjoint(before)
        assert sorted(fetched) == sorted(set(fetched))  # each pending page once
    finally:
        site.close()
    assert set(stored(db)) == {site.url(path(i)) for i in range(PAGES)}
    assert_whole(db, site)
    assert query(db, "SELECT count(*) FROM frontier WHERE state != 'done'")[0][0] == 0


def test_long_read_transactions_never_make_the_writer_fail(tmp_path: Path) -> None:
    """Datasette- and sqlite3-style readers during a heavy backfill: WAL, busy timeout, BEGIN IMMEDIATE."""
    site = serve(60, delay=0.0)
    env = write_config(tmp_path, site)
    db = tmp_path / "news.db"
    store.open_db(db).close()  # the schema exists before the readers start
    stop = threading.Event()
    seen: list[int] = []
    errors: list[BaseException] = []

    def poll() -> None:  # a busy dashboard: counts and full-text searches, each its own short read
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        try:
            while not stop.is_set():
                seen.append(conn.execute("SELECT count(*) FROM articles").fetchone()[0])
                conn.execute("SELECT rowid FROM articles_fts WHERE articles_fts MATCH 'council' LIMIT 5").fetchall()
        except BaseException as exc:
            errors.append(exc)
        finally:
            conn.close()

    long_reader = sqlite3.connect(f"file:{db}?mode=ro", uri=True, isolation_level=None)
    long_reader.execute("BEGIN")  # a long query holding its snapshot for the whole backfill
    snapshot = long_reader.execute("SELECT count(*) FROM articles").fetchone()[0]
    poller = threading.Thread(target=poll)
    poller.start()
    try:
        done = subprocess.run([sys.executable, "-m", "ingest", "backfill"], env=env, capture_output=True,
                              text=True, timeout=120)
        assert long_reader.execute("SELECT count(*) FROM articles").fetchone()[0] == snapshot
        mark, deadline = len(seen), time.monotonic() + 10
        while len(seen) < mark + 2 and time.monotonic() < deadline:  # one whole poll after the backfill
            time.sleep(0.01)
    finally:
        stop.set()
        poller.join()
        long_reader.execute("COMMIT")
        site.close()
    assert done.returncode == 0, done.stderr
    assert "locked" not in done.stderr + done.stdout
    assert "slow: 60 new" in done.stdout
    assert errors == []
    assert seen == sorted(seen)  # readers saw the count grow, commit by commit
    assert seen[-1] == 60
    assert long_reader.execute("SELECT count(*) FROM articles").fetchone()[0] == 60
    long_reader.close()
    assert_consistent(db)


def test_parse_workers_die_time_out_fail_and_retire_without_taking_the_caller_down() -> None:
    with WorkerPool(1, max_tasks=2) as pool:
        assert pool.call(pow, 2, 10, timeout=10) == 1024
        with pytest.raises(WorkerDied):
            pool.call(os._exit, 3, timeout=10)  # a segfault or the OOM killer, as the parent sees it
        with pytest.raises(WorkerTimeout):
            pool.call(time.sleep, 30, timeout=0.3)
        with pytest.raises(WorkerError, match="ValueError"):
            pool.call(int, "not a number", timeout=10)
        (raised_in,) = pool.pids()
        assert pool.call(os.getpid, timeout=10) == raised_in  # the worker that raised is still in service
        assert pool.call(os.getpid, timeout=10) != raised_in  # and retired after max_tasks=2 calls
        # Closing the pool ends a call in progress with PoolClosed, at once.
        errors: list[BaseException] = []
        caller = threading.Thread(target=lambda: errors.extend(_raised(pool.call, time.sleep, 30, timeout=60)))
        caller.start()
        time.sleep(0.3)
        started = time.monotonic()
        pool.close()
        caller.join(10)
        assert time.monotonic() - started < 5
        assert [type(e) for e in errors] == [PoolClosed]
        with pytest.raises(PoolClosed):
            pool.call(pow, 2, 2, timeout=10)


def test_warm_starts_the_workers_before_the_first_call_and_close_stops_them() -> None:
    with WorkerPool(2) as pool:
        pool.warm()
        deadline = time.monotonic() + 30
        while len(pool.pids()) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        warm = sorted(pool.pids())
        assert len(warm) == 2
        pool.warm()  # nothing missing: nothing started
        answered = {pool.call(os.getpid, timeout=10) for _ in range(6)}
        assert answered <= set(warm)
        assert sorted(pool.pids()) == warm
    for pid in warm:  # closed: every worker is gone (reaped, not left as a zombie)
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def _raised(function: Callable[..., object], *args: object, **kwargs: object) -> list[BaseException]:
    try:
        function(*args, **kwargs)
    except BaseException as exc:
        return [exc]
    return []


def test_a_kill_during_the_first_start_up_leaves_a_schema_the_next_start_completes(tmp_path: Path) -> None:
    db_path = tmp_path / "news.db"
    store.open_db(db_path).close()
    # The state a kill between sqlite-utils' CREATE VIRTUAL TABLE and CREATE TRIGGER statements leaves.
    conn = sqlite3.connect(db_path)
    conn.executescript("DROP TRIGGER articles_ai; DROP TRIGGER articles_ad; DROP TRIGGER articles_au;"
                       " PRAGMA user_version = 0;")
    conn.close()
    db = store.open_db(db_path)
    with store.transaction(db):
        db.table("articles").insert({"url": "https://a.com/1", "url_key": "a.com/1", "source": "a",
                                     "title": "Kyiv", "text": "Indexed after the restart."})
    db.close()
    assert query(db_path, "SELECT count(*) FROM articles_fts WHERE articles_fts MATCH 'restart'")[0][0] == 1
    assert_consistent_schema(db_path)


def assert_consistent_schema(db_path: Path) -> None:
    assert query(db_path, "PRAGMA user_version")[0][0] == store.SCHEMA_VERSION
    names = {r[0] for r in query(db_path, "SELECT name FROM sqlite_master WHERE type = 'trigger'")}
    assert names >= {"articles_ai", "articles_ad", "articles_au"}
