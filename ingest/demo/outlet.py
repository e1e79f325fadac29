"""A loopback news site per outlet, built from saved pages.

folder of <slug>/<name>.html + <name>.json -> one HTTP server per outlet on 127.0.0.1 serving
robots.txt, an RSS feed, a sitemap, a paginated listing and the article pages at their real paths.
The end-to-end tests serve them so; `ingest demo` (ingest/demo/run.py) serves the same pages at their
outlets' URLs, so a newcomer without internet sees the real fetch, clean and store path at work.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit
from xml.sax.saxutils import escape

from ingest.config import Config, Settings, Source

LISTING_PAGE_SIZE = 3
# Outlet pages bundled with the package: the adapters' golden fixtures, and the demo's sites.
PAGES = Path(__file__).parent.parent / "demo_site"


# request path, request headers (lower-cased names) -> (status, response headers, body)
Reply = tuple[int, dict[str, str], bytes]


def serve_http(respond: Callable[[str, Mapping[str, str]], Reply], *, keep_alive: bool = False,
               name: str = "loopback-site") -> ThreadingHTTPServer:
    """A threaded HTTP server on 127.0.0.1 (a free port) answering GETs with `respond`, already serving.

    `keep_alive`: HTTP/1.1 connections without Nagle's delay, for benchmarks that fetch thousands of pages.
    """

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1" if keep_alive else "HTTP/1.0"
        disable_nagle_algorithm = keep_alive  # headers and body are two writes: Nagle + delayed ACK cost 40 ms

        def do_GET(self) -> None:
            status, headers, body = respond(self.path, {k.lower(): v for k, v in self.headers.items()})
            self.send_response(status)
            for key, value in {"Content-Length": str(len(body)), **headers}.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True, name=name).start()
    return server


@dataclass(frozen=True)
class SitePage:
    path: str
    body: bytes
    content_type: str
    published_at: datetime | None
    title: str


class LoopbackSite:
    """A site on 127.0.0.1 at a free port: start() serves respond(path), close() stops; hits logs requests."""

    hits: list[str]
    server: ThreadingHTTPServer | None

    def respond(self, raw_path: str) -> tuple[int, str, bytes]:
        """(status, content type, body) for a request path."""
        raise NotImplementedError

    @property
    def base_url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> Self:
        def respond(path: str, request: Mapping[str, str]) -> Reply:
            self.hits.append(path)
            status, ctype, body = self.respond(path)
            return status, {"Content-Type": ctype}, body

        self.server = serve_http(respond, name=type(self).__name__)
        return self

    def close(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None


@dataclass
class OutletSite(LoopbackSite):
    """One outlet's pages served on 127.0.0.1 at a free port until close()."""

    slug: str
    pages: list[SitePage]
    robots: str = "User-agent: *\nAllow: /\n"
    hits: list[str] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None

    def respond(self, raw_path: str) -> tuple[int, str, bytes]:
        """(status, content type, body) for a request path."""
        parts = urlsplit(raw_path)
        if parts.path == "/robots.txt":
            return 200, "text/plain", self.robots.encode()
        if parts.path == "/feed.xml":
            return 200, "application/rss+xml; charset=utf-8", self.feed().encode()
        if parts.path == "/sitemap.xml":
            return 200, "application/xml; charset=utf-8", self.sitemap().encode()
        if parts.path == "/news":
            number = int(parse_qs(parts.query).get("page", ["1"])[0])
            return 200, "text/html; charset=utf-8", self.listing(number).encode()
        for wanted in (raw_path, parts.path):  # the exact capture first, then the page at that path
            for page in self.pages:
                if page.path == wanted:
                    return 200, page.content_type, page.body
        return 404, "text/plain", b"not found"

    def feed(self) -> str:
        items = "".join(
            f"<item><title>{escape(p.title)}</title><link>{escape(self.base_url + p.path)}</link>"
            + (f"<pubDate>{format_datetime(p.published_at)}</pubDate>" if p.published_at else "")
            + "</item>" for p in self.pages)
        return (f'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>{self.slug}'
                f"</title><link>{self.base_url}/</link>{items}</channel></rss>")

    def lastmod(self, page: SitePage) -> datetime | None:
        """The page's <lastmod> in the sitemap: its publication (a site that edits pages says when)."""
        return page.published_at

    def sitemap(self) -> str:
        urls = "".join(
            f"<url><loc>{escape(self.base_url + p.path)}</loc>"
            + (f"<lastmod>{when.isoformat()}</lastmod>" if (when := self.lastmod(p)) else "")
            + "</url>" for p in self.pages)
        return ('<?xml version="1.0" encoding="UTF-8"?>'
                f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{urls}</urlset>')

    def listing(self, number: int) -> str:
        start = (number - 1) * LISTING_PAGE_SIZE
        links = "".join(f'<li><a href="{escape(p.path)}">{escape(p.title)}</a></li>'
                        for p in self.pages[start:start + LISTING_PAGE_SIZE])
        return f"<html><body><h1>{self.slug}</h1><ul>{links}</ul></body></html>"


def read_pages(folder: Path) -> list[tuple[str, str | None, SitePage]]:
    """(the page's real URL, its expected language, the page) for each <name>.html + <name>.json pair."""
    pages: list[tuple[str, str | None, SitePage]] = []
    for meta_path in sorted(folder.glob("*.json")):
        html_path = meta_path.with_suffix(".html")
        if not html_path.exists():
            continue
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        expected = meta.get("expected", {})
        when = expected.get("published_at")
        path = urlsplit(meta["url"]).path
        if any(p.path == path for _, _, p in pages):  # two captures of one URL (say, a challenge page)
            path += f"?capture={meta_path.stem}"
        pages.append((meta["url"], expected.get("language"), SitePage(
            path=path, body=html_path.read_bytes(),
            content_type=meta.get("content_type", "text/html"),
            published_at=datetime.fromisoformat(when).astimezone(UTC) if when else None,
            title=expected.get("title") or meta_path.stem)))
    return pages


def load_site(folder: Path) -> OutletSite:
    """An OutletSite from <name>.html + <name>.json pairs (the json gives the page's real URL)."""
    return OutletSite(slug=folder.name, pages=[page for _, _, page in read_pages(folder)])


def serve_folder(root: Path, slugs: list[str] | None = None) -> dict[str, OutletSite]:
    """Start one site per outlet folder under root."""
    folders = [d for d in sorted(root.iterdir()) if d.is_dir() and (slugs is None or d.name in slugs)]
    return {d.name: load_site(d).start() for d in folders if any(d.glob("*.json"))}


def site_config(sites: dict[str, OutletSite], settings: Settings | None = None) -> Config:
    """A Config whose sources point at the loopback sites, each with its outlet's adapter."""
    sources = {
        slug: Source(slug=slug, adapter=slug, feeds=(f"{site.base_url}/feed.xml",),
                     sitemaps=(f"{site.base_url}/sitemap.xml",),
                     listings=(f"{site.base_url}/news?page={{page}}",), domains=("127.0.0.1",),
                     interval=60.0, max_pages=3)
        for slug, site in sites.items()
    }
    settings = settings or Settings(per_host_delay=0.0, concurrency=4, timeout=10.0, max_retries=0)
    return Config(settings=settings, sources=sources, path="<demo>")
