"""Date strings -> datetimes (ingest/clean/adapters/dates.py): machine stamps and dates written for readers."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from ingest.clean.adapters.dates import parse_date, pick_date, scan_dates

KYIV = ZoneInfo("Europe/Kyiv")
FETCHED = datetime(2026, 12, 5, 12, 0)  # the reference: "today" and a date without a year are read against it


@pytest.mark.parametrize(("text", "iso"), [
    # Written the way real pages write them (The Japan News, Ukrainska Pravda, UNN, Ukrinform, US sites).
    ("15:23 JST, November 17, 2024", "2024-11-17T15:23:00+09:00"),
    ("17:41 JST,\u2002October 13, 2024", "2024-10-13T17:41:00+09:00"),
    ("Понеділок, 29 вересня 2014, 14:55", "2014-09-29T14:55:00+03:00"),
    ("8 жовтня, 2014, 14:08", "2014-10-08T14:08:00+03:00"),
    ("12 травня 2025 р., 10:00", "2025-05-12T10:00:00+03:00"),
    ("3 декабря 2020, 18:47", "2020-12-03T18:47:00+02:00"),
    ("January 7, 2024 10:51 PM", "2024-01-07T22:51:00+02:00"),
    ("Sept. 3rd, 2024 at 2:30 p.m. EDT", "2024-09-03T14:30:00-04:00"),
    ("04.05.2026 09:31", "2026-05-04T09:31:00+03:00"),
    ("2024年11月17日 15時23分", "2024-11-17T15:23:00+02:00"),
    ("2025/12/03 10:00 GMT+2", "2025-12-03T10:00:00+02:00"),
    ("Thu, 09/25/2025 - 11:38", "2025-09-25T11:38:00+03:00"),  # a part over 12 is the day, whatever the order
    ("02-12-2025", "2025-12-02T00:00:00+02:00"),  # dashes, like dots, are written day first
    ("Do 25.04.24 | 14:07 Uhr", "2024-04-25T14:07:00+03:00"),  # a two-digit year, with a time
    ("2023 Jan 7", "2023-01-07T00:00:00+02:00"),  # PubMed's citation_publication_date
    ("Fri Apr 28 19:20:36 CEST 2023", "2023-04-28T19:20:36+02:00"),  # Java's Date.toString(), the year last
    # Machine stamps.
    ("2020-12-03T18:47", "2020-12-03T18:47:00+02:00"),
    ("2023-05-17T00:00:00+0000", "2023-05-17T00:00:00+00:00"),
    ('"2025-12-17T13:22:47Z"', "2025-12-17T13:22:47+00:00"),  # quotes left in a JSON-LD value
    ("Fri, 25 Sep 2025 11:38:00 +0000", "2025-09-25T11:38:00+00:00"),
    ("1777876276", "2026-05-04T06:31:16+00:00"),
    ("1777876276000", "2026-05-04T06:31:16+00:00"),  # milliseconds
])
def test_parse_date(text: str, iso: str) -> None:
    parsed = parse_date(text, KYIV)
    assert parsed == datetime.fromisoformat(iso)
    assert parsed is not None
    assert parsed.utcoffset() == datetime.fromisoformat(iso).utcoffset()


def test_a_z_stamp_stays_an_instant_and_a_bare_time_takes_the_zone() -> None:
    tokyo = ZoneInfo("Asia/Tokyo")
    assert parse_date("2024-09-09T21:30:00Z", tokyo) == datetime(2024, 9, 9, 21, 30, tzinfo=UTC)
    bare = parse_date("2024-09-10 00:30", KYIV)
    assert bare is not None
    assert bare.isoformat() == "2024-09-10T00:30:00+03:00"
    assert bare.astimezone(UTC).isoformat() == "2024-09-09T21:30:00+00:00"  # the 9th in UTC, the 10th in Kyiv
    assert parse_date("2024年11月17日 15時23分", tokyo) == datetime(2024, 11, 17, 6, 23, tzinfo=UTC)


def test_slashes_follow_the_page_convention() -> None:
    assert parse_date("05/04/2026", UTC) == datetime(2026, 5, 4, tzinfo=UTC)  # en-US: month first
    assert parse_date("05/04/2026", UTC, month_first=False) == datetime(2026, 4, 5, tzinfo=UTC)
    assert parse_date("13/11/2025 09:21:40", UTC) == datetime(2025, 11, 13, 9, 21, 40, tzinfo=UTC)


def test_dates_without_a_year_need_a_time_and_are_never_after_the_fetch() -> None:
    found = scan_dates("Сьогодні, 14:08", reference=FETCHED)
    assert [f.when for f in found] == [datetime(2026, 12, 5, 14, 8)]
    assert found[0].guessed
    assert [f.when for f in scan_dates("вчера в 09:15", reference=FETCHED)] == [datetime(2026, 12, 4, 9, 15)]
    # 8 October is before 5 December: this year; 20 December would be after the fetch: last year.
    assert scan_dates("8 жовтня о 14:08", reference=FETCHED)[0].when == datetime(2026, 10, 8, 14, 8)
    assert scan_dates("20 грудня о 10:00", reference=FETCHED)[0].when == datetime(2025, 12, 20, 10, 0)
    # A deadline in a sentence, "today" as a word, a version number: no date.
    assert scan_dates("Call for proposals is open until July 31.", reference=FETCHED) == []
    assert scan_dates("Today, the council met.", reference=FETCHED) == []
    assert scan_dates("Version 10.11.12 is out", reference=FETCHED) == []
    assert scan_dates("Сьогодні, 14:08") == []  # no reference, no "today"


def test_labels_tell_published_from_updated() -> None:
    found = scan_dates("Published: March 3, 2024 | Updated: 4 April 2024 09:00 GMT · Опубліковано 5 травня 2024"
                       " · Оновлено 6 травня 2024 · Posted on Jan 2, 2024 · 10 marketing tips for 2025")
    assert [(f.when.date().isoformat(), f.label) for f in found] == [
        ("2024-03-03", "published"), ("2024-04-04", "updated"), ("2024-05-05", "published"),
        ("2024-05-06", "updated"), ("2024-01-02", "published")]
    assert found[1].when.tzinfo == UTC


def test_a_date_without_offset_borrows_it_from_the_same_wall_time() -> None:
    values = [None, "2023-04-28 18:11:01.0", "2023-04-27T09:00:00+02:00", "2023-04-28T18:11:01+02:00"]
    assert pick_date(values, UTC) == datetime.fromisoformat("2023-04-28T18:11:01+02:00")
    # No twin: the source's timezone.
    kyiv = pick_date(["2023-04-28 18:11", "2023-04-27T09:00:00+02:00"], KYIV)
    assert kyiv is not None
    assert kyiv.utcoffset() == datetime.fromisoformat("2023-04-28T18:11:00+03:00").utcoffset()
    assert pick_date(["later", None], UTC) is None


@pytest.mark.parametrize("text", ["", "   ", "no date here", "99.99.2024", "2024-02-30", "31/31/2024", "1.2.3"])
def test_no_date(text: str) -> None:
    assert parse_date(text, UTC) is None
