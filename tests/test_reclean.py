"""A new outlet learnt end to end: `ingest backfill` on a loopback site, the raw pages in WARC files, its
boilerplate learned, the first pages re-cleaned, `ingest reclean`, `ingest boilerplate`, `ingest extract --db`."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from click.testing import CliRunner
from conftest import Route, Site, assert_consistent, query, rss, send
from test_learn import APPEAL, Made, outlet
from warcio.archiveiterator import ArchiveIterator

from ingest.cli import cli

COPY_PATH = "/syndicated/copy-of-story-12"


@pytest.fixture
def gazette(tmp_path: Path) -> tuple[Site, list[Made], Path]:
    pages = outlet()
    routes = {}
    for made in pages:
        routes[urlsplit(made.url).path] = _page(made.html)
    routes[COPY_PATH] = _page(pages[12].html.replace("story number 12", "story number 12 (syndicated)"))
    site = Site(routes)
    urls = [site.url(urlsplit(m.url).path) for m in pages] + [site.url(COPY_PATH)]
    site.routes["/feed.xml"] = lambda h: send(h, 200, rss(urls), "application/rss+xml")
    site.routes["/robots.txt"] = lambda h: send(h, 200, b"User-agent: *\nAllow: /\n", "text/plain")
    config = tmp_path / "sources.toml"
    config.write_text(f'[settings]\nper_host_delay = 0\n\n[sources.gazette]\nfeeds = ["{site.url("/feed.xml")}"]\n'
                      'language = "en"\n\n[topics.water]\nkeywords = ["water"]\n', encoding="utf-8")
    yield site, pages, config
    site.close()


def _page(html: str) -> Route:
    return lambda handler: send(handler, 200, html.encode())


def invoke(config: Path, db: Path, *args: str) -> str:
    result = CliRunner().invoke(cli, ["--config", str(config), "--db", str(db), *args])
    assert result.exit_code == 0, result.output
    return result.output


def texts(db: Path) -> dict[str, str]:
    return {urlsplit(r["url"]).path: r["text"] for r in query(db, "SELECT url, text FROM articles")}


def test_a_backfill_learns_the_outlet_and_re_cleans_its_first_pages(gazette: tuple[Site, list[Made], Path],
                                                                    tmp_path: Path) -> None:
    _, pages, config = gazette
    db = tmp_path / "db" / "news.db"
    output = invoke(config, db, "backfill")
    assert "gazette: 40 new, 1 duplicate" in output
    assert " 0 rejected" in output
    assert "re-cleaned" in output  # the first pages, once the evidence was there
    stored = texts(db)
    for made in pages:
        text = stored[urlsplit(made.url).path]
        shown = {" ".join(p.split()) for p in text.split("\n\n")}
        assert not [p for p in made.story if p not in shown], made.url
        assert not [j for j in made.junk if j in text], made.url
    assert query(db, "SELECT count(*) FROM revisions")[0][0] == 0  # a re-cleaning is no revision
    revision = query(db, "SELECT revision FROM boilerplate_sources WHERE source = 'gazette'")[0][0]
    assert {r[0] for r in query(db, "SELECT DISTINCT learned_rev FROM articles")} == {revision}
    assert_consistent(db)

    # The raw pages: one WARC file per source and month, readable by warcio, one response per page.
    files = sorted((db.parent / "warc").glob("*.warc.gz"))
    assert [f.name[:len("gazette-")] for f in files] == ["gazette-"] * len(files)
    responses = []
    for path in files:
        with path.open("rb") as stream:
            responses += [r.rec_headers.get_header("WARC-Target-URI") for r in ArchiveIterator(stream)
                          if r.rec_type == "response"]
    assert len(responses) == len(pages) + 1

    # What was learned, as `ingest boilerplate` shows it.
    learned = json.loads(invoke(config, db, "boilerplate", "gazette", "--json"))
    assert learned["pages"] == len(pages) + 1
    assert any(b["block"] == APPEAL and b["learned_at"] for b in learned["blocks"])


def test_backfill_no_reclean_leaves_the_first_pages_for_reclean(gazette: tuple[Site, list[Made], Path],
                                                                 tmp_path: Path) -> None:
    _, pages, config = gazette
    db = tmp_path / "db" / "news.db"
    output = invoke(config, db, "backfill", "--no-reclean")
    assert "re-cleaned" not in output
    early = [m for m in pages if any(j in texts(db)[urlsplit(m.url).path] for j in m.junk)]
    assert early  # cleaned before there was evidence, and left so
    assert "re-cleaned" in invoke(config, db, "reclean", "gazette")
    assert not [m for m in pages if any(j in texts(db)[urlsplit(m.url).path] for j in m.junk)]


def test_reclean_is_idempotent_and_keeps_duplicates_fts_and_topics(gazette: tuple[Site, list[Made], Path],
                                                                   tmp_path: Path) -> None:
    _, _, config = gazette
    db = tmp_path / "db" / "news.db"
    invoke(config, db, "backfill")
    before = {r["url"]: dict(r) for r in query(db, "SELECT id, url, text, duplicate_of, content_hash FROM articles")}
    topics = query(db, "SELECT article_id, topic FROM article_topics ORDER BY 1, 2")
    assert "0 re-cleaned" in invoke(config, db, "reclean", "gazette")  # nothing stale left
    assert "0 re-cleaned" in invoke(config, db, "reclean", "gazette", "--all")  # every text as it was
    after = {r["url"]: dict(r) for r in query(db, "SELECT id, url, text, duplicate_of, content_hash FROM articles")}
    assert after == before
    copy = next(r for r in after.values() if r["url"].endswith(COPY_PATH))
    assert copy["duplicate_of"] == next(r["id"] for r in after.values() if r["url"].endswith("/story-12"))
    assert query(db, "SELECT article_id, topic FROM article_topics ORDER BY 1, 2") == topics
    assert_consistent(db)


def test_reclean_all_after_a_pin(gazette: tuple[Site, list[Made], Path], tmp_path: Path) -> None:
    _, pages, config = gazette
    db = tmp_path / "db" / "news.db"
    invoke(config, db, "backfill")
    # A pin added to sources.toml, then `ingest reclean --all`: the two stories quoting her lose the quote.
    config.write_text(config.read_text("utf-8").replace('language = "en"\n',
                                                        'language = "en"\njunk = ["patching pipes"]\n'), "utf-8")
    output = invoke(config, db, "reclean", "--all")
    assert f"2 re-cleaned, {len(pages) - 1} unchanged" in output
    assert not [t for t in texts(db).values() if "patching pipes" in t]
    assert_consistent(db)


def test_extract_uses_what_the_database_learned_and_never_creates_one(gazette: tuple[Site, list[Made], Path],
                                                                      tmp_path: Path) -> None:
    site, pages, config = gazette
    db = tmp_path / "db" / "news.db"
    page = tmp_path / "first.html"
    page.write_text(pages[0].html, encoding="utf-8")
    args = ["--config", str(config), "--db", str(db), "extract", str(page), "--url", site.url("/2025/03/01/story-0"),
            "--source", "gazette"]
    cold = CliRunner().invoke(cli, args)
    assert cold.exit_code == 0, cold.output
    assert APPEAL in json.loads(cold.output)["text"]
    assert not db.exists()  # an extract never creates the database
    invoke(config, db, "backfill")
    warm = CliRunner().invoke(cli, args)
    assert APPEAL not in json.loads(warm.output)["text"]


def test_boilerplate_and_reclean_refuse_a_missing_database(gazette: tuple[Site, list[Made], Path],
                                                           tmp_path: Path) -> None:
    _, _, config = gazette
    missing = tmp_path / "nowhere" / "news.db"
    for args in (["boilerplate", "gazette"], ["reclean"]):
        result = CliRunner().invoke(cli, ["--config", str(config), "--db", str(missing), *args])
        assert result.exit_code == 2
        assert "no database at" in result.output
        assert "Traceback" not in result.output
    assert not missing.parent.exists()


def test_reclean_takes_articles_an_older_adapter_version_cleaned(gazette: tuple[Site, list[Made], Path],
                                                                 tmp_path: Path) -> None:
    _, _, config = gazette
    db = tmp_path / "db" / "news.db"
    invoke(config, db, "backfill")
    conn = sqlite3.connect(db)
    conn.execute("UPDATE articles SET adapter_version = 0 WHERE id <= 5")  # as a version-0 adapter left them
    conn.commit()
    conn.close()
    assert "0 re-cleaned, 5 unchanged" in invoke(config, db, "reclean")
    assert query(db, "SELECT count(*) FROM articles WHERE adapter_version = 0")[0][0] == 0
    assert "0 re-cleaned, 0 unchanged" in invoke(config, db, "reclean")
