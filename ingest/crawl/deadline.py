"""A wall-clock deadline for one HTTP request, for fetch.py: connect, headers and body together.

httpx has no total timeout: its read timeout restarts with every byte received, so a server that
trickles its headers a byte at a time holds a request for hours (measured: 1 byte every 0.3 s kept a
`Timeout(1)` request going until it was killed). `install(transport)` wraps the transport's httpcore
network backend so that every socket operation waits at most until the deadline the calling thread
set with `with deadline(seconds):`; past it the request fails with httpx's ConnectTimeout,
ReadTimeout or WriteTimeout. Without a deadline set, operations keep their own timeouts.
"""

from __future__ import annotations

import ssl
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

import httpcore
import httpx

_local = threading.local()


@contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Bound every socket operation of this thread's requests inside the block to `seconds` in total."""
    previous: float | None = getattr(_local, "end", None)
    _local.end = time.monotonic() + seconds
    try:
        yield
    finally:
        _local.end = previous


def _bounded(timeout: float | None, error: type[httpcore.TimeoutException]) -> float | None:
    end: float | None = getattr(_local, "end", None)
    if end is None:
        return timeout
    left = end - time.monotonic()
    if left <= 0:
        raise error("the request's total deadline passed")
    return left if timeout is None else min(timeout, left)


class _Stream(httpcore.NetworkStream):
    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _bounded(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _bounded(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(self, ssl_context: ssl.SSLContext, server_hostname: str | None = None,
                  timeout: float | None = None) -> httpcore.NetworkStream:
        bounded = _bounded(timeout, httpcore.ConnectTimeout)
        return _Stream(self._inner.start_tls(ssl_context, server_hostname, bounded))

    def get_extra_info(self, info: str) -> object:
        return self._inner.get_extra_info(info)


class _Backend(httpcore.NetworkBackend):
    def __init__(self, inner: httpcore.NetworkBackend) -> None:
        self._inner = inner

    def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                    socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None) -> httpcore.NetworkStream:
        bounded = _bounded(timeout, httpcore.ConnectTimeout)
        return _Stream(self._inner.connect_tcp(host, port, bounded, local_address, socket_options))

    def connect_unix_socket(self, path: str, timeout: float | None = None,
                            socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None) -> httpcore.NetworkStream:
        bounded = _bounded(timeout, httpcore.ConnectTimeout)
        return _Stream(self._inner.connect_unix_socket(path, bounded, socket_options))

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


def install(transport: httpx.HTTPTransport) -> httpx.HTTPTransport:
    """Make `transport` honour `deadline()`; httpx 0.28 takes no network backend as an argument."""
    pool = getattr(transport, "_pool", None)
    backend = getattr(pool, "_network_backend", None)
    if not isinstance(backend, httpcore.NetworkBackend):  # a test fails loudly if httpx/httpcore change
        raise RuntimeError("cannot install the request deadline: httpx/httpcore internals changed")
    pool._network_backend = _Backend(backend)  # type: ignore[union-attr]
    return transport
