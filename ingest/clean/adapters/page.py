"""Page metadata: a parsed HTML tree -> PageInfo (the article's JSON-LD object, meta tags, canonical, language).

Contract: `read_page(tree)` reads the article's JSON-LD object (also inside @graph, lists, a WebPage's
mainEntity and CDATA wrappers), the breadcrumbs, meta tags, canonical link, <title> and language once per
page and returns a PageInfo. Pure: no I/O. Dates are read in `dates.py` and `dating.py`, names in
`bylines.py`, the headline in `titles.py`.
"""

from __future__ import annotations

import html as htmlmod
import json
import re
from dataclasses import dataclass, field
from typing import Any

from selectolax.lexbor import LexborHTMLParser

# --- reading JSON-LD and meta tags once per page ----------------------------------------------------

# Plus every type named "...Article" (schema.org's ReportageNewsArticle, TechArticle, SatiricalArticle).
ARTICLE_TYPES = frozenset({"Article", "BlogPosting", "LiveBlogPosting", "SocialMediaPosting", "Report"})
# Pages that describe themselves only as a WebPage: read for dates, never for is_article.
_PAGE_TYPES = frozenset({"WebPage", "ItemPage"})
_CDATA = re.compile(r"^\s*(?://\s*)?<!\[CDATA\[|(?://\s*)?\]\]>\s*$")
_PUBLISHED_KEYS = (
    "article:published_time", "datepublished", "pubdate", "publishdate", "publish-date", "dc.date.issued",
    "dc.date", "dcterms.created", "citation_publication_date", "sailthru.date", "parsely-pub-date", "date",
)
_MODIFIED_KEYS = ("article:modified_time", "og:updated_time", "datemodified", "dcterms.modified")
_AUTHOR_KEYS = (
    "author", "article:author", "dc.creator", "sailthru.author", "parsely-author", "citation_author",
    "cxenseparse:author", "dcsext.author",
)


@dataclass
class PageInfo:
    """What the page says about itself: the article's JSON-LD object and its meta tags."""

    ld: dict[str, Any] = field(default_factory=dict)
    meta: dict[str, str] = field(default_factory=dict)  # first value per lower-cased name/property/itemprop
    meta_all: dict[str, list[str]] = field(default_factory=dict)
    in_body: set[str] = field(default_factory=set)  # keys whose value came from a body element's itemprop
    crumbs: list[str] = field(default_factory=list)
    canonical: str | None = None
    page_title: str | None = None
    language: str | None = None
    region: str | None = None  # of the language tag, lower-cased: "us" of en-US, "gb" of en_GB
    is_article: bool = False

    def ld_str(self, key: str) -> str | None:
        """A JSON-LD value as clean text (first of a list, `name` of an object)."""
        value = self.ld.get(key)
        if isinstance(value, list):
            value = value[0] if value else None
        if isinstance(value, dict):
            value = value.get("name") or value.get("url")
        if isinstance(value, int | float) and not isinstance(value, bool):
            value = str(int(value))
        return " ".join(htmlmod.unescape(value).split()) if isinstance(value, str) and value.strip() else None

    def _ld_authors(self, person: bool) -> list[str]:
        raw = self.ld.get("author")
        out: list[str] = []
        for item in raw if isinstance(raw, list) else [raw]:
            kind = item.get("@type", "Person") if isinstance(item, dict) else "Person"
            name = _ld_name(item) if isinstance(item, dict) else item
            is_person = "Person" in (kind if isinstance(kind, list) else [kind])
            if isinstance(name, str) and name.strip() and is_person == person and "://" not in name:
                out.append(" ".join(htmlmod.unescape(name).split()))
        return list(dict.fromkeys(out))

    @property
    def ld_persons(self) -> list[str]:
        return self._ld_authors(person=True)

    @property
    def site_names(self) -> set[str]:
        """The site's and the publisher's names, casefolded: a "Person" so named is the site."""
        publisher = self.ld.get("publisher")
        sites = {self.meta.get("og:site_name"), publisher.get("name") if isinstance(publisher, dict) else None}
        return {s.strip().casefold() for s in sites if isinstance(s, str) and s.strip()}

    @property
    def ld_organisations(self) -> list[str]:
        return self._ld_authors(person=False)

    @property
    def meta_author(self) -> str | None:
        return next((v for k in _AUTHOR_KEYS if (v := self.meta.get(k)) and "://" not in v), None)

    @property
    def published(self) -> list[str | None]:
        """Publication meta values, best key first; the <head>'s before the body's itemprops (a teaser's)."""
        ranked = sorted(_PUBLISHED_KEYS, key=lambda k: k in self.in_body)
        return [self.meta.get(k) for k in ranked]

    @property
    def modified(self) -> str | None:
        in_meta = (self.meta[k] for k in _MODIFIED_KEYS if k in self.meta)
        return self.ld_str("dateModified") or next(in_meta, None)

    @property
    def section(self) -> str | None:
        crumbs = [c for c in self.crumbs if c != self.ld_str("headline")]
        fallback = crumbs[-1] if len(crumbs) >= 2 else None
        return self.meta.get("article:section") or self.ld_str("articleSection") or fallback

    @property
    def tags(self) -> list[str]:
        raw: Any = self.meta_all.get("article:tag") or self.ld.get("keywords") or []
        items = raw.split(",") if isinstance(raw, str) else raw
        # WordPress plugins number keywords: "(1) topic".
        cleaned = (re.sub(r"^\(\d+\)\s*", "", htmlmod.unescape(str(t))).strip() for t in items)
        return [t for t in cleaned if t]

    @property
    def image(self) -> str | None:
        return self.meta.get("og:image") or self.meta.get("twitter:image") or self.ld_str("image")

    @property
    def paywalled(self) -> bool:
        free = self.ld.get("isAccessibleForFree")
        tier = self.meta.get("article:content_tier", "").lower()
        return free in (False, "False", "false") or tier in ("locked", "metered")


def read_page(tree: LexborHTMLParser) -> PageInfo:
    """Read JSON-LD (also inside @graph and lists), meta tags, canonical link, title and language."""
    info = PageInfo()
    web_page: dict[str, Any] = {}
    for script in tree.css("script[type='application/ld+json']"):
        raw = script.text()
        if "<![CDATA[" in raw or "]]>" in raw:  # some CMSs wrap JSON-LD in "//<![CDATA[ ... //]]>"
            raw = _CDATA.sub("", raw)  # (only then: the pattern walks a 100 kB blob slowly)
        try:
            data = json.loads(raw, strict=False)
        except ValueError:
            continue
        for obj in _ld_objects(data):
            types = _types(obj)
            if _is_article_type(types) and not info.ld:
                info.ld = obj
            elif types & _PAGE_TYPES and "datePublished" in obj and not web_page:
                web_page = obj
            elif "BreadcrumbList" in types and not info.crumbs:
                info.crumbs = _crumbs(obj)
    if not info.ld and web_page:
        info.ld = {k: web_page[k] for k in ("datePublished", "dateModified") if k in web_page}
    # <meta> tags first: a body element's itemprop may belong to a teaser card of another story.
    for node in [*tree.css("meta"), *(n for n in tree.css("[itemprop][content]") if n.tag != "meta")]:
        attrs = node.attributes
        key = (attrs.get("property") or attrs.get("name") or attrs.get("itemprop") or "").strip().lower()
        content = (attrs.get("content") or "").strip()
        if key and content:
            if key not in info.meta and node.tag != "meta":
                info.in_body.add(key)
            info.meta.setdefault(key, content)
            info.meta_all.setdefault(key, []).append(content)
    link = tree.css_first("link[rel=canonical]")
    info.canonical = link.attributes.get("href") if link is not None else None
    title = tree.css_first("title")
    info.page_title = " ".join(title.text().split()) if title is not None else None
    html_node = tree.css_first("html")
    raw_lang = (html_node.attributes.get("lang") if html_node is not None else None) or info.meta.get(
        "og:locale") or info.ld_str("inLanguage")
    parts = re.split(r"[-_]", raw_lang.strip().lower()) if raw_lang else []
    lang = parts[0] if parts else None
    info.region = parts[1] if len(parts) > 1 else None
    info.language = "uk" if lang == "ua" else lang or None
    info.is_article = _is_article_type(_types(info.ld)) or info.meta.get("og:type") == "article" or (
        "article:published_time" in info.meta)
    return info


def _ld_name(person: dict[str, Any]) -> Any:
    given, family = person.get("givenName"), person.get("familyName")
    if person.get("name") or not isinstance(given, str) or not isinstance(family, str):
        return person.get("name")
    return f"{given} {family}"


def _types(obj: dict[str, Any]) -> set[str]:
    types = obj.get("@type", [])
    return {t for t in (types if isinstance(types, list) else [types]) if isinstance(t, str)}


def _is_article_type(types: set[str]) -> bool:
    return bool(types & ARTICLE_TYPES) or any(t.endswith("Article") for t in types)


def _ld_objects(data: Any) -> list[dict[str, Any]]:
    if isinstance(data, list):
        return [o for item in data for o in _ld_objects(item)]
    if not isinstance(data, dict):
        return []
    # A WebPage may hold the article as its mainEntity (Ippen's fr.de, merkur.de).
    return [data, *_ld_objects(data.get("@graph", [])), *_ld_objects(data.get("mainEntity", []))]


def _crumbs(obj: dict[str, Any]) -> list[str]:
    names: list[str] = []
    for element in obj.get("itemListElement", []):
        item = element.get("item") if isinstance(element, dict) else None
        name = (item.get("name") if isinstance(item, dict) else None) or (
            element.get("name") if isinstance(element, dict) else None)
        if isinstance(name, str) and name.strip() and "://" not in name:
            names.append(" ".join(htmlmod.unescape(name).split()))
    return names


# Letters only one of the languages we read uses: Ukrainian і ї є ґ, Russian ы э ъ ё, Japanese kana.
_LETTERS = {"uk": re.compile("[іїєґІЇЄҐ]"), "ru": re.compile("[ыэъёЫЭЪЁ]"), "ja": re.compile("[\u3040-\u30ff]")}


def guess_language(text: str) -> str | None:
    """"uk", "ru" or "ja" when `text` (a headline, a description) has two letters only that language uses;
    None otherwise. For pages that declare no language (2014 Ukrainian sites have a bare <html>)."""
    counts = {lang: len(pattern.findall(text)) for lang, pattern in _LETTERS.items()}
    lang, count = max(counts.items(), key=lambda item: item[1])
    return lang if count >= 2 and sorted(counts.values())[-2] == 0 else None
