"""URL keys collapse every variant of one article URL; content hashes ignore formatting noise."""

from __future__ import annotations

import pytest

from ingest.dedup import content_hash, normalize_url, url_key

BASE = "https://www.ukrinform.net/rubric-polytics/3951234-ukraine-japan-talks.html"


@pytest.mark.parametrize("variant", [
    BASE,
    "http://www.ukrinform.net/rubric-polytics/3951234-ukraine-japan-talks.html",
    "https://ukrinform.net/rubric-polytics/3951234-ukraine-japan-talks.html",
    "https://m.ukrinform.net/rubric-polytics/3951234-ukraine-japan-talks.html",
    BASE + "?utm_source=facebook&utm_medium=social&fbclid=IwAR0abc",
    BASE + "?gclid=xyz#comments",
    BASE + "/",
    "https://WWW.UKRINFORM.NET/rubric-polytics/3951234-ukraine-japan-talks.html",
    "https://amp.ukrinform.net/rubric-polytics/3951234-ukraine-japan-talks.html",
    "https://www.ukrinform.net/rubric-polytics/3951234-ukraine-japan-talks.html/amp",
])
def test_url_variants_share_a_key(variant: str) -> None:
    assert url_key(variant) == url_key(BASE)


def test_different_articles_and_meaningful_queries_differ() -> None:
    assert url_key(BASE) != url_key(BASE.replace("3951234", "3951235"))
    assert url_key("https://unn.ua/news?id=1") != url_key("https://unn.ua/news?id=2")
    assert url_key("https://unn.ua/news?b=2&a=1") == url_key("https://unn.ua/news?a=1&b=2")


def test_normalize_url_keeps_the_page_but_drops_tracking() -> None:
    assert normalize_url(BASE + "?utm_campaign=x&id=5#top") == BASE + "?id=5"
    assert normalize_url("https://Example.com:443/a") == "https://example.com/a"


def test_content_hash_ignores_case_space_and_punctuation() -> None:
    a = "Зеленський зустрівся з прем'єром Японії.\n\nДругий абзац."
    b = "зеленський   зустрівся з прем’єром японії\n\nдругий абзац!"
    assert content_hash(a) == content_hash(b)
    assert content_hash(a) != content_hash(a + " Третій абзац.")
