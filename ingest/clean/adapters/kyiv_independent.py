"""The Kyiv Independent -> Article.

Contract: as `Adapter.parse`. A Ghost site: story in the post content (`div.post-content` /
`section.gh-content`), with Ghost bookmark cards as inline "read also" links, an AI-audio player note,
a news-feed sidebar and Mailchimp subscribe boxes around it; news items are bylined to the news desk.
"""

from __future__ import annotations

import re
from typing import ClassVar

from ingest.clean.adapters.base import Adapter


class KyivIndependentAdapter(Adapter):
    """The Kyiv Independent (kyivindependent.com), English-language."""

    slug: ClassVar[str] = "kyiv_independent"
    domains: ClassVar[tuple[str, ...]] = ("kyivindependent.com",)
    # Ghost serves stories at /<slug>/; the rest of the site lives under known prefixes.
    article_url: ClassVar[re.Pattern[str] | None] = re.compile(
        r"^https?://(?:www\.)?kyivindependent\.com/(?!(?:tag|author|authors|page|news-feed|about|membership"
        r"|search|newsletters?|support-us|uk)(?:/|$))[a-z0-9]+(?:-[a-z0-9]+)+/?(?:[?#]|$)"
    )
    title: ClassVar[str | None] = "h1.post__title, h1.gh-article-title"
    lead: ClassVar[str | None] = "p.post__excerpt, p.gh-article-excerpt"
    body: ClassVar[str | None] = "div.post-content, section.gh-content, div.gh-content"
    author: ClassVar[str | None] = "div.post__authors a.post__author-name, span.gh-article-author-name"
    date: ClassVar[str | None] = "time.post__date[datetime]"
    section: ClassVar[str | None] = "a.post__tag"
    tags: ClassVar[str | None] = "div.post__tags a"
    remove: ClassVar[tuple[str, ...]] = (
        "figure.kg-bookmark-card",  # inline "read also" cards
        "div.kg-signup-card", "#mc_embed_signup", "div.post__audio", "div.post__share", "div.news-feed",
        "div.editors-picks",
    )
    site_names: ClassVar[tuple[str, ...]] = ("The Kyiv Independent", "Kyiv Independent")
    desk: ClassVar[str | None] = "The Kyiv Independent news desk"
    timezone: ClassVar[str] = "Europe/Kyiv"
    default_language: ClassVar[str | None] = "en"
