"""`ingest demo`: the configured sources, run against the bundled outlet pages served on 127.0.0.1.

sources.toml + ingest/demo_site/<adapter>/<name>.html + .json -> the demo database, as `ingest run` would
fill it: the same source slugs, adapters, domains, languages, timezones and topics.

Each bundled page goes to the enabled source that would have found it: one of its adapter whose domains
and `exclude` take the page's real URL (`Source.wants`), of the page's language when several do. A page no
source takes is not served. Each source gets a feed, a sitemap and a listing of its pages at its own outlet
host (`https://www.ukrinform.net/ingest-demo/ukrinform_en/feed.xml`), so every URL discovered, fetched and
stored is the outlet's real one, the same on every run: a second run finds every link known and stores
nothing. The security rule is untouched: `Source.allows` checks those real URLs as for the daemon, and the
fetcher's transport (`LoopbackRoutes`) sends the outlet hosts to one server on 127.0.0.1 and refuses every
other host, so no request leaves the machine.
"""

from __future__ import annotations

import dataclasses
import html
import json
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Final
from urllib.parse import urlsplit

import httpx

from ingest.archive.sqlite import open_store
from ingest.config import Config, Source
from ingest.crawl.deadline import install
from ingest.demo.outlet import PAGES, OutletSite, Reply, SitePage, read_pages, serve_http
from ingest.run.pipeline import Summary, format_summaries, raw_archive, run_source

PREFIX = "/ingest-demo/"  # each source's feed, sitemap and listing: PREFIX + <slug>/feed.xml, ...
PLAIN_TITLE: Final = re.compile(r"[A-Za-z0-9 ,.:;-]{20,}")  # a headline the demo can find in its page as it is


@dataclass
class HostedSite(OutletSite):
    """One source's pages at its outlet's origin (scheme and host), behind the shared loopback server."""

    origin: str = ""
    edited: dict[str, tuple[bytes, datetime]] = dataclasses.field(default_factory=dict)  # path -> (page, when)

    def edit_headline(self, page: SitePage, when: datetime) -> str:
        """The outlet edits `page`'s headline after publication (`UPDATED: ` in front, wherever the page spells
        it) and its sitemap says so with a newer <lastmod>, as outlets do; the new headline."""
        headline = f"UPDATED: {page.title}"
        body = page.body
        for spelled in {page.title, html.escape(page.title), html.escape(page.title, quote=False),
                        json.dumps(page.title)[1:-1], json.dumps(page.title, ensure_ascii=False)[1:-1]}:
            body = body.replace(spelled.encode(), f"UPDATED: {spelled}".encode())
        self.edited[page.path] = (body, when)
        return headline

    def respond(self, raw_path: str) -> tuple[int, str, bytes]:
        for page in self.pages:
            if page.path == urlsplit(raw_path).path and page.path in self.edited:
                return 200, page.content_type, self.edited[page.path][0]
        return super().respond(raw_path)

    def lastmod(self, page: SitePage) -> datetime | None:
        return self.edited[page.path][1] if page.path in self.edited else page.published_at

    @property
    def base_url(self) -> str:
        """Where its articles are: the outlet's own URLs."""
        return self.origin

    @property
    def feeds_url(self) -> str:
        """Where its feed, sitemap and listing are."""
        return self.origin + PREFIX + self.slug


class LoopbackRoutes(httpx.BaseTransport):
    """Sends requests for the demo's outlet hosts to the loopback server (keeping their Host header) and
    refuses any other host: the demo fetches real outlet URLs without leaving 127.0.0.1."""

    def __init__(self, hosts: frozenset[str], port: int) -> None:
        self._hosts = hosts
        self._port = port
        self._inner = install(httpx.HTTPTransport())

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.host not in self._hosts:
            raise httpx.ConnectError(f"the demo serves only {', '.join(sorted(self._hosts))}", request=request)
        request.url = request.url.copy_with(scheme="http", host="127.0.0.1", port=self._port)
        return self._inner.handle_request(request)

    def close(self) -> None:
        self._inner.close()


def source_for(config: Config, adapter: str, url: str, language: str | None) -> Source | None:
    """The enabled source of `adapter` that would have found `url`, of `language` when several would."""
    takers = [s for s in config.sources.values() if s.enabled and s.adapter == adapter and s.wants(url)]
    return next((s for s in takers if s.language == language), takers[0] if takers else None)


def plan(config: Config, root: Path = PAGES) -> dict[str, list[HostedSite]]:
    """Host -> the sites of the sources that take the bundled pages on that host."""
    sites: dict[str, HostedSite] = {}
    for folder in sorted(d for d in root.iterdir() if d.is_dir()):
        for url, language, page in read_pages(folder):
            source = source_for(config, folder.name, url, language)
            if source is None:
                continue
            parts = urlsplit(url)
            site = sites.setdefault(source.slug, HostedSite(slug=source.slug, pages=[],
                                                            origin=f"{parts.scheme}://{parts.netloc}"))
            site.pages.append(page)
    by_host: dict[str, list[HostedSite]] = {}
    for site in sites.values():
        by_host.setdefault(urlsplit(site.origin).hostname or "", []).append(site)
    return by_host


def respond(by_host: Mapping[str, list[HostedSite]], path: str, request: Mapping[str, str]) -> Reply:
    """A request to the loopback server, answered as the outlet named by its Host header would."""
    sites = by_host.get(request.get("host", "").rpartition(":")[0] or request.get("host", ""), [])
    if not sites:
        return 404, {"Content-Type": "text/plain"}, b"no such demo host"
    for site in sites:
        if path.startswith(f"{PREFIX}{site.slug}/"):
            status, ctype, body = site.respond(path.removeprefix(PREFIX + site.slug))
            return status, {"Content-Type": ctype}, body
    if path == "/robots.txt":
        return 200, {"Content-Type": "text/plain"}, sites[0].robots.encode()
    for site in sites:
        status, ctype, body = site.respond(path)
        if status == 200:
            return status, {"Content-Type": ctype}, body
    return 404, {"Content-Type": "text/plain"}, b"not found"


def demo_config(config: Config, by_host: Mapping[str, list[HostedSite]]) -> Config:
    """The configured sources that take bundled pages, reading the demo's feed, sitemap and listing instead
    of the outlet's; fast settings (no delay, no retries) for pages served from this machine."""
    sources: dict[str, Source] = {}
    for sites in by_host.values():
        for site in sites:
            sources[site.slug] = dataclasses.replace(
                config.sources[site.slug], feeds=(f"{site.feeds_url}/feed.xml",),
                sitemaps=(f"{site.feeds_url}/sitemap.xml",), listings=(f"{site.feeds_url}/news?page={{page}}",),
                max_pages=3)
    settings = dataclasses.replace(config.settings, per_host_delay=0.0, max_retries=0, timeout=10.0)
    return dataclasses.replace(config, settings=settings, sources=dict(sorted(sources.items())))


def edit_one_headline(by_host: Mapping[str, list[HostedSite]],
                      config: Config) -> tuple[Source, str] | None:
    """After the first passes, one outlet edits the headline of one of its English stories (the first of the
    first such source whose title is plain enough to find in its page), a second later than now, so that the
    revisit schedule has something to show: (its source, the new headline), or None with no such story."""
    when = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=1)
    for sites in sorted(by_host.values(), key=lambda sites: sites[0].slug):
        for site in sites:
            source = config.sources[site.slug]
            if source.language != "en" or not source.revisit:
                continue
            for page in site.pages:
                if PLAIN_TITLE.fullmatch(page.title) and page.title.encode() in page.body:
                    return source, site.edit_headline(page, when)
    return None


def run_demo(db_path: Path, config: Config, *, keep_serving: bool = False) -> str:
    """Serve the bundled pages at their outlets' URLs, ingest them into db_path, and say how to browse it."""
    from ingest.crawl.fetch import Fetcher

    by_host = plan(config)
    if not by_host:
        return f"No enabled source in {config.path} takes the bundled pages: nothing to ingest."
    server: ThreadingHTTPServer = serve_http(lambda path, request: respond(by_host, path, request),
                                             name="demo-outlets")
    demo = demo_config(config, by_host)
    db = open_store(db_path)
    hosts = db.host_states()
    summaries: list[Summary] = []
    notes: list[str] = []
    try:
        routes = LoopbackRoutes(frozenset(by_host), server.server_address[1])
        with Fetcher(demo.settings, hosts, transport=routes) as fetcher:
            for source in demo.sources.values():
                summaries.append(run_source(db, fetcher, source, kind="demo", topics=demo.topics,
                                            archive=raw_archive(db_path, demo.settings)))
            edit = edit_one_headline(by_host, demo)
            if edit is not None:  # the next pass sees the sitemap's <lastmod> and revisits the story
                source, headline = edit
                again = run_source(db, fetcher, source, kind="demo", topics=demo.topics,
                                   archive=raw_archive(db_path, demo.settings))
                revisited = ("stored the edit as a revision" if again.updated else
                             "nothing new: the edit is stored already" if again.unchanged else "did not get the page")
                notes.append(f"{source.slug}: the outlet edited a headline to {headline!r}; the next pass revisited "
                             f"the story and {revisited} (see the headline_changes view, `ingest history`)")
        if keep_serving:
            print(f"demo outlets on http://127.0.0.1:{server.server_address[1]} (by Host header: "
                  f"{', '.join(sorted(by_host))}); serving until Ctrl-C")
            threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        hosts.close()
        db.close()
        server.shutdown()
        server.server_close()
    return (format_summaries(summaries) + "".join(f"\n{note}" for note in notes)
            + f"\n\nStored in {db_path}. Browse it with:\n"
            f"  ingest --db {db_path} serve      (Datasette on http://127.0.0.1:8001/{db_path.stem}, "
            f"dashboard at /dashboard)\n"
            f"  ingest --db {db_path} sources\n"
            f"  sqlite3 {db_path} \"SELECT day, source, title FROM latest LIMIT 20\"\n"
            f"  sqlite3 {db_path} \"SELECT copy_source, original_source, title FROM duplicates\"")

