"""Shared test helpers: a loopback HTTP site whose routes are plain functions, and a SQLite reader."""

from __future__ import annotations

import gzip
import json
import os
import sqlite3
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from pg import pg_dsn as pg_dsn  # the PostgreSQL fixtures (tests/pg.py)
from pg import pg_server as pg_server

# The shared folder (real pages of fundus, wcxb-dev and our outlets in corpus/, seed dumps in seeds/) sits next to
# the checkout (../shared), never at a fixed path; INGEST_SHARED points elsewhere.
SHARED = Path(os.environ.get("INGEST_SHARED") or Path(__file__).resolve().parents[2] / "shared").resolve()
CORPUS = SHARED / "corpus"
SEEDS = SHARED / "seeds"

Route = Callable[[BaseHTTPRequestHandler], None]


@dataclass(frozen=True)
class Hit:
    path: str
    at: float  # time.monotonic() when the request arrived
    headers: dict[str, str]  # lower-cased names


class Site:
    """An HTTP/1.1 server on `host` (127.0.0.x) at a free port; `routes[path](handler)` writes the reply.

    Every request is recorded in `hits`; `most_in_flight` is the largest number served at once. A request is in
    flight from its arrival until its reply starts: a client reads the whole reply before its next request, so
    counting until the handler returns also counted the server thread's wait for a CPU after the last byte left
    (on a busy machine the next client's request arrived first: a false "2 at once").
    """

    def __init__(self, routes: dict[str, Route] | None = None, host: str = "127.0.0.1") -> None:
        self.routes: dict[str, Route] = dict(routes or {})
        self.hits: list[Hit] = []
        self.most_in_flight = 0
        self._in_flight = 0
        self._lock = threading.Lock()
        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body are two writes: Nagle + delayed ACK add 40 ms

            def do_GET(self) -> None:
                with site._lock:
                    site.hits.append(Hit(self.path, time.monotonic(), {k.lower(): v for k, v in self.headers.items()}))
                    site._in_flight += 1
                    site.most_in_flight = max(site.most_in_flight, site._in_flight)
                self._counted = True
                try:
                    route = site.routes.get(self.path) or site.routes.get(urlsplit(self.path).path)
                    if route is None:
                        send(self, 404, b"not found", "text/plain")
                    else:
                        route(self)
                finally:
                    self._answered()

            def send_response(self, code: int, message: str | None = None) -> None:
                self._answered()
                super().send_response(code, message)

            def _answered(self) -> None:
                """The request is no longer in flight once its reply starts (once per request)."""
                if getattr(self, "_counted", False):
                    self._counted = False
                    with site._lock:
                        site._in_flight -= 1

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = _QuietServer((host, 0), Handler)
        self.base_url = f"http://{host}:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def url(self, path: str) -> str:
        return self.base_url + path

    def paths(self) -> list[str]:
        with self._lock:
            return [h.path for h in self.hits]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # clients hanging up mid-reply is what these tests are about


def send(handler: BaseHTTPRequestHandler, status: int, body: bytes, content_type: str = "text/html; charset=utf-8",
         headers: dict[str, str] | None = None) -> None:
    """A complete reply with Content-Length."""
    handler.send_response(status)
    handler.send_header("Content-Type", content_type)
    handler.send_header("Content-Length", str(len(body)))
    for name, value in (headers or {}).items():
        handler.send_header(name, value)
    handler.end_headers()
    handler.wfile.write(body)


def article_html(title: str, paragraphs: list[str], *, published: str = "2025-03-01T10:00:00+00:00",
                 head: str = "") -> str:
    """A news article page the generic adapter reads: JSON-LD NewsArticle, a headline and paragraphs."""
    ld = json.dumps({"@context": "https://schema.org", "@type": "NewsArticle", "headline": title,
                     "datePublished": published, "author": {"@type": "Person", "name": "Test Writer"}},
                    ensure_ascii=False)
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    return (f"<!doctype html><html><head>{head}<title>{title}</title>"
            f'<script type="application/ld+json">{ld}</script></head>'
            f"<body><article><h1>{title}</h1>{body}</article></body></html>")


def rss(urls: list[str], newest: datetime | None = None) -> bytes:
    """An RSS feed linking `urls`; with `newest`, dated a minute apart from it, in feed order."""
    def date(i: int) -> str:
        return f"<pubDate>{format_datetime(newest - timedelta(minutes=i))}</pubDate>" if newest else ""
    items = "".join(f"<item><title>item {i}</title><link>{u}</link>{date(i)}</item>" for i, u in enumerate(urls))
    return (f'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>t</title>'
            f"<link>http://127.0.0.1/</link>{items}</channel></rss>").encode()


def query(db: Path, sql: str, params: tuple[object, ...] = ()) -> list[sqlite3.Row]:
    """Rows of a read-only query on a database file."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    conn.row_factory = sqlite3.Row
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def assert_consistent(db: Path) -> None:
    """What a crash or a fault must never break: integrity, FTS sync, one row per URL, page atomicity."""
    assert query(db, "PRAGMA integrity_check")[0][0] == "ok"
    conn = sqlite3.connect(db)  # FTS5's integrity-check is a write-form statement
    try:
        conn.execute("INSERT INTO articles_fts(articles_fts) VALUES ('integrity-check')")
    finally:
        conn.close()
    assert query(db, "SELECT count(*) FROM articles")[0][0] == query(db, "SELECT count(*) FROM articles_fts")[0][0]
    assert query(db, "SELECT count(*) - count(DISTINCT url_key) FROM articles")[0][0] == 0
    # An article and its fetch-log row and frontier state are written in one transaction.
    orphans = query(db, "SELECT a.url FROM articles a WHERE NOT EXISTS"
                        " (SELECT 1 FROM fetches f WHERE f.article_id = a.id)")
    assert orphans == []
    undone = query(db, "SELECT f.url FROM frontier f JOIN articles a ON a.url_key = f.url_key"
                       " WHERE f.state != 'done'")
    assert undone == []


def shared_path(relative: str) -> Path:
    """A file or folder of the shared folder. Missing: the test fails under CI (the CI variable is set, so a CI run
    cannot pass without the evidence of real pages), and skips elsewhere. Every test needing ../shared asks here."""
    path = SHARED / relative
    if not path.exists():
        message = (f"shared file not found: {path} (../shared must sit next to the checkout, "
                   "or INGEST_SHARED name it)")
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


def corpus_path(relative: str) -> Path:
    """A file of the shared corpus (see shared_path)."""
    return shared_path(f"corpus/{relative}")


def corpus_bytes(relative: str) -> bytes:
    """The bytes of a corpus page, gunzipped when the file is .gz."""
    raw = corpus_path(relative).read_bytes()
    return gzip.decompress(raw) if relative.endswith(".gz") else raw


def _untracked(root: Path) -> set[str] | None:
    """The checkout's untracked, not ignored files; None outside a git checkout (a tarball)."""
    try:
        out = subprocess.run(["git", "status", "--porcelain", "--untracked-files=all"], cwd=root, capture_output=True,
                             text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if out.returncode != 0:
        return None
    return {line[3:] for line in out.stdout.splitlines() if line.startswith("?? ")}


@pytest.fixture(scope="session", autouse=True)
def the_checkout_is_left_as_it_was() -> Iterator[None]:
    """No test writes into the checkout (a raw-page folder, a database, a fixture): "nothing writes outside the folder
    it was given". Files the run made there fail it, named."""
    root = Path(__file__).resolve().parent.parent
    before = _untracked(root)
    yield
    after = _untracked(root)
    if before is not None and after is not None:
        assert after <= before, f"the tests wrote into the checkout: {sorted(after - before)}"
