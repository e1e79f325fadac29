"""A page's publication and modification dates: the first source that gives one, and which source it was.

Contract: `read_dates(tree, info, ...)` -> PageDates(published, modified, source). Published dates are tried in
this order until one is found (the first three in the adapter's `date_order`):
  json-ld   the article's JSON-LD datePublished
  meta      article:published_time and the other publication meta tags
  selector  the adapter's date element (datetime/content attribute, else its text)
  time      a <time> element next to the headline (its datetime attribute, else its text)
  text      a date written near the headline or byline ("8 жовтня 2014, 14:08", "Published Nov. 4, 2025")
  url       a day in the URL (/news/2014/10/08/, /20241117-...)
  updated   the date the page shows after "Updated" / "Оновлено", when it shows no other
  htmldate  htmldate's extensive search over the whole page, the last resort
A time without an offset is read in the source's timezone `tz`; a date later than the fetch (plus a day) or
before 1990 is no publication date and the next source is tried. One cross-check: a date shown under the
headline that is days earlier than a JSON-LD/meta stamp in doubt replaces it (see `_shown_earlier`; the
source is then "text"). The modification date: JSON-LD/meta, else an "Updated" date or <time>. Pure: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from typing import Final

from selectolax.lexbor import LexborHTMLParser, LexborNode

from ingest.clean.adapters.dateline import Dateline, heading_like
from ingest.clean.adapters.dates import parse_value, plausible, with_twin_offset
from ingest.clean.adapters.page import PageInfo

_URL_DATE = re.compile(
    r"/((?:19|20)\d{2})[/-]([01]?\d)[/-]([0-3]?\d)(?:/|-|_|\.|$)"  # /2014/10/08/, /2014-10-08-slug
    r"|[/_-]((?:19|20)\d{2})([01]\d)([0-3]\d)(?:[/_-]|\.html?)"  # /20241117-216478, _20241117.html
)
# A datePublished this close to dateModified may be the time the CMS last saved the article, not its first one.
_RESAVED_WITHIN: Final = timedelta(days=2)


@dataclass(frozen=True)
class PageDates:
    """What the page says about when it was published and last changed; `source` names the published step."""

    published: datetime | None = None
    modified: datetime | None = None
    source: str | None = None


@dataclass(frozen=True)
class DateContext:
    """What reading a page's dates needs besides the tree: where it came from and how to read its dates."""

    url: str
    html: str
    tz: tzinfo
    reference: datetime  # the fetch time: no publication date is later
    month_first: bool = True  # 05/04/2026 is May 4 (en-US); False for day-first languages
    selector: str | None = None
    order: tuple[str, ...] = ("ld", "meta", "page")


def read_dates(tree: LexborHTMLParser, info: PageInfo, headline: LexborNode | None, title: str,
               ctx: DateContext) -> PageDates:
    """Publication date with the step that gave it, and the modification date, of one page. `headline` is
    the element showing the title, when the page shows it (else a heading with the title's text is looked for)."""
    window = Dateline(tree, headline or heading_like(tree, title), tz=ctx.tz, reference=ctx.reference,
                      month_first=ctx.month_first)
    # Every machine stamp on the page, to lend its offset to a first value that has none (FAZ's JSON-LD).
    stamps = [d for d in (parse_value(v) for v in (info.ld_str("datePublished"), *info.published)) if d]
    Step = tuple[str, Callable[[], datetime | None]]
    machine: dict[str, Step] = {
        "ld": ("json-ld", lambda: _first_plausible([info.ld_str("datePublished")], stamps, ctx)),
        "meta": ("meta", lambda: _first_plausible(info.published, stamps, ctx)),
        "page": ("selector", lambda: _first_plausible(_selector_values(tree, ctx.selector), stamps, ctx, shown=True)),
    }
    # The day in the URL is the day the outlet filed the story under: a date written on the page that is not
    # that day belongs to something else, and the URL's day is the answer (with no time) if none is.
    url_date = _url_date(ctx)
    url_day = url_date.date() if url_date is not None else None
    steps: list[Step] = [machine[s] for s in ctx.order] + [
        ("time", window.time_element), ("text", lambda: window.written(url_day)), ("url", lambda: url_date),
        # A page that shows only when it was updated: that day is the best bound the page gives.
        ("updated", window.updated), ("htmldate", lambda: _htmldate(ctx))]
    published: datetime | None = None
    source: str | None = None
    for name, find in steps:
        published = find()
        if published is not None:
            source = name
            break
    modified = _first_plausible([info.modified], stamps, ctx) or window.updated() or window.updated_time()
    if published is not None and source in ("json-ld", "meta"):
        shown = _shown_earlier(window, published, modified)
        if shown is not None:
            published, source = shown, "text"
    if modified is not None and published is not None and modified < published:
        modified = None
    return PageDates(published, modified, source)


def _shown_earlier(window: Dateline, stamp: datetime, modified: datetime | None) -> datetime | None:
    """The date the page shows by its headline, when it is days earlier than the machine stamp and the stamp
    is in doubt. A CMS that re-stamps an article each time it is saved moves the stamp (its datePublished
    then equals its dateModified), while the byline keeps the first publication. The shown date must be
    labelled as the publication ("Published Apr 26, 2023"), or be a date line of its own ("November 2,
    2022") under a re-stamped stamp: a date inside a sentence is as often one the story's lead mentions."""
    shown = window.byline()
    if shown is None or shown.found.guessed or shown.found.when.date() >= (stamp - timedelta(days=1)).date():
        return None
    restamped = modified is not None and abs(modified - stamp) <= _RESAVED_WITHIN
    if shown.found.label != "published" and not (restamped and shown.standalone):
        return None
    return window.aware(shown.found.when)


def _first_plausible(values: list[str | None], stamps: list[datetime], ctx: DateContext, *,
                     shown: bool = False) -> datetime | None:
    """The first value that is a plausible date; `shown` values are written for readers ("Сьогодні, 14:08")."""
    for value in values:
        parsed = parse_value(value, month_first=ctx.month_first, reference=_local(ctx) if shown else None)
        if parsed is None:
            continue
        when = parsed if parsed.tzinfo is not None else with_twin_offset(parsed, stamps, ctx.tz)
        if plausible(when, ctx.reference):
            return when
    return None


def _local(ctx: DateContext) -> datetime:
    return ctx.reference.astimezone(ctx.tz)


def _selector_values(tree: LexborHTMLParser, selector: str | None) -> list[str | None]:
    node = tree.css_first(selector) if selector else None
    if node is None:
        return []
    attrs = node.attributes
    return [attrs.get("datetime"), attrs.get("content"), node.text(separator=" ")]


def _url_date(ctx: DateContext) -> datetime | None:
    match = _URL_DATE.search(ctx.url)
    if not match:
        return None
    year, month, day = (int(g) for g in (match.groups()[:3] if match.group(1) else match.groups()[3:]))
    try:
        when = datetime(year, month, day, tzinfo=ctx.tz)
    except ValueError:
        return None
    return when if plausible(when, ctx.reference) else None


def _htmldate(ctx: DateContext) -> datetime | None:
    from htmldate import find_date  # not at the top: the last resort, rarely reached on a news page

    try:
        found = find_date(ctx.html, url=ctx.url, extensive_search=True, original_date=True,
                          outputformat="%Y-%m-%d", max_date=_local(ctx).date().isoformat())
    except Exception:  # a hostile page may break a parser in any way; the date is then unknown
        return None
    if not found:
        return None
    when = datetime.fromisoformat(found).replace(tzinfo=ctx.tz)
    return when if plausible(when, ctx.reference) else None


