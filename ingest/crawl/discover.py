"""Discovery: feeds, sitemaps and listing pages -> Links.

Stage contract: the text (or bytes) of a feed, a sitemap or a listing page, plus the URL it was
fetched from and the source slug -> list[Link] in document order, de-duplicated (and, for a sitemap
index, the child Sitemaps). Also the date filters a backfill needs to pick which children to fetch.
Days are the outlet's calendar days: functions reading dates take its IANA `zone`.
Everything here is pure: no network, no state. Fetching is fetch.py's job, choosing what to fetch is
the pipeline's. Malformed input raises ValueError with a short reason for the caller to log.
"""

# lxml ships no type stubs and the project pins none: tolerate that here, and keep working
# unchanged if lxml-stubs or an override is added later (a per-line ignore would then be "unused").
# mypy: disable-error-code="import-untyped"

from __future__ import annotations

import io
import re
import zlib
from calendar import monthrange
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from html import unescape
from time import struct_time
from typing import Final
from urllib.parse import parse_qs, urldefrag, urljoin, urlsplit
from zoneinfo import ZoneInfo

import feedparser
from lxml import etree
from selectolax.lexbor import LexborHTMLParser

from ingest.models import Link
from ingest.when import read_stamp

MAX_SITEMAP_BYTES = 50 * 1024 * 1024  # decompressed; Google's own limit for one sitemap file
_GZIP_WBITS: Final = 16 + zlib.MAX_WBITS  # zlib's way to ask for a gzip header and trailer
# A day from a URL is placed at its noon: 12 hours from either end, it stays that day in the outlet's zone
# whatever the hour the article went out.
_NOON: Final = time(12)


@dataclass(frozen=True)
class Sitemap:
    """A child sitemap named by a <sitemapindex>, with its <lastmod> when given."""

    url: str
    lastmod: datetime | None = None


# ---------------------------------------------------------------- feeds


def parse_feed(content: str | bytes, base_url: str, source: str, zone: str = "UTC") -> list[Link]:
    """RSS 2.0, RSS 1.0/RDF or Atom -> Links (via="feed") in feed order. A date without an offset is read in
    `zone`, the outlet's."""
    headers = {"content-location": base_url}
    if isinstance(content, str):
        # Already decoded: the charset in the XML declaration no longer describes these bytes.
        headers["content-type"] = "application/xml; charset=utf-8"
        content = content.encode("utf-8")
    # A bare str or bytes is taken by feedparser as a URL or a file name to open: hand it a stream.
    parsed = feedparser.parse(io.BytesIO(content), response_headers=headers)
    if not parsed.get("version") and not parsed.entries:
        raise ValueError(f"not a feed: {parsed.get('bozo_exception') or 'no RSS or Atom root'}")
    found: dict[str, Link] = {}
    for entry in parsed.entries:
        url = _absolute(entry.get("link") or _permalink(entry), base_url)
        if url is None or url in found:
            continue
        found[url] = Link(url=url, source=source, via="feed", published_at=_entry_date(entry, zone),
                          modified_at=_entry_date(entry, zone, ("updated",)),
                          title=_entry_title(entry))
    return list(found.values())


def _entry_title(entry: dict[str, object]) -> str | None:
    title = entry.get("title")
    detail = entry.get("title_detail")
    if isinstance(title, str) and isinstance(detail, dict) and detail.get("type") == "text/html":
        # An HTML title (Atom type="html" in CDATA) still holds its tags and character references.
        title = unescape(re.sub(r"<[^>]*>", " ", title))
    return _clean(title)


def _permalink(entry: dict[str, object]) -> str | None:
    # Some feeds carry the article URL only as <guid isPermaLink="true"> or an Atom <id>.
    guid = entry.get("id")
    return guid if isinstance(guid, str) and guid.startswith(("http://", "https://")) else None


def _entry_date(entry: dict[str, object], zone: str,
                keys: tuple[str, ...] = ("published", "updated", "created")) -> datetime | None:
    for key in keys:
        # Our own reading first, for the outlet's zone: feedparser reads a date without an offset as UTC,
        # and gives none for an RFC 822 date without a zone.
        # dict.get: feedparser's own get answers `updated` with `published` when there is none (deprecated)
        if (parsed := _parse_date(_str(dict.get(entry, key)), zone)) is not None:
            return parsed
        value = dict.get(entry, f"{key}_parsed")
        if isinstance(value, struct_time):  # a form only feedparser knows, converted by it to UTC
            return datetime(*value[:6], tzinfo=UTC)
    return None


def _str(value: object) -> str | None:
    return value if isinstance(value, str) else None


# ---------------------------------------------------------------- sitemaps


def parse_sitemap(content: str | bytes, base_url: str, source: str,
                  zone: str = "UTC") -> tuple[list[Link], list[Sitemap]]:
    """<urlset> (incl. Google News) or <sitemapindex>, plain or gzipped -> (Links, child Sitemaps).

    A date without an offset is read in `zone`, the outlet's own.
    """
    root = _parse_xml(content)
    if _local(root.tag) not in ("urlset", "sitemapindex"):
        raise ValueError(f"not a sitemap: root element <{_local(root.tag)}>")
    links: dict[str, Link] = {}
    children: dict[str, Sitemap] = {}
    # Both kinds are read whatever the root says: some generators mix <url> into an index.
    for item in _elements(root):
        name = _local(item.tag)
        fields = {_local(c.tag): c for c in _elements(item)}
        url = _absolute(_text(fields.get("loc")), base_url)
        if url is None:
            continue
        lastmod = _parse_date(_text(fields.get("lastmod")), zone)
        if name == "sitemap" and url not in children:
            children[url] = Sitemap(url=url, lastmod=lastmod)
        elif name == "url" and url not in links:
            block = fields.get("news")  # Google News extension; image:title is not a headline
            news = {_local(n.tag): n for n in _elements(block, deep=True)} if block is not None else {}
            published = _parse_date(_text(news.get("publication_date")), zone) or lastmod
            links[url] = Link(url=url, source=source, via="sitemap", published_at=published, modified_at=lastmod,
                              title=_clean(_text(news.get("title"))))
    return list(links.values()), list(children.values())


def _parse_xml(content: str | bytes) -> etree._Element:
    if isinstance(content, str):
        # lxml refuses a str that still declares an encoding; the text is already decoded.
        content = re.sub(r"^\ufeff?\s*<\?xml[^>]*\?>", "", content).encode("utf-8")
    if content[:2] == b"\x1f\x8b":
        content = _gunzip(content)
    try:
        return etree.fromstring(content, _xml_parser(recover=False))
    except etree.XMLSyntaxError as exc:
        reason = str(exc.msg or exc)
    try:  # a sitemap cut short by a size cap still names its first URLs: keep them
        root = etree.fromstring(content, _xml_parser(recover=True))
    except etree.XMLSyntaxError:
        root = None
    if root is None or not any(_local(e.tag) == "loc" for e in _elements(root, deep=True)):
        raise ValueError(f"malformed XML: {reason}")
    return root


def _xml_parser(*, recover: bool) -> etree.XMLParser:
    # No entity expansion (XXE, billion laughs), no DTD or network access, libxml2's size limits on.
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False,
                           remove_comments=True, remove_pis=True, recover=recover)


def _gunzip(data: bytes) -> bytes:
    decoder = zlib.decompressobj(_GZIP_WBITS)
    try:
        out = decoder.decompress(data, MAX_SITEMAP_BYTES + 1)
    except zlib.error as exc:
        raise ValueError(f"corrupt gzip: {exc}") from None
    if not out and not decoder.eof:
        raise ValueError("corrupt gzip: no data")
    if len(out) > MAX_SITEMAP_BYTES:
        raise ValueError(f"sitemap larger than {MAX_SITEMAP_BYTES // 2**20} MB once decompressed")
    return out


def _local(tag: object) -> str:
    # Namespaces vary (0.9, 0.84, none, news/image extensions): match on local names only.
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _elements(element: etree._Element, *, deep: bool = False) -> Iterator[etree._Element]:
    # Skip comments, processing instructions and (unexpanded) entity nodes.
    return (c for c in (element.iter() if deep else element) if isinstance(c.tag, str))


def _text(element: etree._Element | None) -> str | None:
    # A <loc> holding an unexpanded entity reference is hostile or broken, never a URL.
    text = None if element is None or len(element) else element.text
    return text if isinstance(text, str) else None


def _parse_date(value: str | None, zone: str = "UTC") -> datetime | None:
    # ingest.when states the rule: an offset is kept, a stamp without one is the outlet's clock (`zone`).
    parsed = read_stamp(value, ZoneInfo(zone))
    return parsed.astimezone(UTC) if parsed is not None else None


# ---------------------------------------------------------------- listing pages


def parse_listing(html: str, base_url: str, source: str, accept: Callable[[str], bool],
                  zone: str = "UTC") -> list[Link]:
    """Every <a href> resolved, fragment stripped, de-duplicated in page order, kept if accept(url); a day in
    the URL is a day of `zone`, the outlet's."""
    tree = LexborHTMLParser(html)
    base = tree.css_first("base[href]")
    if base is not None:  # resolve as a browser would
        base_url = _absolute(base.attributes.get("href"), base_url) or base_url
    titles: dict[str, str | None] = {}
    for anchor in tree.css("a[href]"):
        url = _absolute(anchor.attributes.get("href"), base_url)
        if url is None or not accept(url):
            continue
        # The same article is often linked twice: once by its picture, once by its headline.
        titles[url] = titles.get(url) or _clean(anchor.text(separator=" "))
    return [Link(url=url, source=source, via="listing", title=title, published_at=url_day(url, zone))
            for url, title in titles.items()]


def url_day(url: str, zone: str = "UTC") -> datetime | None:
    """The day an article URL carries (/news/2024/01/14/123/, /2024-01-14-slug), as noon of that day in `zone`
    (the outlet's), in UTC; else None. A hint only, for listings that give no dates: the article's own date
    decides in the end.
    """
    path = urlsplit(url).path
    for match in _DAY_FORM.finditer(path):
        if match[2] and (span := _span(int(match[1]), int(match[3]), int(match[4]), int(match[4]))):
            return datetime.combine(span[0], _NOON, tzinfo=ZoneInfo(zone)).astimezone(UTC)
    return None


def listing_urls(template: str, pages: int, start: int = 1) -> list[str]:
    """'https://x/news?page={page}' -> the URLs of pages start .. start+pages-1."""
    if "{page}" not in template:
        raise ValueError(f"{template!r} has no {{page}} placeholder")
    return [template.replace("{page}", str(n)) for n in range(start, start + max(pages, 0))]


# ---------------------------------------------------------------- date windows


def sitemap_overlaps(sitemap: Sitemap, since: date | None, until: date | None, *,
                     weekly: bool = False, zone: str = "UTC") -> bool:
    """Could this child sitemap hold days in [since, until]? By its URL's date, else lastmod, else yes.

    The days are the outlet's (`zone`): so are the dates in its URLs.
    """
    # weekly: the archive numbers children by ISO week, so '2026/05' is week 5, not May (Ukrinform's
    # /sitemap/2026/05.xml). select_sitemaps() tells which from the whole index.
    period = _url_period(sitemap.url, weekly=weekly)
    if period is not None:
        first, last = period
        return (until is None or first <= until) and (since is None or last >= since)
    if sitemap.lastmod is not None and since is not None:
        # Last modified before `since`: it cannot list anything newer than that.
        return sitemap.lastmod.astimezone(ZoneInfo(zone)).date() >= since
    return True


def select_sitemaps(children: Iterable[Sitemap], since: date | None, until: date | None,
                    zone: str = "UTC") -> list[Sitemap]:
    """The children of one index that may cover [since, until], telling weekly from monthly archives."""
    children = list(children)
    weekly = _weekly(children)
    return [s for s in children if sitemap_overlaps(s, since, until, weekly=weekly, zone=zone)]


def newest_first(children: Iterable[Sitemap]) -> list[Sitemap]:
    """Children by their <lastmod>, else by the last day their URL names (2024-05.xml), newest first; the rest
    after them in index order. What a daemon pass reads when it reads only a few."""
    children = list(children)
    weekly = _weekly(children)

    def newest(sitemap: Sitemap) -> datetime:
        if sitemap.lastmod is not None:
            return sitemap.lastmod
        period = _url_period(sitemap.url, weekly=weekly)
        return datetime.combine(period[1], time.max, UTC) if period else datetime.min.replace(tzinfo=UTC)
    return sorted(children, key=newest, reverse=True)


_YEAR = r"(?<!\d)((?:19|20)\d{2})"
_DAY_FORM = re.compile(_YEAR + r"([-/_.]?)(\d{2})\2(\d{2})(?!\d)")  # 2024-05-17 2024/05/17 20240517
_WEEK_FORM = re.compile(_YEAR + r"[-/_]?W(\d{1,2})(?!\d)", re.IGNORECASE)  # 2024-W05
_MONTH_FORM = re.compile(_YEAR + r"([-/_.]?)(\d{2})(?!\d)")  # 2024-05 2024/05 202405


def _url_period(url: str, *, weekly: bool) -> tuple[date, date] | None:
    parts = urlsplit(url)
    query = {k.lower(): v[0] for k, v in parse_qs(parts.query).items()}
    year, month, day = (_number(query, key) for key in ("yyyy", "mm", "dd"))
    if year and month and day:
        return _span(year, month, day, day)
    if year and month:
        return _span(year, month, 1, None)
    text = parts.path + "?" + parts.query  # never the host name
    for match in _DAY_FORM.finditer(text):
        if found := _span(int(match[1]), int(match[3]), int(match[4]), int(match[4])):
            return found
    for match in _WEEK_FORM.finditer(text):
        if found := _iso_week(int(match[1]), int(match[2])):
            return found
    for match in _MONTH_FORM.finditer(text):
        found = (_iso_week(int(match[1]), int(match[3])) if weekly
                 else _span(int(match[1]), int(match[3]), 1, None))
        if found:
            return found
    return None


def _weekly(children: list[Sitemap]) -> bool:
    """Whether an index numbers its children by ISO week: months stop at 12, weeks run to 53, so one 'YYYY/NN'
    above 12 marks the whole index as weekly."""
    return any(_numbered_period(s.url) > 12 for s in children)


def _numbered_period(url: str) -> int:
    path = urlsplit(url).path
    match = None if _DAY_FORM.search(path) else _MONTH_FORM.search(path)
    return int(match[3]) if match and match[2] else 0


def _number(query: dict[str, str], key: str) -> int | None:
    # ?yyyy=2024&mm=05, ?year=2024&month=5 or ?y=2024&m=5
    long = {"yyyy": "year", "mm": "month", "dd": "day"}[key]
    value = query.get(key) or query.get(long) or query.get(long[0]) or ""
    return int(value) if value.isdigit() else None


def _span(year: int, month: int, first: int, last: int | None) -> tuple[date, date] | None:
    if not 1 <= month <= 12:
        return None
    try:
        return date(year, month, first), date(year, month, last or monthrange(year, month)[1])
    except ValueError:
        return None


def _iso_week(year: int, week: int) -> tuple[date, date] | None:
    try:
        monday = date.fromisocalendar(year, week, 1)
    except ValueError:
        return None
    return monday, monday + timedelta(days=6)


# ---------------------------------------------------------------- shared


def _absolute(href: object, base_url: str) -> str | None:
    """href resolved against base_url, fragment dropped; None unless it is an http(s) URL."""
    if not isinstance(href, str):
        return None
    # Browsers drop tabs and newlines anywhere in a URL and spaces at its ends.
    href = re.sub(r"[\t\r\n]", "", href).strip()
    if not href or href.startswith("#"):
        return None
    url = urldefrag(urljoin(base_url, href)).url
    parts = urlsplit(url)
    return url if parts.scheme in ("http", "https") and parts.hostname else None


def _clean(text: object) -> str | None:
    return (" ".join(text.split()) or None) if isinstance(text, str) else None
