"""A synthetic news archive on 127.0.0.1 for backfill tests.

Months of articles (one or more a day) behind a sitemap index with one child sitemap per month, and a
listing paginated newest first (/news?page=N) whose links carry the day in their path, as Ukrainska
Pravda's do. Article pages have JSON-LD dates, so the generic adapter reads them like a real outlet's.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from http.server import ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from ingest.demo import LoopbackSite

KYIV = timezone(timedelta(hours=2))
VOCABULARY = tuple(
    [
        "officials",
        "regional",
        "council",
        "reported",
        "new",
        "energy",
        "repairs",
        "after",
        "drones",
        "struck",
        "substations",
        "overnight",
        "while",
        "volunteers",
        "delivered",
        "generators",
        "schools",
        "reopened",
        "railway",
        "bridge",
        "budget",
        "exports",
        "harvest",
        "grain",
        "ports",
        "parliament",
        "approved",
        "sanctions",
        "against",
        "suppliers",
        "ministry",
        "announced",
        "funding",
        "hospitals",
        "recovery",
        "plan",
        "mayor",
        "said",
        "residents",
        "shelters",
        "heating",
        "water",
        "pipelines",
        "engineers",
        "restored",
        "power",
        "lines",
        "districts",
        "frontline",
        "brigade",
        "evacuated",
        "villages",
        "shelling",
        "damaged",
        "homes",
        "farmers",
        "tractors",
        "fields",
        "mines",
        "cleared",
        "diplomats",
        "met",
        "partners",
        "summit",
        "agreed",
        "loans",
        "reconstruction",
        "insurance",
        "investors",
        "factories",
        "drones",
    ]
)
WORDS = (
    "ministry",
    "council",
    "energy",
    "drones",
    "frontline",
    "recovery",
    "sanctions",
    "parliament",
    "harvest",
    "railway",
    "schools",
    "hospital",
    "budget",
    "exports",
    "bridge",
    "volunteers",
)


@dataclass(frozen=True)
class Story:
    number: int
    day: date

    @property
    def path(self) -> str:
        return f"/news/{self.day:%Y/%m/%d}/{self.number}/"

    @property
    def published(self) -> datetime:
        return datetime(self.day.year, self.day.month, self.day.day, 12, 0, tzinfo=KYIV)

    @property
    def title(self) -> str:
        return f"Story {self.number}: {WORDS[self.number % len(WORDS)]} report of {self.day.isoformat()}"

    def html(self) -> str:
        rng = random.Random(self.number)  # distinct prose per story: no two are near duplicates
        paragraphs = "".join(
            "<p>" + " ".join(rng.choice(VOCABULARY) for _ in range(28)).capitalize() + ".</p>" for _ in range(4)
        )
        return (
            f'<!DOCTYPE html><html lang="uk"><head><meta charset="utf-8"><title>{self.title}</title>'
            f'<meta property="og:type" content="article"><meta property="og:title" content="{self.title}">'
            '<script type="application/ld+json">{"@context": "https://schema.org", "@type": "NewsArticle", '
            f'"headline": "{self.title}", "datePublished": "{self.published.isoformat()}", '
            '"author": {"@type": "Person", "name": "Olena Archive"}}</script></head>'
            f'<body><header><nav><a href="/">Home</a></nav></header><article><h1>{self.title}</h1>'
            f"{paragraphs}</article><footer>© Archive News</footer></body></html>"
        )


@dataclass
class ArchiveSite(LoopbackSite):
    """Serves stories from `first` to `last` (inclusive), `per_day` a day, until close()."""

    first: date
    last: date
    per_day: int = 1
    page_size: int = 10
    article_delay: float = 0.0  # seconds each article page takes: room to interrupt a backfill
    hits: list[str] = field(default_factory=list)
    stories: list[Story] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None

    def __post_init__(self) -> None:
        day, number = self.first, 1000
        while day <= self.last:
            for _ in range(self.per_day):
                self.stories.append(Story(number, day))
                number += 1
            day += timedelta(days=1)
        self.stories.sort(key=lambda s: (s.day, s.number), reverse=True)  # newest first

    def between(self, since: date, until: date) -> list[Story]:
        return [s for s in self.stories if since <= s.day <= until]

    def months(self) -> list[str]:
        return sorted({f"{s.day:%Y-%m}" for s in self.stories})

    def article_hits(self) -> list[str]:
        paths = {s.path for s in self.stories}
        return [h for h in self.hits if h in paths]

    def respond(self, raw: str) -> tuple[int, str, bytes]:
        parts = urlsplit(raw)
        xml = "application/xml; charset=utf-8"
        if parts.path == "/robots.txt":
            return 200, "text/plain", b"User-agent: *\nAllow: /\n"
        if parts.path == "/sitemap.xml":
            children = "".join(f"<sitemap><loc>{self.base_url}/sitemaps/{m}.xml</loc></sitemap>" for m in self.months())
            return (
                200,
                xml,
                (
                    f'<?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/'
                    f'sitemap/0.9">{children}</sitemapindex>'
                ).encode(),
            )
        if parts.path.startswith("/sitemaps/") and parts.path.endswith(".xml"):
            month = parts.path.removeprefix("/sitemaps/").removesuffix(".xml")
            urls = "".join(
                f"<url><loc>{self.base_url}{s.path}</loc><lastmod>{s.published.isoformat()}</lastmod></url>"
                for s in self.stories
                if f"{s.day:%Y-%m}" == month
            )
            return (
                200,
                xml,
                (
                    f'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{urls}</urlset>'
                ).encode(),
            )
        if parts.path == "/news":
            page = int(parse_qs(parts.query).get("page", ["1"])[0])
            chunk = self.stories[(page - 1) * self.page_size : page * self.page_size]
            links = "".join(f'<li><a href="{s.path}">{s.title}</a></li>' for s in chunk)
            return 200, "text/html; charset=utf-8", f"<html><body><ul>{links}</ul></body></html>".encode()
        for story in self.stories:
            if story.path == parts.path:
                if self.article_delay:
                    time.sleep(self.article_delay)
                return 200, "text/html; charset=utf-8", story.html().encode()
        return 404, "text/plain", b"not found"
