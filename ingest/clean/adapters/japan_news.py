"""The Japan News by The Yomiuri Shimbun -> Article.

Contract: as `Adapter.parse`. WordPress layout: headline in `div.bloc_1 h1`, story in
`div#p-article-block` after a `p.byline` ("By A and B / Yomiuri Shimbun Staff Writers") and a
`p.postdate` ("15:23 JST, November 17, 2024"); related lists and rankings follow. The site has served an
AWS WAF challenge page with status 200: the base class rejects it as "bot-challenge".
"""

from __future__ import annotations

import re
from typing import ClassVar

from selectolax.lexbor import LexborHTMLParser

from ingest.clean.adapters.base import Adapter
from ingest.clean.adapters.page import PageInfo


class JapanNewsAdapter(Adapter):
    """The Japan News (japannews.yomiuri.co.jp), English edition of the Yomiuri."""

    slug: ClassVar[str] = "japan_news"
    domains: ClassVar[tuple[str, ...]] = ("japannews.yomiuri.co.jp",)
    article_url: ClassVar[re.Pattern[str] | None] = re.compile(r"/\d{8}-\d+/?(?:[?#]|$)")
    title: ClassVar[str | None] = "div.bloc_1 h1"
    body: ClassVar[str | None] = "div#p-article-block"
    author: ClassVar[str | None] = "p.byline"
    date: ClassVar[str | None] = "p.postdate"
    section: ClassVar[str | None] = "div.bloc_1 span.design_1"
    paywall: ClassVar[tuple[str, ...]] = (
        "meta[name='cXenseParse:yoj-articletype']:not([content='free'])", "div.p-article-premium",
    )
    remove: ClassVar[tuple[str, ...]] = (
        "p.byline", "p.postdate", "figure", "#article-inline-offer", "div.goolenewsfeed", "div.latestlist",
        "div.popularlist", "div.ranking", "ul.sns-button",
    )
    site_names: ClassVar[tuple[str, ...]] = ("The Japan News",)
    desk: ClassVar[str | None] = "The Yomiuri Shimbun"
    timezone: ClassVar[str] = "Asia/Tokyo"
    default_language: ClassVar[str | None] = "en"
    # The JSON-LD comes from a WordPress plugin: its date is the post's save time (seconds later than the
    # editorial time in meta and on the page) and its author is the CMS user, not the byline.
    date_order: ClassVar[tuple[str, ...]] = ("meta", "page", "ld")
    trust_ld_authors: ClassVar[bool] = False

    def read_tags(self, tree: LexborHTMLParser, info: PageInfo) -> list[str]:
        """Topic tags; the site's keywords are internal labels ("無料記事": free article), not topics."""
        return [t for t in super().read_tags(tree, info) if not re.search(r"[\u3040-\u30ff\u4e00-\u9fff]", t)]
