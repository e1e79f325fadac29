"""A synthetic news archive on 127.0.0.1 for backfill tests.

Months of articles (one or more a day) behind a sitemap index with one child sitemap per month (or, nested,
an index of yearly indexes of months), and a listing paginated newest first (/news?page=N) whose links carry
the day in their path, as Ukrainska Pravda's do. Article pages have JSON-LD dates, so the generic adapter reads
them like a real outlet's. Stories are published at `clock` in `zone`, the outlet's time: at 00:30 they fall
on the day before in UTC (Kyiv, Tokyo), the edge a backfill window must get right.
"""

from __future__ import annotations

import hashlib
import random
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone, tzinfo
from datetime import time as clock_time
from http.server import ThreadingHTTPServer
from typing import Self
from urllib.parse import parse_qs, urlsplit

from ingest.demo.outlet import LoopbackSite, Reply, serve_http

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
    clock: clock_time = clock_time(12)
    zone: tzinfo = KYIV

    @property
    def path(self) -> str:
        return f"/news/{self.day:%Y/%m/%d}/{self.number}/"

    @property
    def published(self) -> datetime:
        return datetime.combine(self.day, self.clock, self.zone)

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
    sitemap_delay: float = 0.0  # seconds each child sitemap takes
    nested: bool = False  # /sitemap.xml lists yearly indexes (/sitemaps/YYYY.xml) that list the months
    clock: clock_time = clock_time(12)  # when each story is published, in `zone`
    zone: tzinfo = KYIV
    hits: list[str] = field(default_factory=list)
    stories: list[Story] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None

    def __post_init__(self) -> None:
        day, number = self.first, 1000
        while day <= self.last:
            for _ in range(self.per_day):
                self.stories.append(Story(number, day, self.clock, self.zone))
                number += 1
            day += timedelta(days=1)
        self.stories.sort(key=lambda s: (s.day, s.number), reverse=True)  # newest first

    def start(self) -> Self:
        """Serve, with an ETag on every feed, sitemap and listing page and 304 for a matching If-None-Match (hits
        logs those as "304 <path>"): what a daemon pass saves can hide the archive from a backfill."""

        def respond(path: str, request: Mapping[str, str]) -> Reply:
            status, ctype, body = self.respond(path)
            tag = f'"{hashlib.sha1(body).hexdigest()}"'
            if status == 200 and not path.startswith("/news/"):  # everything but article pages
                if request.get("if-none-match") == tag:
                    self.hits.append(f"304 {path}")
                    return 304, {"ETag": tag}, b""
                self.hits.append(path)
                return status, {"Content-Type": ctype, "ETag": tag}, body
            self.hits.append(path)
            return status, {"Content-Type": ctype}, body

        self.server = serve_http(respond, name=type(self).__name__)
        return self

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
        if parts.path == "/sitemap.xml" or (self.nested and re.fullmatch(r"/sitemaps/\d{4}\.xml", parts.path)):
            year = parts.path.removeprefix("/sitemaps/").removesuffix(".xml")
            if self.nested and parts.path == "/sitemap.xml":
                names = sorted({m[:4] for m in self.months()})
            else:
                names = [m for m in self.months() if m.startswith(year) or parts.path == "/sitemap.xml"]
            children = "".join(f"<sitemap><loc>{self.base_url}/sitemaps/{n}.xml</loc></sitemap>" for n in names)
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
            if self.sitemap_delay:
                time.sleep(self.sitemap_delay)
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
