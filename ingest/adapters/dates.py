"""Date strings -> aware datetimes.

Contract: `parse_date(text, tz)` turns ISO 8601, UNIX seconds or a written date (English, Ukrainian,
Russian) into an aware datetime or None; `pick_date(values, tz)` gives the first of several, with the
offset the page gives elsewhere. A value without an offset is read in `tz`. Pure: no I/O.
"""

from __future__ import annotations

import html as htmlmod
import re
from datetime import UTC, datetime, timedelta, timezone, tzinfo

_MONTHS = (
    ("jan", "січ", "січен", "янв"), ("feb", "лют", "фев"), ("mar", "берез", "мар"), ("apr", "квіт", "апр"),
    ("may", "трав", "мая", "май"), ("jun", "черв", "июн"), ("jul", "лип", "июл"), ("aug", "серп", "авг"),
    ("sep", "верес", "сен"), ("oct", "жовт", "окт"), ("nov", "листоп", "ноя"), ("dec", "груд", "дек"),
)
_ZONES = {"jst": timezone(timedelta(hours=9), "JST"), "utc": UTC, "gmt": UTC}
_TIME = re.compile(r"(\d{1,2}):(\d{2})(?::(\d{2}))?\s*([ap])?\.?m?\.?\b", re.IGNORECASE)
_NUMERIC = re.compile(r"\b(\d{1,2})\.(\d{1,2})\.(\d{4})\b")


def parse_date(value: str | None, tz: tzinfo) -> datetime | None:
    """ISO 8601, UNIX seconds or a written date ("15:23 JST, November 17, 2024", "29 вересня 2014, 14:55")."""
    parsed = _parse_any(value)
    if parsed is None:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=tz)


def pick_date(values: list[str | None], tz: tzinfo) -> datetime | None:
    """The first date in `values`, aware. Without an offset of its own it takes the offset of a later
    value with the same wall time (JSON-LD "2023-04-28 18:11:01.0", meta "2023-04-28T18:11:01+02:00"),
    and only then `tz`: a German page is not in UTC just because its JSON-LD forgot the offset."""
    parsed = [d for d in map(_parse_any, values) if d is not None]
    if not parsed:
        return None
    first = parsed[0]
    if first.tzinfo is None:
        minute = first.replace(second=0, microsecond=0)
        twin = next((d for d in parsed if d.tzinfo is not None and
                     d.replace(tzinfo=None, second=0, microsecond=0) == minute), None)
        return first.replace(tzinfo=twin.tzinfo if twin is not None else tz)
    return first


def _parse_any(value: str | None) -> datetime | None:
    if not value or not value.strip():
        return None
    value = " ".join(htmlmod.unescape(value).split())
    if value.isdigit() and 9 <= len(value) <= 11:
        return datetime.fromtimestamp(int(value), UTC)
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return _parse_written(value)


def _parse_written(value: str) -> datetime | None:
    lowered = value.lower()
    year_match = re.search(r"\b(19|20)\d{2}\b", lowered)
    numeric = _NUMERIC.search(lowered)
    if numeric:
        day, month, year = int(numeric.group(1)), int(numeric.group(2)), int(numeric.group(3))
    elif year_match:
        words = re.findall(r"[^\W\d_]+|\d{1,2}\b", lowered.replace(year_match.group(0), " "))
        month_at = next((i for i, w in enumerate(words) if _month(w)), None)
        if month_at is None:
            return None
        month, year = _month(words[month_at]), int(year_match.group(0))
        near = [w for w in words[max(month_at - 1, 0): month_at + 2] if w.isdigit() and int(w) <= 31]
        if not near:
            return None
        day = int(near[0])
    else:
        return None
    hour = minute = second = 0
    time_match = _TIME.search(lowered)
    if time_match:
        hour, minute = int(time_match.group(1)), int(time_match.group(2))
        second = int(time_match.group(3) or 0)
        if time_match.group(4) == "p" and hour < 12:
            hour += 12
        elif time_match.group(4) == "a" and hour == 12:
            hour = 0
    zone = next((z for name, z in _ZONES.items() if re.search(rf"\b{name}\b", lowered)), None)
    try:
        return datetime(year, month, day, hour, minute, second, tzinfo=zone)
    except ValueError:
        return None


def _month(word: str) -> int:
    if len(word) < 3:
        return 0
    return next((i + 1 for i, stems in enumerate(_MONTHS) if any(word.startswith(s) for s in stems)), 0)
