"""Ukrainska Pravda (pravda.com.ua and its sister sites: epravda, life, eurointegration) -> Article.

Contract: as `Adapter.parse`. Layouts: 2025+ `article.post_article` with `div.post_article_text` (long
reads) or `article.post_news` with `div.post_news_text` (news); 2014-2016 `div.post_news__text`.
Old pages are windows-1251 and have no JSON-LD: the date comes from the visible date line.
"""

from __future__ import annotations

import re
from typing import ClassVar

from ingest.clean.adapters.base import Adapter


class PravdaAdapter(Adapter):
    """Ukrainska Pravda and its sister sites, old and current layouts."""

    slug: ClassVar[str] = "pravda"
    domains: ClassVar[tuple[str, ...]] = ("pravda.com.ua", "epravda.com.ua", "eurointegration.com.ua")
    article_url: ClassVar[re.Pattern[str] | None] = re.compile(
        r"/(?:news|articles|columns|interview|publications)/\d{4}/\d{2}/\d{2}/\d+/?(?:[?#]|$)"
        r"|/[a-z-]+/[\w-]+-\d{6,}/?(?:[?#]|$)"
    )
    title: ClassVar[str | None] = "h1.post_article_title, h1.post_news_title, h1.post_news__title"
    body: ClassVar[str | None] = (
        "div.post_article_text, div.post_news_text, div.post_news__text, div.post_text"
    )
    author: ClassVar[str | None] = "span.post_author_name, span.post_news_author, span.post__author"
    date: ClassVar[str | None] = "div.post_news__date, div.post_news_date, span.post_author_date"
    tags: ClassVar[str | None] = "div.post_news_tags a, div.post__tags a"
    remove: ClassVar[tuple[str, ...]] = (
        "div.image-box", "div.advtext", "div.advtext_mob", "div.nts-ad", "[data-ym-ad]", "table.tb_center",
        "div.post__source", "div.unit_bottom-banner", "div.unit_side_banner", "div.unit_header_banner",
    )
    site_names: ClassVar[tuple[str, ...]] = (
        "Українська правда", "Украинская правда", "Ukrainska Pravda", "Економічна правда",
        "Экономическая правда",
    )
    desk: ClassVar[str | None] = "Українська правда"
    timezone: ClassVar[str] = "Europe/Kyiv"
    default_language: ClassVar[str | None] = "uk"
