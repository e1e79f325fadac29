"""Adapter registry: slug -> adapter class, and the adapter for a URL.

Contract: `get_adapter(slug)` and `adapter_for_url(url)` return a ready Adapter; every bundled outlet is
an ordinary adapter listed once in ADAPTERS (its key is the source slug used everywhere).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from ingest.clean.adapters.base import Adapter
from ingest.clean.adapters.generic import GenericAdapter
from ingest.clean.adapters.japan_news import JapanNewsAdapter
from ingest.clean.adapters.kyiv_independent import KyivIndependentAdapter
from ingest.clean.adapters.pravda import PravdaAdapter
from ingest.clean.adapters.ukrinform import UkrinformAdapter
from ingest.clean.adapters.unn import UnnAdapter

ADAPTERS: dict[str, type[Adapter]] = {
    cls.slug: cls
    for cls in (
        GenericAdapter, UkrinformAdapter, KyivIndependentAdapter, UnnAdapter, JapanNewsAdapter, PravdaAdapter,
    )
}

__all__ = ["ADAPTERS", "Adapter", "adapter_for_url", "get_adapter"]


def get_adapter(slug: str) -> Adapter:
    """The adapter registered as `slug`; KeyError naming the known slugs otherwise."""
    try:
        return ADAPTERS[slug]()
    except KeyError:
        raise KeyError(f"unknown adapter {slug!r}; known: {', '.join(sorted(ADAPTERS))}") from None


def adapter_for_url(url: str) -> Adapter:
    """The adapter whose domains include the URL's host (subdomains too), else the generic one."""
    host = (urlsplit(url).hostname or "").lower()
    for cls in ADAPTERS.values():
        if cls.domains and cls.handles_host(host):
            return cls()
    return GenericAdapter()
