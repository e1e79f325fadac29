"""discover.py: feeds, sitemaps and listing pages -> Links, and the date filters backfill uses.

Fixtures under fixtures/discover/ are either real pages (the two 2016 listing pages, copied from the
shared corpus) or written to look exactly like each outlet's real file (see the test docstrings).
Protocol edge cases (XXE, RDF, broken XML) are written inline, small and labelled. The listing
pages are named .htm: they are discovery samples, not adapter golden fixtures.
"""

from __future__ import annotations

import gzip
import re
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from ingest.crawl import discover
from ingest.crawl.discover import (
    MAX_SITEMAP_BYTES,
    Sitemap,
    listing_urls,
    parse_feed,
    parse_listing,
    parse_sitemap,
    select_sitemaps,
    sitemap_overlaps,
)
from ingest.models import Link, Window

FIXTURES = Path(__file__).parent / "fixtures" / "discover"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


# ---------------------------------------------------------------- feeds


def test_ukrinform_block_lastnews_feed() -> None:
    """Ukrinform's /rss/block-lastnews: RSS 2.0, Kyiv-time pubDate, absolute links."""
    links = parse_feed(fixture("ukrinform_ua_block-lastnews.xml"),
                       "https://www.ukrinform.ua/rss/block-lastnews", "ukrinform_uk")
    assert [link.url.split("/")[-1][:7] for link in links] == ["4119409", "4119404", "4119314", "4119161"]
    first = links[0]
    assert first == Link(
        url="https://www.ukrinform.ua/rubric-polytics/4119409-zelenskij-ukrainski-droni-mozut-proletiti-"
            "na-paradi-u-moskvi-9-travna.html",
        source="ukrinform_uk", via="feed",
        published_at=datetime(2026, 5, 4, 9, 15, tzinfo=UTC),
        title="Зеленський: Українські дрони можуть пролетіти на параді у Москві 9 травня")
    # 00:20 Kyiv time is still the previous day in UTC
    assert links[-1].published_at == datetime(2026, 5, 3, 21, 20, tzinfo=UTC)


def test_kyiv_independent_ghost_feed() -> None:
    """Ghost's RSS: one-line XML, CDATA titles, GMT pubDate, object-id guids (not URLs)."""
    links = parse_feed(fixture("kyiv_independent_news-archive.rss"),
                       "https://kyivindependent.com/news-archive/rss/", "kyiv_independent")
    assert len(links) == 3
    assert links[1].url == ("https://kyivindependent.com/zelensky-meets-japanese-foreign-minister-"
                            "japan-is-important-and-strong-partner-for-us/")
    assert links[1].title == ("Zelensky meets Japanese Foreign Minister: "
                              "'Japan is important and strong partner for us'")
    assert links[1].published_at == datetime(2024, 1, 7, 20, 51, 4, tzinfo=UTC)
    assert all(link.via == "feed" and link.source == "kyiv_independent" for link in links)


def test_japan_news_wordpress_feed_uses_link_not_guid() -> None:
    """WordPress's guid is '?p=ID' (isPermaLink=false): the article URL is <link>."""
    links = parse_feed(fixture("japan_news_feed.rss"), "https://japannews.yomiuri.co.jp/feed/", "japan_news")
    assert [link.url for link in links] == [
        "https://japannews.yomiuri.co.jp/politics/politics-government/20241117-223461/",
        "https://japannews.yomiuri.co.jp/business/economy/20241115-223102/",
    ]
    assert links[1].title == "Japan’s Economy Grows 0.2% in July-September Quarter"  # &#8217; decoded
    assert links[0].published_at == datetime(2024, 11, 17, 6, 23, tzinfo=UTC)


def test_atom_feed_prefers_published_over_updated() -> None:
    links = parse_feed(fixture("japan_news_feed.atom"), "https://japannews.yomiuri.co.jp/feed/atom/",
                       "japan_news")
    assert links[0].url == "https://japannews.yomiuri.co.jp/politics/politics-government/20241117-223461/"
    assert links[0].published_at == datetime(2024, 11, 17, 6, 23, tzinfo=UTC)  # not <updated> 06:40
    assert links[1].title == "Japan’s Economy Grows 0.2% in July-September Quarter"


def test_rss1_rdf_feed_with_dc_date() -> None:
    rdf = """<?xml version="1.0" encoding="UTF-8"?>
<rdf:RDF xmlns="http://purl.org/rss/1.0/" xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"
 xmlns:dc="http://purl.org/dc/elements/1.1/">
 <channel rdf:about="https://www.example.jp/"><title>Example</title><link>https://www.example.jp/</link>
  <description>d</description>
  <items><rdf:Seq><rdf:li rdf:resource="https://www.example.jp/articles/ASSCK2Q5.html"/></rdf:Seq></items>
 </channel>
 <item rdf:about="https://www.example.jp/articles/ASSCK2Q5.html">
  <title>岩屋外相、ウクライナを訪問</title><link>https://www.example.jp/articles/ASSCK2Q5.html</link>
  <dc:date>2024-11-17T00:35:12+09:00</dc:date>
 </item>
</rdf:RDF>"""
    [link] = parse_feed(rdf, "https://www.example.jp/rss/newsheadlines.rdf", "generic")
    assert link.url == "https://www.example.jp/articles/ASSCK2Q5.html"
    assert link.title == "岩屋外相、ウクライナを訪問"
    assert link.published_at == datetime(2024, 11, 16, 15, 35, 12, tzinfo=UTC)


def test_feed_relative_links_and_declared_charset() -> None:
    rss = """<?xml version="1.0" encoding="windows-1251"?>
<rss version="2.0"><channel><title>УП</title><link>https://www.pravda.com.ua/</link>
<item><title>Новина</title><link>/news/2024/05/17/7455001/</link></item>
<item><title>Дубль</title><link>https://www.pravda.com.ua/news/2024/05/17/7455001/</link></item>
<item><title>Без посилання</title></item>
</channel></rss>"""
    as_text = parse_feed(rss, "https://www.pravda.com.ua/rss/", "pravda_uk")
    as_bytes = parse_feed(rss.encode("cp1251"), "https://www.pravda.com.ua/rss/", "pravda_uk")
    for links in (as_text, as_bytes):
        assert [(link.url, link.title) for link in links] == [
            ("https://www.pravda.com.ua/news/2024/05/17/7455001/", "Новина")]
        assert links[0].published_at is None


@pytest.mark.parametrize("content", [
    b"<!DOCTYPE html><html><head><title>Just a moment...</title></head><body>Checking</body></html>",
    "/etc/passwd",  # feedparser opens a str naming a file; we never let it
    b"",
])
def test_not_a_feed_raises(content: str | bytes) -> None:
    with pytest.raises(ValueError, match="not a feed"):
        parse_feed(content, "https://japannews.yomiuri.co.jp/feed/", "japan_news")


# ---------------------------------------------------------------- sitemaps


def test_google_news_sitemap() -> None:
    """The Japan News /sitemap-news.xml: news:publication_date and news:title, image:loc ignored."""
    links, children = parse_sitemap(fixture("japan_news_sitemap-news.xml"),
                                    "https://japannews.yomiuri.co.jp/sitemap-news.xml", "japan_news")
    assert children == []
    assert [link.url for link in links] == [
        "https://japannews.yomiuri.co.jp/politics/politics-government/20241117-223461/",
        "https://japannews.yomiuri.co.jp/world/asia-pacific/20241117-223455/",
        "https://japannews.yomiuri.co.jp/business/economy/20241115-223102/",  # <loc> padded with whitespace
    ]
    assert links[0].published_at == datetime(2024, 11, 17, 6, 23, tzinfo=UTC)
    assert links[1].published_at == datetime(2024, 11, 16, 23, 5, tzinfo=UTC)
    assert links[1].title == "Biden, Xi Meet on APEC Sidelines in Lima; Trade, Taiwan & North Korea on Agenda"
    assert all(link.via == "sitemap" for link in links)


def test_pravda_monthly_sitemap_index() -> None:
    """Pravda's /sitemap/sitemap-archive.xml: one gzipped child per month, newest first, no lastmod."""
    links, children = parse_sitemap(fixture("pravda_sitemap-archive.xml"),
                                    "https://www.pravda.com.ua/sitemap/sitemap-archive.xml", "pravda_uk")
    assert links == []
    assert len(children) == 60
    assert children[0] == Sitemap("https://www.pravda.com.ua/sitemap/sitemap-2025-12.xml.gz")
    assert children[-1].url.endswith("sitemap-2021-01.xml.gz")


def test_gzipped_pravda_month_child() -> None:
    """sitemap-2025-12.xml.gz: each article thrice (uk, eng, rus), lastmod in Kyiv time."""
    body = gzip.compress(fixture("pravda_sitemap-2025-12.xml"))
    links, children = parse_sitemap(body, "https://www.pravda.com.ua/sitemap/sitemap-2025-12.xml.gz",
                                    "pravda_uk")
    assert children == []
    assert len(links) == 13
    assert links[0].url == "https://www.pravda.com.ua/eng/news/2025/12/01/8009697/"
    assert links[2].url == "https://www.pravda.com.ua/news/2025/12/01/8009697/"
    # 00:08 in Kyiv on Dec 1 is Nov 30 in UTC
    assert links[0].published_at == datetime(2025, 11, 30, 22, 8, tzinfo=UTC)
    assert links[0].title is None


def test_gzip_bomb_is_capped() -> None:
    bomb = gzip.compress(b"<" * (MAX_SITEMAP_BYTES + 1024), compresslevel=1)
    assert len(bomb) < MAX_SITEMAP_BYTES // 100
    with pytest.raises(ValueError, match="larger than 50 MB"):
        parse_sitemap(bomb, "https://example.com/sitemap.xml.gz", "generic")


def test_corrupt_gzip_raises() -> None:
    with pytest.raises(ValueError, match="corrupt gzip"):
        parse_sitemap(b"\x1f\x8b\x08\x00garbage", "https://example.com/sitemap.xml.gz", "generic")


def test_xxe_and_entity_expansion_are_refused(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET")
    hostile = f"""<?xml version="1.0"?>
<!DOCTYPE urlset [
  <!ENTITY xxe SYSTEM "file://{secret}">
  <!ENTITY a "aaaaaaaaaa">
  <!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">
  <!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">
]>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
  <url><loc>&xxe;</loc></url>
  <url><loc>https://example.com/&c;</loc></url>
  <url><loc>https://example.com/news/2024/05/17/safe-article-slug-here/</loc></url>
</urlset>""".encode()
    links, _ = parse_sitemap(hostile, "https://example.com/sitemap.xml", "generic")
    assert [link.url for link in links] == ["https://example.com/news/2024/05/17/safe-article-slug-here/"]
    assert not any("SECRET" in link.url or "aaaa" in link.url for link in links)


def test_truncated_sitemap_keeps_what_it_can() -> None:
    whole = fixture("pravda_sitemap-2025-12.xml")
    cut = whole[: whole.index(b"8009698")]  # the download stopped mid-file
    links, _ = parse_sitemap(cut, "https://www.pravda.com.ua/sitemap/sitemap-2025-12.xml.gz", "pravda_uk")
    assert [link.url for link in links][:3] == [
        "https://www.pravda.com.ua/eng/news/2025/12/01/8009697/",
        "https://www.pravda.com.ua/rus/news/2025/12/01/8009697/",
        "https://www.pravda.com.ua/news/2025/12/01/8009697/",
    ]


@pytest.mark.parametrize(("content", "reason"), [
    (b"<html><body><h1>403 Forbidden</h1><p>nginx", "malformed XML"),
    (b"", "malformed XML"),
    (b"<html><body><p>Just a moment...</p></body></html>", "not a sitemap: root element <html>"),
])
def test_not_a_sitemap_raises(content: bytes, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        parse_sitemap(content, "https://www.pravda.com.ua/sitemap/sitemap.xml", "pravda_uk")


def test_sitemap_tolerates_odd_namespaces_and_declared_text() -> None:
    no_namespace = ("<urlset><url><loc> https://example.com/a-b-c-d </loc>"
                    "<lastmod>2024-05-17</lastmod></url></urlset>")
    # Already-decoded text still declaring windows-1251: the declaration must not be obeyed.
    old_namespace = ('<?xml version="1.0" encoding="windows-1251"?><sitemapindex '
                     'xmlns="http://www.google.com/schemas/sitemap/0.84"><sitemap><loc>https://example.com/новини.xml'
                     '</loc><lastmod>2024-05-17T10:00:00Z</lastmod></sitemap></sitemapindex>')
    links, _ = parse_sitemap(no_namespace, "https://example.com/sitemap.xml", "generic")
    assert links == [Link("https://example.com/a-b-c-d", "generic", "sitemap", datetime(2024, 5, 17, tzinfo=UTC),
                          modified_at=datetime(2024, 5, 17, tzinfo=UTC))]  # lastmod: a revisit when it moves
    _, children = parse_sitemap(old_namespace, "https://example.com/sitemap.xml", "generic")
    assert children == [Sitemap("https://example.com/новини.xml", datetime(2024, 5, 17, 10, tzinfo=UTC))]


def test_image_title_is_not_a_headline() -> None:
    image_only = """<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"
 xmlns:image="http://www.google.com/schemas/sitemap-image/1.1"><url>
 <loc>https://japannews.yomiuri.co.jp/society/general-news/20241116-223380/</loc>
 <image:image><image:loc>https://japannews.yomiuri.co.jp/wp-content/uploads/2024/11/a.jpg</image:loc>
 <image:title>A caption, not a headline</image:title></image:image></url></urlset>"""
    [link], _ = parse_sitemap(image_only, "https://japannews.yomiuri.co.jp/sitemap.xml", "japan_news")
    assert link.title is None
    assert link.url.endswith("/20241116-223380/")


# ---------------------------------------------------------------- listing pages


def same_site_article(domain: str) -> Callable[[str], bool]:
    """A listing's accept(url) for the tests: on `domain` and dated like /news/2016/01/14/7095326/."""
    def accept(url: str) -> bool:
        host = urlsplit(url).hostname or ""
        return (host == domain or host.endswith("." + domain)) and bool(_DATED.search(urlsplit(url).path))
    return accept


_DATED = re.compile(r"/(?:19|20)\d{2}/\d{1,2}/\d{1,2}/[^/]+")


def test_pravda_front_page_listing() -> None:
    """pravda.com.ua front page, 2016, windows-1251: relative /news/... links, each news twice."""
    html = fixture("pravda_home_2016.htm").decode("cp1251")
    links = parse_listing(html, "http://www.pravda.com.ua/", "pravda_uk", same_site_article("pravda.com.ua"))
    urls = [link.url for link in links]
    assert len(urls) == len(set(urls)) == 89
    assert sum(url.startswith("http://life.pravda.com.ua/") for url in urls) == 18
    assert urls[0] == "http://www.pravda.com.ua/news/2016/01/14/7095326/"
    assert links[0].title == "В окупованому Криму зникла кримськотатарська дівчина"
    assert "http://www.pravda.com.ua/news/2016/01/14/7095324/" in urls  # the corpus article is listed
    assert not any(url.endswith(("/news/", "/archives/", "/search/")) for url in urls)
    assert all(link.via == "listing" for link in links)
    dated = [lk for lk in links if "/news/2016/" in lk.url]
    assert dated
    assert all(lk.published_at is not None and lk.published_at.strftime("/%Y/%m/%d/") in lk.url for lk in dated)


def test_espreso_listing_resolves_against_base_href() -> None:
    """espreso.tv/news/, 2016: underscore slugs under /news/YYYY/MM/DD/, <base href>, ?page=N links."""
    html = fixture("espreso_news_2016.htm").decode("utf-8")
    everything = [link.url for link in
                  parse_listing(html, "http://espreso.tv/news/", "espreso", lambda u: True)]
    assert "http://espreso.tv/articles/author/portnikov_vitaliy" in everything  # href="articles/author/..."
    assert "http://espreso.tv/news?page=2" in everything
    news = parse_listing(html, "http://espreso.tv/news/", "espreso",
                         lambda u: urlsplit(u).path.startswith("/news/2016/"))
    assert len(news) == 16
    assert news[0].url == ("http://espreso.tv/news/2016/01/14/"
                           "boyovyky_ne_dotrymuyutsya_peremyrya_za_sogodni_vzhe_10_obstriliv")


def test_listing_strips_fragments_and_skips_non_http() -> None:
    html = """<a href="/news/2024/05/17/7455001/#comments">x</a><a href="/news/2024/05/17/7455001/">Title</a>
    <a href="javascript:void(0)">js</a><a href="mailto:ukrpravda@gmail.com">m</a><a href="#top">top</a>
    <a href="
       /news/2024/05/17/7455002/ ">Two</a>"""
    links = parse_listing(html, "https://www.pravda.com.ua/", "pravda_uk", lambda u: True)
    assert [(link.url, link.title) for link in links] == [
        ("https://www.pravda.com.ua/news/2024/05/17/7455001/", "x"),
        ("https://www.pravda.com.ua/news/2024/05/17/7455002/", "Two"),
    ]


def test_listing_urls() -> None:
    template = "https://japannews.yomiuri.co.jp/latestnews/page/{page}/"
    assert listing_urls(template, 3) == [
        "https://japannews.yomiuri.co.jp/latestnews/page/1/",
        "https://japannews.yomiuri.co.jp/latestnews/page/2/",
        "https://japannews.yomiuri.co.jp/latestnews/page/3/",
    ]
    assert listing_urls("https://www.ukrinform.ua/block-lastnews?page={page}", 2, start=5) == [
        "https://www.ukrinform.ua/block-lastnews?page=5", "https://www.ukrinform.ua/block-lastnews?page=6"]
    assert listing_urls(template, 0) == []
    with pytest.raises(ValueError, match="placeholder"):
        listing_urls("https://www.ukrinform.ua/block-lastnews", 2)


# ---------------------------------------------------------------- date windows


@pytest.mark.parametrize(("url", "first", "last"), [
    ("https://www.pravda.com.ua/sitemap/sitemap-2024-05.xml.gz", date(2024, 5, 1), date(2024, 5, 31)),
    ("https://hromadske.ua/sitemaps/posts/2024/05.xml", date(2024, 5, 1), date(2024, 5, 31)),
    ("https://example.com/sitemap_uk_resonance_202402.xml", date(2024, 2, 1), date(2024, 2, 29)),
    ("https://example.com/sitemap/2024-05-17.xml", date(2024, 5, 17), date(2024, 5, 17)),
    ("https://example.com/sitemap/2024/05/17.xml", date(2024, 5, 17), date(2024, 5, 17)),
    ("https://example.com/news-sitemap-20240517.xml", date(2024, 5, 17), date(2024, 5, 17)),
    ("https://example.com/posts-2024-05-01.xml", date(2024, 5, 1), date(2024, 5, 1)),
    ("https://example.com/sitemap.xml?yyyy=2024&mm=05", date(2024, 5, 1), date(2024, 5, 31)),
    ("https://example.com/sitemap.xml?yyyy=2024&mm=05&dd=17", date(2024, 5, 17), date(2024, 5, 17)),
    ("https://example.com/sitemap-2024-W20.xml", date(2024, 5, 13), date(2024, 5, 19)),
])
def test_sitemap_overlaps_by_url_date(url: str, first: date, last: date) -> None:
    child = Sitemap(url, lastmod=datetime(2000, 1, 1, tzinfo=UTC))  # the URL wins over lastmod
    assert sitemap_overlaps(child, first, last)
    assert sitemap_overlaps(child, last, None)  # boundaries are inclusive
    assert sitemap_overlaps(child, None, first)
    assert not sitemap_overlaps(child, date.fromordinal(last.toordinal() + 1), None)
    assert not sitemap_overlaps(child, None, date.fromordinal(first.toordinal() - 1))
    assert sitemap_overlaps(child, None, None)


def test_sitemap_overlaps_by_lastmod_then_default() -> None:
    modified = Sitemap("https://kyivindependent.com/sitemap-posts.xml", datetime(2024, 5, 16, 23, tzinfo=UTC))
    assert sitemap_overlaps(modified, date(2024, 5, 16), date(2024, 5, 20))
    assert not sitemap_overlaps(modified, date(2024, 5, 17), None)
    assert sitemap_overlaps(modified, None, date(2024, 1, 1))  # lastmod says nothing of older days
    undated = Sitemap("https://www.ukrinform.ua/sitemap/currentweek.xml")
    assert sitemap_overlaps(undated, date(2030, 1, 1), date(2030, 1, 2))


def test_weekly_archive_is_told_from_monthly() -> None:
    """Ukrinform's /sitemap/2026/05.xml is ISO week 5 (Jan 26 - Feb 1), not May."""
    week5 = Sitemap("https://www.ukrinform.ua/sitemap/2026/05.xml")
    assert sitemap_overlaps(week5, date(2026, 1, 30), date(2026, 1, 30), weekly=True)
    assert not sitemap_overlaps(week5, date(2026, 5, 10), date(2026, 5, 10), weekly=True)
    _, index = parse_sitemap(fixture("ukrinform_sitemap.xml"), "https://www.ukrinform.ua/sitemap.xml",
                             "ukrinform_uk")
    chosen = [s.url.removeprefix("https://www.ukrinform.ua/sitemap/")
              for s in select_sitemaps(index, date(2026, 1, 30), date(2026, 2, 2))]
    assert chosen == ["currentweek.xml", "2026/06.xml", "2026/05.xml"]
    _, months = parse_sitemap(fixture("pravda_sitemap-archive.xml"),
                              "https://www.pravda.com.ua/sitemap/sitemap-archive.xml", "pravda_uk")
    chosen = [s.url for s in select_sitemaps(months, date(2025, 11, 30), date(2025, 12, 1))]
    assert chosen == ["https://www.pravda.com.ua/sitemap/sitemap-2025-12.xml.gz",
                      "https://www.pravda.com.ua/sitemap/sitemap-2025-11.xml.gz"]


def test_window_days_are_the_outlets_calendar_days() -> None:
    links = parse_feed(fixture("ukrinform_ua_block-lastnews.xml"),
                       "https://www.ukrinform.ua/rss/block-lastnews", "ukrinform_uk")
    may4 = Window(date(2026, 5, 4), date(2026, 5, 4))
    utc = [link for link in links if may4.contains(link.published_at)]
    kyiv = [link for link in links if may4.contains(link.published_at, "Europe/Kyiv")]
    assert len(utc) == 3  # the 00:20 Kyiv-time item belongs to May 3 in UTC ...
    assert len(kyiv) == 4  # ... and to May 4 on the outlet's calendar
    late = [link for link in kyiv if link not in utc]
    assert [f"{lk.published_at:%Y-%m-%d %H:%M}" for lk in late] == ["2026-05-03 21:20"]
    assert Window(date(2026, 5, 3), date(2026, 5, 3)).contains(late[0].published_at)
    assert not Window(date(2026, 5, 3), date(2026, 5, 3)).contains(late[0].published_at, "Europe/Kyiv")
    assert Window().contains(links[0].published_at)
    assert not Window(date(2026, 5, 5), None).contains(links[0].published_at, "Europe/Kyiv")
    assert not Window(None, date(2026, 5, 3)).contains(links[0].published_at, "Europe/Kyiv")
    assert Window(date(2030, 1, 1), date(2030, 1, 1)).contains(None)  # undated: the article's own date decides
    start, end = Window(date(2024, 9, 10), date(2024, 9, 10)).bounds("Asia/Tokyo")
    assert (start.isoformat(), end.isoformat()) == ("2024-09-09T15:00:00+00:00", "2024-09-10T15:00:00+00:00")


def test_dates_without_offset_and_url_days_are_local() -> None:
    xml = ('<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><url><loc>https://a.jp/n/1</loc>'
           "<lastmod>2024-09-10T00:30:00</lastmod></url></urlset>")
    (tokyo,), _ = parse_sitemap(xml, "https://a.jp/sitemap.xml", "a", "Asia/Tokyo")
    (utc,), _ = parse_sitemap(xml, "https://a.jp/sitemap.xml", "a")
    assert tokyo.published_at.isoformat() == "2024-09-09T15:30:00+00:00"
    assert utc.published_at.isoformat() == "2024-09-10T00:30:00+00:00"
    # A URL's day is the outlet's: it stays that day on its calendar, even fourteen hours east of UTC.
    day = discover.url_day("https://a.ki/news/2024/09/10/1/", "Pacific/Kiritimati")
    assert day is not None
    assert Window(date(2024, 9, 10), date(2024, 9, 10)).contains(day, "Pacific/Kiritimati")
    children = [Sitemap("https://a.jp/s/a.xml", datetime(2024, 9, 9, 16, tzinfo=UTC))]  # 01:00 on the 10th there
    assert select_sitemaps(children, date(2024, 9, 10), None, "Asia/Tokyo") == children
    assert select_sitemaps(children, date(2024, 9, 10), None) == []


@pytest.mark.parametrize(("url", "day"), [
    ("https://www.pravda.com.ua/news/2024/01/14/7095324/", "2024-01-14"),
    ("https://www.pravda.com.ua/eng/news/2025/11/20/7584012/", "2025-11-20"),
    ("http://espreso.tv/news/2014/10/08/v_donecku", "2014-10-08"),
    ("https://example.com/2024-02-29-leap-day-story", "2024-02-29"),
    ("https://www.ukrinform.ua/rubric-polytics/4119314-britania.html", None),
    ("https://japannews.yomiuri.co.jp/politics/20241117-223456/", None),  # an id, not a dated path
    ("https://example.com/news/2024/13/01/x", None),
])
def test_url_day(url: str, day: str | None) -> None:
    found = discover.url_day(url)
    assert (found.date().isoformat() if found else None) == day
    if found:
        assert found.utcoffset() is not None
        assert found.hour == 12


def test_listing_links_carry_the_day_of_their_url() -> None:
    html = ('<a href="/news/2024/01/14/1/">one</a><a href="/news/2023/12/31/2/">two</a>'
            '<a href="/rubric/3-undated.html">three</a>')
    links = discover.parse_listing(html, "https://www.pravda.com.ua/", "p", lambda u: True)
    assert [lk.published_at.date().isoformat() if lk.published_at else None for lk in links] == [
        "2024-01-14", "2023-12-31", None]


def test_a_feed_entry_s_updated_time_is_its_modification_and_rss_without_one_has_none() -> None:
    atom = ('<feed xmlns="http://www.w3.org/2005/Atom"><entry><title>A</title><link href="https://x.org/a"/>'
            "<published>2026-12-01T08:00:00Z</published><updated>2026-12-01T11:30:00Z</updated></entry></feed>")
    rss_only = ('<rss version="2.0"><channel><item><title>B</title><link>https://x.org/b</link>'
                "<pubDate>Tue, 01 Dec 2026 08:00:00 GMT</pubDate></item></channel></rss>")
    [entry] = parse_feed(atom, "https://x.org/feed", "generic")
    assert (entry.published_at, entry.modified_at) == (datetime(2026, 12, 1, 8, tzinfo=UTC),
                                                       datetime(2026, 12, 1, 11, 30, tzinfo=UTC))
    [item] = parse_feed(rss_only, "https://x.org/feed", "generic")
    assert (item.published_at, item.modified_at) == (datetime(2026, 12, 1, 8, tzinfo=UTC), None)
