"""The lines around a headline: the dates a page shows next to its title, and which of them is which.

Contract: `Dateline(tree, headline, tz=..., reference=...)` reads the text just above and below the headline
element (kicker, byline, date line), leaving out navigation, asides, captions and other stories' teasers,
and the page's <time> elements. `time_element()` / `updated_time()` give the <time> nearest the headline not
marked / marked as an update; `written()` / `updated()` the written date likewise; `byline_date()` the date
right under the headline; `standalone(found)` tells a date line of its own from a date inside a sentence.
Times without an offset are read in `tz`; nothing later than `reference` (the fetch) counts. Pure: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from typing import Final

from selectolax.lexbor import LexborHTMLParser, LexborNode

from ingest.clean.adapters.dates import Found, label_of, parse_value, plausible, scan_dates

# Where a <time> or a written date belongs to another story, a comment, a photo or the site, not to this
# article: a class of an ancestor below those it shares with the headline (the article's layout), or one
# of these tags (captions date the photo, not the story).
_ELSEWHERE = ("comment", "related", "sidebar", "recommend", "popular", "mostread", "most-read", "teaser",
              "footer", "morestories", "more-stories", "readnext", "read-next", "trending", "card", "promo", "latest",
              "caption", "credit", "gallery", "photo")
_PIC = re.compile(r"(?<![a-z])pic")  # "picBox", "pic-wrap"; not "topic"
_ELSEWHERE_TAGS = frozenset({"aside", "nav", "footer", "figure", "figcaption"})
_MODIFIED_HINT = re.compile(r"updat|modif|edit|revis", re.IGNORECASE)
_PUBLISHED_HINT = re.compile(r"publi|posted|created|pubdate", re.IGNORECASE)
_MIN_PART_CHARS: Final = 20  # a shorter heading inside the title (or the title inside it) is a word, not the headline
TEXT_BEFORE = 300  # characters of text above the headline read for a date (a kicker, a date line)
TEXT_AFTER = 800  # and below it (byline, date line; not the story's own dates further down)
BYLINE_NEAR = 400  # characters under the headline where a byline's date is
MAX_NODES = 400  # nodes walked each way from the headline (menus between a headline and its byline are short)
STANDALONE_REST = 30  # letters an element may hold besides its date to be a date line ("Published", "5 min read")


@dataclass(frozen=True)
class _Scan:
    """The dates in a stretch of text around the headline; offsets are into that text."""

    found: list[Found]
    headline_at: int  # where the headline was: text before it is above it on the page
    spans: list[tuple[int, LexborNode]]  # where each text node starts


@dataclass(frozen=True)
class Byline:
    """The date shown right under the headline, and whether it is a date line of its own."""

    found: Found
    standalone: bool


class Dateline:
    """The part of the page around the headline, where bylines and date lines are."""

    def __init__(self, tree: LexborHTMLParser, headline: LexborNode | None, *, tz: tzinfo, reference: datetime,
                 month_first: bool = True) -> None:
        self.tree, self.headline, self.tz, self.reference = tree, headline, tz, reference
        self.month_first = month_first
        # The headline's ancestors are the article's layout, whatever their classes say ("c-layout-sidebar-left").
        self._layout: set[int] = set()
        node = headline
        while node is not None:
            self._layout.add(node.mem_id)
            node = node.parent
        self._scans: dict[bool, _Scan] = {}
        self._elsewhere_cache: dict[int, bool] = {}

    def time_element(self) -> datetime | None:
        """The <time> nearest the headline, after it first (bylines follow it), that is not about another
        story and not labelled as an update."""
        return self._nearest_time(updated=False)

    def updated_time(self) -> datetime | None:
        """The <time> nearest the headline that is labelled as an update (class, itemprop or the words before)."""
        return self._nearest_time(updated=True)

    def written(self, day: date | None = None) -> datetime | None:
        """A date written near the headline: one labelled "published", else the nearest date line of its own,
        else the nearest date in a sentence, after the headline first; never one labelled "updated". With a
        `day` (the URL's), only a date on that day: one on another is a related story's, or the lead's."""
        scan = self._scan(above=True)
        found = [f for f in scan.found if f.label != "updated" and (day is None or f.when.date() == day)]
        best = next((f for f in found if f.label == "published"), None) or _nearest(
            scan, [f for f in found if _standalone(scan, f)]) or _nearest(scan, found)
        return self.aware(best.when) if best is not None else None

    def updated(self) -> datetime | None:
        """A date written near the headline after "Updated" / "Оновлено" / "Обновлено"."""
        scan = self._scan(above=True)
        best = _nearest(scan, [f for f in scan.found if f.label == "updated"])
        return self.aware(best.when) if best is not None else None

    def byline(self) -> Byline | None:
        """The date shown right under the headline (a byline or date line), labelled "published" or not
        labelled; not one above the headline, where the previous story's teaser may end."""
        scan = self._scan(above=False)
        found = [f for f in scan.found if f.label != "updated" and f.start <= BYLINE_NEAR]
        best = next((f for f in found if f.label == "published"), None) or _nearest(scan, found)
        return Byline(best, _standalone(scan, best)) if best is not None else None

    def aware(self, when: datetime) -> datetime | None:
        """`when` in the source's timezone when it names none; None when it is no plausible publication time."""
        aware = when if when.tzinfo is not None else when.replace(tzinfo=self.tz)
        return aware if plausible(aware, self.reference) else None

    def _nearest_time(self, *, updated: bool) -> datetime | None:
        candidates: list[tuple[bool, int, datetime]] = []
        order = self._order()
        anchor = order.get(self.headline.mem_id, 0) if self.headline is not None else 0
        for node in self.tree.css("time"):
            label = _time_label(node)
            if self._elsewhere(node) or (label == "updated") != updated:
                continue
            when = self._read_time(node)
            if when is None:
                continue
            at = order.get(node.mem_id, 0)
            # One marked as the publication time first, then the nearest; after the headline before above it.
            candidates.append((label != "published", at - anchor if at >= anchor else 2 * (anchor - at), when))
        return min(candidates, key=lambda c: c[:2])[2] if candidates else None

    def _read_time(self, node: LexborNode) -> datetime | None:
        attrs = node.attributes
        for value in (attrs.get("datetime"), node.text(separator=" ")):
            parsed = parse_value(value, month_first=self.month_first, reference=self.reference.astimezone(self.tz))
            if parsed is not None:
                when = self.aware(parsed)
                if when is not None:
                    return when
        return None

    def _order(self) -> dict[int, int]:
        root = self.tree.body or self.tree.root
        return {node.mem_id: i for i, node in enumerate(root.traverse())} if root is not None else {}

    def _scan(self, *, above: bool) -> _Scan:
        """The dates under the headline, and with `above` those just above it too (walking up the page
        costs more: a cross-check needs only the byline's date)."""
        if above not in self._scans:
            local = self.reference.astimezone(self.tz).replace(tzinfo=None)
            before, after = self._nodes(above)
            text, headline_at, spans = _join(before, after)
            found = [f for f in scan_dates(text, month_first=self.month_first, reference=local)
                     if self.aware(f.when) is not None]
            self._scans[above] = _Scan(found, headline_at, spans)
        return self._scans[above]

    def _nodes(self, above: bool) -> tuple[list[LexborNode], list[LexborNode]]:
        """Text nodes from a little above the headline (with `above`) to a little under it (the top of the
        article when the page shows no headline), leaving out navigation, asides, captions and other stories'
        teasers, and the headline itself."""
        if self.headline is None:
            start = self.tree.css_first("article") or self.tree.css_first("main")
            nodes = [n for n in start.traverse(include_text=True) if n.tag == "-text"] if start is not None else []
            return [], nodes
        before = self._walk(_preceding(self.headline), TEXT_BEFORE) if above else []
        return before[::-1], self._walk(_following(self.headline), TEXT_AFTER if above else BYLINE_NEAR)

    def _walk(self, nodes: Iterator[LexborNode], chars: int) -> list[LexborNode]:
        kept: list[LexborNode] = []
        size = 0
        for seen, node in enumerate(nodes):
            if seen > MAX_NODES or size > chars:
                break
            if node.tag == "-text" and (node.text_content or "").strip() and not self._elsewhere(node.parent):
                kept.append(node)
                size += len(node.text_content or "")
        return kept

    def _elsewhere(self, node: LexborNode | None) -> bool:
        """True when the node sits in navigation, an aside, a caption, comments or another story's teaser:
        it or an ancestor below those it shares with the headline (the article's layout) says so."""
        if node is None or node.tag in ("body", "html") or node.mem_id in self._layout:
            return False
        known = self._elsewhere_cache.get(node.mem_id)
        if known is None:
            attrs = node.attributes
            marks = f"{attrs.get('class') or ''} {attrs.get('id') or ''}".lower()
            # Substrings, not a regex: this runs for every element around the headline.
            own = node.tag in _ELSEWHERE_TAGS or any(word in marks for word in _ELSEWHERE) or (
                "pic" in marks and bool(_PIC.search(marks)))
            known = self._elsewhere_cache[node.mem_id] = own or self._elsewhere(node.parent)
        return known


def _join(before: list[LexborNode], after: list[LexborNode]) -> tuple[str, int, list[tuple[int, LexborNode]]]:
    """The nodes' texts joined by spaces, where the headline falls in it, and where each node starts."""
    pieces: list[str] = []
    spans: list[tuple[int, LexborNode]] = []
    offset, headline_at = 0, 0
    for i, node in enumerate([*before, *after]):
        if i == len(before):
            headline_at = offset
        text = " ".join((node.text_content or "").split())
        spans.append((offset, node))
        pieces.append(text)
        offset += len(text) + 1
    return " ".join(pieces), headline_at if after else offset, spans


def _nearest(scan: _Scan, found: list[Found]) -> Found | None:
    at = scan.headline_at
    # A date line under the headline (byline, dateline) beats one above it (a kicker) at the same distance.
    return min(found, key=lambda f: f.start - at if f.start >= at else 2 * (at - f.end), default=None)


def _standalone(scan: _Scan, found: Found) -> bool:
    """True when the date is all its element says, besides a label or a reading time ("Published Apr 26,
    2023", "November 2, 2022 | 5 min read"), and not a date inside a sentence of the story."""
    node = next((n for at, n in reversed(scan.spans) if at <= found.start), None)
    element = node.parent if node is not None else None
    if element is None:
        return False
    rest = " ".join(element.text(separator=" ").split())
    letters = sum(ch.isalpha() for ch in rest)
    return letters - (found.end - found.start) <= STANDALONE_REST


def _following(node: LexborNode) -> Iterator[LexborNode]:
    """The nodes after `node` and its subtree, in document order."""
    current: LexborNode | None = node
    while current is not None and current.tag not in ("body", "html"):
        sibling = current.next
        while sibling is not None:
            yield from sibling.traverse(include_text=True)
            sibling = sibling.next
        current = current.parent


def _preceding(node: LexborNode) -> Iterator[LexborNode]:
    """The nodes before `node` that are not its ancestors, nearest first (reverse document order)."""
    current: LexborNode | None = node
    while current is not None and current.tag not in ("body", "html"):
        sibling = current.prev
        while sibling is not None:
            yield from reversed(list(sibling.traverse(include_text=True)))
            sibling = sibling.prev
        current = current.parent


def _time_label(node: LexborNode) -> str:
    """ "published", "updated" or "": what a <time>'s markup (itemprop, class) or the words before it say."""
    marks = " ".join(v or "" for k, v in node.attributes.items() if k in ("class", "id", "itemprop", "pubdate"))
    if _MODIFIED_HINT.search(marks):
        return "updated"
    if _PUBLISHED_HINT.search(marks) or "pubdate" in node.attributes:
        return "published"
    parent = node.parent
    shown = " ".join(node.text(separator=" ").split())
    context = " ".join(parent.text(separator=" ").split()) if parent is not None else ""
    at = context.find(shown) if shown else -1
    return label_of(context, at) if at > 0 else ""


def heading_like(tree: LexborHTMLParser, title: str) -> LexborNode | None:
    """An element showing the title, where the page has it in an h2, a legend or a "title" box, not an h1."""
    wanted = " ".join(title.split()).casefold()
    if not wanted:
        return None
    for node in tree.css("h1, h2, h3, h4, legend, [class*=title i]"):
        text = " ".join(node.text(separator=" ").split()).casefold()
        if text and (text == wanted or (len(text) > _MIN_PART_CHARS and (text in wanted or wanted in text))):
            return node
    return None
