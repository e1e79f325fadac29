"""A hostile web, through the whole pipeline (run_source, `ingest backfill`, the `ingest run` daemon).

Loopback servers refuse, reset, stall, trickle, bomb, loop, lie about charsets and serve pages too
slow to clean, next to good pages. Every case: the pass ends normally, the fetch log says why, the
good pages of the same pass are stored, and the database stays consistent. The polite side
(robots.txt, Crawl-delay, User-Agent, conditional GET, domains) is checked end to end here too.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import json
import logging
import os
import random
import re
import signal
import socket
import sqlite3
import struct
import subprocess
import sys
import threading
import time
import urllib.request
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from click.testing import CliRunner
from conftest import Route, Site, article_html, assert_consistent, query, rss, send

from ingest.archive import store
from ingest.archive.sqlite import open_store
from ingest.cli import cli
from ingest.config import Settings, Source
from ingest.crawl.fetch import Fetcher
from ingest.run.parsing import parse_pool
from ingest.run.pipeline import Summary, run_source
from ingest.run.workers import WorkerPool

UA = "ingest-test/1.0 (+https://example.org/contact)"
SETTINGS = Settings(user_agent=UA, per_host_delay=0.0, timeout=1.0, max_retries=1, max_backoff=5.0,
                    max_bytes=6_000_000, max_redirects=3)
PARSE_TIMEOUT = 3.0  # generous for good pages on a loaded 2-core machine; the slow-page test uses its own
LOREM = ("The council met on Tuesday to discuss the budget for the coming year, and members agreed that "
         "spending on schools, roads and the water supply would rise while administrative costs would fall.")
GOOD = {f"/news/2025/03/01/good-story-{i}": f"Good story {i}" for i in range(2)}
HOSTILE = "/news/2025/03/01/hostile-story"
ROBOTS_OK: dict[str, Route] = {"/robots.txt": lambda h: send(h, 200, b"User-agent: *\nAllow: /\n", "text/plain")}


def good_article(title: str, marker: str = "") -> bytes:
    # Each story gets its own word order: pages that differ only in their titles are near duplicates.
    words = LOREM.split()
    random.Random(title).shuffle(words)
    return article_html(title, [f"{title}: paragraph {j}. {marker} {' '.join(words)}" for j in range(3)]).encode()


def good_routes() -> dict[str, Route]:
    return {**ROBOTS_OK, **{path: page(good_article(title)) for path, title in GOOD.items()}}


# --- hostile behaviours ---------------------------------------------------------------------------

def page(body: bytes, content_type: str = "text/html; charset=utf-8", status: int = 200,
         headers: dict[str, str] | None = None) -> Route:
    return lambda h: send(h, status, body, content_type, headers)


def sequence(*routes: Route) -> Route:
    """The n-th request gets routes[n]; the last one repeats."""
    calls = itertools.count()
    return lambda h: routes[min(next(calls), len(routes) - 1)](h)


def redirect(location: str, status: int = 302) -> Route:
    return page(b"", status=status, headers={"Location": location})


def stall(h: BaseHTTPRequestHandler) -> None:
    time.sleep(3)  # well past the 1 s timeout
    h.close_connection = True


def trickle_headers(h: BaseHTTPRequestHandler) -> None:
    with contextlib.suppress(OSError):
        h.wfile.write(b"HTTP/1.1 200 OK\r\n")
        for _ in range(40):  # a header line every 0.1 s: no read ever times out
            h.wfile.write(b"X-Slow: 1\r\n")
            time.sleep(0.1)
    h.close_connection = True


def trickle_body(h: BaseHTTPRequestHandler) -> None:
    with contextlib.suppress(OSError):
        h.send_response(200)
        h.send_header("Content-Type", "text/html")
        h.send_header("Content-Length", "100000")
        h.end_headers()
        for _ in range(40):
            h.wfile.write(b"<p>")
            time.sleep(0.1)
    h.close_connection = True


def huge_length(h: BaseHTTPRequestHandler) -> None:
    h.send_response(200)
    h.send_header("Content-Type", "text/html")
    h.send_header("Content-Length", "999999999")
    h.end_headers()
    h.close_connection = True


def reset(h: BaseHTTPRequestHandler) -> None:
    h.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close -> RST
    h.connection.close()
    h.close_connection = True


def truncated_transfer(h: BaseHTTPRequestHandler) -> None:
    body = good_article("Cut short")
    with contextlib.suppress(OSError):
        h.send_response(200)
        h.send_header("Content-Type", "text/html")
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body[: len(body) // 2])
    h.close_connection = True


def chunked_forever(h: BaseHTTPRequestHandler) -> None:
    with contextlib.suppress(OSError):
        h.send_response(200)
        h.send_header("Content-Type", "text/html")
        h.send_header("Transfer-Encoding", "chunked")
        h.end_headers()
        chunk = b"<p>" + b"x" * 65533
        for _ in range(200):  # 13 MB, over the 6 MB cap
            h.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
    h.close_connection = True


@functools.cache
def gzip_bomb() -> bytes:
    comp = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block = bytes(1 << 20)
    return b"".join(comp.compress(block) for _ in range(64)) + comp.flush()  # 64 MiB of zeros in ~64 KB


def bomb(h: BaseHTTPRequestHandler) -> None:
    send(h, 200, gzip_bomb(), "text/html", {"Content-Encoding": "gzip"})


@functools.cache
def slow_to_clean() -> bytes:
    """~5 MB of paragraphs: measured 5.6 s to clean on a 2-core machine."""
    rnd = random.Random(1)
    words = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "theta", "iota", "kappa", "lambda"]
    paras = [" ".join(rnd.choice(words) for _ in range(20)) + f" {i}." for i in range(40000)]
    return article_html("Slow to clean", paras).encode()


UK = ("Київ є столицею України. Уряд ухвалив нове рішення щодо енергетики: громадяни отримають підтримку "
      "взимку, а їхні родини отримають ґрунтовну допомогу. Єдність і гідність.")
JA = ("東京で新しい経済対策が発表された。政府は物価高騰に対応するため、家計への支援を拡大する方針だ。"
      "地方の中小企業にも補助金が支給され、電気料金の負担軽減策が続く見通しとなった。専門家は効果を注視している。")


def encoded(text: str, encoding: str, head: str = "") -> bytes:
    return article_html("Charset story", [f"{text} ({i})" for i in range(3)], head=head).encode(encoding)


MALFORMED = (b"<html><head><title>Broken page</title><body><div><article><h1>Broken page<p>First broken paragraph "
             + LOREM.encode() + b"<p>Second paragraph <b><i>bold italic</b></i> " + LOREM.encode()
             + b"<table><p>para in a table</table></div></div></div></span> &#xZZZZ; &bogus; \x00\x01"
             b"<p>Third paragraph " + LOREM.encode())


@dataclass(frozen=True)
class Case:
    id: str
    routes: dict[str, Route]  # served on the hostile host; HOSTILE is the linked article
    outcome: str
    reason: str | None
    phrase: str | None = None  # must be in the stored text
    hits: int | None = None  # requests HOSTILE must have had
    target: Callable[[contextlib.ExitStack], str] | None = None  # a URL elsewhere instead of HOSTILE
    extra: dict[str, object] = field(default_factory=dict)


def closed_port(stack: contextlib.ExitStack) -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}{HOSTILE}"


def full_backlog(stack: contextlib.ExitStack) -> str:
    """A listener that never accepts, its backlog already full: connect() hangs."""
    server = stack.enter_context(socket.socket())
    server.bind(("127.0.0.1", 0))
    server.listen(0)
    for _ in range(8):
        filler = stack.enter_context(socket.socket())
        filler.setblocking(False)
        with contextlib.suppress(BlockingIOError):
            filler.connect(server.getsockname())
    return f"http://127.0.0.1:{server.getsockname()[1]}{HOSTILE}"


def off_domain_redirect(stack: contextlib.ExitStack) -> str:
    other = Site({**ROBOTS_OK, HOSTILE: page(good_article("Elsewhere"))}, host="127.0.0.2")
    stack.callback(lambda: assert_untouched(other))
    hostile = Site({**ROBOTS_OK, HOSTILE: redirect(other.url(HOSTILE))})
    stack.callback(hostile.close)
    return hostile.url(HOSTILE)


def netloc(site: Site) -> str:
    """The site's host:port, for a source's `domains`."""
    return urlsplit(site.base_url).netloc


def assert_untouched(site: Site) -> None:
    hits = site.paths()
    site.close()
    assert hits == [], f"an off-domain host was requested: {hits}"


CASES = [
    Case("connection-refused", {}, "failed", "connection", target=closed_port),
    Case("connection-reset", {HOSTILE: reset}, "failed", "connection", hits=2),
    Case("connect-timeout", {}, "failed", "timeout", target=full_backlog),
    Case("http-500-retried-then-given-up", {HOSTILE: page(b"oops", status=500)}, "failed", "http-500", hits=2),
    Case("http-502-then-ok", {HOSTILE: sequence(page(b"", status=502), page(good_article("Recovered")))},
         "new", None, phrase="Recovered", hits=2),
    Case("http-404", {HOSTILE: page(b"gone", status=404)}, "rejected", "http-404", hits=1),
    Case("stalled-server", {HOSTILE: stall}, "failed", "timeout", hits=1),
    Case("trickling-headers", {HOSTILE: trickle_headers}, "failed", "timeout", hits=1),
    Case("trickling-body", {HOSTILE: trickle_body}, "failed", "timeout", hits=1),
    Case("truncated-transfer", {HOSTILE: truncated_transfer}, "failed", "connection", hits=2),
    Case("content-length-over-cap", {HOSTILE: huge_length}, "rejected", "too-large", hits=1),
    Case("chunked-body-over-cap", {HOSTILE: chunked_forever}, "rejected", "too-large", hits=1),
    Case("gzip-bomb", {HOSTILE: bomb}, "rejected", "too-large", hits=1),
    Case("redirect-loop", {HOSTILE: redirect("/loop-b"), "/loop-b": redirect(HOSTILE)}, "rejected", "redirects"),
    Case("redirect-chain-too-long", {HOSTILE: redirect("/chain-1"),
                                     **{f"/chain-{i}": redirect(f"/chain-{i + 1}") for i in range(1, 8)}},
         "rejected", "redirects"),
    Case("redirect-off-domain", {}, "rejected", "off-domain", target=off_domain_redirect),
    Case("pdf", {HOSTILE: page(b"%PDF-1.4 binary", "application/pdf")}, "rejected", "not-html"),
    Case("image", {HOSTILE: page(b"\x89PNG\r\n\x1a\n", "image/png")}, "rejected", "not-html"),
    Case("empty-body", {HOSTILE: page(b"")}, "rejected", "empty"),
    Case("binary-garbage-as-html", {HOSTILE: page(random.Random(7).randbytes(20000), "text/html")},
         "rejected", "too-short"),
    Case("truncated-markup", {HOSTILE: page(good_article("Cut mid-tag", "FIRSTPART")[:-400])}, "new", None,
         phrase="FIRSTPART"),
    Case("malformed-html", {HOSTILE: page(MALFORMED)}, "new", None, phrase="First broken paragraph"),
    Case("nested-divs", {HOSTILE: page(b"<html><body>" + b"<div>" * 60000 + b"deep" + b"</div>" * 60000)},
         "rejected", "too-large"),
    Case("bot-challenge", {HOSTILE: page(b"<html><head><title>Just a moment...</title></head>"
                                         b"<body>Checking your browser</body></html>")}, "rejected", "bot-challenge"),
    Case("windows-1251", {HOSTILE: page(encoded(UK, "cp1251"), "text/html; charset=windows-1251")}, "new", None,
         phrase=UK[:60]),
    Case("koi8-u-meta-only", {HOSTILE: page(encoded(UK, "koi8_u", '<meta charset="koi8-u">'), "text/html")},
         "new", None, phrase=UK[:60]),
    Case("shift-jis", {HOSTILE: page(encoded(JA, "shift_jis"), "text/html; charset=Shift_JIS")}, "new", None,
         phrase=JA[:30]),
    Case("euc-jp-meta-only", {HOSTILE: page(encoded(JA, "euc_jp", '<meta http-equiv="Content-Type" '
                                                    'content="text/html; charset=EUC-JP">'), "text/html")},
         "new", None, phrase=JA[:30]),
    Case("utf-8-label-over-cp1251", {HOSTILE: page(encoded(UK, "cp1251"), "text/html; charset=utf-8")}, "new",
         None, phrase=UK[:60]),
    Case("cp1251-label-over-utf-8", {HOSTILE: page(encoded(UK, "utf-8"), "text/html; charset=windows-1251")},
         "new", None, phrase=UK[:60]),
    Case("invalid-utf-8-bytes", {HOSTILE: page(encoded(UK, "utf-8").replace("громадяни".encode(),
                                                                            b"\xff\xfe" + "громадяни".encode()))},
         "new", None, phrase="громадяни отримають підтримку"),
]


@pytest.fixture(scope="module")
def pool() -> Iterator[WorkerPool]:
    with parse_pool(2) as shared:
        yield shared


def run_pass(db_path: Path, feed_url: str, pool: WorkerPool | None, *, settings: Settings = SETTINGS,
             workers: int = 4, parse_timeout: float = PARSE_TIMEOUT, also: tuple[str, ...] = (),
             **source: object) -> Summary:
    """One daemon pass (run_source), wired as the CLI wires it: database, host store, fetcher. `also`: the host:port of
    each other loopback server the source spans (another port of a host is another site unless named)."""
    db = open_store(db_path)
    hosts = store.HostStore(db_path)
    src = Source(slug="hostile", feeds=(feed_url,), domains=("127.0.0.1", *also), **source)  # type: ignore[arg-type]
    try:
        with Fetcher(settings, hosts, backoff_base=0.05) as fetcher:
            return run_source(db, fetcher, src, workers=workers, pool=pool,
                              parse_timeout=parse_timeout)
    finally:
        hosts.close()
        db.close()


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_hostile_endpoint_next_to_good_pages(case: Case, tmp_path: Path, pool: WorkerPool,
                                             caplog: pytest.LogCaptureFixture) -> None:
    db = tmp_path / "news.db"
    with contextlib.ExitStack() as stack:
        good = Site(good_routes())
        stack.callback(good.close)
        hostile = Site({**ROBOTS_OK, **case.routes})
        stack.callback(hostile.close)
        url = case.target(stack) if case.target else hostile.url(HOSTILE)
        good.routes["/feed.xml"] = page(rss([good.url(p) for p in GOOD] + [url]), "application/rss+xml")
        with caplog.at_level(logging.INFO, logger="ingest"):
            run_pass(db, good.url("/feed.xml"), pool, also=(urlsplit(url).netloc,))
        if case.hits is not None:
            assert hostile.paths().count(HOSTILE) == case.hits

    rows = query(db, "SELECT outcome, reason, detail FROM fetches WHERE url = ?", (url,))
    assert [(r["outcome"], r["reason"]) for r in rows] == [(case.outcome, case.reason)], [dict(r) for r in rows]
    logged = [r.getMessage() for r in caplog.records if url in r.getMessage()]
    assert f"hostile {case.outcome} {url}" + (f" ({case.reason})" if case.reason else "") in logged
    stored = query(db, "SELECT text FROM articles WHERE url = ?", (url,))
    if case.outcome == "new":
        assert case.phrase is not None
        assert case.phrase in stored[0]["text"]
        assert "\ufffd" not in stored[0]["text"][:2000] or case.id.startswith("invalid")
    else:
        assert rows[0]["detail"]  # a reason and a detail a person can act on
        assert stored == []
    titles = {r["title"] for r in query(db, "SELECT title FROM articles WHERE url != ?", (url,))}
    assert titles == set(GOOD.values())  # the good pages of the same pass are stored
    assert [r["status"] for r in query(db, "SELECT status FROM runs")] == ["ok"]
    assert_consistent(db)


def test_page_too_slow_to_clean_is_rejected_and_its_worker_replaced(tmp_path: Path) -> None:
    site = Site({**good_routes(), HOSTILE: page(slow_to_clean())})
    newest = datetime.now(UTC)
    # One fetch thread and one parse worker: the slow page is cleaned first, the good pages after it.
    site.routes["/feed.xml"] = page(rss([site.url(HOSTILE)] + [site.url(p) for p in GOOD], newest=newest))
    started = time.monotonic()
    try:
        with parse_pool(1) as single:
            run_pass(tmp_path / "news.db", site.url("/feed.xml"), single, workers=1, parse_timeout=1.0)
    finally:
        site.close()
    assert time.monotonic() - started < 5.0  # cleaning the page alone takes ~5.6 s
    db = tmp_path / "news.db"
    row = query(db, "SELECT outcome, reason FROM fetches WHERE url = ?", (site.url(HOSTILE),))[0]
    assert (row["outcome"], row["reason"]) == ("rejected", "parse-timeout")
    assert {r["title"] for r in query(db, "SELECT title FROM articles")} == set(GOOD.values())
    assert query(db, "SELECT state FROM frontier WHERE url = ?", (site.url(HOSTILE),))[0][0] == "rejected"


@pytest.mark.parametrize("retry_after", ["seconds", "http-date"])
def test_retry_after_is_honoured_without_stalling_other_hosts(tmp_path: Path, pool: WorkerPool,
                                                              retry_after: str) -> None:
    def slow_good(title: str) -> Route:
        def route(h: BaseHTTPRequestHandler) -> None:
            time.sleep(0.1)
            send(h, 200, good_article(title))
        return route

    status, value = (429, "2") if retry_after == "seconds" else (503, formatdate(time.time() + 3, usegmt=True))
    good_paths = [f"/news/2025/03/01/good-story-{i}" for i in range(4)]
    good = Site({**ROBOTS_OK, **{p: slow_good(f"Good {i}") for i, p in enumerate(good_paths)}})
    hostile = Site({**ROBOTS_OK, HOSTILE: sequence(page(b"busy", status=status, headers={"Retry-After": value}),
                                                   page(good_article("After the wait")))})
    good.routes["/feed.xml"] = page(rss([hostile.url(HOSTILE)] + [good.url(p) for p in good_paths]))
    try:
        run_pass(tmp_path / "news.db", good.url("/feed.xml"), pool, also=(netloc(hostile),))
    finally:
        good.close()
        hostile.close()
    waits = [h.at for h in hostile.hits if h.path == HOSTILE]
    assert len(waits) == 2
    assert 1.5 <= waits[1] - waits[0] < 4.0
    assert max(h.at for h in good.hits if h.path in good_paths) < waits[1]  # the other host went on meanwhile
    assert query(tmp_path / "news.db", "SELECT count(*) FROM articles")[0][0] == 5


def test_5xx_backoff_is_exponential_and_bounded(tmp_path: Path, pool: WorkerPool) -> None:
    hostile = Site({**ROBOTS_OK, HOSTILE: page(b"", status=503)})
    hostile.routes["/feed.xml"] = page(rss([hostile.url(HOSTILE)]))
    db = open_store(tmp_path / "news.db")
    hosts = store.HostStore(tmp_path / "news.db")
    try:
        settings = Settings(user_agent=UA, per_host_delay=0.0, timeout=1.0, max_retries=2)
        with Fetcher(settings, hosts, backoff_base=0.2) as fetcher:
            run_source(db, fetcher, Source(slug="hostile", feeds=(hostile.url("/feed.xml"),),
                                           domains=("127.0.0.1",)), pool=pool)
    finally:
        hosts.close()
        db.close()
        hostile.close()
    times = [h.at for h in hostile.hits if h.path == HOSTILE]
    assert len(times) == 3  # the first try and max_retries=2 more, then it gives up
    first, second = times[1] - times[0], times[2] - times[1]
    assert 0.2 <= first < 0.8  # base 0.2 s plus up to one base of jitter (and some slack for a busy machine)
    assert 0.4 <= second < 1.1  # doubled


def test_failing_host_is_backed_off_then_retried_later(tmp_path: Path, pool: WorkerPool) -> None:
    db = tmp_path / "news.db"
    broken = [f"/news/2025/03/01/broken-{i}" for i in range(7)]
    good = Site(good_routes())
    hostile = Site({**ROBOTS_OK, **{p: page(b"", status=500) for p in broken}})
    good.routes["/feed.xml"] = page(rss([good.url(p) for p in GOOD] + [hostile.url(p) for p in broken]))
    no_retries = Settings(user_agent=UA, per_host_delay=0.0, timeout=1.0, max_retries=0)
    try:
        first = run_pass(db, good.url("/feed.xml"), pool, settings=no_retries, also=(netloc(hostile),))
        assert first.new == 2  # the good host carried on
        assert first.failed == {"http-500": 5, "host-backoff": 2}  # five failures open the breaker
        assert len([p for p in hostile.paths() if p in broken]) == 5
        requests_so_far = len(hostile.hits)
        second = run_pass(db, good.url("/feed.xml"), pool, settings=no_retries, also=(netloc(hostile),))
        assert second.failed == {"host-backoff": 7}
        assert len(hostile.hits) == requests_so_far  # backed off: not one request
        # Links never tried because of the backoff have not used up their attempts.
        untried = query(db, "SELECT count(*) FROM frontier WHERE url LIKE '%broken-%' AND attempts = 0")[0][0]
        assert untried == 2
        # Deferrals are not fetches: no fetch-log rows (a host down for a day would flood it), one log line.
        assert query(db, "SELECT count(*) FROM fetches WHERE reason = 'host-backoff'")[0][0] == 0
        # Later: the backoff expires (as time would) and the host works again.
        with contextlib.closing(store.open_db(db)) as conn:
            conn.execute("UPDATE hosts SET backoff_until = 0")
            conn.conn.commit()
        hostile.routes.update({p: page(good_article(f"Back {i}")) for i, p in enumerate(broken)})
        third = run_pass(db, good.url("/feed.xml"), pool, settings=no_retries, also=(netloc(hostile),))
        assert third.new == 7
    finally:
        good.close()
        hostile.close()
    assert query(db, "SELECT failures FROM hosts WHERE host = ?", (hostile.base_url[7:],))[0][0] == 0
    assert_consistent(db)


# --- politeness, end to end -------------------------------------------------------------------------

def conditional(body: Callable[[], bytes], etag: Callable[[], str], content_type: str) -> Route:
    modified = formatdate(time.time() - 3600, usegmt=True)

    def route(h: BaseHTTPRequestHandler) -> None:
        if h.headers.get("If-None-Match") == etag():
            send(h, 304, b"", content_type, {"ETag": etag()})
        else:
            send(h, 200, body(), content_type, {"ETag": etag(), "Last-Modified": modified})
    return route


def test_conditional_get_304_means_no_refetch_and_no_reparse(tmp_path: Path, pool: WorkerPool,
                                                             caplog: pytest.LogCaptureFixture) -> None:
    state: dict[str, Any] = {"etag": '"v1"', "extra": []}
    site = Site(good_routes())
    links = lambda: [site.url(p) for p in GOOD] + state["extra"]  # noqa: E731
    sitemap = lambda: ('<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'  # noqa: E731
                       + "".join(f"<url><loc>{u}</loc></url>" for u in links()) + "</urlset>").encode()
    listing = lambda: ("<html><body>" + "".join(f'<a href="{u}">x</a>' for u in links())  # noqa: E731
                       + "</body></html>").encode()
    site.routes.update({
        "/feed.xml": conditional(lambda: rss(links()), lambda: state["etag"], "application/rss+xml"),
        "/sitemap.xml": conditional(sitemap, lambda: state["etag"], "application/xml"),
        "/news": conditional(listing, lambda: state["etag"], "text/html"),
        "/news/2025/03/01/late-story": page(good_article("Late story")),
    })
    kwargs = {"sitemaps": (site.url("/sitemap.xml"),), "listings": (site.url("/news?page={page}"),), "max_pages": 1}
    db = tmp_path / "news.db"
    resources = ("/feed.xml", "/sitemap.xml", "/news?page=1")
    try:
        assert run_pass(db, site.url("/feed.xml"), pool, **kwargs).new == 2
        # The server's content changes but it answers 304 to our validators: nothing is parsed again.
        state["extra"] = [site.url("/news/2025/03/01/late-story")]
        before = len(site.hits)
        with caplog.at_level(logging.INFO, logger="ingest"):
            second = run_pass(db, site.url("/feed.xml"), pool, **kwargs)
        again = site.hits[before:]
        assert sorted(h.path for h in again if h.path != "/robots.txt") == sorted(resources)
        assert all(h.headers.get("if-none-match") == '"v1"' and h.headers.get("if-modified-since") for h in again
                   if h.path in resources)
        assert (second.discovered, second.new) == (0, 0)
        assert sum("not-modified" in r.getMessage() for r in caplog.records) == 3
        # A new ETag: the resources are read again and the late story found.
        state["etag"] = '"v2"'
        third = run_pass(db, site.url("/feed.xml"), pool, **kwargs)
        assert (third.discovered, third.new) == (1, 1)
    finally:
        site.close()
    assert all(site.paths().count(p) == 1 for p in GOOD)  # each article fetched once


def test_robots_crawl_delay_user_agent_and_one_request_per_host(tmp_path: Path, pool: WorkerPool) -> None:
    def slow(route: Route) -> Route:
        def wrapped(h: BaseHTTPRequestHandler) -> None:
            time.sleep(0.05)
            route(h)
        return wrapped

    robots = b"User-agent: *\nDisallow: /news/*/private-\nCrawl-delay: 0.5\n"
    paths = [f"/news/2025/03/01/story-{i}" for i in range(3)]
    private = "/news/2025/03/01/private-story"
    site = Site({"/robots.txt": page(robots, "text/plain"),
                 **{p: slow(page(good_article(f"Story {i}"))) for i, p in enumerate(paths)},
                 private: page(good_article("Private"))})
    site.routes["/feed.xml"] = page(rss([site.url(p) for p in [*paths, private]]))
    try:
        summary = run_pass(tmp_path / "news.db", site.url("/feed.xml"), pool)
    finally:
        site.close()
    assert summary.new == 3
    assert summary.rejected == {"robots": 1}
    assert private not in site.paths()  # disallowed: never requested
    starts = [h.at for h in site.hits if h.path in paths]
    assert all(b - a >= 0.45 for a, b in itertools.pairwise(starts))  # Crawl-delay: 0.5
    assert site.most_in_flight == 1
    assert {h.headers["user-agent"] for h in site.hits} == {UA}


def test_links_outside_the_source_domains_are_never_requested(tmp_path: Path, pool: WorkerPool) -> None:
    other = Site({**ROBOTS_OK, "/news/2025/03/01/elsewhere": page(good_article("Elsewhere"))}, host="127.0.0.2")
    good = Site(good_routes())
    listing = "".join(f'<a href="{other.url("/news/2025/03/01/elsewhere")}">x</a>' for _ in range(2))
    good.routes["/feed.xml"] = page(rss([good.url(p) for p in GOOD] + [other.url("/news/2025/03/01/elsewhere")]))
    good.routes["/news"] = page(f"<html><body>{listing}</body></html>".encode())
    try:
        summary = run_pass(tmp_path / "news.db", good.url("/feed.xml"), pool,
                           listings=(good.url("/news?page={page}"),), max_pages=1)
        assert summary.new == 2
        assert other.paths() == []
        with urllib.request.urlopen(other.url("/news/2025/03/01/elsewhere"), timeout=5) as reply:
            assert reply.status == 200  # the other host was reachable all along
    finally:
        good.close()
        other.close()
    assert query(tmp_path / "news.db", "SELECT count(*) FROM frontier WHERE url LIKE '%127.0.0.2%'")[0][0] == 0


# --- the CLI and the daemon --------------------------------------------------------------------------

MIX = {"/news/2025/03/01/reset-story": (reset, "failed", "connection"),
       "/news/2025/03/01/stalled-story": (stall, "failed", "timeout"),
       "/news/2025/03/01/bomb-story": (bomb, "rejected", "too-large"),
       "/news/2025/03/01/loop-story": (redirect("/news/2025/03/01/loop-story"), "rejected", "redirects"),
       "/news/2025/03/01/pdf-story": (page(b"%PDF", "application/pdf"), "rejected", "not-html"),
       "/news/2025/03/01/error-story": (page(b"", status=500), "failed", "http-500"),
       "/news/2025/03/01/cyrillic-story": (page(encoded(UK, "cp1251"), "text/html; charset=windows-1251"),
                                           "new", None)}


def mixed_sites() -> tuple[Site, Site]:
    good = Site(good_routes())
    hostile = Site({**ROBOTS_OK, **{path: route for path, (route, _, _) in MIX.items()}})
    good.routes["/feed.xml"] = page(rss([good.url(p) for p in GOOD] + [hostile.url(p) for p in MIX]))
    return good, hostile


def write_config(path: Path, feeds: dict[str, str], also: tuple[Site, ...] = ()) -> Path:
    """sources.toml: one source per feed; `also`, other loopback servers every source spans (domains)."""
    lines = ["[settings]", f'user_agent = "{UA}"', "per_host_delay = 0", "timeout = 1", "max_retries = 1",
             "max_bytes = 2000000"]
    for slug, feed in feeds.items():
        domains = ", ".join(json.dumps(d) for d in (urlsplit(feed).netloc, *(netloc(s) for s in also)))
        lines += [f"[sources.{slug}]", f'feeds = ["{feed}"]', 'interval = "1m"', f"domains = [{domains}]"]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def assert_mix_logged(db: Path, hostile: Site) -> None:
    got = {r["url"]: (r["outcome"], r["reason"]) for r in query(db, "SELECT url, outcome, reason FROM fetches")}
    for path, (_, outcome, reason) in MIX.items():
        assert got[hostile.url(path)] == (outcome, reason), path
    assert {r["title"] for r in query(db, "SELECT title FROM articles")} == {*GOOD.values(), "Charset story"}
    assert_consistent(db)


def test_backfill_cli_reports_each_fault_and_stats_shows_them(tmp_path: Path) -> None:
    good, hostile = mixed_sites()
    config = write_config(tmp_path / "sources.toml", {"mixed": good.url("/feed.xml")}, also=(hostile,))
    db = tmp_path / "news.db"
    try:
        result = CliRunner().invoke(cli, ["--config", str(config), "--db", str(db), "backfill"])
    finally:
        good.close()
        hostile.close()
    assert result.exit_code == 0, result.output
    assert "mixed: 3 new" in result.output
    assert "3 failed (" in result.output
    assert "timeout: 1" in result.output
    assert "http-500: 1" in result.output
    assert_mix_logged(db, hostile)
    stats = CliRunner().invoke(cli, ["--config", str(config), "--db", str(db), "stats", "--json"])
    assert stats.exit_code == 0, stats.output
    source = json.loads(stats.output)["sources"][0]
    assert source["errors"] == {"connection": 1, "timeout": 1, "http-500": 1, "too-large": 1, "redirects": 1,
                                "not-html": 1}
    published = datetime.fromisoformat("2025-03-01T10:00:00+00:00")
    assert abs(source["lag_seconds"] - (datetime.now(UTC) - published).total_seconds()) < 60
    assert re.fullmatch(r"\d+d \d+h", source["lag"])


def test_daemon_keeps_running_through_faults_and_logs_json_lines(tmp_path: Path) -> None:
    good, hostile = mixed_sites()
    down = Site({**ROBOTS_OK, "/feed.xml": page(b"", status=503)})
    config = write_config(tmp_path / "sources.toml", {"mixed": good.url("/feed.xml"), "down": down.url("/feed.xml")},
                          also=(hostile,))
    db = tmp_path / "news.db"
    env = {**os.environ, "INGEST_CONFIG": str(config), "INGEST_DB": str(db), "INGEST_LOG_JSON": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "ingest", "run"], env=env, stderr=subprocess.PIPE,
                            stdout=subprocess.DEVNULL, text=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with contextlib.suppress(sqlite3.OperationalError):  # the file, or its schema, may not be there yet
                if query(db, "SELECT count(*) FROM runs WHERE status IN ('ok', 'failed')")[0][0] >= 2:
                    break  # a pass of each source ended
            time.sleep(0.3)
        assert proc.poll() is None  # still running after a pass full of faults
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()  # reaps it and closes its pipe
        for site in (good, hostile, down):
            site.close()
    assert proc.returncode == 0, stderr
    assert_mix_logged(db, hostile)
    feed = query(db, "SELECT outcome, reason FROM fetches WHERE url = ?", (down.url("/feed.xml"),))
    assert [(r["outcome"], r["reason"]) for r in feed] == [("failed", "http-503")]
    runs = {(r["source"], r["status"]) for r in query(db, "SELECT source, status FROM runs")}
    assert runs == {("mixed", "ok"), ("down", "failed")}  # the down outlet's pass is no success
    events = [json.loads(line) for line in stderr.splitlines()]  # every line is one JSON object
    messages = [e["message"] for e in events]
    assert f"mixed failed {hostile.url('/news/2025/03/01/stalled-story')} (timeout)" in messages
    assert any(m.startswith("down failed") and "http-503" in m for m in messages)
    assert messages[-1] == "daemon stopped"


def test_pages_finished_are_written_while_a_slow_one_is_still_fetched(tmp_path: Path, pool: WorkerPool) -> None:
    # Finished pages wait to share a transaction (pipeline.WRITE_BATCH), but never for a page still in flight:
    # a reader sees them within WRITE_EVERY, not when the slowest page of the batch is done. The slow page is on
    # another host: on the same one it would hold the host's one request in flight, and the good pages that had
    # not had their turn before it would wait for it.
    release = threading.Event()
    slow_path = "/news/2025/03/02/slow-story"

    def slow(h: BaseHTTPRequestHandler) -> None:
        release.wait(20)
        send(h, 200, good_article("Slow story"), "text/html; charset=utf-8")

    db, summaries = tmp_path / "news.db", []
    with contextlib.ExitStack() as stack:
        site, other = Site(good_routes()), Site({slow_path: slow})
        stack.callback(site.close)
        stack.callback(other.close)
        site.routes["/feed.xml"] = page(rss([site.url(p) for p in GOOD] + [other.url(slow_path)]),
                                        "application/rss+xml")
        runner = threading.Thread(target=lambda: summaries.append(
            run_pass(db, site.url("/feed.xml"), pool, settings=replace(SETTINGS, timeout=30.0),
                     also=(netloc(other),))))
        runner.start()
        stack.callback(runner.join, 60)
        stack.callback(release.set)
        stored, deadline = 0, time.monotonic() + 20
        while stored < len(GOOD) and time.monotonic() < deadline:
            time.sleep(0.05)
            with contextlib.suppress(sqlite3.OperationalError):  # the file or its tables may not be there yet
                stored = query(db, "SELECT count(*) FROM articles")[0][0]
        assert stored == len(GOOD)
        assert not release.is_set()
        assert other.url(slow_path) not in [r["url"] for r in query(db, "SELECT url FROM fetches")]
    assert summaries[0].new == len(GOOD) + 1


def test_credentials_in_links_are_never_sent_nor_stored(tmp_path: Path, pool: WorkerPool) -> None:
    db = tmp_path / "news.db"
    with contextlib.ExitStack() as stack:
        site = Site(good_routes())
        stack.callback(site.close)
        paths = list(GOOD)
        secret = site.url(paths[0]).replace("http://", "http://reader:s3cret@")
        canonical_secret = site.url("/news/2025/03/01/canonical").replace("http://", "http://editor:pw@")
        site.routes[paths[1]] = page(good_article("Good story 1").replace(
            b"<head>", f'<head><link rel="canonical" href="{canonical_secret}">'.encode()))
        site.routes["/feed.xml"] = page(rss([secret, site.url(paths[1])]), "application/rss+xml")
        summary = run_pass(db, site.url("/feed.xml"), pool)
        authorizations = [h.headers.get("authorization") for h in site.hits if h.headers.get("authorization")]
    assert summary.new == 2
    assert authorizations == []
    stored = [r[0] for r in query(db, "SELECT url FROM articles UNION ALL SELECT url FROM frontier"
                                      " UNION ALL SELECT url FROM fetches")]
    assert stored
    assert not [u for u in stored if "@" in u or "s3cret" in u or "editor" in u]
    assert site.url(paths[0]) in stored  # the link itself is kept, without its credentials


@pytest.mark.parametrize("where", ["other-port", "other-host"])
def test_a_robots_txt_redirecting_off_the_source_reads_and_stores_nothing_there(where: str, tmp_path: Path,
                                                                               pool: WorkerPool) -> None:
    db = tmp_path / "news.db"
    with contextlib.ExitStack() as stack:
        internal = Site({"/x": lambda h: send(h, 200, b"User-agent: *\nAllow: /\n# internal secret", "text/plain")},
                        host="127.0.0.1" if where == "other-port" else "127.0.0.2")
        stack.callback(internal.close)
        site = Site({**{path: page(good_article(title)) for path, title in GOOD.items()},
                     "/robots.txt": redirect(internal.url("/x"))})
        stack.callback(site.close)
        site.routes["/feed.xml"] = page(rss([site.url(p) for p in GOOD]), "application/rss+xml")
        run_pass(db, site.url("/feed.xml"), pool)
        assert internal.paths() == []  # never asked
    stored = query(db, "SELECT robots_txt, robots_status FROM hosts WHERE robots_txt IS NOT NULL")
    assert stored
    assert all("secret" not in (r["robots_txt"] or "") for r in stored)
    # Unreachable (RFC 9309): disallow for now, so the pages wait in the frontier.
    assert {r["reason"] for r in query(db, "SELECT reason FROM fetches")} <= {"robots-unreachable"}
    assert query(db, "SELECT count(*) FROM frontier WHERE state = 'rejected'")[0][0] == 0


def test_another_port_of_the_same_host_is_another_site(tmp_path: Path, pool: WorkerPool) -> None:
    db = tmp_path / "news.db"
    with contextlib.ExitStack() as stack:
        internal = Site({**ROBOTS_OK, "/admin": page(good_article("Internal admin page"))})
        stack.callback(internal.close)
        site = Site(good_routes())
        stack.callback(site.close)
        site.routes["/news/2025/03/01/moved"] = redirect(internal.url("/admin"))
        links = [site.url(p) for p in GOOD] + [internal.url("/admin"), site.url("/news/2025/03/01/moved")]
        site.routes["/feed.xml"] = page(rss(links), "application/rss+xml")
        summary = run_pass(db, site.url("/feed.xml"), pool)
        assert internal.paths() == []  # not the link, not the redirect, not its robots.txt
    assert summary.new == len(GOOD)
    assert [r["reason"] for r in query(db, "SELECT reason FROM fetches WHERE url LIKE '%moved'")] == ["off-domain"]
    assert query(db, "SELECT count(*) FROM frontier WHERE url = ?", (internal.url("/admin"),))[0][0] == 0
    assert not query(db, "SELECT 1 FROM articles WHERE title LIKE 'Internal%'")


def test_a_crash_between_a_feeds_validator_and_its_links_loses_no_link(tmp_path: Path, pool: WorkerPool,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    # The feed answers with an ETag and 304 to a request carrying it. Its validator and its links land in one
    # transaction: a crash when the links are written takes the validator with it, so the next pass reads the
    # feed again instead of getting 304 for links it never stored.
    def feed(h: BaseHTTPRequestHandler) -> None:
        if h.headers.get("If-None-Match") == '"v1"':
            send(h, 304, b"", "application/rss+xml")
        else:
            send(h, 200, rss([site.url(p) for p in GOOD]), "application/rss+xml", {"ETag": '"v1"'})

    site = Site({**good_routes(), "/feed.xml": feed})
    db = tmp_path / "news.db"
    try:
        with monkeypatch.context() as patch:
            def crash(*args: object, **kwargs: object) -> int:
                raise KeyboardInterrupt("killed while writing the feed's links")
            patch.setattr(store, "add_links", crash)
            with contextlib.suppress(KeyboardInterrupt):
                run_pass(db, site.url("/feed.xml"), pool)
        assert query(db, "SELECT count(*) FROM resources WHERE etag IS NOT NULL")[0][0] == 0
        summary = run_pass(db, site.url("/feed.xml"), pool)  # the daemon's next pass
    finally:
        site.close()
    assert summary.new == len(GOOD)
    assert query(db, "SELECT count(*) FROM resources WHERE etag = '\"v1\"'")[0][0] == 1
