"""Machine date stamps and the timezone rule (ingest/when.py), shared by feeds, sitemaps and pages."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from ingest.clean.adapters.dates import parse_date
from ingest.crawl.discover import parse_feed, parse_sitemap
from ingest.when import parse_stamp, read_stamp

KYIV = ZoneInfo("Europe/Kyiv")

# (stamp, the instant it is for a Kyiv outlet, the offset kept or None when read in the outlet's zone)
STAMPS = [
    ("2024-09-09T21:30:00Z", "2024-09-09T21:30:00+00:00", "+00:00"),  # Ukrinform's sitemap <lastmod>
    ("2024-09-10T00:30:00+03:00", "2024-09-10T00:30:00+03:00", "+03:00"),  # JSON-LD with its offset
    ("2023-05-17T00:00:00+0000", "2023-05-17T00:00:00+00:00", "+00:00"),
    ("2024-09-10T00:30:00", "2024-09-10T00:30:00+03:00", None),  # naive: the outlet's clock
    ("2024-09-10 00:30", "2024-09-10T00:30:00+03:00", None),
    ("2024-09-10", "2024-09-10T00:00:00+03:00", None),  # date only: midnight of the outlet's day
    ("2024-09", "2024-09-01T00:00:00+03:00", None),  # W3C Datetime's year and month
    ("Tue, 10 Sep 2024 00:30:00 +0300", "2024-09-10T00:30:00+03:00", "+03:00"),  # RSS <pubDate>
    ("Mon, 09 Sep 2024 21:30:00 GMT", "2024-09-09T21:30:00+00:00", "+00:00"),
    ("10 Sep 2024 00:30:00 +0300", "2024-09-10T00:30:00+03:00", "+03:00"),  # RFC 2822 without a weekday
    ("Tue, 10 Sep 2024 00:30:00 -0000", "2024-09-10T00:30:00+03:00", None),  # -0000: offset unknown
    ("Tue, 10 Sep 2024 00:30:00", "2024-09-10T00:30:00+03:00", None),
    ("1725917400", "2024-09-09T21:30:00+00:00", "+00:00"),  # UNIX seconds
    ("1725917400000", "2024-09-09T21:30:00+00:00", "+00:00"),  # milliseconds
]


@pytest.mark.parametrize(("stamp", "iso", "offset"), STAMPS)
def test_read_stamp(stamp: str, iso: str, offset: str | None) -> None:
    parsed = read_stamp(stamp, KYIV)
    assert parsed == datetime.fromisoformat(iso)
    assert parsed is not None
    naive = parse_stamp(stamp)
    assert naive is not None
    assert (naive.tzinfo is None) == (offset is None)
    if offset is not None:
        assert parsed.isoformat().endswith(offset)


@pytest.mark.parametrize("text", [
    None, "", "   ", "garbage", "yesterday", "17 September 2024", "Tue, 10 Sep 2024", "2024", "N/A",
    "12345678",  # too short for UNIX time, no ISO date
])
def test_not_a_stamp(text: str | None) -> None:
    assert parse_stamp(text) is None
    assert read_stamp(text, KYIV) is None


@pytest.mark.parametrize(("stamp", "iso", "offset"), STAMPS)
def test_feeds_sitemaps_and_pages_agree(stamp: str, iso: str, offset: str | None) -> None:
    """One rule everywhere: a backfill's days are the outlet's, whichever of the three gave the date."""
    expected = datetime.fromisoformat(iso)
    sitemap = ('<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><url>'
               f"<loc>https://www.ukrinform.ua/a-1</loc><lastmod>{stamp}</lastmod></url></urlset>")
    [from_sitemap], _ = parse_sitemap(sitemap, "https://www.ukrinform.ua/sitemap.xml", "ukrinform", "Europe/Kyiv")
    feed = (f'<rss version="2.0"><channel><item><link>https://www.ukrinform.ua/a-1</link>'
            f"<pubDate>{stamp}</pubDate></item></channel></rss>")
    [from_feed] = parse_feed(feed, "https://www.ukrinform.ua/rss", "ukrinform", "Europe/Kyiv")
    from_page = parse_date(stamp, KYIV)
    assert from_sitemap.published_at == from_feed.published_at == from_page == expected
    # Links are stored in UTC; a page's date keeps the offset it gave.
    assert from_sitemap.published_at is not None
    assert from_sitemap.published_at.tzinfo == UTC


def test_feed_without_zone_reads_naive_dates_as_utc() -> None:
    """parse_feed's default zone is UTC, as feedparser read them before the outlet's zone was passed."""
    feed = ('<rss version="2.0"><channel><item><link>https://x.example/a</link>'
            "<pubDate>2024-09-10T00:30:00</pubDate></item></channel></rss>")
    [link] = parse_feed(feed, "https://x.example/rss", "generic")
    assert link.published_at == datetime(2024, 9, 10, 0, 30, tzinfo=UTC)
