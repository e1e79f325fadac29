"""Date strings -> datetimes: machine stamps and dates written for readers.

Contract: `parse_date(text, tz)` turns one value (ISO 8601, UNIX seconds or milliseconds, RFC 2822, or a date
written for readers) into an aware datetime or None; a value without an offset is read in `tz`, one with an
offset or a zone name ("JST", "Z") keeps it. `pick_date(values, tz)` gives the first of several, with the offset
the page gives elsewhere. `scan_dates(text)` finds every written date in running text, with its time, zone and
label ("published" / "updated"): numeric forms (04.05.2026, 2024/11/17, 09/25/2025), month names in English,
Ukrainian and Russian ("November 17, 2024", "8 жовтня 2014, 14:08", "3 декабря 2020"), Japanese
(2024年11月17日 15時23分), and "today" / "сьогодні" / "вчера" against a reference time. Pure: no I/O.
"""

from __future__ import annotations

import html as htmlmod
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from typing import Final

from ingest.when import in_zone, parse_stamp

# Each month's spellings, longest first so the alternation takes the whole word.
_MONTH_WORDS = (
    "january jan січня січень січ января январь янв",
    "february feb лютого лютий лют февраля февраль фев",
    "march mar березня березень бер марта март мар",
    "april apr квітня квітень квіт апреля апрель апр",
    "may травня травень трав мая май",
    "june jun червня червень черв июня июнь июн",
    "july jul липня липень лип июля июль июл",
    "august aug серпня серпень серп августа август авг",
    "september sept sep вересня вересень верес сентября сентябрь сент сен",
    "october oct жовтня жовтень жовт октября октябрь окт",
    "november nov листопада листопад лист ноября ноябрь ноя",
    "december dec грудня грудень груд декабря декабрь дек",
)
MONTHS = {word: number for number, words in enumerate(_MONTH_WORDS, 1) for word in words.split()}
_MONTH = "(?:" + "|".join(sorted(MONTHS, key=len, reverse=True)) + r")\b\.?"
_YEAR = r"(?:19|20)\d{2}"
_DAY = r"[0-3]?\d"
_ORD = r"(?:st|nd|rd|th|-?го|-?е)?"
# Zone names a byline prints; ambiguous ones (IST, CST in Asia) are read as the US/European zone news sites mean.
ZONES = {
    "jst": 9, "kst": 9, "utc": 0, "gmt": 0, "z": 0, "est": -5, "edt": -4, "cst": -6, "cdt": -5, "mst": -7,
    "mdt": -6, "pst": -8, "pdt": -7, "cet": 1, "cest": 2, "eet": 2, "eest": 3, "bst": 1, "aest": 10,
    "aedt": 11, "msk": 3,
}
_ZONE = r"(?:\(?(?P<zone>" + "|".join(z for z in ZONES if z != "z") + r")\b\)?" + \
    r"(?:\s*(?P<shift>[+-]\d{1,2})(?::?(?P<shift_m>\d{2}))?)?)"

_DATE = re.compile(
    rf"(?P<iso>(?P<iy>{_YEAR})-(?P<im>[01]?\d)-(?P<id>{_DAY})(?![\d:])"
    rf"(?:[T ](?P<it>\d{{1,2}}:\d{{2}}(?::\d{{2}})?)(?:\.\d+)?(?P<ioff>Z|[+-]\d{{2}}:?\d{{2}})?)?)"
    rf"|(?P<ymd>(?P<ay>{_YEAR})[./](?P<am>[01]?\d)[./](?P<ad>{_DAY})(?!\d))"
    rf"|(?P<num>(?<![\d.])(?P<n1>\d{{1,2}})(?P<sep>[./-])(?P<n2>\d{{1,2}})(?P=sep)(?P<ny>{_YEAR})(?!\d))"
    rf"|(?P<short>(?<![\d.])(?P<sd>{_DAY})\.(?P<sm>[01]?\d)\.(?P<sy>\d{{2}})(?![\d.]))"  # 25.04.24, with a time
    rf"|(?P<ja>(?P<jy>{_YEAR})\s*年\s*(?P<jm>[01]?\d)\s*月\s*(?P<jd>{_DAY})\s*日)"
    rf"|(?P<dmy>(?<!\d)(?P<dd>{_DAY}){_ORD}\.?\s+(?:of\s+)?(?P<dm>{_MONTH})(?:,?\s+(?P<dy>{_YEAR})(?:\s*р(?:оку)?\.?|\s*г(?:ода)?\.?)?)?)"
    rf"|(?P<ywr>(?P<wy>{_YEAR})\s+(?P<wm>{_MONTH}),?\s+(?P<wd>{_DAY})(?!\d))"  # PubMed's "2023 Jan 7"
    rf"|(?P<mdy>\b(?=[^\W\d_]{{3,10}}\.?\s+\d)(?P<mm>{_MONTH})\s+(?P<md>{_DAY}){_ORD}(?!\d)(?:,?\s+(?P<my>{_YEAR}))?)"
    r"|(?P<rel>\b(?:today|yesterday|сьогодні|вчора|сегодня|вчера)\b|今日|昨日)",
    re.IGNORECASE,
)
# A time after the date ("…, 14:08", "at 2:30 p.m. EST", " 15時23分") or before it ("15:23 JST, November 17").
_TIME = rf"(?P<h>[0-2]?\d)(?::|時)(?P<mi>[0-5]\d)(?::(?P<s>[0-5]\d))?分?(?:\s*(?P<ap>[ap])\.?\s?m\b\.?)?(?:\s*{_ZONE})?"
_TIME_AFTER = re.compile(r"[\s,|·•/–—-]*(?:at\s+|o\s+|в\s+|об?\s+|о\s+)?" + _TIME, re.IGNORECASE)
_TIME_BEFORE = re.compile(_TIME + r"[\s,|·•/–—-]*$", re.IGNORECASE)
_DIGITS = re.compile(r"\d+")
_REACH = 24  # characters from a digit to either end of a date with it ("September 3rd, 2024", "Сьогодні, 14:08")
_LATE_YEAR = re.compile(r"\s+\d{1,2}:\d{2}(?::\d{2})?(?:\s+[A-Za-z]{2,5})?\s+((?:19|20)\d{2})\b")
_ZONE_AFTER = re.compile(r"[\s,]*" + _ZONE, re.IGNORECASE)
# Characters looked at around a date for what belongs to it: the year Java's Date.toString() puts after the
# time and zone, a time after it ("…, at 2:30 p.m. EDT") or before it ("15:23 JST, "), a zone name after it,
# and the label before it ("Last updated on").
_LATE_YEAR_REACH: Final = 32
_TIME_REACH: Final = 40
_TIME_BEFORE_REACH: Final = 30
_ZONE_REACH: Final = 12
_LABEL_REACH: Final = 40
_PUBLISHED = re.compile(
    r"(?:publi\w*|posted|veröffentlicht|opublikowano|gepubliceerd|опубл\w*|створено|дата публікації)"
    r"(?:\s+date)?\W*(?:on|at|am|le|el|il)?\W*$", re.IGNORECASE)
_UPDATED = re.compile(
    r"(?:updated?|modified|last (?:updated|modified|reviewed)|reviewed|edited|revised|aktualisiert|oppdatert|"
    r"opdateret|uppdaterad|actualizado|mis à jour|aggiornato|atualizado|zaktualizowano|bijgewerkt|онов\w*|"
    r"змін\w*|обнов\w*|измен\w*|редаг\w*)\W*(?:on|at|am|le|el|il)?\W*$", re.IGNORECASE)


@dataclass(frozen=True)
class Found:
    """A date written in running text: naive unless the text named a zone; `label` is what precedes it."""

    when: datetime
    start: int
    end: int
    has_time: bool
    label: str  # "published", "updated" or ""
    guessed: bool = False  # the year (or the day: "today") was taken from the reference time


EARLIEST = datetime(1990, 1, 1, tzinfo=UTC)


def parse_date(value: str | None, tz: tzinfo, *, month_first: bool = True,
               reference: datetime | None = None) -> datetime | None:
    """One date value -> aware datetime ("15:23 JST, November 17, 2024", "29 вересня 2014, 14:55")."""
    parsed = parse_value(value, month_first=month_first, reference=reference)
    return in_zone(parsed, tz) if parsed is not None else None


def pick_date(values: list[str | None], tz: tzinfo) -> datetime | None:
    """The first date in `values`, aware. Without an offset of its own it takes the offset of a later
    value with the same wall time (JSON-LD "2023-04-28 18:11:01.0", meta "2023-04-28T18:11:01+02:00"),
    and only then `tz`: a German page is not in UTC just because its JSON-LD forgot the offset."""
    parsed = [d for d in (parse_value(v) for v in values) if d is not None]
    if not parsed:
        return None
    first = parsed[0]
    return first if first.tzinfo is not None else with_twin_offset(first, parsed, tz)


def with_twin_offset(naive: datetime, others: list[datetime], tz: tzinfo) -> datetime:
    """`naive` with the offset of an aware value showing the same wall time to the minute, else in `tz`."""
    minute = naive.replace(second=0, microsecond=0)
    twin = next((d for d in others if d.tzinfo is not None and
                 d.replace(tzinfo=None, second=0, microsecond=0) == minute), None)
    return naive.replace(tzinfo=twin.tzinfo if twin is not None else tz)


def parse_value(value: str | None, *, month_first: bool = True, reference: datetime | None = None) -> datetime | None:
    """One date value -> datetime, naive when it names no offset or zone; None when it holds no date."""
    if not value or not value.strip():
        return None
    value = " ".join(htmlmod.unescape(value).split()).strip("\"'")
    stamp = parse_stamp(value)  # ISO 8601, RFC 2822 or UNIX time, as feeds and sitemaps are read
    if stamp is not None:
        return stamp
    found = scan_dates(value, month_first=month_first, reference=reference)
    return found[0].when if found else None


def scan_dates(text: str, *, month_first: bool = True, reference: datetime | None = None,
               limit: int = 20) -> list[Found]:
    """Every date written in `text`, in order. `month_first` reads 05/04/2026 as May 4 (US); dates without a
    year, "today" and "yesterday" need `reference` (the fetch time) and are never later than it."""
    out: list[Found] = []
    for match in _candidates(text):
        # "Fri Apr 28 19:20:36 CEST 2023" (Java's Date.toString): the year comes after the time and zone.
        late = _LATE_YEAR.match(text, match.end(), min(len(text), match.end() + _LATE_YEAR_REACH))
        day = _day(match, month_first, reference, int(late.group(1)) if late else None)
        if day is None:
            continue
        when, end = day, match.end()
        has_time = bool(match.group("it"))
        if match.group("iso"):
            if has_time:
                when = datetime.fromisoformat(match.group("iso").replace(" ", "T"))
        else:
            after = _TIME_AFTER.match(text, match.end(), min(len(text), match.end() + _TIME_REACH))
            before = _TIME_BEFORE.search(text, max(0, match.start() - _TIME_BEFORE_REACH), match.start())
            clock = after or before
            if clock and (moment := _clock(when, clock)) is not None:
                when, has_time = moment, True
                end = after.end() if after else end
            elif zone := _ZONE_AFTER.match(text, match.end(), min(len(text), match.end() + _ZONE_REACH)):
                when = when.replace(tzinfo=_zone(zone))
        guessed_year = bool(match.group("rel")) or (
            bool(match.group("dmy") or match.group("mdy")) and not (match.group("dy") or match.group("my") or late))
        if (guessed_year or match.group("short")) and not has_time:
            # "today" alone is a word, "until July 31" a deadline and 1.2.10 a version; "8 жовтня о 14:08" and
            # "Do 25.04.24 | 14:07 Uhr" are news time stamps.
            continue
        out.append(Found(when, match.start(), end, has_time, label_of(text, match.start()), guessed_year))
        if len(out) >= limit:
            break
    return out


def _candidates(text: str) -> Iterator[re.Match[str]]:
    """_DATE's matches, looked for only around digits (every date form has one): a page's text is mostly
    words, and trying the month names at each of their letters cost 1.4 ms per 1,000 characters."""
    start, end = -1, -1
    for digit in _DIGITS.finditer(text):
        if digit.start() - _REACH > end:
            if end > start:
                yield from _DATE.finditer(text, start, end)
            start = max(0, digit.start() - _REACH)
        end = min(len(text), digit.end() + _REACH)
    if end > start:
        yield from _DATE.finditer(text, start, end)


def _day(match: re.Match[str], month_first: bool, reference: datetime | None, late_year: int | None) -> datetime | None:
    """The calendar day a match names, as a naive midnight; None when it is no valid day."""
    g = match.group
    year: int | None
    if g("iso"):
        year, month, day = int(g("iy")), int(g("im")), int(g("id"))
    elif g("ymd"):
        year, month, day = int(g("ay")), int(g("am")), int(g("ad"))
    elif g("short"):
        day, month, year = int(g("sd")), int(g("sm")), 2000 + int(g("sy"))
    elif g("ja"):
        year, month, day = int(g("jy")), int(g("jm")), int(g("jd"))
    elif g("num"):
        first, second, year = int(g("n1")), int(g("n2")), int(g("ny"))
        # Dots and dashes are written day first (04.05.2026, 02-12-2025); with a slash a part over 12
        # decides, else the page's convention (05/04/2026 is May 4 in the US, 5 April in the UK).
        day_first = g("sep") != "/" or first > 12 or (not month_first and second <= 12)
        day, month = (first, second) if day_first else (second, first)
    elif g("ywr"):
        year, month, day = int(g("wy")), MONTHS[g("wm").rstrip(".").lower()], int(g("wd"))
    elif g("dmy") or g("mdy"):
        word = (g("dm") or g("mm")).rstrip(".").lower()
        month, day = MONTHS[word], int(g("dd") or g("md"))
        year = int(g("dy") or g("my")) if (g("dy") or g("my")) else None
        year = year or late_year
        if year is None:
            if reference is None:
                return None
            year = reference.year if (month, day) <= (reference.month, reference.day + 1) else reference.year - 1
    else:  # today / yesterday
        if reference is None:
            return None
        back = 1 if g("rel").lower() in ("yesterday", "вчора", "вчера", "昨日") else 0
        local = reference - timedelta(days=back)
        year, month, day = local.year, local.month, local.day
    try:
        return datetime(year, month, day)
    except ValueError:
        return None


def _clock(day: datetime, match: re.Match[str]) -> datetime | None:
    hour, minute, second = int(match.group("h")), int(match.group("mi")), int(match.group("s") or 0)
    meridiem = (match.group("ap") or "").lower()
    if meridiem == "p" and hour < 12:
        hour += 12
    elif meridiem == "a" and hour == 12:
        hour = 0
    if hour > 23:
        return None
    moment = day.replace(hour=hour, minute=minute, second=second)
    return moment.replace(tzinfo=_zone(match)) if match.group("zone") else moment


def _zone(match: re.Match[str]) -> tzinfo:
    name = match.group("zone").lower()
    hours = ZONES[name] + (int(match.group("shift")) if match.group("shift") else 0)
    minutes = int(match.group("shift_m") or 0) * (-1 if hours < 0 else 1)
    delta = timedelta(hours=hours, minutes=minutes)
    if not delta:
        return UTC
    return timezone(delta) if match.group("shift") else timezone(delta, name.upper())


def label_of(text: str, start: int) -> str:
    """ "published", "updated" or "": what the words just before `start` say the date there is."""
    before = text[max(0, start - _LABEL_REACH):start]
    if _UPDATED.search(before):
        return "updated"
    return "published" if _PUBLISHED.search(before) else ""


def plausible(when: datetime, reference: datetime) -> bool:
    """A publication time can't be after the fetch (a day of slack for clocks and zones) or before 1990."""
    return EARLIEST <= when <= reference + timedelta(days=1)
