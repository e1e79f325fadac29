"""Retention of the fetch log: `[settings] keep_fetches_days`, validated at start-up, applied by the daemon after
each pass; old rows go, recent ones and other sources' stay, articles are untouched."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import Site, article_html, query, rss, send

from ingest.archive import store
from ingest.archive.retention import prune_fetches
from ingest.config import ConfigError, load_config, parse_config
from ingest.crawl.fetch import Fetcher
from ingest.run.runner import InProcessRunner
from ingest.run.scheduler import Daemon

UA = "ingest-test/1.0 (+https://example.org/contact)"
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def log_rows(db_path: Path, source: str, ages_days: list[float]) -> None:
    """Fetch-log rows of `source`, each `age` days before NOW."""
    db = store.open_db(db_path)
    with store.transaction(db):
        for i, age in enumerate(ages_days):
            store.log_fetch(db, url=f"http://127.0.0.1:9/{source}/{i}", source=source, outcome="failed",
                            reason="connection")
            db.execute("UPDATE fetches SET time = ? WHERE id = last_insert_rowid()",
                       [(NOW - timedelta(days=age)).isoformat(timespec="seconds")])
    db.close()


def ages(db_path: Path, source: str) -> list[float]:
    return sorted((NOW - datetime.fromisoformat(r[0])).total_seconds() / 86400
                  for r in query(db_path, "SELECT time FROM fetches WHERE source = ?", (source,)))


def test_old_rows_go_in_batches_and_recent_ones_stay(tmp_path: Path) -> None:
    path = tmp_path / "news.db"
    log_rows(path, "a", [1, 10, 89.9, 90.1, 100, 200, 365, 400, 500, 1000])
    log_rows(path, "b", [1, 200, 1000])
    db = store.open_db(path)
    try:
        assert prune_fetches(db, "a", 0, now=NOW) == 0  # 0: keep them all
        assert prune_fetches(db, "a", 90, now=NOW, batch=3) == 7  # three full batches of 3 and one of 1
        assert prune_fetches(db, "a", 90, now=NOW, batch=3) == 0
    finally:
        db.close()
    assert ages(path, "a") == [1, 10, 89.9]
    assert ages(path, "b") == [1, 200, 1000]  # another source's rows: its own passes prune them
    assert query(path, "PRAGMA integrity_check")[0][0] == "ok"


@pytest.mark.parametrize("value", ["-1", "1.5", '"90"', "true"])
def test_a_bad_keep_fetches_days_is_refused_at_start_up(value: str, tmp_path: Path) -> None:
    config = tmp_path / "sources.toml"
    config.write_text(f"[settings]\nkeep_fetches_days = {value}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"settings\.keep_fetches_days: must be a whole number of at least 0"):
        load_config(config)


def test_keep_fetches_days_defaults_to_keeping_everything() -> None:
    assert parse_config({}).settings.keep_fetches_days == 0
    assert parse_config({"settings": {"keep_fetches_days": 90}}).settings.keep_fetches_days == 90


def test_the_daemon_prunes_a_sources_old_fetch_rows_after_its_pass(tmp_path: Path,
                                                                  caplog: pytest.LogCaptureFixture) -> None:
    story = "/news/2026/06/01/story"
    site = Site({"/robots.txt": lambda h: send(h, 200, b"User-agent: *\nAllow: /\n", "text/plain"),
                 story: lambda h: send(h, 200, article_html("Story", ["A paragraph long enough to keep. " * 8]
                                                           ).encode())})
    site.routes["/feed.xml"] = lambda h: send(h, 200, rss([site.url(story)]), "application/rss+xml")
    config_path = tmp_path / "sources.toml"
    config_path.write_text("\n".join([
        "[settings]", f'user_agent = "{UA}"', "per_host_delay = 0", "max_retries = 0", "keep_fetches_days = 30",
        "[sources.news]", f'feeds = ["{site.url("/feed.xml")}"]',
        "[sources.other]", 'feeds = ["http://127.0.0.1:9/feed.xml"]', "enabled = false"]) + "\n", encoding="utf-8")
    caplog.set_level(logging.INFO, logger="ingest")
    db_path = tmp_path / "db" / "news.db"
    now = datetime.now(UTC)
    old = (now - timedelta(days=31)).isoformat(timespec="seconds")
    recent = (now - timedelta(days=29)).isoformat(timespec="seconds")
    log_rows(db_path, "news", [0, 0, 0])  # ids 1-3
    log_rows(db_path, "other", [0])  # id 4
    db = store.open_db(db_path)
    with store.transaction(db):
        db.execute("UPDATE fetches SET time = ? WHERE id IN (1, 2, 4)", [old])
        db.execute("UPDATE fetches SET time = ? WHERE id = 3", [recent])
    db.close()
    config = load_config(config_path)
    hosts = store.HostStore(db_path)
    try:
        with Fetcher(config.settings, hosts) as fetcher, InProcessRunner(config, db_path, fetcher) as runner:
            Daemon(config, db_path, runner).job(config.sources["news"])
    finally:
        hosts.close()
        site.close()
    rows = query(db_path, "SELECT id, source, outcome FROM fetches ORDER BY id")
    assert [r["id"] for r in rows if r["id"] <= 3] == [3]  # the two older than 30 days went
    assert [r["outcome"] for r in rows if r["id"] > 4] == ["new"]  # the pass's own row
    assert [r["id"] for r in rows if r["source"] == "other"] == [4]  # not this source's: left
    assert query(db_path, "SELECT count(*) FROM articles")[0][0] == 1
    assert any("news deleted 2 fetches rows older than keep_fetches_days = 30" in r.getMessage()
               for r in caplog.records)
