"""The cleaning stage: Page -> Article or Rejected through the source's adapter, and the window check.

`parse_page` is what `ingest extract` calls; run/parsing.py runs `clean_page` in worker processes under a
deadline. Cheap refusals (`not-html`, `empty`) read only the bytes.
"""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import urlsplit

from selectolax.lexbor import LexborHTMLParser

from ingest.clean.adapters import checks
from ingest.clean.adapters.base import Adapter, Cleaned
from ingest.clean.adapters.page import read_page
from ingest.config import Source
from ingest.decoding import page_text
from ingest.models import NOTHING_LEARNED, OPEN_WINDOW, Article, Learned, Page, Rejected, Window

HTML_TYPES = ("text/html", "application/xhtml+xml", "")



def check_page(page: Page) -> None:
    """Raise Rejected for a page that is not HTML or has no content; reads only the bytes (no decoding)."""
    if page.content_type not in HTML_TYPES:
        raise Rejected("not-html", page.content_type)
    if not page.body.strip():
        raise Rejected("empty", "no body")


def parse_page(adapter: Adapter, source: Source, page: Page, window: Window = OPEN_WINDOW,
               learned: Learned = NOTHING_LEARNED) -> Article:
    """Page -> Article through the source's adapter; raises Rejected with a reason."""
    return clean_page(adapter, source, page, window, learned).article


def clean_page(adapter: Adapter, source: Source, page: Page, window: Window = OPEN_WINDOW,
               learned: Learned = NOTHING_LEARNED) -> Cleaned:
    """Page -> the Article and its block keys, through the source's adapter with what the source learned."""
    check_page(page)
    if not page_text(page).strip():  # bytes that decode to nothing but whitespace (a UTF-16 blank page)
        raise Rejected("empty", "no text")
    cleaned = adapter.clean(page, source=source.slug, language=source.language, timezone=source.timezone,
                            learned=learned)
    article = cleaned.article
    if not source.allows(article.url):  # a canonical link pointing elsewhere is not ours to trust
        article.url = page.url
    if article.url != page.url:
        article.fetched_url = page.url
    article.fetched_at = page.fetched_at
    if not window.contains(article.published_at, source.zone):
        raise Rejected("out-of-window", article.published_at.isoformat() if article.published_at else "")
    return cleaned


def page_from_bytes(body: bytes, url: str) -> Page:
    """A saved page as the fetcher would have produced it: bytes decoded as a browser would."""
    return Page(url=url, requested_url=url, status=200, headers={"content-type": "text/html"},
                body=body, fetched_at=datetime.now(UTC))


def own_url(page: Page) -> str | None:
    """The absolute http(s) address a saved page gives itself: `<link rel=canonical>`, else `og:url`; None when
    it names none. `ingest extract FILE` picks the outlet's adapter by it."""
    info = read_page(LexborHTMLParser(page_text(page)[:checks.MAX_HTML_CHARS]))
    for candidate in (info.canonical, info.meta.get("og:url")):
        if candidate and urlsplit(candidate.strip()).scheme in ("http", "https") and urlsplit(candidate).hostname:
            return candidate.strip()
    return None

