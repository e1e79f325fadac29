"""UNN, Ukrainian National News (unn.ua; unn.com.ua until 2023) -> Article.

Contract: as `Adapter.parse`. Current layout: headline, a bold lead, a "Kyiv • UNN" dateline, then the
story; a "latest news" feed with "08:49 PM • 32251 views" lines sits beside it. Old layout (unn.com.ua):
`div.b-news-text[itemprop=articleBody]` opening with "КИЇВ. 3 грудня. УНН." (junk.toml strips it).
"""

from __future__ import annotations

import re
from typing import ClassVar

from ingest.clean.adapters.base import Adapter


class UnnAdapter(Adapter):
    """UNN news agency, Ukrainian, Russian and English editions."""

    slug: ClassVar[str] = "unn"
    domains: ClassVar[tuple[str, ...]] = ("unn.ua", "unn.com.ua")
    article_url: ClassVar[re.Pattern[str] | None] = re.compile(
        r"/(?:(?:uk|ru|en)/)?news/(?:\d+-)?[a-z0-9]+(?:-[a-z0-9]+){2,}/?(?:[?#]|$)"
    )
    title: ClassVar[str | None] = "h1.article__title, div.b-news-full h1.title"
    lead: ClassVar[str | None] = "div.article__lead"
    body: ClassVar[str | None] = "div.article__content, div.b-news-text"
    author: ClassVar[str | None] = "a.article__author-name, [itemprop=author] [itemprop=name]"
    date: ClassVar[str | None] = "time.article__date[datetime], [itemprop=datePublished]"
    section: ClassVar[str | None] = "a.article__rubric, [itemprop=articleSection]"
    tags: ClassVar[str | None] = "div.article__tags a, div.b-news-tags a"
    remove: ClassVar[tuple[str, ...]] = (
        "div.article__dateline",  # "Kyiv • UNN"
        "div.article__lead",  # read as the lead, put back as the first paragraph
        "div.article__feed", "div.b-more-news", "div.b-news-source", "div.b-notice-msg", "div.b-news-footer",
    )
    site_names: ClassVar[tuple[str, ...]] = ("UNN", "УНН")
    desk: ClassVar[str | None] = "UNN"
    timezone: ClassVar[str] = "Europe/Kyiv"
