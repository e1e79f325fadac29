"""`ingest demo` lines up with the shipped sources.toml: a real run stores the bundled pages under the configured
source slugs at the outlets' real URLs with topics, a second run stores nothing, and every query example in the
README and docs/*.md (```sql blocks, `sqlite3` commands, Datasette URLs, `ingest export` lines) returns rows on its
database."""

from __future__ import annotations

import asyncio
import json
import re
import shlex
import shutil
import sqlite3
import subprocess
import sys
import tomllib
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from click.testing import CliRunner

from ingest.archive import serve
from ingest.cli import cli
from ingest.config import load_config
from ingest.demo.run import LoopbackRoutes, plan

ROOT = Path(__file__).resolve().parent.parent
README = "\n".join(path.read_text(encoding="utf-8")  # the README, and the docs pages its sections were moved to
                   for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))])
CONFIG = ROOT / "sources.toml"


def ingest(*args: str, db: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ingest", "--config", str(CONFIG), "--db", str(db), *args],
                          capture_output=True, text=True, timeout=300, check=False)


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """db/demo.db made by a real `ingest demo` run (a subprocess, as a user runs it)."""
    folder = tmp_path_factory.mktemp("demo") / "db"
    first = ingest("demo", db=folder / "news.db")
    assert first.returncode == 0, first.stderr
    assert re.search(r"^total: 10 new, 1 duplicate, .* 1 rejected \(bot-challenge: 1\), 0 failed$", first.stdout,
                     re.MULTILINE), first.stdout
    return folder / "demo.db"


def rows(db: Path, sql: str, *params: object) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def test_a_second_run_stores_nothing_new(demo_db: Path) -> None:
    before = rows(demo_db, "SELECT id, url, content_hash FROM articles ORDER BY id")
    revisions = rows(demo_db, "SELECT id, article_id, title, title_after FROM revisions ORDER BY id")
    again = ingest("demo", db=demo_db.parent / "news.db")
    assert again.returncode == 0, again.stderr
    assert re.search(r"^total: 0 new, 0 duplicate, 0 updated, 0 unchanged, 0 rejected, 0 failed$", again.stdout,
                     re.MULTILINE), again.stdout
    assert "nothing new: the edit is stored already" in again.stdout  # the edited story was revisited, unchanged
    assert rows(demo_db, "SELECT id, url, content_hash FROM articles ORDER BY id") == before
    assert rows(demo_db, "SELECT id, article_id, title, title_after FROM revisions ORDER BY id") == revisions


def test_the_outlet_edits_a_headline_and_the_next_pass_stores_the_revision(demo_db: Path) -> None:
    """The demo's outlet edits one story's headline and says so in its sitemap (<lastmod>); the next pass revisits
    the story and keeps the edit as a revision, as the daemon would: the headline_changes view has it."""
    changes = rows(demo_db, "SELECT source, headline_before, headline_after FROM headline_changes")
    assert len(changes) == 1, changes
    source, before, after = changes[0]
    assert after == f"UPDATED: {before}"
    stored = rows(demo_db, "SELECT title FROM articles WHERE source = ? AND title = ?", source, after)
    assert stored == [(after,)]


def test_demo_sources_are_the_configured_ones_at_the_outlets_urls(demo_db: Path) -> None:
    config = load_config(CONFIG)
    stored = rows(demo_db, "SELECT source, url FROM articles")
    assert {source for source, _ in stored} == {slug for slug, s in config.sources.items() if s.enabled}
    for source, url in stored:
        assert config.sources[str(source)].wants(str(url)), (source, url)  # the real URL, on the source's hosts
        assert urlsplit(str(url)).hostname != "127.0.0.1"
    listing = ingest("sources", "--json", db=demo_db)
    assert listing.returncode == 0, listing.stderr
    assert sum(s["articles"] for s in json.loads(listing.stdout)) == len(stored) == 11  # every article shows
    stats = json.loads(ingest("stats", "--json", db=demo_db).stdout)
    assert stats["articles"] == 11


def test_topics_are_applied_as_articles_are_stored(demo_db: Path) -> None:
    topics = tomllib.loads(CONFIG.read_text(encoding="utf-8"))["topics"]
    tagged = rows(demo_db, "SELECT DISTINCT topic FROM article_topics")
    assert {t for (t,) in tagged} == set(topics)
    assert rows(demo_db, "SELECT count(*) FROM article_topics")[0][0] >= 3


def test_the_demo_transport_reaches_only_its_outlet_hosts() -> None:
    by_host = plan(load_config(CONFIG))
    assert set(by_host) >= {"www.ukrinform.net", "unn.ua", "japannews.yomiuri.co.jp"}
    routes = LoopbackRoutes(frozenset(by_host), port=9)  # nothing listens: only the refusal is tested
    with httpx.Client(transport=routes) as client:
        for url in ("https://example.org/", "http://127.0.0.1:9/", "https://ukrinform.net.evil.example/"):
            with pytest.raises(httpx.ConnectError, match="the demo serves only"):
                client.get(url)


# --- the README's (and docs/*.md's) query examples, run on the demo database -------------------------------

def fenced(language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```", README, re.MULTILINE | re.DOTALL)


def sql_examples() -> list[str]:
    found = [s.strip() for block in fenced("sql") for s in block.split(";") if s.strip()]
    found += [m.strip() for block in fenced("sh") for m in re.findall(r'\bsqlite3 \S+ "(.*?)"', block, re.DOTALL)]
    return found


def datasette_examples() -> list[str]:
    """Paths into Datasette's "news" database with a query string (not URL paths of the outlets, /news/2014/...)."""
    return sorted(set(re.findall(r"`(/news/\w+(?:\.json)?\?[^`\s]+)`", README)))


def export_examples() -> list[str]:
    return [line.split("|")[0].strip() for block in fenced("sh") for line in block.splitlines()
            if line.startswith("ingest export ")]


def test_readme_has_query_examples() -> None:
    assert len(sql_examples()) >= 4
    assert len(datasette_examples()) >= 2
    assert len(export_examples()) >= 2


@pytest.mark.parametrize("sql", sql_examples())
def test_readme_sql_returns_rows(demo_db: Path, sql: str) -> None:
    assert rows(demo_db, sql), sql


def test_readme_datasette_urls_return_rows(demo_db: Path, tmp_path: Path) -> None:
    news = tmp_path / "news.db"  # the README's URLs name the database "news"
    shutil.copy(demo_db, news)
    metadata, _ = serve.prepare(news)
    datasette = serve.datasette_app(news, metadata)

    async def get(path: str) -> list[object]:
        base, _, query = path.partition("?")
        json_path = base if base.endswith(".json") else base + ".json"
        response = await datasette.client.get(f"{json_path}?{query}&_shape=array")
        assert response.status_code == 200, (path, response.text[:300])
        return list(response.json())

    for path in datasette_examples():
        assert asyncio.run(get(path)), path


@pytest.mark.parametrize("command", export_examples())
def test_readme_exports_return_rows(demo_db: Path, tmp_path: Path, command: str) -> None:
    args = shlex.split(command)[1:]
    if "--output" in args:
        at = args.index("--output") + 1
        args[at] = str(tmp_path / Path(args[at]).name)
    result = CliRunner().invoke(cli, ["--config", str(CONFIG), "--db", str(demo_db), *args])
    assert result.exit_code == 0, result.output
    if "--output" in args:
        out = Path(args[args.index("--output") + 1])
        if out.suffix == ".parquet":
            import pyarrow.parquet as pq
            assert pq.read_table(out).num_rows > 0, command
        else:
            assert out.read_text(encoding="utf-8").strip(), command
    else:
        assert result.output.strip(), command
