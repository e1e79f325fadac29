"""Ukrinform (all language editions) -> Article.

Contract: as `Adapter.parse`. Current layout (2020-2026): `article.news`, `h1.newsTitle`, the lead in
`div.newsHeading` and the story in `div.newsText`, with "Читайте також" (`section.read`) blocks inside it.
"""

from __future__ import annotations

import re
from typing import ClassVar

from ingest.clean.adapters.base import Adapter


class UkrinformAdapter(Adapter):
    """Ukrinform: the state news agency, one layout for every edition."""

    slug: ClassVar[str] = "ukrinform"
    domains: ClassVar[tuple[str, ...]] = (
        "ukrinform.ua", "ukrinform.net", "ukrinform.ru", "ukrinform.de", "ukrinform.es", "ukrinform.fr",
        "ukrinform.jp", "ukrinform.pl", "ukrinform.org", "ukrinform.com",
    )
    article_url: ClassVar[re.Pattern[str] | None] = re.compile(
        r"/rubric-[\w-]+/\d{6,}-[\w-]+\.html(?:[?#]|$)"
    )
    title: ClassVar[str | None] = "h1.newsTitle"
    lead: ClassVar[str | None] = "div.newsHeading"
    body: ClassVar[str | None] = "div.newsText"
    date: ClassVar[str | None] = "div.newsDate time[datetime]"
    tags: ClassVar[str | None] = "aside.tags a.tag"
    remove: ClassVar[tuple[str, ...]] = (
        "section.read",  # "Читайте також:" / "Read also:" inside the story
        "div.afterNewItemMobileBanner", "[data-name]", "img.pixel", "div.newsMetaBlock",
        "div.video-container",
    )
    site_names: ClassVar[tuple[str, ...]] = ("Ukrinform", "Укрінформ", "Укринформ")
    desk: ClassVar[str | None] = "Ukrinform"
    timezone: ClassVar[str] = "Europe/Kyiv"
