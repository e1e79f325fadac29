"""URL -> Page (bytes decompressed, decoded on demand) or FetchError: the only module that opens sockets.

One shared httpx client; redirects followed by hand (no body read, every hop checked against the
caller's `allowed` and robots.txt); bodies streamed raw and decompressed here under a cap, because
httpx would inflate a decompression bomb in one piece; a wall-clock deadline per attempt covering
connect, headers and body (deadline.py), because httpx has none. Politeness is per host
(hostname[:port]): one request in flight, a delay between request starts, Retry-After, backoff and
a circuit breaker whose state lives in HostState. Requests go to a host only while this fetcher holds the
host's lease (models.Turn) in the HostStateStore (ingest/storage.py): on the database, the processes writing
it (the daemon, a backfill) take turns, so together they never exceed the host's rate nor send it two requests at once.
"""

from __future__ import annotations

import dataclasses
import email.utils
import logging
import random
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import TracebackType
from typing import Final
from urllib.parse import urldefrag, urljoin, urlsplit

import httpx

from ingest.config import DEFAULT_PORTS, Settings
from ingest.crawl.deadline import deadline, install
from ingest.crawl.decompress import BadEncoding, TooLarge, decompress
from ingest.crawl.robots import MAX_ROBOTS_BYTES, Robots, cached_policy, remember_policy, robots_ttl
from ingest.models import TURN_POLL, FetchError, HostState, Page, Turn, holder_name
from ingest.storage import HostStateStore as HostStateStore  # re-exported: the Fetcher takes one
from ingest.urls import ascii_host

ACCEPT: Final = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
ACCEPT_ENCODING: Final = "gzip, deflate, br, zstd"
RETRY_STATUSES: Final = frozenset({408, 429, 500, 502, 503, 504})
REDIRECT_STATUSES: Final = frozenset({301, 302, 303, 307, 308})
MAX_CRAWL_DELAY: Final = 300.0  # Heritrix's ceiling: a larger Crawl-delay is capped, not obeyed
BREAKER_AFTER: Final = 5  # consecutive failed requests before a host is backed off
BREAKER_BASE: Final = 30.0
BREAKER_MAX: Final = 3600.0
log = logging.getLogger("ingest")
ROBOTS_REDIRECTS: Final = 5  # RFC 9309 2.3.1.2
WANTED_EVERY: Final = 0.1  # seconds between a lease holder's looks for a process waiting for the host
LEASE_MARGIN: Final = 5.0  # seconds a request's lease on its host outlives its deadline (a killed process's lapses)
BACKOFF_BASE: Final = 0.5  # seconds before the first retry of a failed request; doubled at each further one
_CANCEL_CHECK_EVERY: Final = 0.2  # seconds between looks at the cancel flag while waiting for a host's turn
_DELTA_SECONDS: Final = re.compile(r"^\s*\d+(\.\d+)?\s*$")


class MemoryHostStates:
    """An in-process HostStateStore, for one-off commands that must not touch the database."""

    def __init__(self) -> None:
        self._states: dict[str, HostState] = {}
        self._turns: dict[str, Turn] = {}
        self._lock = threading.Lock()

    def load_host(self, host: str) -> HostState | None:
        """A copy of the saved state of `host`, or None."""
        with self._lock:
            state = self._states.get(host)
            return dataclasses.replace(state) if state is not None else None

    def save_host(self, state: HostState) -> None:
        """Keep a copy of `state`."""
        with self._lock:
            self._states[state.host] = dataclasses.replace(state)

    def take_turn(self, host: str, holder: str, *, hold: float) -> tuple[bool, float, float]:
        """See HostStateStore.take_turn."""
        with self._lock:
            turn, now = self._turns.get(host, Turn()), time.time()
            state = self._states.get(host)
            backoff_until = state.backoff_until if state else 0.0
            taken = turn.free_for(holder, now, backoff_until)
            self._turns[host] = turn.taken(holder, now, hold=hold) if taken else turn.awaited(holder)
            return taken, turn.next_request_at, backoff_until

    def renew_turn(self, host: str, holder: str, *, hold: float) -> bool:
        """See HostStateStore.renew_turn."""
        with self._lock:
            turn = self._turns.get(host)
            if turn is None or turn.holder != holder:
                return False
            self._turns[host] = dataclasses.replace(turn, lease_until=time.time() + hold)
            return True

    def turn_wanted(self, host: str, holder: str) -> bool:
        """See HostStateStore.turn_wanted."""
        with self._lock:
            turn = self._turns.get(host)
            return turn is not None and turn.wanted(holder)

    def end_turn(self, host: str, holder: str, next_request_at: float) -> None:
        """See HostStateStore.end_turn."""
        with self._lock:
            turn = self._turns.get(host)
            if turn is not None and turn.holder == holder:
                self._turns[host] = turn.given_back(next_request_at, time.time())

    def close(self) -> None:
        """Nothing to close: the states live and die with the process."""


@dataclass
class _Host:
    state: HostState
    lock: threading.Lock = field(default_factory=threading.Lock)  # one request of ours in flight per host
    queued: int = 0  # our threads waiting for `lock`: while there are some, the lease is kept
    next_start: float = 0.0  # time.monotonic() before which no request may start
    leased_until: float = 0.0  # time.monotonic() until which we hold the host's lease (Turn); 0: not held
    used: float = 0.0  # time.monotonic() when our last request on the host ended
    asked: float = 0.0  # time.monotonic() when we last asked whether another process waits for the lease
    robots: Robots | None = None
    robots_expires: float = 0.0  # epoch seconds
    delay: float = 0.0  # seconds between request starts
    deferred: bool = False  # Crawl-delay beyond max_backoff: never sleep for this host, defer


@dataclass(frozen=True)
class _Reply:
    status: int
    headers: dict[str, str]
    body: bytes


def host_key(url: str) -> str:
    """'https://Example.com:8080/x' -> 'example.com:8080'; the port only when the URL gives one. An IDN host in its
    IDNA form, as it is sent: links to `київ.укр` and `xn--b1alf1j.xn--j1amh` wait their turn on one host."""
    parts = urlsplit(url)
    host = ascii_host(parts.hostname or "")
    if ":" in host:
        host = f"[{host}]"
    return f"{host}:{parts.port}" if parts.port is not None else host


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Retry-After (delta seconds or HTTP-date) -> seconds to wait from `now` (epoch), or None."""
    if not value:
        return None
    if _DELTA_SECONDS.match(value):
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - now)


class Fetcher:
    """Fetches pages politely; thread-safe, meant to be shared by a pool of worker threads."""

    def __init__(self, settings: Settings, hosts: HostStateStore, *,
                 transport: httpx.BaseTransport | None = None, backoff_base: float = BACKOFF_BASE,
                 hand_over: bool = False) -> None:
        self._settings = settings
        self._store = hosts
        # Give a host's lease back as soon as none of our threads waits for it (workers: `ingest worker`). A worker's
        # jobs are links of any host in any order: a lease kept on a host it has finished with would hold up the
        # workers that now have that host's jobs, each waiting on the others' idle hosts, until release_idle.
        self._hand_over = hand_over
        self._backoff_base = backoff_base
        self._hosts: dict[str, _Host] = {}
        self._hosts_lock = threading.Lock()
        self._random = random.Random()
        self._cancelled = threading.Event()
        # Names this fetcher in the hosts' leases (hosts.lease_holder): machine, process, instance.
        self._holder = holder_name()
        # A lease covers the request that starts when it is nearly over (timeout + margin) and as long again:
        # renewed about once per `timeout`, not per request; a killed holder's lapses after 2 * (timeout + margin).
        self._hold = 2 * (settings.timeout + LEASE_MARGIN)
        headers = {"User-Agent": settings.user_agent, "Accept": ACCEPT, "Accept-Encoding": ACCEPT_ENCODING}
        # follow_redirects=False: httpx would read and inflate every redirect body in full.
        self._client = httpx.Client(transport=transport or install(httpx.HTTPTransport()), headers=headers,
                                    follow_redirects=False,
                                    timeout=httpx.Timeout(settings.timeout))

    @property
    def sent_headers(self) -> dict[str, str]:
        """The request headers every fetch sends (User-Agent, Accept, ...): what a WARC request record holds."""
        return dict(self._client.headers)

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        """Give back the hosts' leases, close the HTTP client and its connections."""
        with self._hosts_lock:  # every host: one may have been handed to us while we no longer waited for it
            held = list(self._hosts.values())
        try:
            for host in held:
                self._release(host)
        finally:
            self._client.close()

    def cancel(self) -> None:
        """Stop waiting: fetches queued behind a politeness delay or backoff raise `stopped` at once."""
        self._cancelled.set()

    def _sleep(self, seconds: float) -> None:
        if self._cancelled.wait(seconds):
            raise FetchError("stopped", "the fetcher was cancelled while waiting")

    def fetch(self, url: str, *, allowed: Callable[[str], bool] | None = None,
              etag: str | None = None, last_modified: str | None = None) -> Page:
        """GET `url` following redirects; a 2xx or 304 Page, else FetchError."""
        headers: dict[str, str] = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        current, seen = url, {url}
        for _hop in range(self._settings.max_redirects + 1):
            _check_url(current)
            if allowed is not None and not allowed(current):
                raise FetchError("off-domain", current)
            reply = self._on_host(current, headers, allowed)
            if reply.status not in REDIRECT_STATUSES:
                return _page(url, current, reply)
            target = _location(current, reply)
            if target is None:
                raise FetchError(f"http-{reply.status}", f"{current}: redirect without Location",
                                 status=reply.status)
            if target in seen:
                raise FetchError("redirects", f"loop back to {target}")
            current = target
            seen.add(current)
        raise FetchError("redirects", f"more than {self._settings.max_redirects} redirects from {url}")

    def _host(self, key: str) -> _Host:
        with self._hosts_lock:
            host = self._hosts.get(key)
        if host is None:
            state = self._store.load_host(key) or HostState(host=key)
            with self._hosts_lock:
                host = self._hosts.setdefault(key, _Host(state, delay=self._settings.per_host_delay))
        return host

    def _on_host(self, url: str, headers: dict[str, str], allowed: Callable[[str], bool] | None = None) -> _Reply:
        host = self._host(host_key(url))
        _check_backoff(host)  # fail fast, without queueing behind the host's lock
        with self._hosts_lock:
            host.queued += 1
        try:
            while not host.lock.acquire(timeout=_CANCEL_CHECK_EVERY):
                if self._cancelled.is_set():
                    raise FetchError("stopped", "the fetcher was cancelled while waiting")
        finally:
            with self._hosts_lock:
                host.queued -= 1
        try:
            _check_backoff(host)
            if self._settings.respect_robots:
                robots = self._robots(host, url, allowed)
                if not robots.allowed(url, self._settings.user_agent):
                    if robots.unreachable:  # RFC 9309: disallowed for now; the page waits in the frontier
                        answer = f"answered {host.state.robots_status}" if host.state.robots_status else "unreachable"
                        raise FetchError("robots-unreachable", f"{url}: robots.txt {answer}, disallowed for now")
                    raise FetchError("robots", url)
            return self._request(host, url, headers, cap=self._settings.max_bytes)
        finally:
            try:
                # Kept for our next request unless another process waits (release_idle gives back the idle ones);
                # asked at most every WANTED_EVERY: a read per request held up the host's next one, on a busy host.
                host.used = time.monotonic()
                if host.leased_until and self._hand_over and not host.queued:
                    self._release(host)
                elif host.leased_until and host.used - host.asked >= WANTED_EVERY:
                    host.asked = host.used
                    if self._store.turn_wanted(host.state.host, self._holder):
                        self._release(host)
            finally:
                host.lock.release()

    def _robots(self, host: _Host, url: str, allowed: Callable[[str], bool] | None = None) -> Robots:
        now = time.time()
        if host.robots is not None and now < host.robots_expires:
            return host.robots
        policy = cached_policy(host.state, now)
        if policy is None:
            saved = self._store.load_host(host.state.host)  # another process may have read it since
            if saved is not None and (policy := cached_policy(saved, now)) is not None:
                host.state.robots_txt, host.state.robots_status = saved.robots_txt, saved.robots_status
                host.state.robots_fetched_at = saved.robots_fetched_at
        if policy is None:
            policy = self._fetch_robots(host, url, allowed)
        status = host.state.robots_status or None
        host.robots, host.robots_expires = policy, host.state.robots_fetched_at + robots_ttl(status)
        crawl_delay = policy.crawl_delay(self._settings.user_agent) or 0.0
        host.deferred = crawl_delay > self._settings.max_backoff
        new_delay = max(self._settings.per_host_delay, min(crawl_delay, MAX_CRAWL_DELAY))
        # The robots.txt request itself was a request start: push the next one out by the new delay.
        host.next_start += new_delay - host.delay
        host.delay = new_delay
        return policy

    def _fetch_robots(self, host: _Host, url: str, allowed: Callable[[str], bool] | None = None) -> Robots:
        """Fetch and remember the host's robots.txt. Its redirects may change the scheme or go to another host of
        the source (`allowed`), never to another port or off the source: such a robots.txt counts as unreachable
        (disallow for now) and nothing is requested from, or stored of, where it pointed."""
        parts = urlsplit(url)
        target = f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}/robots.txt"
        status: int | None = None
        text = ""
        try:
            for _hop in range(ROBOTS_REDIRECTS + 1):
                _check_url(target)
                if not _robots_hop_ok(url, target, allowed):
                    log.warning("robots.txt of %s redirects off the source (%s): treated as unreachable",
                                host.state.host, target)
                    status, reply = None, _Reply(0, {}, b"")
                    break
                reply = self._request(host, target, {}, cap=MAX_ROBOTS_BYTES, truncate=True)
                status = reply.status
                location = _location(target, reply) if status in REDIRECT_STATUSES else None
                if location is None:
                    break
                target = location
            text = reply.body.decode("utf-8", errors="replace") if status else ""  # RFC 9309: robots.txt is UTF-8
        except FetchError as exc:
            if exc.status is None:
                # down, slow, backed off or cancelled: not an answer about robots; ask again next time
                raise
            status = exc.status  # 5xx or 429 after retries: disallow for now
        policy = remember_policy(host.state, status, text, time.time())
        self._save(host)
        return policy

    def _request(self, host: _Host, url: str, headers: dict[str, str], *, cap: int,
                 truncate: bool = False) -> _Reply:
        """One request with retries; returns any non-retryable reply, raises FetchError otherwise."""
        attempt = 0
        while True:
            self._wait_turn(host)
            try:
                reply = self._attempt(url, headers, cap=cap, truncate=truncate)
            except FetchError as exc:
                error = exc
            else:
                if reply.status not in RETRY_STATUSES:
                    self._succeeded(host)
                    return reply
                retry_after = parse_retry_after(reply.headers.get("retry-after"), time.time())
                error = FetchError(f"http-{reply.status}", url, status=reply.status, retry_after=retry_after)
            if error.reason != "connection" and error.status not in RETRY_STATUSES:
                if error.reason == "timeout":
                    self._failed(host, error)  # a trickling server is slow every time: no retry
                raise error  # too-large, bad-url, bad-encoding: the page's fault, not the host's
            wait = error.retry_after
            if wait is None:
                wait = self._backoff_base * 2**attempt + self._random.uniform(0, self._backoff_base)
            if attempt >= self._settings.max_retries or wait > self._settings.max_backoff:
                self._failed(host, error)
                raise error
            self._sleep(wait)  # holding the host's lease: every process on the database backs off, not just us
            attempt += 1

    def _wait_turn(self, host: _Host) -> None:
        """Wait until a request may start on the host, and count it as started. Hold the host's lease first (Turn,
        shared with every process on the database), long enough to cover the request; then pace in memory.
        Raises host-backoff instead of a long wait."""
        while host.leased_until - time.monotonic() < self._settings.timeout + LEASE_MARGIN:
            if host.leased_until and self._store.renew_turn(host.state.host, self._holder, hold=self._hold):
                host.leased_until = time.monotonic() + self._hold
                break
            host.leased_until = 0.0
            taken, next_at, backoff_until = self._store.take_turn(host.state.host, self._holder, hold=self._hold)
            host.state.backoff_until = max(host.state.backoff_until, backoff_until)  # another process's breaker
            _check_backoff(host)
            if taken:
                host.leased_until = time.monotonic() + self._hold
                host.next_start = max(host.next_start, time.monotonic() + next_at - time.time())
                break
            self._sleep(TURN_POLL)  # another process's request is in flight; it gives the lease back after it
        wait = host.next_start - time.monotonic()
        if wait > 0 and (host.deferred or wait > self._settings.max_backoff):
            raise FetchError("host-backoff", f"{host.state.host}: next request in {wait:.0f} s",
                             retry_after=wait)
        if wait > 0:
            self._sleep(wait)
        host.next_start = time.monotonic() + host.delay

    def release_idle(self, idle_for: float = 0.0) -> None:
        """Give back the leases of the hosts none of our threads has used for `idle_for` seconds, so another
        process on the database need not wait for them to lapse. The pipeline calls it every second of a pass
        (for hosts idle that long) and at its end (every idle one)."""
        idle_since = time.monotonic() - idle_for
        with self._hosts_lock:
            held = [host for host in self._hosts.values()
                    if host.leased_until and not host.queued and host.used <= idle_since]
        for host in held:
            if host.lock.acquire(blocking=False):
                try:
                    if host.leased_until:
                        self._release(host)
                finally:
                    host.lock.release()

    def _release(self, host: _Host) -> None:
        """Give the host's lease back, with the time our next request could have started."""
        host.leased_until = 0.0
        self._store.end_turn(host.state.host, self._holder, time.time() + host.next_start - time.monotonic())

    def _attempt(self, url: str, headers: dict[str, str], *, cap: int, truncate: bool) -> _Reply:
        try:
            # Leaving the block closes the response: unread redirect and error bodies are never read.
            with deadline(self._settings.timeout), self._client.stream("GET", url, headers=headers) as response:
                reply_headers = {name.lower(): value for name, value in response.headers.items()}
                if not 200 <= response.status_code < 300:
                    return _Reply(response.status_code, reply_headers, b"")
                length = reply_headers.get("content-length", "")
                if length.isdigit() and int(length) > cap and not truncate:
                    raise FetchError("too-large", f"{url}: Content-Length {length} > {cap}")
                coding = reply_headers.get("content-encoding", "")
                body = decompress(response.iter_raw(), coding, cap=cap, truncate=truncate)
                return _Reply(response.status_code, reply_headers, body)
        except TooLarge as exc:
            raise FetchError("too-large", f"{url}: {exc}") from None
        except BadEncoding as exc:
            raise FetchError("bad-encoding", f"{url}: {exc}") from None
        except httpx.TimeoutException as exc:
            raise FetchError("timeout", f"{url}: {exc!r}") from None
        except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
            raise FetchError("bad-url", f"{url}: {exc}") from None
        except httpx.HTTPError as exc:
            raise FetchError("connection", f"{url}: {exc!r}") from None

    def _succeeded(self, host: _Host) -> None:
        if host.state.failures:
            host.state.failures = 0
            self._save(host)

    def _failed(self, host: _Host, error: FetchError) -> None:
        state, now = host.state, time.time()
        state.failures += 1
        until = now + error.retry_after if error.retry_after is not None else 0.0
        if state.failures >= BREAKER_AFTER:
            until = max(until, now + min(BREAKER_BASE * 2 ** (state.failures - BREAKER_AFTER), BREAKER_MAX))
        state.backoff_until = max(state.backoff_until, until)
        self._save(host)

    def _save(self, host: _Host) -> None:
        self._store.save_host(dataclasses.replace(host.state))


def _check_backoff(host: _Host) -> None:
    remaining = host.state.backoff_until - time.time()
    if remaining > 0:
        raise FetchError("host-backoff", f"{host.state.host}: backing off for {remaining:.0f} s",
                         retry_after=remaining)


def _robots_hop_ok(page_url: str, target: str, allowed: Callable[[str], bool] | None) -> bool:
    """May a robots.txt of `page_url`'s host be read at `target`? On the source (`allowed`, else the same
    host) and on the same port, or on the default port of either scheme (http -> https)."""
    page, there = urlsplit(page_url), urlsplit(target)
    if allowed is not None and not allowed(target):
        return False
    if allowed is None and ascii_host(there.hostname or "") != ascii_host(page.hostname or ""):
        return False
    here_port = page.port or DEFAULT_PORTS.get(page.scheme, 0)
    there_port = there.port or DEFAULT_PORTS.get(there.scheme, 0)
    on_defaults = here_port == DEFAULT_PORTS.get(page.scheme) and there_port == DEFAULT_PORTS.get(there.scheme)
    return here_port == there_port or on_defaults


def _check_url(url: str) -> None:
    try:
        parts = urlsplit(url)
        port_ok = parts.port is None or parts.port > 0
    except ValueError:
        port_ok = False
    if not port_ok or parts.scheme not in ("http", "https") or not parts.hostname:
        raise FetchError("bad-url", url)
    if "@" in parts.netloc:  # credentials in a link (or a redirect) are never sent anywhere
        raise FetchError("bad-url", f"{parts.scheme}://{parts.hostname}/...: the URL carries credentials")


def _location(url: str, reply: _Reply) -> str | None:
    location = reply.headers.get("location", "").strip()
    return urldefrag(urljoin(url, location))[0] if location else None


def _page(requested_url: str, url: str, reply: _Reply) -> Page:
    status = reply.status
    if status != 304 and not 200 <= status < 300:
        retry_after = parse_retry_after(reply.headers.get("retry-after"), time.time())
        raise FetchError(f"http-{status}", url, status=status, retry_after=retry_after)
    return Page(url=url, requested_url=requested_url, status=status, headers=reply.headers, body=reply.body,
                fetched_at=datetime.now(UTC))

