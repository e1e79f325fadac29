"""The headline: a parsed page -> its title without the site's name, and the element that shows it.

Contract: `read_headline(tree, info, selector=..., site_names=...)` returns a Headline: the article's title
without the site's name (" | Site", " — Site", "Site: ", "Site | Section - ") and `node`, the element that
shows the headline on the page, next to which later steps look for a date or a byline. The adapter's
`selector` wins whenever it matches. Otherwise the candidates are each <h1> and the metadata (JSON-LD
headline, og:title, twitter:title, <title>), site names stripped; the visible <h1> whose words agree best with
the metadata is the headline, unless the publisher wrote a JSON-LD headline of its own (see
`_publisher_headline`): the title is then that wording and `node` still the <h1>. `node` is None when no
<h1> agrees and the title comes from metadata alone. Pure: no I/O.
"""

from __future__ import annotations

import contextlib
import html as htmlmod
import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Final
from urllib.parse import urlsplit

from selectolax.lexbor import LexborHTMLParser, LexborNode

from ingest.clean.adapters.page import PageInfo

# Between a headline and the site's name: " | ", " - ", " — ", " :: ", " » ", " / ", "Site: ", "|", "•".
_SEPARATOR = re.compile(r"\s+[-–—|:·•»/~]{1,2}\s+|\s*[|•·｜]\s*|\s+[–—]|[–—]\s+|:\s+")
_WORD = re.compile(r"\w+")
_HOST = re.compile(r"//([^/:?#\s]+)")
_INVISIBLE = re.compile("[\xad\u200b-\u200d\u2060\ufeff]")  # soft hyphens, zero-width marks
_MOJIBAKE = re.compile("[\x80-\x9f]")  # C1 controls are never text: UTF-8 that was decoded as Latin-1
_HEAD_LINKS: Final = 20  # <link>s in the head to take the site's host from, when it names no canonical URL
# Elements a browser shows on a line of their own: the words on either side never run together.
_BLOCKS = frozenset({"br", "div", "p", "li", "ul", "ol", "h2", "h3", "h4", "section", "header", "figure", "figcaption",
                     "table", "tr", "td", "small", "sup", "sub"})
# Not part of the headline a reader sees: a date inside the <h1>, labels for screen readers only.
_UNSEEN = ("time, [aria-hidden=true], [hidden], [class*=sr-only], [class*=visually-hidden], [class*=screen-reader],"
           " [class*=a11y-hidden], [class*=offscreen]")
# The site's own name shown as a heading: a link home, a logo, a "site-title" class.
_LOGO = ("a[rel~=home], [id*=logo i], [class~=logo i], [class*=-logo i], [class*=logo- i], [class*=site-title i],"
         " [class*=site-name i], [class~=brand i], [class*=-brand i]")
_SECOND_LEVEL = frozenset({"com", "co", "org", "net", "gov", "ac", "or", "ne", "go", "edu", "in"})
_AGREE = 0.3  # share of words (Dice) from which an <h1> and a metadata title name the same story
_MAX_CHARS = 300  # a longer "headline" is a paragraph
_TRUNCATED = 100  # SEO plugins cut JSON-LD headlines at 110 characters


@dataclass(frozen=True)
class Headline:
    """The article's title and the element that shows it on the page (None: only in metadata)."""

    text: str
    node: LexborNode | None = None


def read_headline(tree: LexborHTMLParser, info: PageInfo, *, selector: str | None,
                  site_names: tuple[str, ...] = ()) -> Headline:
    """Headline without the site's name: the adapter's selector, else the <h1> the metadata agrees with."""
    raw = _raw_titles(info)
    names = _site_names(tree, info, site_names, raw.values())
    if selector:
        for node in tree.css(selector):
            text = visible_text(node)
            if text:
                return Headline(_strip(text, names, set()), node)
    headings = [(node, text) for node in tree.css("h1") if (text := visible_text(node))]
    # A blog's <h1> is often its name, linked home; its <title> then reads "Name: Headline" or "Name Headline".
    logos = {_squash(text) for node, text in headings if _is_logo(node)}
    # The page's sections (article:section, the breadcrumbs but the story's own) end some titles: "... | Sport".
    labels = {_squash(label) for label in (info.section or "", *info.crumbs[:-1])} - {""}
    metas = _metadata(info, raw, names, logos, labels)
    chosen = _pick_heading(headings, list(metas.values()), names | logos, labels)
    if chosen is None:
        return Headline(_from_metadata(list(metas.values())), None)
    node, text = chosen
    return Headline(_publisher_headline(info, metas, text) or text, node)


def strip_site_name(title: str, names: Iterable[str], labels: Iterable[str] = ()) -> str:
    """"Headline | Site" -> "Headline", also "Site: Headline" and "Headline | Site | Tagline", for any of `names`.

    `labels` (the page's sections: "Headline | Sport") go only when they end the title, spelled exactly.
    """
    return _strip(title, {_squash(n) for n in names} - {""}, {_squash(n) for n in labels} - {""})


def _strip(title: str, keys: set[str], exact: set[str]) -> str:
    parts, seps = _SEPARATOR.split(title), _SEPARATOR.findall(title)
    if len(parts) > 1 and _squash(parts[-1]) in exact:
        return _strip(_join(parts[:-1], seps[:-1]), keys, exact)
    for i in range(len(parts) if len(parts) > 1 else 0):
        if _squash(parts[i]) and _is_site(parts[i], keys, last=i == len(parts) - 1):
            head, tail = _join(parts[:i], seps[:i]), _join(parts[i + 1:], seps[i + 1:])
            # The headline is the side that is not the site's too ("Headline | Site | Tagline of Site"),
            # else the longer: "Site | Section - Headline", "Headline | Site | Tagline".
            head_site, tail_site = (not _squash(side) or _is_site(side, keys) for side in (head, tail))
            if head_site == tail_site:
                head_site = len(head.split()) < len(tail.split())
            if _squash(keep := tail if head_site else head):
                return _strip(keep, keys, exact)
    return title


def visible_text(node: LexborNode, *, spaced: bool = False) -> str:
    """The text a reader sees in `node`: inline pieces run together (or `spaced`), unseen labels left out."""
    unseen = {n.mem_id for hidden in node.css(_UNSEEN) for n in hidden.traverse(include_text=True)}
    parts: list[str] = []
    for child in node.traverse(include_text=True):
        if child.mem_id in unseen:
            continue
        if child.is_text_node:
            parts.append(child.text_content or "")
        elif spaced or child.tag in _BLOCKS:
            parts.append(" ")
    return _clean("".join(parts))


# --- candidates -------------------------------------------------------------------------------------------

def _raw_titles(info: PageInfo) -> dict[str, str]:
    """The metadata's titles by source: JSON-LD headline, og:title, twitter:title, <title>."""
    return {key: _clean(value) for key, value in (
        ("ld", info.ld_str("headline")), ("og", info.meta.get("og:title")),
        ("twitter", info.meta.get("twitter:title")), ("title", info.page_title)) if value}


def _metadata(info: PageInfo, raw: dict[str, str], names: set[str], logos: set[str],
              labels: set[str]) -> dict[str, str]:
    """The metadata's titles by source, site names stripped; cut-off, description and site-only ones dropped."""
    names = names | _shared_labels(list(raw.values()))
    titles = {key: _strip_bare(_strip(value, names, labels), logos) for key, value in raw.items()}
    titles = _keep(titles, lambda t: _squash(t) not in {"", *names, *logos})
    # A JSON-LD headline cut short ("...") yields to a title that goes on where it stops.
    titles = {key: t for key, t in titles.items() if not any(_truncated(t, o) for o in titles.values())}
    # A description copied into a title field is not a title, unless every title field holds it.
    descriptions = {_squash(d) for d in (info.meta.get("og:description"), info.meta.get("description"),
                                         info.ld_str("description")) if d}
    return _keep(titles, lambda t: _squash(t) not in descriptions)


def _keep(titles: dict[str, str], test: Callable[[str], bool]) -> dict[str, str]:
    return {key: t for key, t in titles.items() if test(t)} or titles


def _pick_heading(headings: list[tuple[LexborNode, str]], metas: list[str], names: set[str],
                  labels: set[str]) -> tuple[LexborNode, str] | None:
    """The <h1> that agrees best with the metadata (the first when there is none), not the site's name."""
    best: tuple[float, LexborNode, str] | None = None
    for node, shown in headings:
        if len(shown) > _MAX_CHARS or _is_site(shown, names) or _is_logo(node):
            continue
        text = _strip(_heading_text(node, shown, metas), names, labels)
        if not metas:  # nothing to agree with: the first that is not the site's name
            return node, text
        # A section name ("Blog"), a call to action or a heading inside the story shares few words with it.
        score = _best(text, metas)
        if score >= _AGREE and (best is None or score > best[0]):
            best = (score, node, text)
    return (best[1], best[2]) if best else None


def _heading_text(node: LexborNode, joined: str, metas: list[str]) -> str:
    """The <h1>'s text, or the part of it the metadata names when the rest is a kicker ("Premier League")."""
    keys, spellings = {_squash(m) for m in metas}, {_words(m) for m in metas}
    if not keys or _words(joined) in spellings:
        return joined
    # Inline pieces run together ("Planning <span>C</span>ycle") unless the metadata spells them apart.
    spaced = visible_text(node, spaced=True)
    whole = spaced if _words(spaced) in spellings or _best(spaced, metas) > _best(joined, metas) else joined
    if _squash(whole) in keys:
        return whole
    # The headline's own element in the <h1> (<span>Kicker</span><span>Headline</span> (source)), or the <h1>
    # less a labelling element (<strong>Blog:</strong> Headline); never a lone word of it.
    inner = [visible_text(part) for part in node.traverse() if part.mem_id != node.mem_id]
    rests = [_clean(whole.replace(text, " ", 1)) for text in inner if text]
    for text in (*inner, *rests):
        if _squash(text) in keys and (len(text.split()) > 1 or 2 * len(text) >= len(whole)):
            return text
    return whole


def _publisher_headline(info: PageInfo, metas: dict[str, str], shown: str) -> str | None:
    """The JSON-LD headline when it differs from the <h1> and is the publisher's own wording of it.

    Own: not a copy of <title>, and on a NewsArticle or confirmed by og:title. News sites word the <h1> for
    readers and the NewsArticle headline for search engines and aggregators, and file the story under it.
    """
    raw, headline = info.ld_str("headline"), metas.get("ld")
    if not raw or not headline or _squash(raw) == _squash(info.page_title or ""):
        return None
    types = info.ld.get("@type")
    news = any(str(t).endswith("NewsArticle") for t in (types if isinstance(types, list) else [types]))
    confirmed = _squash(metas.get("og", "")) == _squash(headline)
    return headline if (news or confirmed) and _squash(headline) != _squash(shown) else None


def _from_metadata(metas: list[str]) -> str:
    """The metadata title the others agree with most (on a tie the JSON-LD headline, then og:title)."""
    if not metas:
        return ""
    title = max(metas, key=lambda m: (sum(_dice(m, o) for o in metas), -metas.index(m)))
    # No headline on the page to compare with: a short last part after a pipe is the site's name.
    head, _, last = title.rpartition("|")
    return head.strip() if len(last.split()) <= 3 < len(head.split()) else title


# --- site names -------------------------------------------------------------------------------------------

def _site_names(tree: LexborHTMLParser, info: PageInfo, extra: tuple[str, ...], titles: Iterable[str]) -> set[str]:
    """Squashed names the site goes by: the adapter's, og:site_name, the publisher, the domain's name."""
    publisher = info.ld.get("publisher")
    raw = [*extra, info.meta.get("og:site_name"), publisher.get("name") if isinstance(publisher, dict) else None,
           info.meta.get("application-name"), info.meta.get("apple-mobile-web-app-title")]
    bogus = {_squash(t) for t in titles}  # CMSs that fill og:site_name with the page's title
    names: set[str] = set()
    for name in (_clean(n) for n in raw if isinstance(n, str)):
        if _squash(name) not in bogus:  # "Name | Tagline": either part names the site
            names |= {_squash(name), *(_squash(part) for part in _SEPARATOR.split(name))}
    # The canonical URL names the domain; without one, the page's own <link>s do.
    urls = [info.canonical, info.meta.get("og:url")]
    if not any(urls):
        urls = [link.attributes.get("href") for link in tree.css("head link[href]")[:_HEAD_LINKS]]
    hosts = {m.group(1).lower().removeprefix("www.") for url in urls if url and (m := _HOST.search(url))}
    for host in hosts:
        labels = host.split(".")[:-1]
        if len(labels) >= 2 and labels[-1] in _SECOND_LEVEL:  # bbc.co.uk
            labels.pop()
        if labels and len(labels[-1]) >= 3:  # "golem" and "golemde" of golem.de
            names |= {_squash(labels[-1]), _squash(host)}
    return names - {""}


def _shared_labels(titles: list[str]) -> set[str]:
    """The short part after a "|" that two differently worded titles share ("... | Opinion") is a label."""
    split = {(_squash(head), _squash(last)) for t in titles for head, _, last in [t.rpartition("|")] if head}
    return {last for head, last in split
            if any(h != head and other == last and len(last) < min(len(h), len(head)) for h, other in split)}


def _strip_bare(title: str, logos: set[str]) -> str:
    """"davidbau.com Vibe Coding" -> "Vibe Coding": the logo's words opening a title with no separator."""
    words = title.split() if logos else []
    for n in range(1, len(words)):
        if _squash(" ".join(words[:n])) in logos:
            return " ".join(words[n:])
    return title


def _is_site(text: str, names: set[str], *, last: bool = False) -> bool:
    """True when `text` is one of the site's names, or mostly one ("Golem.de", "SRF" of "Radio SRF").

    A title's `last` part may also be the name and more ("UC Davis Children's Hospital" of ucdavis.edu).
    """
    key = _squash(text)
    short = len(key) >= 3 and len(text.split()) <= 5  # a headline is no part of a long site name
    for name in names:
        if last and len(name) >= 5 and key.startswith(name) and len(text.split()) <= 4:
            return True
        if key == name or (len(name) >= 4 and _affix(name, key) and 2 * len(name) >= len(key)):
            return True
        if short and _affix(key, name) and 2 * len(key) >= len(name):
            return True
    return False


def _is_logo(node: LexborNode) -> bool:
    """An <h1> that shows the site's name or logo: a link to a home page, a logo or site-title class."""
    hrefs = [(link.attributes.get("href") or "").strip() for link in node.css("a[href]")]
    home = any(urlsplit(h).path in ("", "/") and "?" not in h and h.startswith(("/", "http")) for h in hrefs)
    return home or node.css_first(_LOGO) is not None


# --- comparing --------------------------------------------------------------------------------------------

def _clean(text: str) -> str:
    """Whitespace collapsed, invisible marks dropped, entities decoded again ("finally&#8230;"), mojibake undone."""
    text = htmlmod.unescape(" ".join(_INVISIBLE.sub("", text).split()))
    if _MOJIBAKE.search(text):  # "Investorâ\x80\x99s"
        with contextlib.suppress(UnicodeError):
            text = text.encode("latin-1").decode("utf-8")
    return text


def _truncated(text: str, other: str) -> bool:
    """True when `text` is `other` cut off mid-phrase (not `other` less a " | Site" suffix)."""
    stem = text.rstrip(".… ")
    rest = other[len(stem):]
    cut = len(text) >= _TRUNCATED or text.endswith(("…", "..."))
    return cut and other.startswith(stem) and bool(rest.strip()) and not _SEPARATOR.match(rest)


@lru_cache(maxsize=1024)  # a page compares the same few titles and names dozens of times
def _squash(text: str) -> str:
    """Letters and digits only, lower-cased, accents dropped: "Público" ~ publico.es."""
    return "".join(_WORD.findall(unicodedata.normalize("NFKD", text.casefold())))


def _words(text: str) -> tuple[str, ...]:
    return tuple(_WORD.findall(text.casefold()))


def _dice(a: str, b: str) -> float:
    words_a, words_b = set(_words(a)), set(_words(b))
    return 2 * len(words_a & words_b) / (len(words_a) + len(words_b)) if words_a and words_b else 0.0


def _best(text: str, metas: list[str]) -> float:
    return max((_dice(text, m) for m in metas), default=0.0)


def _affix(part: str, whole: str) -> bool:
    return whole.startswith(part) or whole.endswith(part)


def _join(parts: list[str], seps: list[str]) -> str:
    pieces = (sep + part for sep, part in zip(seps, parts[1:], strict=False))
    return (parts[0] + "".join(pieces)).strip() if parts else ""
