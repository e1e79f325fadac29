"""Host checks (ingest/urls.py): a source's domains and an adapter's domains are matched by one function."""

from __future__ import annotations

from typing import ClassVar
from urllib.parse import urlsplit

import pytest

from ingest.clean.adapters.base import Adapter
from ingest.config import Source
from ingest.urls import on_domain


class _Unn(Adapter):
    domains: ClassVar[tuple[str, ...]] = ("unn.ua", "xn--b1alf1j.xn--j1amh")


UNN = Source(slug="unn", domains=("unn.ua", "київ.укр"))

URLS = [
    ("https://unn.ua/news/1", True),
    ("https://www.unn.ua/news/1", True),
    ("https://m.unn.ua/news/1", True),
    ("https://WWW.UNN.UA/news/1", True),
    ("https://unn.ua./news/1", True),  # the trailing dot of a fully qualified name
    ("https://unn.ua:443/news/1", True),  # the default port, spelled out
    ("http://unn.ua:80/news/1", True),
    ("https://київ.укр/новини", True),  # an IDN, in Unicode ...
    ("https://www.xn--b1alf1j.xn--j1amh/a", True),  # ... or punycode, on either side
    ("https://notunn.ua/news/1", False),  # a suffix that is not a whole label
    ("https://unn.ua.evil.example/news/1", False),
    ("https://unn.com.ua/news/1", False),
    ("https://київ.com/a", False),
]


@pytest.mark.parametrize(("url", "expected"), URLS)
def test_source_allows_and_adapter_handles_host_agree(url: str, expected: bool) -> None:
    host = urlsplit(url).hostname or ""
    assert UNN.allows(url) is expected
    assert _Unn.handles_host(host) is expected


def test_only_the_source_checks_ports() -> None:
    """Another service on the same host is another site for fetching; the adapter reads hosts only."""
    assert not UNN.allows("https://unn.ua:8443/news/1")
    assert _Unn.handles_host("unn.ua")
    assert Source(slug="unn", domains=("unn.ua:8443",)).allows("https://unn.ua:8443/news/1")


def test_on_domain() -> None:
    assert on_domain("news.example.com", "example.com")
    assert on_domain("example.com.", "EXAMPLE.com")
    assert not on_domain("example.com", "news.example.com")
    assert not on_domain("example.com", "")
