"""Page checks: raw HTML, its parsed tree and PageInfo -> pass, Rejected, or a yes/no verdict.

Contract: `check_nesting(html)` raises Rejected("too-large") before a page too deeply nested to parse
safely reaches the parser; `check_blocked(html, tree, info)` raises Rejected("bot-challenge") for
challenge, captcha and consent-wall pages served with status 200; `looks_like_listing(tree)` says whether
a page is an index of links rather than an article; `is_paywalled(tree, info, selectors)` says whether it
is a subscriber-only stub. Pure: no I/O.
"""

from __future__ import annotations

import re

from selectolax.lexbor import LexborHTMLParser

from ingest.adapters.page import PageInfo
from ingest.models import Rejected

MAX_HTML_CHARS = 5_000_000
# Sum of block-element depths at each opening tag: lexbor's cost grows with it (50,000 nested <div>s
# took 5 s). Real pages stay under 10**6; 5 * 10**7 is ~0.1 s of parsing.
MAX_NESTING_COST = 50_000_000
_NESTING_TAGS = re.compile(
    r"<(/?)(?:div|section|article|aside|main|nav|header|footer|blockquote|figure|center|ul|ol|dl|table|form)\b",
    re.IGNORECASE,
)

# Bot challenges and consent walls are served with 200; they are tiny pages carrying one of these.
_CHALLENGE_MARKERS = (
    "awswaf", "awswafintegration", "challenge.js", "/cdn-cgi/challenge-platform", "cf-chl", "cf_chl_opt",
    "_incapsula_resource", "ddos-guard", "g-recaptcha", "h-captcha", "captcha-delivery.com", "px-captcha",
    "verify you are human", "not a robot", "checking your browser", "javascript is disabled",
    "enable javascript and cookies to continue",
)
_CONSENT_MARKERS = ("before you continue", "we value your privacy", "consent-wall", "privacy-mgmt.com")
# Whole titles only: an article may well be called "Access denied to journalists at the border".
_CHALLENGE_TITLES = frozenset({
    "just a moment...", "just a moment", "attention required! | cloudflare", "access denied",
    "security check", "robot check", "ddos-guard", "please wait...", "one more step",
})
_TINY_PAGE_CHARS = 1500


def check_nesting(html: str) -> None:
    """Raise Rejected("too-large") when block nesting would make parsing quadratic."""
    depth = cost = 0
    for match in _NESTING_TAGS.finditer(html):
        if match.group(1):
            depth = max(depth - 1, 0)
        else:
            depth += 1
            cost += depth
            if cost > MAX_NESTING_COST:
                raise Rejected("too-large", "block elements nested too deep to parse safely")


def check_blocked(html: str, tree: LexborHTMLParser, info: PageInfo) -> None:
    """Raise Rejected("bot-challenge") for challenge, captcha and consent-wall pages."""
    title = (info.page_title or "").strip().lower()
    if title in _CHALLENGE_TITLES:
        raise Rejected("bot-challenge", f"title {title!r}")
    visible = len((tree.body.text(separator=" ") if tree.body else "").split())
    if visible * 6 > _TINY_PAGE_CHARS:  # ~6 characters per word with its space
        return
    lowered = html[:200_000].lower()
    for marker in (*_CHALLENGE_MARKERS, *_CONSENT_MARKERS):
        if marker in lowered:
            raise Rejected("bot-challenge", f"{marker!r} on a page of {visible} words")


def looks_like_listing(tree: LexborHTMLParser) -> bool:
    """A page whose text is mostly link text, with many links: an index, not an article."""
    body = tree.body
    if body is None:
        return False
    total = len(body.text(separator=" ").split())
    links = [a for a in body.css("a") if a.attributes.get("href")]
    linked = sum(len(a.text(separator=" ").split()) for a in links)
    long_paragraphs = sum(1 for p in body.css("p") if len(p.text().split()) >= 40)
    return len(links) >= 40 and linked >= 0.45 * total and long_paragraphs < 3


def is_paywalled(tree: LexborHTMLParser, info: PageInfo, selectors: tuple[str, ...]) -> bool:
    """True when the metadata says so or one of the outlet's subscriber-stub `selectors` matches."""
    return info.paywalled or any(tree.css_first(s) is not None for s in selectors)
