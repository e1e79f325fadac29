"""Machine date stamps -> datetimes, and the one rule for times that carry no offset.

Contract: `parse_stamp(text)` reads one date stamp as machines write it in feeds, sitemaps, JSON-LD and meta
tags -> datetime, or None when the text is no such stamp. Read are: ISO 8601 / W3C Datetime (`2024-05-17T10:00:00Z`,
`...+03:00`, `2024-05-17 10:00`, the date alone `2024-05-17`, or the year and month `2024-05`, which is the
1st), RFC 822/2822 (`Fri, 17 May 2024 10:00:00 +0300`, weekday optional, time required) and UNIX time in
seconds or milliseconds. Dates written for readers ("17 November 2024") are not stamps: clean/adapters/dates.py
reads those.

The timezone rule, for every caller: a stamp that names an offset (`Z`, `+03:00`, `GMT`, `EST`) is that
instant, and keeps that offset; a stamp that names none (`2024-05-17T10:00:00`, `2024-05-17`, RFC 2822's
`-0000`) is the outlet's wall clock, read in the outlet's zone (the source's `timezone`). `in_zone` applies
it; `read_stamp` is both steps. So a backfill's days are the outlet's calendar days, whether a date came
from a sitemap or from the page itself. Pure: no I/O; imports nothing of ingest.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, tzinfo
from email.utils import parsedate_to_datetime
from typing import Final

# UNIX time as digits: 9 digits reach back to 1973, 10 are seconds until 2286, 13 are milliseconds.
_UNIX_DIGITS: Final = range(9, 14)
_MS_DIGITS: Final = 11  # longer than this: milliseconds
# W3C Datetime (the sitemap protocol's format) allows a bare year and month.
_YEAR_MONTH: Final = re.compile(r"\d{4}-\d{2}")
# RFC 822/2822's date-time: [weekday ","] day month year hour:minute, then seconds and zone.
_RFC_2822: Final = re.compile(r"(?:[A-Za-z]{3},\s*)?\d{1,2} [A-Za-z]{3} \d{2,4} \d{1,2}:\d{2}")


def parse_stamp(value: str | None) -> datetime | None:
    """A machine-written date stamp -> datetime, naive when it names no offset; None when it is no stamp."""
    text = " ".join((value or "").split())
    if not text:
        return None
    if text.isdigit() and len(text) in _UNIX_DIGITS:
        seconds = int(text) / (1000 if len(text) > _MS_DIGITS else 1)
        return datetime.fromtimestamp(seconds, UTC)
    if _YEAR_MONTH.fullmatch(text):
        text += "-01"
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        pass
    if _RFC_2822.match(text):
        try:
            # "-0000" (offset unknown) comes back naive: the outlet's clock, like any stamp without an offset.
            return parsedate_to_datetime(text)
        except (TypeError, ValueError):
            pass
    return None


def in_zone(when: datetime, zone: tzinfo) -> datetime:
    """`when` as an aware datetime: its own offset if it has one, else its wall clock read in `zone`."""
    return when if when.tzinfo is not None else when.replace(tzinfo=zone)


def read_stamp(value: str | None, zone: tzinfo) -> datetime | None:
    """A machine-written date stamp -> aware datetime (see the module's timezone rule); None when it is none."""
    parsed = parse_stamp(value)
    return in_zone(parsed, zone) if parsed is not None else None
