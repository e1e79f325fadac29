"""Generic adapter: any news page -> Article, from JSON-LD, meta tags and trafilatura on the whole page.

Contract: as `Adapter.parse`; used for outlets without an adapter of their own. It has no body
selector, so its articles never count as fallbacks.
"""

from __future__ import annotations

import re
from typing import ClassVar

from ingest.clean.adapters.base import Adapter


class GenericAdapter(Adapter):
    """Reads any outlet with the base class's generic path."""

    slug: ClassVar[str] = "generic"
    # A last path segment with a long number or three words joined by - or _, or a dated path.
    article_url: ClassVar[re.Pattern[str] | None] = None
    url_hint: ClassVar[re.Pattern[str]] = re.compile(
        r"/\d{4}/\d{1,2}/\d{1,2}/|/[^/?#]*(?:\d{4,}|[^\W_]+[-_][^\W_]+[-_][^\W_]+)[^/?#]*/?(?:[?#]|$)"
    )

    def is_article_url(self, url: str) -> bool:
        """True when `url` has the shape of an article URL on most news sites."""
        return bool(self.url_hint.search(url))
