"""Layout drift: when an outlet's selectors stop matching, the generic path takes over and
`ingest stats` shows the redesign the day it happens."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from ingest.cli import cli
from ingest.demo.outlet import PAGES, OutletSite, SitePage, load_site

FIXTURES = PAGES  # the golden outlet pages ship with the package (ingest/demo_site)


def test_redesign_falls_back_and_shows_in_stats(tmp_path: Path) -> None:
    original = load_site(FIXTURES / "ukrinform")
    page = original.pages[0]
    assert b'class="newsText"' in page.body
    redesigned = SitePage(path=page.path, body=page.body.replace(b'class="newsText"', b'class="story-body"'),
                          content_type=page.content_type, published_at=page.published_at, title=page.title)
    site = OutletSite(slug="ukrinform", pages=[redesigned, *original.pages[1:]]).start()
    try:
        config = tmp_path / "sources.toml"
        config.write_text(
            '[settings]\nuser_agent = "ingest-test (+https://example.org)"\nper_host_delay = 0\n'
            f'[sources.ukrinform_uk]\nadapter = "ukrinform"\nfeeds = ["{site.base_url}/feed.xml"]\n',
            encoding="utf-8")
        db = tmp_path / "news.db"
        result = CliRunner().invoke(cli, ["--config", str(config), "--db", str(db), "backfill"])
        assert result.exit_code == 0, result.output
        stats = CliRunner().invoke(cli, ["--config", str(config), "--db", str(db), "stats", "--json"])
    finally:
        site.close()
    assert stats.exit_code == 0, stats.output
    (source,) = json.loads(stats.output)["sources"]
    assert source["source"] == "ukrinform_uk"
    assert source["layout_fallbacks"] == 1  # the redesigned page; the others still match
    assert source["last_fallback"] is not None
    assert json.loads(stats.output)["articles"] == len(original.pages)
