"""The headline: a parsed page -> its title without the site's name, and the element that shows it.

Contract: `read_headline(tree, info, selector=..., site_names=...)` returns a Headline: the article's
title and, when the page shows it in an element (the adapter's selector or an <h1>), that element, so
later steps can look for a date or a byline next to it. Pure: no I/O.
"""

from __future__ import annotations

import html as htmlmod
import re
from dataclasses import dataclass

from selectolax.lexbor import LexborHTMLParser, LexborNode

from ingest.adapters.page import PageInfo


@dataclass(frozen=True)
class Headline:
    """The article's title and the element that shows it on the page (None: only in metadata)."""

    text: str
    node: LexborNode | None = None


def read_headline(tree: LexborHTMLParser, info: PageInfo, *, selector: str | None,
                  site_names: tuple[str, ...] = ()) -> Headline:
    """Headline without the site-name suffix: the adapter's selector, JSON-LD, og:title, <h1>, <title>."""
    shown = next((n for n in tree.css(selector) if _text(n)), None) if selector else None
    h1 = next((n for n in tree.css("h1") if _text(n)), None)
    candidates: list[tuple[str | None, LexborNode | None]] = [
        (_text(shown), shown), (info.ld_str("headline"), None), (info.meta.get("og:title"), None),
        (info.meta.get("twitter:title"), None), (_text(h1), h1), (info.page_title, None),
    ]
    title, node = next(((t, n) for t, n in candidates if t), ("", None))
    names = [n.casefold() for n in (*site_names, info.meta.get("og:site_name") or "") if n]
    return Headline(strip_site_name(title, names), node)


def strip_site_name(title: str, names: list[str]) -> str:
    """"Headline | Site" -> "Headline", for any of the casefolded site `names`."""
    while True:
        parts = re.split(r"\s+[|\-–—:·]+\s+", title)
        if len(parts) < 2 or not any(n in parts[-1].casefold() for n in names):
            return title
        title = title[: title.rfind(parts[-1])].rstrip(" |-–—:·")


def _text(node: LexborNode | None) -> str | None:
    text = " ".join(node.text(separator=" ").split()) if node is not None else ""
    return htmlmod.unescape(text) if text else None
