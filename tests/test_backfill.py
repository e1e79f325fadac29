"""`ingest backfill` over a synthetic archive of several months: exact counts for a window, inclusive
boundaries, listing pagination that stops at --since, --dry-run, interruption and resumption."""

from __future__ import annotations

import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import date, datetime
from datetime import time as dt_time
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import pytest
from archive_site import ArchiveSite
from click.testing import CliRunner

from ingest.archive.sqlite import open_store
from ingest.cli import cli
from ingest.config import load_config
from ingest.crawl.fetch import Fetcher, MemoryHostStates
from ingest.run.pipeline import run_source

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
    assert not db.exists()
    assert list(tmp_path.iterdir()) == [tmp_path / "sources.toml"]  # nothing written
    # an existing archive: the dry run adds no link and no validator to it, so the real run reads the sitemaps
    # in full and finds the same 47
    backfill(config(tmp_path, site, listings=False), db, "--since", "2024-01-01", "--until", "2024-01-31")
    out = backfill(config(tmp_path, site, listings=False), db, "--dry-run", "--since", "2024-03-15",
                   "--until", "2024-04-30")
    assert "archive: 47 to fetch" in out
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT count(*) FROM frontier WHERE published_hint >= '2024-03'").fetchone()[0] == 0
    conn.close()
    backfill(config(tmp_path, site, listings=False), db, "--since", "2024-03-15", "--until", "2024-04-30")
    assert len(days_stored(db)) == 31 + 47


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


def test_limit_leaves_the_rest_pending_and_a_finished_discovery_no_cursor(tmp_path: Path, site: ArchiveSite) -> None:
    """--limit fetches N, the rest stays in the frontier for the next run; discovery that ran to its end clears
    its cursor. (Interrupted discovery: test_sigkilled_backfill_resumes_from_its_cursor.)"""
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


# --- the whole archive ----------------------------------------------------------------------------

TWO_YEARS = (date(2023, 1, 1), date(2024, 12, 31))  # 731 stories, 24 monthly sitemaps


def test_daemon_pass_is_incremental_and_backfill_takes_the_whole_archive(tmp_path: Path) -> None:
    """A daemon pass reads 3 child sitemaps and `max_pages` listing pages and saves validators; a backfill with no
    window then reads all 24 children (through an index of yearly indexes) and every listing page to the end,
    sends none of the daemon's validators, and stores every article."""
    served = ArchiveSite(*TWO_YEARS, nested=True, page_size=19).start()  # 39 listing pages
    try:
        cfg = config(tmp_path, served)
        db = tmp_path / "news.db"
        source = load_config(cfg).sources["archive"]
        conn = open_store(db)
        with Fetcher(load_config(cfg).settings, MemoryHostStates()) as fetcher:
            daemon = run_source(conn, fetcher, source)
        conn.close()
        months = [h for h in served.hits if re.fullmatch(r"/sitemaps/\d{4}-\d{2}\.xml", h)]
        # the newest 3 children of each index
        assert sorted(months) == [f"/sitemaps/{y}-{m}.xml" for y in (2023, 2024) for m in (10, 11, 12)]
        assert daemon.new < len(served.stories) // 2
        assert db_count(db, "SELECT count(*) FROM resources WHERE etag IS NOT NULL") > 0
        served.hits.clear()
        out = backfill(cfg, db)
        assert sorted(set(days_stored(db))) == sorted({s.day.isoformat() for s in served.stories})
        assert len(days_stored(db)) == len(served.stories) == 731
        months = {h for h in served.hits if re.fullmatch(r"/sitemaps/\d{4}-\d{2}\.xml", h)}
        assert len(months) == 24
        pages = {h for h in served.hits if h.startswith("/news?page=")}
        assert len(pages) == 40  # 39 full pages and the empty one that ends the listing
        assert f"archive: {len(served.stories) - daemon.new} new" in out
        assert not any(h.startswith("304 ") for h in served.hits)  # the daemon's validators were not sent
    finally:
        served.close()


def test_dry_run_of_the_whole_archive_counts_every_month(tmp_path: Path) -> None:
    served = ArchiveSite(*TWO_YEARS, nested=True).start()
    try:
        out = backfill(config(tmp_path, served, listings=False), tmp_path / "news.db", "--dry-run")
        assert "archive: 731 to fetch" in out
        assert re.search(r"archive\s*│\s*2023-02\s*│\s*28\s*│", out), out
        assert re.search(r"archive\s*│\s*2024-12\s*│\s*31\s*│", out), out
        assert served.article_hits() == []
    finally:
        served.close()


def db_count(db: Path, sql: str) -> int:
    conn = sqlite3.connect(db)
    try:
        return int(conn.execute(sql).fetchone()[0])
    finally:
        conn.close()


def _children_done(db: Path) -> set[str]:
    if not db.exists():
        return set()
    conn = sqlite3.connect(db)
    try:
        if not conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'cursors'").fetchone():
            return set()
        return {urlsplit(stage.removeprefix("sitemap ")).path
                for (stage,) in conn.execute("SELECT stage FROM cursors WHERE stage LIKE 'sitemap %'")}
    finally:
        conn.close()


def test_sigkilled_backfill_resumes_from_its_cursor(tmp_path: Path) -> None:
    """SIGKILL at three random moments (two while child sitemaps are read, one while articles are fetched), then a
    run to the end: every article stored exactly once, the database intact, and no run requested a child sitemap
    that an earlier, killed run had finished."""
    rng = random.Random()
    seed = rng.randrange(10**6)
    rng.seed(seed)
    served = ArchiveSite(*TWO_YEARS, nested=True, page_size=50, sitemap_delay=0.08, article_delay=0.005).start()
    try:
        cfg = config(tmp_path, served)
        db = tmp_path / "news.db"
        env = {**os.environ, "INGEST_CONFIG": str(cfg), "INGEST_DB": str(db)}
        args = [sys.executable, "-m", "ingest", "backfill"]

        def months_hit() -> list[str]:
            return [h for h in served.hits if re.fullmatch(r"/sitemaps/\d{4}-\d{2}\.xml", h)]

        skipped = 0
        kills = [("months", rng.randint(2, 8)), ("months", rng.randint(2, 8)), ("articles", rng.randint(5, 200))]
        for what, after in [*kills, ("end", 0)]:
            done_before = _children_done(db)
            served.hits.clear()
            proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            if what == "end":
                _, err = proc.communicate(timeout=300)
                assert proc.returncode == 0, err
            else:
                counter = months_hit if what == "months" else served.article_hits
                deadline = time.monotonic() + 120
                while time.monotonic() < deadline and len(counter()) < after and proc.poll() is None:
                    time.sleep(0.01)
                proc.kill()
                proc.communicate(timeout=30)
            again = done_before & set(months_hit())
            assert not again, f"seed {seed}: {what} run re-read finished children {sorted(again)}"
            skipped += len(done_before)
        assert skipped >= 2, f"seed {seed}: no run had children to skip"
        conn = sqlite3.connect(db)
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        count, keys = conn.execute("SELECT count(*), count(DISTINCT url_key) FROM articles").fetchone()
        assert count == keys == len(served.stories), f"seed {seed}"
        assert conn.execute("SELECT count(*) FROM cursors").fetchone()[0] == 0
        conn.close()
    finally:
        served.close()


# --- windows are the outlet's days ----------------------------------------------------------------


@pytest.mark.parametrize(("zone", "line"), [("Europe/Kyiv", 'language = "uk"'),
                                            ("Asia/Tokyo", 'timezone = "Asia/Tokyo"')])
@pytest.mark.parametrize("via", ["sitemaps", "listings"])
def test_window_edges_are_local_midnight(tmp_path: Path, zone: str, line: str, via: str) -> None:
    """Stories at 00:30 on the outlet's clock are on the day before in UTC; --since/--until name the outlet's days
    in choosing child sitemaps (by month), listing pages (by the days in URLs) and in the final filter."""
    served = ArchiveSite(date(2024, 9, 28), date(2024, 10, 3), clock=dt_time(0, 30), zone=ZoneInfo(zone)).start()
    try:
        cfg = config(tmp_path, served, sitemaps=via == "sitemaps", listings=via == "listings")
        cfg.write_text(cfg.read_text() + line + "\n")
        db = tmp_path / "news.db"
        backfill(cfg, db, "--since", "2024-10-01", "--until", "2024-10-01")
        conn = sqlite3.connect(db)
        stored = [r[0] for r in conn.execute("SELECT published_at FROM articles")]
        conn.close()
        assert len(stored) == 1
        local = datetime.fromisoformat(stored[0]).astimezone(ZoneInfo(zone))
        assert (local.date(), local.hour, local.minute) == (date(2024, 10, 1), 0, 30)
        backfill(cfg, db, "--since", "2024-09-29", "--until", "2024-09-30")
        local_days = sorted(datetime.fromisoformat(d).astimezone(ZoneInfo(zone)).date().isoformat()
                            for d in _published(db))
        assert local_days == ["2024-09-29", "2024-09-30", "2024-10-01"]
        if via == "sitemaps":  # October's child was read for the first window, September's only for the second
            assert served.hits.count("/sitemaps/2024-10.xml") == 1
            assert served.hits.count("/sitemaps/2024-09.xml") == 1
    finally:
        served.close()


def _published(db: Path) -> list[str]:
    conn = sqlite3.connect(db)
    try:
        return [r[0] for r in conn.execute("SELECT published_at FROM articles")]
    finally:
        conn.close()
