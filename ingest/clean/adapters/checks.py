"""Page checks: raw HTML, its parsed tree and PageInfo -> pass, Rejected, or a yes/no verdict.

Contract: `cut_html(html)` cuts a page over MAX_HTML_CHARS at an element boundary; `check_nesting(html)` raises
Rejected("too-large") before a page too deeply nested to parse safely reaches the parser; `check_blocked(html,
tree, info)` raises Rejected("bot-challenge") for challenge, captcha and consent-wall pages served with status 200;
`looks_like_listing(tree)` says whether a page is an index of links rather than an article; `has_story(text,
min_chars)` says whether extracted text holds running text (a page without it is `too-short`); `is_app_shell(html,
info)` says whether a page's body is an empty shell its scripts fill in the browser; `is_paywalled(tree, info,
selectors)` says whether it is a subscriber-only stub. Pure: no I/O.
"""

from __future__ import annotations

import re
from typing import Final
from urllib.parse import urlsplit

from selectolax.lexbor import LexborHTMLParser, LexborNode

from ingest.clean.adapters.page import PageInfo
from ingest.clean.adapters.preclean import outermost, remove_nodes
from ingest.models import Rejected

MAX_HTML_CHARS = 5_000_000  # a longer page is cleaned up to an element boundary before this (cut_html)
# Where a page over the cap is cut: after the last closing block tag before it, looked for this far back.
_BLOCK_END = re.compile(
    r"</(?:p|div|li|dd|dt|h[1-6]|section|article|aside|main|nav|header|footer|blockquote|figure|figcaption|pre"
    r"|table|tr|td|th|ul|ol|dl|form|center)\s*>", re.IGNORECASE)
_CUT_LOOKBACK = 1_000_000
# Sum of block-element depths at each opening tag: lexbor's cost grows with it (50,000 nested <div>s
# took 5 s). Real pages stay under 10**6; 5 * 10**7 is ~0.1 s of parsing.
MAX_NESTING_COST = 50_000_000
_NESTING_TAGS = re.compile(
    r"<(/?)(?:div|section|article|aside|main|nav|header|footer|blockquote|figure|center|ul|ol|dl|table|form)\b",
    re.IGNORECASE,
)
_NESTING_OPENS = re.compile(
    r"<(?:div|section|article|aside|main|nav|header|footer|blockquote|figure|center|ul|ol|dl|table|form)\b",
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

# Page chrome: menus, mastheads and footers, whose links are the site's, not the page's (a club page with a
# 100-link menu is no index). A <header>, <footer> or <aside> inside an <article> is a story's or a teaser's own.
_CHROME = "nav, header, footer, aside, [role=navigation], [role=banner], [role=contentinfo], [role=complementary]"
LISTING_LINKS = 40  # links of the page's own (outside its chrome) an index has at least
_MARKER_CHARS: Final = 200_000  # a challenge or consent wall says so in the page's head, well before this
# An index page: LISTING_LINKS links at least, 45% of its text in links, fewer than 3 paragraphs of 40 words.
_LINKED_SHARE: Final = 0.45
_STORY_PARAGRAPH_WORDS: Final = 40
_STORY_PARAGRAPHS: Final = 3

# A sentence ends with a full stop, question or exclamation mark (Latin, Devanagari, Arabic, Urdu, Ethiopic,
# Armenian, Burmese, Tibetan), maybe closed by a quote or bracket, before a space or the end; or with a CJK one.
_SENTENCE_END = re.compile(r"[.!?…।॥؟۔።։။།][\"'”’»)\]]*(?:\s|$)|[。！？｡]")
# Ideographs, kana and hangul syllables carry about two Latin letters' worth of text each; Chinese and
# Japanese, written without spaces, have about a word per two of them.
_WIDE = re.compile(r"[\u1100-\u11ff\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]")
_UNSPACED = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
# A one-sentence news item is ~100 characters; "One line only." or a "Page not found." notice is no story.
# Every stored page of the corpora (wcxb-dev, fundus, our fixtures) has such a sentence of 60 or more.
SENTENCE_CHARS = 60
_SHELL_WORDS = 20  # a body with fewer visible words shows nothing of its own ("Loading...", a skip link)


def cut_html(html: str, limit: int = MAX_HTML_CHARS) -> tuple[str, bool]:
    """`html` and False when it is at most `limit` characters; else its part up to the end of the last closing
    block tag within them, and True. Cut anywhere else, the text ended mid-paragraph, or with a literal "</"."""
    if len(html) <= limit:
        return html, False
    end = None
    for match in _BLOCK_END.finditer(html, max(0, limit - _CUT_LOOKBACK), limit):
        end = match.end()
    if end is None:  # no block closes near the cap: before the last tag that starts under it, whole or not
        end = html.rfind("<", 0, limit)
        end = end if end > 0 else limit
    return html[:end], True


def check_nesting(html: str) -> None:
    """Raise Rejected("too-large") when block nesting would make parsing quadratic."""
    # Even all nested in one another, so few block tags would pass: count them (fast), walk only past that.
    for opens in (html.count("<"), len(_NESTING_OPENS.findall(html))):
        if opens * (opens + 1) // 2 <= MAX_NESTING_COST:
            return
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
    lowered = html[:_MARKER_CHARS].lower()
    for marker in (*_CHALLENGE_MARKERS, *_CONSENT_MARKERS):
        if marker in lowered:
            raise Rejected("bot-challenge", f"{marker!r} on a page of {visible} words")


def looks_like_listing(tree: LexborHTMLParser) -> bool:
    """A page whose text is mostly link text, with many links of its own: an index, not an article."""
    body = tree.body
    if body is None:
        return False
    total = _words(body.text(separator=" "))
    links = [a for a in body.css("a") if a.attributes.get("href")]
    linked = _words(" ".join(a.text(separator=" ") for a in links))
    long_paragraphs = sum(1 for p in body.css("p") if _words(p.text()) >= _STORY_PARAGRAPH_WORDS)
    if len(links) < LISTING_LINKS or linked < _LINKED_SHARE * total or long_paragraphs >= _STORY_PARAGRAPHS:
        return False
    # The links must be the page's own: outside its chrome, still many, or fewer but most of what is left
    # (a section page of 30 headlines under a 60-link menu).
    chrome = outermost([n for n in body.css(_CHROME) if not _in_article(n)])
    chrome_links = [a for n in chrome for a in n.css("a") if a.attributes.get("href")]
    own_links = len(links) - len(chrome_links)
    own_total = total - _words(" ".join(n.text(separator=" ") for n in chrome))
    own_linked = linked - _words(" ".join(a.text(separator=" ") for a in chrome_links))
    return own_links >= LISTING_LINKS or (own_links >= LISTING_LINKS // 2 and own_linked >= _LINKED_SHARE * own_total)


def has_story(text: str, min_chars: int) -> bool:
    """True when `text` holds running text: a paragraph that is a sentence of SENTENCE_CHARS or more, or any
    paragraph of `min_chars` (scripts written without full stops). No text, a menu or a one-liner is none."""
    return any(_width(paragraph) >= min_chars or is_sentence(paragraph) for paragraph in text.split("\n\n"))


def is_sentence(paragraph: str) -> bool:
    """True when `paragraph` is (holds) a sentence of at least SENTENCE_CHARS: a story, however short."""
    return _width(paragraph) >= SENTENCE_CHARS and bool(_SENTENCE_END.search(paragraph))


def _width(text: str) -> int:
    """Characters, a Han, kana or Hangul one counted twice (it says as much as two letters)."""
    return len(text) + len(_WIDE.findall(text))


def is_app_shell(html: str, info: PageInfo) -> bool:
    """True when the page's body shows (next to) no text, an app filling it in the browser, and its metadata
    names this very page (a canonical or og:url below the home page), so that its description is its own: an
    app serving one shell at every address names the home page, or nothing."""
    named = info.canonical or info.meta.get("og:url") or ""
    if not urlsplit(named.strip()).path.strip("/"):
        return False
    tree = LexborHTMLParser(html)
    remove_nodes(tree.css("script, style, noscript, template"))
    return tree.body is None or len(tree.body.text(separator=" ").split()) < _SHELL_WORDS


def _words(text: str) -> int:
    """Words of `text`; Chinese and Japanese counted at two characters a word."""
    return len(text.split()) + len(_UNSPACED.findall(text)) // 2


def _in_article(node: LexborNode) -> bool:
    parent = node.parent
    while parent is not None:
        if parent.tag == "article":
            return True
        parent = parent.parent
    return False


def is_paywalled(tree: LexborHTMLParser, info: PageInfo, selectors: tuple[str, ...]) -> bool:
    """True when the metadata says so or one of the outlet's subscriber-stub `selectors` matches."""
    return info.paywalled or any(tree.css_first(s) is not None for s in selectors)
