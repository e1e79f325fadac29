"""`ingest backfill` over a synthetic archive of several months: exact counts for a window, inclusive
boundaries, listing pagination that stops at --since, --dry-run, interruption and resumption."""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from archive_site import ArchiveSite
from click.testing import CliRunner

from ingest.cli import cli

FIRST, LAST = date(2024, 1, 1), date(2024, 5, 31)


@pytest.fixture
def site() -> Iterator[ArchiveSite]:
    served = ArchiveSite(FIRST, LAST).start()
    yield served
    served.close()


def config(tmp_path: Path, site: ArchiveSite, *, sitemaps: bool = True, listings: bool = True) -> Path:
    lines = ["[settings]", 'user_agent = "ingest-test (+https://example.org/contact)"', "per_host_delay = 0",
             "max_retries = 0", "", "[sources.archive]", 'adapter = "generic"', 'interval = "1h"',
             f'feeds = ["{site.base_url}/feed.xml"]' if not (sitemaps or listings) else ""]
    if sitemaps:
        lines.append(f'sitemaps = ["{site.base_url}/sitemap.xml"]')
    if listings:
        lines.append(f'listings = ["{site.base_url}/news?page={{page}}"]')
    path = tmp_path / "sources.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def days_stored(db: Path) -> list[str]:
    conn = sqlite3.connect(db)
    try:
        return sorted(r[0][:10] for r in conn.execute("SELECT published_at FROM articles"))
    finally:
        conn.close()


def backfill(cfg: Path, db: Path, *args: str) -> str:
    result = CliRunner().invoke(cli, ["--config", str(cfg), "--db", str(db), "backfill", *args])
    assert result.exit_code == 0, result.output
    return result.output


def test_window_from_sitemaps_is_exact_and_inclusive(tmp_path: Path, site: ArchiveSite) -> None:
    db = tmp_path / "news.db"
    out = backfill(config(tmp_path, site, listings=False), db, "--since", "2024-02-01", "--until", "2024-03-31")
    expected = site.between(date(2024, 2, 1), date(2024, 3, 31))
    assert days_stored(db) == sorted(s.day.isoformat() for s in expected)
    assert days_stored(db)[0] == "2024-02-01"  # both boundary days are in
    assert days_stored(db)[-1] == "2024-03-31"
    assert f"archive: {len(expected)} new" in out
    # only the child sitemaps overlapping the window were read
    assert sorted(h for h in site.hits if h.startswith("/sitemaps/")) == ["/sitemaps/2024-02.xml",
                                                                           "/sitemaps/2024-03.xml"]
    assert len(site.article_hits()) == len(expected)


def test_listing_pages_back_until_older_than_since(tmp_path: Path, site: ArchiveSite) -> None:
    db = tmp_path / "news.db"
    backfill(config(tmp_path, site, sitemaps=False), db, "--since", "2024-05-10")
    expected = site.between(date(2024, 5, 10), LAST)
    assert days_stored(db) == sorted(s.day.isoformat() for s in expected)
    pages = [h for h in site.hits if h.startswith("/news?page=")]
    needed = -(-len(expected) // site.page_size)  # ceil
    assert len(pages) <= needed + 1  # it stops once a page is older than --since, not at the archive's end
    assert len(site.article_hits()) == len(expected)


def test_dry_run_counts_per_month_and_fetches_no_article(tmp_path: Path, site: ArchiveSite) -> None:
    db = tmp_path / "news.db"
    out = backfill(config(tmp_path, site, listings=False), db, "--dry-run", "--since", "2024-03-15",
                   "--until", "2024-04-30")
    assert re.search(r"archive\s*│\s*2024-03\s*│\s*17\s*│", out), out
    assert re.search(r"archive\s*│\s*2024-04\s*│\s*30\s*│", out), out
    assert "archive: 47 to fetch" in out
    assert site.article_hits() == []
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT count(*) FROM articles").fetchone()[0] == 0
    assert conn.execute("SELECT count(*) FROM frontier").fetchone()[0] == 0
    conn.close()
    # the dry run saved no validators: the real run reads the sitemaps in full and finds the same 47
    backfill(config(tmp_path, site, listings=False), db, "--since", "2024-03-15", "--until", "2024-04-30")
    assert len(days_stored(db)) == 47


def test_interrupted_backfill_resumes_without_refetching(tmp_path: Path) -> None:
    slow = ArchiveSite(date(2024, 3, 1), date(2024, 4, 30), article_delay=0.15).start()
    try:
        cfg = config(tmp_path, slow)
        db = tmp_path / "news.db"
        env = {**os.environ, "INGEST_CONFIG": str(cfg), "INGEST_DB": str(db)}
        args = [sys.executable, "-m", "ingest", "backfill", "--since", "2024-03-01", "--until", "2024-04-30"]
        proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(slow.article_hits()) < 10:
            time.sleep(0.1)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
        assert proc.returncode == 0, err
        assert "stopped early" in out
        first = len(days_stored(db))
        assert 5 <= first < len(slow.stories)
        second = subprocess.run(args, env=env, capture_output=True, text=True, timeout=120)
        assert second.returncode == 0, second.stderr
        assert days_stored(db) == sorted(s.day.isoformat() for s in slow.stories)
        hits = slow.article_hits()
        assert len(hits) == len(set(hits)) == len(slow.stories)  # no article was fetched twice
        assert f"archive: {len(slow.stories) - first} new" in second.stdout
    finally:
        slow.close()


def test_cursor_skips_sitemaps_an_interrupted_run_finished(tmp_path: Path, site: ArchiveSite) -> None:
    """A run stopped after discovery resumes from its cursor; a completed run leaves no cursor."""
    cfg = config(tmp_path, site, listings=False)
    db = tmp_path / "news.db"
    backfill(cfg, db, "--since", "2024-01-01", "--until", "2024-02-29", "--limit", "5")
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT count(*) FROM cursors").fetchone()[0] == 0  # discovery completed
    assert conn.execute("SELECT count(*) FROM frontier WHERE state = 'pending'").fetchone()[0] == 60 - 5
    conn.close()
    site.hits.clear()
    backfill(cfg, db, "--since", "2024-01-01", "--until", "2024-02-29")
    assert len(days_stored(db)) == 60
    assert len(site.article_hits()) == 55
