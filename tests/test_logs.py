"""Log lines (ingest/logs.py): `--log-json` gives each page's source, outcome, URL, reason and time taken as fields.

A real `ingest backfill` subprocess against a loopback outlet whose feed links stories, a missing page and a
page with no story; every line it writes to stderr must parse as JSON.
"""

from __future__ import annotations

import json
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
from conftest import Route, Site, article_html, rss, send

TEXT = "The council agreed that spending on schools and roads would rise in the coming year, the mayor said."
STORIES = [f"/news/2026/12/01/story-{i}" for i in range(3)]
MISSING = "/news/2026/12/01/gone"
EMPTY = "/news/2026/12/01/empty"
SLOW = 0.2  # seconds the first story takes to serve: its `ms` must show it


@pytest.fixture
def outlet() -> Iterator[Site]:
    def story(i: int) -> Route:
        body = article_html(f"Story {i}", [f"Story {i}, paragraph {j}. {TEXT}" for j in range(4)]).encode()

        def route(h: BaseHTTPRequestHandler) -> None:
            if i == 0:
                time.sleep(SLOW)
            send(h, 200, body)
        return route

    site = Site({"/robots.txt": lambda h: send(h, 200, b"User-agent: *\nAllow: /\n", "text/plain"),
                 EMPTY: lambda h: send(h, 200, article_html("Empty", ["Too short."]).encode()),
                 **{path: story(i) for i, path in enumerate(STORIES)}})
    site.routes["/feed.xml"] = lambda h: send(h, 200, rss([site.url(p) for p in (*STORIES, MISSING, EMPTY)]),
                                              "application/rss+xml")
    yield site
    site.close()


def backfill(tmp_path: Path, site: Site, *options: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "sources.toml").write_text(
        '[settings]\nuser_agent = "ingest-test (+https://example.org/contact)"\nper_host_delay = 0\n'
        f'max_retries = 0\n\n[sources.town]\nfeeds = ["{site.url("/feed.xml")}"]\n', encoding="utf-8")
    return subprocess.run([sys.executable, "-m", "ingest", *options, "--db", str(tmp_path / "news.db"), "backfill"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)


def test_json_lines_carry_the_outcome_fields(tmp_path: Path, outlet: Site) -> None:
    done = backfill(tmp_path, outlet, "--log-json")
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stderr.splitlines()]  # every line is one JSON object
    assert lines
    for line in lines:
        assert {"time", "level", "message"} <= line.keys()
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00", line["time"])
    pages = {line["url"]: line for line in lines if "outcome" in line and line.get("event") != "pass"}
    assert set(pages) == {outlet.url(p) for p in (*STORIES, MISSING, EMPTY)}
    for line in pages.values():
        assert line.keys() >= {"time", "level", "source", "outcome", "url", "reason", "ms", "message"}
        assert line["source"] == "town"
        assert isinstance(line["ms"], int)
        assert line["ms"] >= 0
        assert line["url"] in line["message"]  # the text line is still there, whole
    assert [pages[outlet.url(p)]["outcome"] for p in STORIES] == ["new"] * 3
    assert all(pages[outlet.url(p)]["reason"] is None for p in STORIES)
    assert pages[outlet.url(STORIES[0])]["ms"] >= SLOW * 1000
    assert (pages[outlet.url(MISSING)]["outcome"], pages[outlet.url(MISSING)]["reason"]) == ("rejected", "http-404")
    assert (pages[outlet.url(EMPTY)]["outcome"], pages[outlet.url(EMPTY)]["reason"]) == ("rejected", "too-short")
    assert {pages[u]["level"] for u in pages} == {"info"}


def test_text_lines_stay_as_they_were(tmp_path: Path, outlet: Site) -> None:
    done = backfill(tmp_path, outlet)
    assert done.returncode == 0, done.stderr
    missing = [line for line in done.stderr.splitlines() if line.endswith(outlet.url(MISSING) + " (http-404)")]
    assert len(missing) == 1, done.stderr
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d INFO town rejected \S+ \(http-404\)", missing[0])
    assert "{" not in done.stderr


def test_the_daemons_pass_lines_carry_the_pass_outcome_and_counts(tmp_path: Path, outlet: Site) -> None:
    """`ingest --log-json run`: a pass line per source, with `event` "pass", its outcome (`ok`; `failed` when every
    request failed, with the reason), `ms` and the counts, as fields a log shipper can alert on."""
    with socket.socket() as sock:  # a loopback port nothing listens on
        sock.bind(("127.0.0.1", 0))
        down = f"http://127.0.0.1:{sock.getsockname()[1]}"
    (tmp_path / "sources.toml").write_text(
        '[settings]\nuser_agent = "ingest-test (+https://example.org/contact)"\nper_host_delay = 0\n'
        f'max_retries = 0\n\n[sources.town]\nfeeds = ["{outlet.url("/feed.xml")}"]\n\n'
        f'[sources.gone]\nfeeds = ["{down}/feed.xml"]\n', encoding="utf-8")
    daemon = subprocess.Popen([sys.executable, "-m", "ingest", "--log-json", "--db", str(tmp_path / "news.db"), "run"],
                              cwd=tmp_path, stderr=subprocess.PIPE, text=True)
    assert daemon.stderr is not None
    passes: dict[str, dict[str, object]] = {}
    timer = threading.Timer(60, daemon.send_signal, [signal.SIGTERM])  # no pass lines: the loop ends all the same
    timer.start()
    for raw in daemon.stderr:  # every line is one JSON object
        line = json.loads(raw)
        if line.get("event") == "pass":
            passes[str(line["source"])] = line
        if len(passes) == 2:
            break
    timer.cancel()
    daemon.send_signal(signal.SIGTERM)
    daemon.communicate(timeout=60)
    assert daemon.returncode == 0
    town, gone = passes["town"], passes["gone"]
    assert town.keys() >= {"time", "level", "source", "outcome", "url", "reason", "ms", "message"}
    assert (town["outcome"], town["new"], town["rejected"], town["failed"], town["url"]) == ("ok", 3, 2, 0, None)
    assert isinstance(town["ms"], int)
    assert town["message"].startswith("town pass done: 3 new")  # type: ignore[union-attr]
    assert (gone["outcome"], gone["level"]) == ("failed", "warning")
    assert "every request failed" in str(gone["reason"])
    assert "connection" in str(gone["reason"])


def test_a_pass_cut_short_by_sigterm_is_logged_stopped_as_its_runs_row_says(tmp_path: Path) -> None:
    """SIGTERM while the pass waits on a slow feed, its only request, which then fails: the pass line says
    `stopped` (outcome and text), as the runs row does; not FAILED, though no request of the pass was answered."""
    site = Site({"/robots.txt": lambda h: send(h, 200, b"User-agent: *\nAllow: /\n", "text/plain")})
    def feed(handler: BaseHTTPRequestHandler) -> None:  # slow, then the connection drops: the request fails
        time.sleep(3)
        handler.close_connection = True
    site.routes["/feed.xml"] = feed
    try:
        (tmp_path / "sources.toml").write_text(
            '[settings]\nuser_agent = "ingest-test (+https://example.org/contact)"\nper_host_delay = 0\n'
            f'max_retries = 0\n\n[sources.town]\nfeeds = ["{site.url("/feed.xml")}"]\n', encoding="utf-8")
        db = tmp_path / "news.db"
        daemon = subprocess.Popen([sys.executable, "-m", "ingest", "--log-json", "--db", str(db), "run"],
                                  cwd=tmp_path, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 60
        while not any(hit.path == "/feed.xml" for hit in site.hits) and time.monotonic() < deadline:
            time.sleep(0.05)
        daemon.send_signal(signal.SIGTERM)
        _, err = daemon.communicate(timeout=60)
    finally:
        site.close()
    assert daemon.returncode == 0, err
    passes = [line for line in map(json.loads, err.splitlines()) if line.get("event") == "pass"]
    assert [(p["source"], p["outcome"]) for p in passes] == [("town", "stopped")], err
    assert "town pass stopped early" in passes[0]["message"]
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT status FROM runs").fetchall() == [("stopped",)]
