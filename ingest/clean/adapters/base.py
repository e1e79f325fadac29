"""Adapter stage: a fetched Page -> a clean Article, or Rejected.

Contract: `Adapter().parse(page, source=..., language=...)` reads one HTML page and returns an Article
(text = paragraphs separated by a blank line, junk removed; metadata with aware datetimes), or raises
Rejected("bot-challenge" | "not-article" | "too-short" | "too-large"). This class does all the work;
an outlet adapter is a small subclass that sets CSS selectors as class attributes. JSON-LD and meta
tags are read once per page; when an outlet's body selector stops matching (a redesign), the generic
path runs on the whole page and Article.fallback is set. Page metadata is read in `page.py`; the
bot-challenge, not-article, size and paywall checks live in `checks.py`; junk blocks are removed
before extraction by `preclean.py`.
"""

from __future__ import annotations

import html as htmlmod
import re
from dataclasses import dataclass
from datetime import tzinfo
from typing import ClassVar
from urllib.parse import urljoin, urlsplit
from zoneinfo import ZoneInfo

from selectolax.lexbor import LexborHTMLParser, LexborNode

from ingest.clean.adapters import checks
from ingest.clean.adapters.blocks import drop_junk, drop_paragraphs, junk_blocks, observe, segment
from ingest.clean.adapters.bylines import choose_authors, split_names
from ingest.clean.adapters.dating import DateContext, PageDates, read_dates
from ingest.clean.adapters.page import PageInfo, guess_language, read_page
from ingest.clean.adapters.preclean import NEVER_STORY, USUALLY_JUNK, guess_container, preclean, remove_nodes
from ingest.clean.adapters.titles import Headline, read_headline
from ingest.clean.junk import clean_text
from ingest.config import default_timezone
from ingest.decoding import page_text
from ingest.models import NOTHING_LEARNED, Article, BlockKey, Learned, Page, Rejected
from ingest.urls import ascii_host, on_domain

# English-speaking regions that write the day first (31/12/2025).
DAY_FIRST_REGIONS = frozenset({"gb", "uk", "au", "nz", "ie", "in", "za", "sg", "my", "pk", "ng", "ke"})


@dataclass(frozen=True)
class Cleaned:
    """An adapter's result: the article, and the keys of the page's blocks for the source's learning."""

    article: Article
    blocks: tuple[BlockKey, ...] = ()


class Adapter:
    """Reads one outlet's article pages; subclasses set selectors and override only what they must."""

    slug: ClassVar[str] = "generic"
    domains: ClassVar[tuple[str, ...]] = ()  # registered domains; subdomains match
    version: ClassVar[int] = 1  # bump when selectors change: stored on each row
    article_url: ClassVar[re.Pattern[str] | None] = None
    title: ClassVar[str | None] = None
    lead: ClassVar[str | None] = None
    body: ClassVar[str | None] = None  # None: the generic path (whole page), which is not a fallback
    author: ClassVar[str | None] = None
    date: ClassVar[str | None] = None  # element with a datetime/content attribute, or date text
    section: ClassVar[str | None] = None
    tags: ClassVar[str | None] = None
    paywall: ClassVar[tuple[str, ...]] = ()  # selectors present only on subscriber-only stubs
    remove: ClassVar[tuple[str, ...]] = ()
    site_names: ClassVar[tuple[str, ...]] = ()  # title suffixes to strip (" | Ukrinform")
    desk: ClassVar[str | None] = None  # the author when no person is named
    timezone: ClassVar[str | None] = None  # IANA name for the page's times without an offset; None: by language
    default_language: ClassVar[str | None] = None
    date_order: ClassVar[tuple[str, ...]] = ("ld", "meta", "page")
    trust_ld_authors: ClassVar[bool] = True
    min_chars: ClassVar[int] = 150  # a paragraph this long is story text without a full stop (checks.has_story)

    @classmethod
    def handles_host(cls, host: str) -> bool:
        """True when `host` is one of the adapter's domains or a subdomain of one (the check Source.allows makes)."""
        return any(on_domain(host, d) for d in cls.domains)

    def is_article_url(self, url: str) -> bool:
        """True when `url` looks like one of this outlet's article URLs."""
        host = urlsplit(url).hostname or ""
        if self.domains and not self.handles_host(host):
            return False
        return self.article_url is None or bool(self.article_url.search(url))

    def parse(self, page: Page, *, source: str, language: str | None = None, timezone: str | None = None,
              learned: Learned = NOTHING_LEARNED) -> Article:
        """Page -> Article; raises Rejected for challenges, non-articles and too little text."""
        return self.clean(page, source=source, language=language, timezone=timezone, learned=learned).article

    def clean(self, page: Page, *, source: str, language: str | None = None, timezone: str | None = None,
              learned: Learned = NOTHING_LEARNED) -> Cleaned:
        """Page -> the Article and the keys of its text blocks; raises Rejected like `parse`.

        `timezone` (IANA) reads the page's times that have no offset; default: the adapter's, else by language.
        `learned`: the source's boilerplate (ingest/archive/learn.py) and pins, removed before extraction.
        """
        text, truncated = checks.cut_html(page_text(page))
        checks.check_nesting(text)
        tree = LexborHTMLParser(text)
        info = read_page(tree)
        remove_nodes(tree.css("script, style, noscript, template"))
        self.check_blocked(text, tree, info)
        url = self.canonical_url(page, info)
        self.check_article(page, url, tree, info)
        headline = self.read_headline(tree, info)
        lang = info.language or (language or "").lower() or self.default_language or guess_language(
            f"{headline.text} {info.meta.get('description') or info.meta.get('og:description') or ''}")
        tz = ZoneInfo(timezone or self.timezone or default_timezone(language or lang))
        title, authors = headline.text, self.read_authors(tree, info)
        lead, dates = self.first_text(tree, self.lead), self.read_dates(tree, info, headline, page, text, tz)
        section, tags = self.read_section(tree, info), self.read_tags(tree, info)
        paywalled = checks.is_paywalled(tree, info, self.paywall)
        # Metadata is read above, before pre-cleaning removes headers, tag lists and bylines.
        container = tree.css_first(self.body) if self.body else None
        self.preclean(tree, container)
        # The blocks of the story's part of the page: the container, else articleBody / <main> / the <article>.
        root = container or guess_container(tree) or tree.body or tree.root
        blocks = segment(root) if root is not None else []
        junk = junk_blocks(blocks, learned)
        body_html = (container.html if container is not None else tree.html) or ""
        from ingest.clean.extract import (  # not at the top: fetch-only processes never need it
            extract_story,
            extract_text,
        )

        extracted = clean_text(extract_text(body_html, url=url), lang)
        body = drop_junk(extracted, junk, learned, blocks)
        if checks.has_story(extracted, self.min_chars) and not checks.has_story(body, self.min_chars):
            body = extracted  # what was learned would leave no story: keep the junk rather than lose the page
        body = self.tidy(body, title=title, lead=lead, authors=authors)
        if paywalled and not body:  # a subscriber-only stub: keep what the page gives everyone
            body = info.meta.get("og:description") or info.ld_str("description") or ""
        if not checks.has_story(body, self.min_chars) and not (paywalled and body):
            # Pre-cleaning can hide the story from trafilatura, and an app may keep it only in script data or, its
            # body an empty shell, only in its description: look there before calling the page too short.
            for found in extract_story(text, url=url):
                body = self.tidy(drop_paragraphs(clean_text(found, lang), learned), title=title, lead=lead,
                                 authors=authors)
                if checks.has_story(body, self.min_chars):
                    break
            else:  # nowhere: an article's empty app shell still gives everyone its description
                if checks.is_app_shell(text, info) and (info.is_article or self.is_article_url(url)):
                    body = info.meta.get("og:description") or info.ld_str("description") or body
        if not checks.has_story(body, self.min_chars) and not (paywalled and body):
            raise Rejected("too-short", f"{len(body)} characters of text")
        article = Article(
            url=url, source=source, title=title, text=body, authors=authors, published_at=dates.published,
            modified_at=dates.modified, date_source=dates.source, language=lang or None, lead=lead, section=section,
            tags=tags, image=info.image, adapter=self.slug, adapter_version=self.version,
            fallback=self.body is not None and container is None, paywalled=paywalled,
            fetched_url=page.url if page.url != url else None, fetched_at=page.fetched_at,
            learned_rev=learned.revision, truncated=truncated,
        )
        return Cleaned(article, observe(blocks))

    # --- checks -------------------------------------------------------------------------------------

    def check_blocked(self, html: str, tree: LexborHTMLParser, info: PageInfo) -> None:
        """Raise Rejected("bot-challenge") for challenge, captcha and consent-wall pages."""
        checks.check_blocked(html, tree, info)

    def check_article(self, page: Page, url: str, tree: LexborHTMLParser, info: PageInfo) -> None:
        """Raise Rejected("not-article") for index, listing and section pages."""
        if info.is_article or self.is_article_url(url) or self.is_article_url(page.url):
            return
        if self.article_url is not None:
            raise Rejected("not-article", f"{url} is not an article URL of {self.slug}")
        if checks.looks_like_listing(tree):
            raise Rejected("not-article", "a page of links (listing or index)")

    # --- metadata -----------------------------------------------------------------------------------

    def canonical_url(self, page: Page, info: PageInfo) -> str:
        """The canonical link or og:url when it is on the same site as the page, else the page URL."""
        page_host = urlsplit(page.url).hostname or ""
        for candidate in (info.canonical, info.meta.get("og:url")):
            if not candidate:
                continue
            absolute = urljoin(page.url, candidate.strip())
            host = urlsplit(absolute).hostname or ""
            # A page may not claim another site's URL; an outlet's sister sites (pravda.com.ua and
            # epravda.com.ua) count as one site.
            sister = self.handles_host(host) and self.handles_host(page_host)
            if urlsplit(absolute).scheme in ("http", "https") and (same_site(host, page_host) or sister):
                return absolute
        return page.url

    def read_headline(self, tree: LexborHTMLParser, info: PageInfo) -> Headline:
        """The headline without the site-name suffix, and the element that shows it."""
        return read_headline(tree, info, selector=self.title, site_names=self.site_names)

    def read_authors(self, tree: LexborHTMLParser, info: PageInfo) -> list[str]:
        """Named persons (the outlet's byline, JSON-LD, meta, the visible byline), else the desk or organisation."""
        own = split_names(self.texts(tree, self.author))
        if own:
            return own
        # Scholarly pages give each author a citation_author tag of their own.
        cited = info.meta_all.get("citation_author", [])
        meta = cited if len(cited) > 1 else [info.meta_author] if info.meta_author else []
        ld_persons = split_names(info.ld_persons) if self.trust_ld_authors else []
        # An agency credited beside the writer (SDA, dpa) is an author too; alone, an organisation is the desk.
        listed = [ld_persons + info.ld_organisations if ld_persons else [], split_names(meta)]
        host = urlsplit(info.canonical or info.meta.get("og:url") or "").hostname or ""
        sites = info.site_names | ({site_key(host).split(".")[0]} if host else set())
        persons, desks = choose_authors(listed, tree, sites)
        if persons:
            return persons
        # The site's own name is the author only when nobody is named: it is the desk.
        if desks:
            return desks
        if self.desk:
            return [self.desk]
        return info.ld_organisations if self.trust_ld_authors else []

    def read_dates(self, tree: LexborHTMLParser, info: PageInfo, headline: Headline, page: Page, html: str,
                   tz: tzinfo) -> PageDates:
        """Publication and modification times, aware, and the step that found the publication time."""
        # 05/04/2026 is May 4 on US English pages and on pages that don't say; 4 May elsewhere.
        month_first = info.language in (None, "en") and info.region not in DAY_FIRST_REGIONS
        ctx = DateContext(url=page.url, html=html, tz=tz, reference=page.fetched_at, month_first=month_first,
                          selector=self.date, order=self.date_order)
        return read_dates(tree, info, headline.node, headline.text, ctx)

    def read_section(self, tree: LexborHTMLParser, info: PageInfo) -> str | None:
        """The outlet's section (rubric) of the article."""
        return self.first_text(tree, self.section) or info.section

    def read_tags(self, tree: LexborHTMLParser, info: PageInfo) -> list[str]:
        """Topic tags: the page's tag list, else article:tag, else JSON-LD keywords."""
        return list(dict.fromkeys(self.texts(tree, self.tags) or info.tags))

    # --- body ---------------------------------------------------------------------------------------

    def preclean(self, tree: LexborHTMLParser, container: LexborNode | None) -> None:
        """Remove the common and the adapter's junk blocks, sparing the body container's ancestors."""
        selectors = (*NEVER_STORY, *self.remove, *USUALLY_JUNK)
        if container is not None:
            preclean(tree, container, selectors, guard=False)
        else:  # only a guessed container: spare whatever holds most of the running text too
            preclean(tree, guess_container(tree), selectors, guard=True)

    def tidy(self, text: str, *, title: str, lead: str | None, authors: list[str]) -> str:
        """Drop a repeated headline and an author sign-off; keep the lead as the first paragraph."""
        signoffs = {", ".join(authors).casefold(), " ".join(authors).casefold()}
        paragraphs = [
            p for p in text.split("\n\n") if p and p != title and p.casefold().strip(". ") not in signoffs
        ]
        if lead and not any(lead in p or p in lead for p in paragraphs[:2]):
            paragraphs.insert(0, lead)
        return "\n\n".join(paragraphs)

    # --- helpers ------------------------------------------------------------------------------------

    @staticmethod
    def texts(tree: LexborHTMLParser, selector: str | None) -> list[str]:
        """Whitespace-normalised texts of every node matching `selector`."""
        if not selector:
            return []
        found = (" ".join(n.text(separator=" ").split()) for n in tree.css(selector))
        return [t for t in found if t]

    @classmethod
    def first_text(cls, tree: LexborHTMLParser, selector: str | None) -> str | None:
        """Text of the first node matching `selector` that has any."""
        found = cls.texts(tree, selector)
        return htmlmod.unescape(found[0]) if found else None


def same_site(host_a: str, host_b: str) -> bool:
    """True when both hosts share a registered domain (www.x.com.ua ~ x.com.ua), an IDN spelled either way."""
    return bool(host_a) and site_key(ascii_host(host_a)) == site_key(ascii_host(host_b))


def site_key(host: str) -> str:
    """Registered-domain guess: last two labels, or three under com.ua, co.jp and the like."""
    labels = host.lower().rstrip(".").split(".")
    second_level = ("com", "co", "org", "net", "gov", "ac", "or", "ne", "go", "in", "kiev", "kyiv")
    size = 3 if len(labels) >= 3 and len(labels[-1]) == 2 and labels[-2] in second_level else 2
    return ".".join(labels[-size:])
