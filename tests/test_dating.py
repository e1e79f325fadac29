"""A page's publication date, step by step (ingest/clean/adapters/dating.py, dateline.py), on real pages.

Each step of the chain is shown on a page from ../shared/corpus where it is the one that answers, or on a
fixture built from such a page by taking the earlier steps' evidence out. `date_source` says which step it was.
"""

from __future__ import annotations

import dataclasses
import json
import re
from datetime import UTC, datetime

import pytest
from conftest import corpus_bytes

from ingest.clean.adapters import adapter_for_url, get_adapter
from ingest.clean.parse import page_from_bytes, parse_page
from ingest.config import Source
from ingest.models import Article

ESPRESO = "outlets/espreso/espreso.tv_news_2014_10_08_v_donecku_boyovyky_zakhopyly_pryvatne_mebleve_pidpryyemstvo.html"
ESPRESO_URL = "http://espreso.tv/news/2014/10/08/v_donecku_boyovyky_zakhopyly_pryvatne_mebleve_pidpryyemstvo"
PRAVDA = "outlets/pravda/pravda.com.ua_news_2014_09_29_7039242.html"
PRAVDA_URL = "http://www.pravda.com.ua/news/2014/09/29/7039242/"


def parse(body: bytes, url: str, *, slug: str | None = None, language: str | None = None,
          timezone: str | None = None, fetched: datetime | None = None) -> Article:
    """The page through `ingest extract`'s path: the adapter for its URL (or `slug`) and parse_page."""
    adapter = get_adapter(slug) if slug else adapter_for_url(url)
    host = (re.match(r"https?://(?:www\.)?([^/]+)", url) or re.match("(.*)", url)).group(1)
    source = Source(slug="x", adapter=adapter.slug, domains=(host,), language=language, timezone=timezone)
    page = page_from_bytes(body, url)
    if fetched is not None:
        page = dataclasses.replace(page, fetched_at=fetched)
    return parse_page(adapter, source, page)


def wcxb(file_id: str) -> tuple[bytes, str, str | None, datetime | None]:
    """(page, url, gold publication day, crawl time) of a wcxb-dev page."""
    record = json.loads(corpus_bytes(f"wcxb-dev/ground-truth/{file_id}.json"))
    crawled = record.get("downloaded_at")
    when = datetime.fromisoformat(crawled).replace(tzinfo=UTC) if crawled else None
    return corpus_bytes(f"wcxb-dev/html/{file_id}.html.gz"), record["url"], record["ground_truth"]["publish_date"], when


def day(article: Article) -> str | None:
    """The publication day in the offset the page gave."""
    return article.published_at.date().isoformat() if article.published_at else None


# --- each step of the chain ----------------------------------------------------------------------------

def test_json_ld_comes_first() -> None:
    article = parse(corpus_bytes("fundus/uk/BBC_2026_04_25.html.gz"), "https://www.bbc.com/news/articles/clymn8zyrp9o")
    assert article.date_source == "json-ld"
    assert article.published_at == datetime.fromisoformat("2012-05-10T14:29:05+00:00")


@pytest.mark.parametrize("file_id", ["0046", "0363"])
def test_meta_tags_when_there_is_no_json_ld(file_id: str) -> None:
    body, url, gold, crawled = wcxb(file_id)
    article = parse(body, url, fetched=crawled)
    assert article.date_source == "meta"
    assert day(article) == gold


def test_the_adapters_selector_reads_a_date_written_for_readers() -> None:
    # Ukrainska Pravda 2014: no JSON-LD, no meta; the date line says "Понеділок, 29 вересня 2014, 14:55".
    article = parse(corpus_bytes(PRAVDA), PRAVDA_URL)
    assert article.adapter == "pravda"
    assert article.date_source == "selector"
    assert article.published_at == datetime.fromisoformat("2014-09-29T14:55:00+03:00")


def test_a_time_element_next_to_the_headline() -> None:
    # Its datetime attribute is "02-12-2025", written day first; the page has no JSON-LD or meta date.
    body, url, gold, crawled = wcxb("0429")
    article = parse(body, url, fetched=crawled)
    assert article.date_source == "time"
    assert day(article) == gold == "2025-12-02"


def test_a_time_element_in_a_page_whose_body_class_says_recommended() -> None:
    # <body class="segment--recommended">: the headline's own ancestors are the article's layout.
    url = "https://www.telegraph.co.uk/recommended/home/best-heated-clothes-airer/"
    article = parse(corpus_bytes("fundus/uk/TheTelegraph_2023_08_30.html.gz"), url)
    assert article.date_source == "time"
    assert article.published_at == datetime.fromisoformat("2023-08-30T16:45:00+01:00")


def test_date_text_under_the_headline_in_the_sources_timezone() -> None:
    # Espreso 2014: a bare <html>, no metadata; "8 жовтня, 2014, 14:08" under the headline. Kyiv time: the
    # page's letters say Ukrainian, and a source with language "uk" says so too.
    for language in (None, "uk"):
        article = parse(corpus_bytes(ESPRESO), ESPRESO_URL, language=language)
        assert article.date_source == "text"
        assert article.language == "uk"
        assert article.published_at == datetime.fromisoformat("2014-10-08T14:08:00+03:00")


def test_the_url_when_the_page_shows_no_date() -> None:
    # The same page without its date line: the URL's /2014/10/08/ is the day, in the outlet's zone.
    page = corpus_bytes(ESPRESO).decode("utf-8")
    stripped = re.sub(r'<div class="authorDate">[^<]*</div>', "", page)
    assert stripped != page
    article = parse(stripped.encode(), ESPRESO_URL, language="uk")
    assert article.date_source == "url"
    assert article.published_at == datetime.fromisoformat("2014-10-08T00:00:00+03:00")


def test_an_update_date_when_it_is_the_only_date_shown() -> None:
    body, url, gold, _ = wcxb("0019")  # "Last updated: Dec 12, 2025", nothing else
    article = parse(body, url, fetched=datetime(2026, 1, 3, tzinfo=UTC))
    assert article.date_source == "updated"
    assert day(article) == gold
    assert article.modified_at == article.published_at


def test_htmldate_as_the_last_resort() -> None:
    body, url, gold, crawled = wcxb("0233")
    article = parse(body, url, fetched=crawled)
    assert article.date_source == "htmldate"
    assert day(article) == gold


def test_a_date_shown_as_published_beats_a_restamped_json_ld_date() -> None:
    # JSON-LD says 2025-08-21 (and modified 2025-08-20); the byline says "Published Apr 26, 2023".
    body, url, gold, crawled = wcxb("0358")
    article = parse(body, url, fetched=crawled)
    assert (article.date_source, day(article)) == ("text", gold)


def test_an_unlabelled_date_in_the_lead_does_not_beat_json_ld() -> None:
    # AP: the lead mentions April 18 right under the headline; JSON-LD's April 28 stands.
    url = "https://apnews.com/article/mexico-economy-growth-3cc842471fb9df42315d658d88c8403a"
    article = parse(corpus_bytes("fundus/us/APNews_2023_04_28.html.gz"), url)
    assert article.date_source == "json-ld"
    assert day(article) == "2023-04-28"


def test_a_date_after_the_fetch_is_not_a_publication_date() -> None:
    page = corpus_bytes(ESPRESO).decode("utf-8").replace(
        "<head>", '<head><meta property="article:published_time" content="2031-01-01T10:00:00+02:00">', 1)
    article = parse(page.encode(), ESPRESO_URL, language="uk")
    assert article.date_source == "text"
    assert day(article) == "2014-10-08"


# --- an adapter whose selectors stopped matching keeps its date -------------------------------------------

def test_an_adapter_that_falls_back_keeps_its_date() -> None:
    page = corpus_bytes(PRAVDA).decode("cp1251")
    # A redesign renames the story container and the date line's class: the generic path reads both.
    redesigned = page.replace("post_news__text", "story-body").replace("post_news__date", "story-dateline")
    assert redesigned != page
    article = parse(redesigned.encode("utf-8").replace(b"windows-1251", b"utf-8"), PRAVDA_URL)
    assert article.fallback
    assert article.date_source == "text"
    assert article.published_at == datetime.fromisoformat("2014-09-29T14:55:00+03:00")


# --- timezones --------------------------------------------------------------------------------------------

KYIV_PAGE = """<!doctype html><html lang="uk"><head><title>Рада ухвалила бюджет</title>
<script type="application/ld+json">{"@type": "NewsArticle", "headline": "Рада ухвалила бюджет",
"datePublished": "%s"}</script></head><body><article><h1>Рада ухвалила бюджет</h1>%s</article></body></html>"""
STORY = "<p>" + "Верховна Рада ухвалила бюджет на наступний рік після довгого обговорення. " * 4 + "</p>"


def test_a_kyiv_page_at_half_past_midnight() -> None:
    """Kyiv wall time without an offset: the 10th in Kyiv, the 9th in UTC; stored in UTC either way."""
    body = (KYIV_PAGE % ("2024-09-10T00:30:00", STORY)).encode()
    url = "https://news.example.ua/2024/budget"
    kyiv = parse(body, url, language="uk")  # timezone from the language
    assert kyiv.published_at is not None
    assert kyiv.published_at.isoformat() == "2024-09-10T00:30:00+03:00"
    assert kyiv.published_at.astimezone(UTC).isoformat() == "2024-09-09T21:30:00+00:00"
    explicit = parse(body, url, timezone="Europe/Kyiv")
    assert explicit.published_at == kyiv.published_at
    utc = parse(body, url, language="en", timezone="UTC")  # a source that says UTC is read in UTC
    assert utc.published_at is not None
    assert utc.published_at.isoformat() == "2024-09-10T00:30:00+00:00"


def test_a_z_stamp_stays_the_same_instant_in_any_zone() -> None:
    body = (KYIV_PAGE % ("2024-09-09T21:30:00Z", STORY)).encode()
    for timezone in ("Europe/Kyiv", "Asia/Tokyo", "UTC"):
        article = parse(body, "https://news.example.ua/2024/budget", timezone=timezone)
        assert article.published_at == datetime(2024, 9, 9, 21, 30, tzinfo=UTC)


def test_a_tokyo_page() -> None:
    """The Japan News writes "15:23 JST, November 17, 2024"; a page in Japanese without an offset is Tokyo's."""
    ja = ("<!doctype html><html lang='ja'><head><title>岩屋外相がキーウを訪問</title></head><body><article>"
          "<h1>岩屋外相がキーウを訪問</h1><p class='date'>2024年11月17日 15時23分</p>"
          + "<p>" + "岩屋外務大臣は十七日、ウクライナの首都キーウを訪問し、ゼレンスキー大統領と会談した。" * 4 + "</p>"
          + "</article></body></html>")
    article = parse(ja.encode(), "https://www.example.jp/news/20241117-iwaya")
    assert article.language == "ja"
    assert article.date_source == "text"
    assert article.published_at == datetime.fromisoformat("2024-11-17T15:23:00+09:00")
