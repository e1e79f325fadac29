"""fetch.Fetcher against real servers on 127.0.0.1: pytest-httpserver, or raw sockets for byte control."""

from __future__ import annotations

import contextlib
import gzip
import pickle
import socket
import threading
import time
import tracemalloc
import zlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from email.utils import formatdate
from typing import Any

import brotli
import pytest
import zstandard
from conftest import corpus_bytes
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from ingest.config import Settings
from ingest.crawl.fetch import Fetcher, MemoryHostStates, host_key, parse_retry_after
from ingest.decoding import page_encoding, page_text
from ingest.models import FetchError, HostState

PRAVDA = "outlets/pravda/pravda.com.ua_news_2016_01_14_7095324.html"
PRAVDA_PHRASE = "Обама мав на увазі"
FAST = {"per_host_delay": 0.0, "respect_robots": False, "timeout": 5.0, "max_retries": 2, "max_backoff": 5.0}


def make_settings(**overrides: Any) -> Settings:
    return Settings(**{**FAST, **overrides})


@pytest.fixture
def server(httpserver_ipv4: HTTPServer) -> HTTPServer:
    return httpserver_ipv4


def fetcher(hosts: MemoryHostStates | None = None, **overrides: Any) -> Fetcher:
    return Fetcher(make_settings(**overrides), hosts or MemoryHostStates(), backoff_base=0.05)


def paths(server: HTTPServer) -> list[str]:
    return [request.path for request, _ in server.log]


def fetch_error(fetch: Callable[[], object]) -> FetchError:
    with pytest.raises(FetchError) as info:
        fetch()
    return info.value


class RawServer:
    """A TCP server on 127.0.0.1 whose handler writes the response bytes itself, one connection at a time."""

    def __init__(self, handler: Callable[[socket.socket, threading.Event], None]) -> None:
        self._handler = handler
        self._sock = socket.create_server(("127.0.0.1", 0))
        self._sock.settimeout(0.05)
        self.port = self._sock.getsockname()[1]
        self.stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def __enter__(self) -> RawServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self._thread.join(timeout=5)
        self._sock.close()

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            with conn:
                conn.settimeout(5)
                data = b""
                while b"\r\n\r\n" not in data and (chunk := conn.recv(4096)):
                    data += chunk
                with contextlib.suppress(OSError):  # the client hung up, as it should
                    self._handler(conn, self.stop)


def compressed_zeros(size: int, kind: str) -> bytes:
    """`size` zero bytes compressed in 1 MiB steps, so building a bomb does not need the bomb in memory."""
    block = bytes(1 << 20)
    if kind == "gzip":
        comp = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
        return b"".join(comp.compress(block) for _ in range(size >> 20)) + comp.flush()
    if kind == "br":
        br = brotli.Compressor(quality=1)
        return bytes(b"".join(br.process(block) for _ in range(size >> 20)) + br.finish())
    zstd = zstandard.ZstdCompressor(level=1).compressobj()
    return bytes(b"".join(zstd.compress(block) for _ in range(size >> 20)) + zstd.flush())


# --- bodies --------------------------------------------------------------------------------------

HTML = "<html><body><p>Привіт, Київ — новини дня</p></body></html>".encode()


@pytest.mark.parametrize(("coding", "encode"), [
    ("gzip", gzip.compress),
    ("deflate", zlib.compress),
    ("deflate", lambda b: zlib.compress(b)[2:-4]),  # raw deflate, as some servers send
    ("br", brotli.compress),
    ("zstd", lambda b: zstandard.ZstdCompressor().compress(b)),
    ("identity", lambda b: b),
])
def test_compressed_bodies_are_decoded(server: HTTPServer, coding: str,
                                       encode: Callable[[bytes], bytes]) -> None:
    server.expect_request("/p").respond_with_data(
        encode(HTML), headers={"Content-Encoding": coding}, content_type="text/html; charset=utf-8")
    with fetcher() as f:
        page = f.fetch(server.url_for("/p"))
    assert page.status == 200
    assert page.body == HTML
    assert "Привіт, Київ" in page_text(page)
    assert page_encoding(page) == "utf-8"
    assert page.headers["content-encoding"] == coding  # names lower-cased, values as sent
    request = server.log[0][0]
    assert request.headers["User-Agent"] == Settings().user_agent
    assert request.headers["Accept-Encoding"] == "gzip, deflate, br, zstd"
    assert request.headers["Accept"].startswith("text/html,application/xhtml+xml")


@pytest.mark.parametrize("kind", ["gzip", "br", "zstd"])
def test_decompression_bomb_is_aborted_with_bounded_memory(server: HTTPServer, kind: str) -> None:
    bomb = compressed_zeros(100 << 20, kind)
    assert len(bomb) < 1 << 20
    server.expect_request("/bomb").respond_with_data(bomb, headers={"Content-Encoding": kind},
                                                     content_type="text/html")
    with fetcher(max_bytes=1 << 20, max_retries=0) as f:
        tracemalloc.start()
        try:
            error = fetch_error(lambda: f.fetch(server.url_for("/bomb")))
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert error.reason == "too-large"
    assert peak < 16 << 20, f"{peak} bytes traced while refusing a 100 MB bomb"


def test_content_length_over_cap_is_refused_without_reading_the_body() -> None:
    def claim_a_lot(conn: socket.socket, stop: threading.Event) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 50000000\r\n\r\nabc")
        stop.wait(10)  # never send the rest: reading the body would hit the timeout instead

    with RawServer(claim_a_lot) as raw, fetcher(max_bytes=1 << 20, timeout=3.0) as f:
        started = time.monotonic()
        error = fetch_error(lambda: f.fetch(raw.url("/big")))
    assert error.reason == "too-large"
    assert time.monotonic() - started < 2.5


def test_body_over_cap_without_content_length(server: HTTPServer) -> None:
    server.expect_request("/big").respond_with_response(
        Response(iter([b"x" * 4096] * 100), content_type="text/plain"))  # chunked, no length
    with fetcher(max_bytes=100_000) as f:
        assert fetch_error(lambda: f.fetch(server.url_for("/big"))).reason == "too-large"


def test_trickling_body_hits_the_total_deadline() -> None:
    def trickle(conn: socket.socket, stop: threading.Event) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 1000\r\n\r\n")
        while not stop.wait(0.2):  # fast enough that the 1 s read timeout never fires
            conn.sendall(b"x")

    with RawServer(trickle) as raw, fetcher(timeout=1.0) as f:
        started = time.monotonic()
        error = fetch_error(lambda: f.fetch(raw.url("/slow")))
        elapsed = time.monotonic() - started
    assert error.reason == "timeout"
    assert 0.9 <= elapsed < 6.0  # not retried: a trickling server is slow every time


def test_non_text_content_has_bytes_but_no_text(server: HTTPServer) -> None:
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(256))
    server.expect_request("/i.png").respond_with_data(png, content_type="image/png")
    with fetcher() as f:
        page = f.fetch(server.url_for("/i.png"))
    assert (page.body, page_text(page), page.content_type) == (png, "", "image/png")


def test_xml_feed_is_decoded_from_its_declaration(server: HTTPServer) -> None:
    feed = '<?xml version="1.0" encoding="windows-1251"?><rss><title>Новини України</title></rss>'
    server.expect_request("/feed").respond_with_data(feed.encode("cp1251"),
                                                     content_type="application/rss+xml")
    with fetcher() as f:
        page = f.fetch(server.url_for("/feed"))
    assert "Новини України" in page_text(page)
    assert page_encoding(page) == "windows-1251"


@pytest.mark.parametrize("content_type", ["text/html; charset=windows-1251", "text/html"])
def test_windows_1251_page_decodes(server: HTTPServer, content_type: str) -> None:
    server.expect_request("/news").respond_with_data(corpus_bytes(PRAVDA), content_type=content_type)
    with fetcher() as f:
        page = f.fetch(server.url_for("/news"))
    assert PRAVDA_PHRASE in page_text(page)
    assert "\ufffd" not in page_text(page)
    assert page_encoding(page) == "windows-1251"


def test_page_is_decoded_in_the_process_that_reads_it(server: HTTPServer) -> None:
    """A page crosses to a parse worker as bytes only: the text is decoded there, as it was here."""
    server.expect_request("/news").respond_with_data(corpus_bytes(PRAVDA), content_type="text/html")
    with fetcher() as f:
        page = f.fetch(server.url_for("/news"))
    shipped = pickle.dumps(page)
    assert len(shipped) < len(page.body) * 1.05  # the body, no decoded copy next to it
    assert PRAVDA_PHRASE in page_text(page)
    assert len(pickle.dumps(page)) == len(shipped)  # reading the text here does not make it travel either
    received = pickle.loads(shipped)
    assert received == page
    assert page_text(received) == page_text(page)
    assert page_encoding(received) == "windows-1251"


def test_conditional_get_returns_304_page(server: HTTPServer) -> None:
    server.expect_request("/c", headers={"If-None-Match": '"v1"', "If-Modified-Since": "Wed, 01 Jan 2025 "
                                         "00:00:00 GMT"}).respond_with_data("", status=304)
    with fetcher() as f:
        page = f.fetch(server.url_for("/c"), etag='"v1"', last_modified="Wed, 01 Jan 2025 00:00:00 GMT")
    assert (page.status, page.body, page_text(page)) == (304, b"", "")


def test_client_error_is_not_retried_nor_a_host_failure(server: HTTPServer) -> None:
    server.expect_request("/gone").respond_with_data("no", status=404)
    hosts = MemoryHostStates()
    with fetcher(hosts) as f:
        error = fetch_error(lambda: f.fetch(server.url_for("/gone")))
    assert (error.reason, error.status) == ("http-404", 404)
    assert paths(server) == ["/gone"]
    state = hosts.load_host(host_key(server.url_for("/")))
    assert state is None or state.failures == 0


@pytest.mark.parametrize("url", ["ftp://127.0.0.1/x", "file:///etc/passwd", "http:///nohost", "not a url"])
def test_bad_url(url: str) -> None:
    with fetcher() as f:
        assert fetch_error(lambda: f.fetch(url)).reason == "bad-url"


# --- redirects -----------------------------------------------------------------------------------

def test_redirect_chain_is_followed(server: HTTPServer) -> None:
    server.expect_request("/a").respond_with_data("", status=301, headers={"Location": "/b"})
    server.expect_request("/b").respond_with_data("", status=302, headers={"Location": server.url_for("/c")})
    server.expect_request("/c").respond_with_data("<p>done</p>", content_type="text/html")
    with fetcher() as f:
        page = f.fetch(server.url_for("/a"))
    assert page.url == server.url_for("/c")
    assert page.requested_url == server.url_for("/a")
    assert page_text(page) == "<p>done</p>"
    assert paths(server) == ["/a", "/b", "/c"]


def test_redirect_loop(server: HTTPServer) -> None:
    server.expect_request("/x").respond_with_data("", status=302, headers={"Location": "/y"})
    server.expect_request("/y").respond_with_data("", status=302, headers={"Location": "/x"})
    with fetcher() as f:
        assert fetch_error(lambda: f.fetch(server.url_for("/x"))).reason == "redirects"
    assert paths(server) == ["/x", "/y"]


def test_too_many_redirects(server: HTTPServer) -> None:
    for n in range(10):
        server.expect_request(f"/r{n}").respond_with_data("", status=307, headers={"Location": f"/r{n + 1}"})
    with fetcher(max_redirects=3) as f:
        assert fetch_error(lambda: f.fetch(server.url_for("/r0"))).reason == "redirects"
    assert paths(server) == ["/r0", "/r1", "/r2", "/r3"]


def test_off_domain_redirect_is_not_followed(server: HTTPServer) -> None:
    elsewhere = server.url_for("/elsewhere").replace("127.0.0.1", "localhost")
    server.expect_request("/a").respond_with_data("", status=302, headers={"Location": elsewhere})
    with fetcher() as f:
        error = fetch_error(lambda: f.fetch(server.url_for("/a"), allowed=lambda u: "127.0.0.1" in u))
    assert error.reason == "off-domain"
    assert paths(server) == ["/a"]


# --- robots.txt ----------------------------------------------------------------------------------

def test_robots_wildcard_disallow_skips_the_request(server: HTTPServer) -> None:
    server.expect_request("/robots.txt").respond_with_data("User-agent: *\nDisallow: /*?print=1\n")
    server.expect_request("/story").respond_with_data("<p>ok</p>", content_type="text/html")
    hosts = MemoryHostStates()
    with fetcher(hosts, respect_robots=True) as f:
        assert fetch_error(lambda: f.fetch(server.url_for("/story?print=1"))).reason == "robots"
        assert page_text(f.fetch(server.url_for("/story"))) == "<p>ok</p>"
    assert paths(server) == ["/robots.txt", "/story"]  # fetched once per host
    state = hosts.load_host(host_key(server.url_for("/")))
    assert state is not None
    assert state.robots_status == 200
    assert state.robots_txt is not None
    assert "print=1" in state.robots_txt


def test_robots_404_allows(server: HTTPServer) -> None:
    server.expect_request("/robots.txt").respond_with_data("", status=404)
    server.expect_request("/p").respond_with_data("ok")
    with fetcher(respect_robots=True) as f:
        assert f.fetch(server.url_for("/p")).status == 200


def test_robots_500_disallows_for_now(server: HTTPServer) -> None:
    server.expect_request("/robots.txt").respond_with_data("", status=500)
    server.expect_request("/p").respond_with_data("ok")
    with fetcher(respect_robots=True, max_retries=0) as f:
        error = fetch_error(lambda: f.fetch(server.url_for("/p")))
    # Not the site's word (`robots`, rejected for good) but a failure: the page waits and the pass may be failed.
    assert error.reason == "robots-unreachable"
    assert "/p" not in paths(server)


def test_robots_cache_is_used_then_refreshed_after_a_day(server: HTTPServer) -> None:
    server.expect_request("/robots.txt").respond_with_data("User-agent: *\nAllow: /\n")
    server.expect_request("/p").respond_with_data("ok")
    key = host_key(server.url_for("/"))
    fresh = HostState(host=key, robots_txt="User-agent: *\nDisallow: /\n", robots_status=200,
                      robots_fetched_at=time.time() - 3600)
    hosts = MemoryHostStates()
    hosts.save_host(fresh)
    with fetcher(hosts, respect_robots=True) as f:
        assert fetch_error(lambda: f.fetch(server.url_for("/p"))).reason == "robots"
    assert paths(server) == []  # the cached answer was trusted
    hosts.save_host(HostState(host=key, robots_txt="User-agent: *\nDisallow: /\n", robots_status=200,
                              robots_fetched_at=time.time() - 25 * 3600))
    with fetcher(hosts, respect_robots=True) as f:
        assert f.fetch(server.url_for("/p")).status == 200
    assert paths(server) == ["/robots.txt", "/p"]


def arrivals(server: HTTPServer, path: str, body: str = "ok") -> list[float]:
    """Register `path` and return the list its request arrival times will be appended to."""
    times: list[float] = []

    def handler(request: Request) -> Response:
        times.append(time.monotonic())
        return Response(body)

    server.expect_request(path).respond_with_handler(handler)
    return times


def test_crawl_delay_is_honoured(server: HTTPServer) -> None:
    robots = arrivals(server, "/robots.txt", "User-agent: *\nCrawl-delay: 0.6\n")
    page = arrivals(server, "/p")
    with fetcher(respect_robots=True) as f:
        f.fetch(server.url_for("/p"))
        f.fetch(server.url_for("/p"))
    assert page[0] - robots[0] >= 0.55
    assert page[1] - page[0] >= 0.55


def test_crawl_delay_beyond_max_backoff_defers_the_host(server: HTTPServer) -> None:
    server.expect_request("/robots.txt").respond_with_data("User-agent: *\nCrawl-delay: 60\n")
    server.expect_request("/p").respond_with_data("ok")
    with fetcher(respect_robots=True, max_backoff=10.0) as f:
        started = time.monotonic()
        error = fetch_error(lambda: f.fetch(server.url_for("/p")))
    assert error.reason == "host-backoff"
    assert error.retry_after is not None
    assert error.retry_after > 30
    assert time.monotonic() - started < 5  # deferred, not slept on


def test_crawl_delay_is_capped_at_300_seconds(server: HTTPServer) -> None:
    server.expect_request("/robots.txt").respond_with_data("User-agent: *\nCrawl-delay: 100000\n")
    with fetcher(respect_robots=True, max_backoff=600.0) as f:
        error = fetch_error(lambda: f.fetch(server.url_for("/p")))
    assert error.reason == "host-backoff"  # deferred: the delay is beyond max_backoff ...
    assert error.retry_after is not None
    assert 250 < error.retry_after <= 300  # ... and the wait it reports is capped


def test_one_request_in_flight_per_host() -> None:
    lock = threading.Lock()
    in_flight: list[int] = [0, 0]  # now, most

    def handler(request: Request) -> Response:
        with lock:
            in_flight[0] += 1
            in_flight[1] = max(in_flight)
        time.sleep(0.1)
        with lock:
            in_flight[0] -= 1
        return Response("ok")

    threaded = HTTPServer(host="127.0.0.1", threaded=True)
    threaded.expect_request("/p").respond_with_handler(handler)
    threaded.start()
    try:
        with fetcher() as f, ThreadPoolExecutor(4) as pool:
            pages = list(pool.map(f.fetch, [threaded.url_for(f"/p?n={n}") for n in range(4)]))
    finally:
        threaded.clear()
        threaded.stop()
    assert [p.body for p in pages] == [b"ok"] * 4
    assert in_flight[1] == 1


def test_per_host_delay_does_not_hold_up_other_hosts(server: HTTPServer, httpserver: HTTPServer) -> None:
    first_host = arrivals(server, "/p")
    other_host = arrivals(httpserver, "/q")
    assert host_key(server.url_for("/")) != host_key(httpserver.url_for("/"))
    with fetcher(per_host_delay=0.3) as f, ThreadPoolExecutor(2) as pool:
        f.fetch(server.url_for("/p"))
        waiting = pool.submit(f.fetch, server.url_for("/p"))
        time.sleep(0.05)  # let the second request to the first host start waiting for its turn
        pool.submit(f.fetch, httpserver.url_for("/q")).result()
        waiting.result()
    assert first_host[1] - first_host[0] >= 0.25
    assert first_host[0] < other_host[0] < first_host[1]


# --- retries and backoff -------------------------------------------------------------------------

def test_429_and_503_retry_after_seconds_and_date_are_honoured(server: HTTPServer) -> None:
    times: list[float] = []

    def handler(request: Request) -> Response:
        times.append(time.monotonic())
        if len(times) == 1:
            return Response("", status=429, headers={"Retry-After": "1"})
        if len(times) == 2:
            return Response("", status=503, headers={"Retry-After": formatdate(time.time() + 2, usegmt=True)})
        return Response("ok")

    server.expect_request("/p").respond_with_handler(handler)
    with fetcher() as f:
        assert f.fetch(server.url_for("/p")).body == b"ok"
    assert len(times) == 3
    assert times[1] - times[0] >= 0.9  # Retry-After: 1
    assert times[2] - times[1] >= 0.9  # an HTTP-date 2 s ahead, at one-second resolution


def test_503_twice_then_success(server: HTTPServer) -> None:
    server.expect_oneshot_request("/p").respond_with_data("", status=503)
    server.expect_oneshot_request("/p").respond_with_data("", status=503)
    server.expect_request("/p").respond_with_data("ok")
    hosts = MemoryHostStates()
    with fetcher(hosts) as f:
        assert f.fetch(server.url_for("/p")).body == b"ok"
    assert paths(server) == ["/p"] * 3
    state = hosts.load_host(host_key(server.url_for("/")))
    assert state is None or state.failures == 0


def test_retry_after_beyond_max_backoff_backs_the_host_off(server: HTTPServer,
                                                           httpserver: HTTPServer) -> None:
    server.expect_request("/p").respond_with_data("", status=503, headers={"Retry-After": "3600"})
    httpserver.expect_request("/q").respond_with_data("ok")
    hosts = MemoryHostStates()
    with fetcher(hosts, max_backoff=5.0) as f:
        started = time.monotonic()
        error = fetch_error(lambda: f.fetch(server.url_for("/p")))
        assert time.monotonic() - started < 3  # did not wait an hour, nor retry
        assert (error.reason, error.status, error.retry_after) == ("http-503", 503, 3600.0)
        again = fetch_error(lambda: f.fetch(server.url_for("/p")))
        assert again.reason == "host-backoff"
        assert again.retry_after is not None
        assert again.retry_after > 3000
        assert f.fetch(httpserver.url_for("/q")).body == b"ok"  # other hosts unaffected
    assert paths(server) == ["/p"]
    state = hosts.load_host(host_key(server.url_for("/")))
    assert state is not None
    assert state.backoff_until > time.time() + 3000
    with fetcher(hosts) as f:  # the backoff survives in the store, e.g. across restarts
        assert fetch_error(lambda: f.fetch(server.url_for("/p"))).reason == "host-backoff"


def closed_port() -> int:
    with socket.create_server(("127.0.0.1", 0)) as sock:
        return int(sock.getsockname()[1])


@pytest.mark.parametrize("respect_robots", [False, True])
def test_connection_refused(respect_robots: bool) -> None:
    with fetcher(respect_robots=respect_robots) as f:
        error = fetch_error(lambda: f.fetch(f"http://127.0.0.1:{closed_port()}/p"))
    assert error.reason == "connection"


def test_connection_reset_is_a_connection_error() -> None:
    def reset(conn: socket.socket, stop: threading.Event) -> None:
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")

    with RawServer(reset) as raw, fetcher() as f:
        assert fetch_error(lambda: f.fetch(raw.url("/p"))).reason == "connection"


def test_circuit_breaker_opens_after_five_failures(server: HTTPServer) -> None:
    server.expect_request("/p").respond_with_data("", status=500)
    hosts = MemoryHostStates()
    key = host_key(server.url_for("/"))
    with fetcher(hosts, max_retries=0) as f:
        for n in range(1, 6):
            assert fetch_error(lambda: f.fetch(server.url_for("/p"))).reason == "http-500"
            state = hosts.load_host(key)
            assert state is not None
            assert state.failures == n
            assert (state.backoff_until > 0) == (n == 5)  # the breaker opens at the fifth failure
        assert state is not None
        assert 25 < state.backoff_until - time.time() <= 30
        error = fetch_error(lambda: f.fetch(server.url_for("/p")))
    assert error.reason == "host-backoff"
    assert len(paths(server)) == 5


def test_success_resets_failures(server: HTTPServer) -> None:
    server.expect_oneshot_request("/p").respond_with_data("", status=502)
    server.expect_request("/p").respond_with_data("ok")
    hosts = MemoryHostStates()
    key = host_key(server.url_for("/"))
    with fetcher(hosts, max_retries=0) as f:
        fetch_error(lambda: f.fetch(server.url_for("/p")))
        assert (state := hosts.load_host(key)) is not None
        assert state.failures == 1
        f.fetch(server.url_for("/p"))
    assert (state := hosts.load_host(key)) is not None
    assert state.failures == 0


# --- small pieces --------------------------------------------------------------------------------

def test_host_key() -> None:
    assert host_key("https://Example.COM/x") == "example.com"
    assert host_key("http://127.0.0.1:8080/x") == "127.0.0.1:8080"
    assert host_key("http://[::1]:80/") == "[::1]:80"
    # one host however its IDN is spelled: one request slot, one robots.txt
    assert host_key("https://КИЇВ.укр/н") == host_key("https://xn--b1alf1j.xn--j1amh/") == "xn--b1alf1j.xn--j1amh"


def test_parse_retry_after() -> None:
    now = time.time()
    assert parse_retry_after("120", now) == 120.0
    assert parse_retry_after(formatdate(now + 60, usegmt=True), now) == pytest.approx(60, abs=1.5)
    assert parse_retry_after(formatdate(now - 60, usegmt=True), now) == 0.0
    assert parse_retry_after("soon", now) is None
    assert parse_retry_after("nan", now) is None
    assert parse_retry_after(None, now) is None



def test_cancel_releases_a_fetch_waiting_out_the_host_delay(server: HTTPServer) -> None:
    """SIGTERM must not wait for politeness delays: a cancelled fetcher gives up at once."""
    server.expect_request("/a").respond_with_data("<p>a</p>", content_type="text/html")
    server.expect_request("/b").respond_with_data("<p>b</p>", content_type="text/html")
    with fetcher(per_host_delay=30.0, max_backoff=60.0) as client:
        client.fetch(server.url_for("/a"))
        threading.Timer(0.3, client.cancel).start()
        started = time.monotonic()
        error = fetch_error(lambda: client.fetch(server.url_for("/b")))
    assert error.reason == "stopped"
    assert time.monotonic() - started < 5
    assert "/b" not in paths(server)


def test_cancel_during_robots_fetch_caches_no_policy(server: HTTPServer) -> None:
    """A robots.txt request cut short by shutdown says nothing about the site: nothing is cached."""
    server.expect_request("/robots.txt").respond_with_data("busy", status=503, headers={"Retry-After": "20"})
    hosts = MemoryHostStates()
    client = fetcher(hosts, max_backoff=60.0, respect_robots=True)
    threading.Timer(0.3, client.cancel).start()
    started = time.monotonic()
    assert fetch_error(lambda: client.fetch(server.url_for("/a"))).reason == "stopped"
    assert time.monotonic() - started < 5
    client.close()
    state = hosts.load_host(host_key(server.url_for("/")))
    assert state is None or state.robots_txt is None
    assert "/a" not in paths(server)
