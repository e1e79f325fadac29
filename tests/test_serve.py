"""`ingest serve`: the bundled Datasette metadata works on a real database, and a real server on
127.0.0.1 answers the JSON API, full-text search and canned queries while articles keep arriving."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlite_utils
from click.testing import CliRunner
from datasette.app import Datasette

from ingest.archive import neardup, serve, store, topics
from ingest.cli import cli
from ingest.models import Article

ROOT = Path(__file__).resolve().parent.parent


def article(n: int, **fields: Any) -> Article:
    values: dict[str, Any] = {"url": f"https://www.ukrinform.net/{n}", "source": "ukrinform_en",
                              "title": f"Article {n}", "text": f"Body {n}.", "language": "en",
                              "published_at": datetime(2024, 11, 10 + n, tzinfo=UTC), **fields}
    return Article(**values)


ARTICLES = [article(1, title="Japan, Ukraine sign agreement", text="Tokyo and Kyiv signed a security deal."),
            article(2, source="unn_uk", title="Рада ухвалила закон", text="Верховна Рада ухвалила закон про "
                    "енергетику.", language="uk", fallback=True, adapter="unn"),
            article(3, source="kyiv_independent", title="Copy", text="Tokyo and Kyiv signed a security deal.")]
# Edits a revisit stores (issue 21): the copy's headline twice, the Ukrainian story's text once (an update
# paragraph), then that story gone (410).
EDITS = [dataclasses.replace(ARTICLES[2], title="Japan and Ukraine sign a security deal"),
         dataclasses.replace(ARTICLES[2], title="Japan and Ukraine sign a 10-year security deal"),
         dataclasses.replace(ARTICLES[1], text=ARTICLES[1].text + "\n\nОновлено: закон підписав президент.")]
REMOVED = (2, 410)
FETCHES = [("https://unn.ua/x", "bot-challenge"), ("https://unn.ua/y", "bot-challenge"),
           ("https://unn.ua/z", "not-article")]


def archive(path: Path) -> sqlite_utils.Database:
    db = store.open_db(path)
    ids = []
    for item in ARTICLES:
        with store.transaction(db):
            ids.append(store.save_article(db, item).article_id)
    for item in EDITS:
        assert store.save_article(db, item).outcome == "updated"
    store.mark_removed(db, *REMOVED)
    with store.transaction(db):
        for url, reason in FETCHES:
            store.log_fetch(db, url=url, source="unn_uk", outcome="rejected", reason=reason)
    topics.save_topics(db, ids[0], ["japan-ukraine"])
    return db


def published_archive(dsn: str, path: Path) -> None:
    """The same archive stored in PostgreSQL, then `ingest publish`ed to `path`: what Datasette serves there."""
    from ingest.archive import dedup
    from ingest.archive.postgres import open_postgres_store
    from ingest.archive.publish import publish

    pg = open_postgres_store(dsn)
    try:
        ids = []
        for item in ARTICLES:
            with pg.batch():
                ids.append(pg.save_article(item, dedup.judge(pg, item)).article_id)
        for item in EDITS:
            with pg.batch():
                assert pg.save_article(item, dedup.judge(pg, item)).outcome == "updated"
        with pg.batch():
            pg.mark_removed(*REMOVED)
        with pg.batch():
            for url, reason in FETCHES:
                pg.log_fetch(url=url, source="unn_uk", outcome="rejected", reason=reason)
            pg.save_topics(ids[0], ["japan-ukraine"])
    finally:
        pg.close()
    publish(dsn, path)


def fetch_json(ds: Datasette, *urls: str) -> list[Any]:
    async def go() -> list[Any]:
        out = []
        for url in urls:
            response = await ds.client.get(url)
            assert response.status_code == 200, (url, response.text[:500])
            out.append(response.json())
        return out
    return asyncio.run(go())


@pytest.fixture(params=["sqlite", "published"])
def datasette(request: pytest.FixtureRequest, tmp_path: Path) -> Datasette:
    """Datasette on the archive the SQLite store wrote, and on the same archive published from PostgreSQL (issue
    20: `ingest publish` output passes these tests too)."""
    path = tmp_path / "archive.db"  # not news.db: the database key follows the file name
    if request.param == "sqlite":
        archive(path).close()
    else:
        published_archive(request.getfixturevalue("pg_dsn"), path)
    metadata, written = serve.prepare(path)
    assert written == tmp_path / "metadata.yml"
    assert written.read_text(encoding="utf-8").startswith(serve.GENERATED)
    return serve.datasette_app(path, metadata)


def test_metadata_titles_descriptions_search_and_facets(datasette: Datasette) -> None:
    table, view, topic_view, instance = fetch_json(
        datasette, "/archive/articles.json", "/archive/latest.json?_search=Tokyo&_shape=objects",
        "/archive/articles_with_topics.json?topics__arraycontains=japan-ukraine&_shape=objects",
        "/-/metadata.json")
    assert instance["databases"]["archive"]["tables"]["articles"]["title"] == "Articles"
    assert "published_at" in instance["databases"]["archive"]["tables"]["articles"]["columns"]
    facets = table["facet_results"]
    assert {"source", "language", "published_at"} <= set(facets)
    assert {r["value"]: r["count"] for r in facets["published_at"]["results"]} == {
        "2024-11-11": 1, "2024-11-12": 1, "2024-11-13": 1}
    assert [r["title"] for r in view["rows"]] == ["Japan, Ukraine sign agreement"]  # search on a view, no copies
    assert [r["title"] for r in topic_view["rows"]] == ["Japan, Ukraine sign agreement"]
    topics_facet = topic_view["facet_results"]["topics"]
    assert topics_facet["type"] == "array"
    assert [(r["value"], r["count"]) for r in topics_facet["results"]] == [("japan-ukraine", 1)]


def test_full_text_search_default_sort_and_column_descriptions(datasette: Datasette) -> None:
    async def page() -> str:
        return (await datasette.client.get("/archive/articles")).text
    html = asyncio.run(page())
    assert "One row per article, cleaned." in html
    assert 'data-column-description="Publication time, UTC."' in html
    newest, found, cyrillic = fetch_json(
        datasette, "/archive/articles.json?_shape=array", "/archive/articles.json?_search=Tokyo&_shape=array",
        "/archive/articles.json?_search=енергетику&_shape=array")
    assert [r["id"] for r in newest] == [3, 2, 1]  # sort_desc: published_at
    assert sorted(r["id"] for r in found) == [1, 3]
    assert [r["title"] for r in cyrillic] == ["Рада ухвалила закон"]


def test_every_canned_query_runs(datasette: Datasette) -> None:
    metadata = datasette.metadata()
    queries = set(metadata["databases"]["archive"]["queries"])
    assert queries == {"latest_per_source", "search", "articles_per_source_per_day", "duplicates_with_originals",
                       "rejected_by_reason", "layout_drift", "articles_by_topic", "fetch_outcomes_per_day",
                       "lag_per_source", "edited_headlines", "most_edited_stories", "removed_after_publication"}
    latest, search, blank, per_day, dups, rejected, drift, by_topic = fetch_json(
        datasette, "/archive/latest_per_source.json?_shape=array", "/archive/search.json?q=Tokyo&_shape=array",
        "/archive/search.json?_shape=array", "/archive/articles_per_source_per_day.json?days=100000&_shape=array",
        "/archive/duplicates_with_originals.json?_shape=array", "/archive/rejected_by_reason.json?_shape=array",
        "/archive/layout_drift.json?_shape=array", "/archive/articles_by_topic.json?topic=japan-ukraine&_shape=array")
    assert {r["source"] for r in latest} == {"ukrinform_en", "unn_uk"}  # the copy is not an original
    assert [r["title"] for r in search] == ["Japan, Ukraine sign agreement"]
    assert "[Tokyo]" in search[0]["snippet"]
    assert blank == []  # an empty search box is no error
    assert {(r["day"], r["source"], r["articles"]) for r in per_day} == {
        ("2024-11-11", "ukrinform_en", 1), ("2024-11-12", "unn_uk", 1)}
    assert [(r["copy_source"], r["original_source"]) for r in dups] == [("kyiv_independent", "ukrinform_en")]
    assert [(r["reason"], r["pages"]) for r in rejected] == [("bot-challenge", 2), ("not-article", 1)]
    assert rejected[0]["latest_url"] in ("https://unn.ua/x", "https://unn.ua/y")
    assert [(r["source"], r["adapter"], r["fallbacks"]) for r in drift] == [("unn_uk", "unn", 1)]
    assert [r["title"] for r in by_topic] == ["Japan, Ukraine sign agreement"]
    outcomes, lag, recent = fetch_json(
        datasette, "/archive/fetch_outcomes_per_day.json?_shape=array", "/archive/lag_per_source.json?_shape=array",
        "/archive/articles_per_source_per_day.json?days=2&_shape=array")
    assert [(r["outcome"], r["fetches"]) for r in outcomes] == [("rejected", 3)]
    assert {r["source"]: r["articles"] for r in lag} == {"ukrinform_en": 1, "unn_uk": 1}  # the copy left out
    assert all(r["avg_lag_hours"] > 0 and r["hours_since_newest"] > 0 for r in lag)
    # the window ends at the newest article (2024-11-13, a copy, counts as newest), not today
    assert {(r["day"], r["source"]) for r in recent} == {("2024-11-12", "unn_uk"), ("2024-11-11", "ukrinform_en")}


def test_edits_over_time_views_and_canned_queries(datasette: Datasette) -> None:
    """Headline changes chained newest first, stories by revisions, the removed story: as views (with facets) and as
    canned queries (all sources, one source), on the SQLite archive and on the one published from PostgreSQL."""
    changes, revised, removed, edited, edited_unn, most, gone, gone_unn = fetch_json(
        datasette, "/archive/headline_changes.json?_shape=objects", "/archive/most_revised.json?_shape=array",
        "/archive/removed_stories.json?_shape=array", "/archive/edited_headlines.json?_shape=array",
        "/archive/edited_headlines.json?source=unn_uk&_shape=array", "/archive/most_edited_stories.json?_shape=array",
        "/archive/removed_after_publication.json?_shape=array",
        "/archive/removed_after_publication.json?source=unn_uk&_shape=array")
    chain = [("Japan and Ukraine sign a security deal", "Japan and Ukraine sign a 10-year security deal"),
             ("Copy", "Japan and Ukraine sign a security deal")]  # newest first; the text-only edit is not one
    assert [(r["id"], r["source"], r["headline_before"], r["headline_after"]) for r in changes["rows"]] == [
        (3, "kyiv_independent", *pair) for pair in chain]
    assert changes["rows"][0]["published_at"] == "2024-11-13T00:00:00+00:00"
    assert changes["rows"][0]["url"] == "https://www.ukrinform.net/3"
    assert [(f["value"], f["count"]) for f in changes["facet_results"]["source"]["results"]] == [
        ("kyiv_independent", 2)]
    assert [(r["headline_before"], r["headline_after"]) for r in edited] == chain
    assert edited_unn == []  # one source: unn_uk's edit kept its headline
    assert {(r["id"], r["revisions"], r["headline_changes"]) for r in revised} == {(3, 2, 2), (2, 1, 0)}
    assert [(r["id"], r["revisions"], r["title"]) for r in most] == [
        (3, 2, "Japan and Ukraine sign a 10-year security deal"), (2, 1, "Рада ухвалила закон")]
    assert [(r["id"], r["source"], r["removed_status"]) for r in removed] == [(2, "unn_uk", 410)]
    online = datetime.fromisoformat(removed[0]["removed_at"]) - datetime(2024, 11, 12, tzinfo=UTC)
    assert removed[0]["hours_online"] == round(online.total_seconds() / 3600, 1)
    assert [(r["id"], r["hours_online"]) for r in gone] == [(2, removed[0]["hours_online"])] == [
        (r["id"], r["hours_online"]) for r in gone_unn]
    metadata = datasette.metadata()["databases"]["archive"]["tables"]
    assert "said_updated" in metadata["revisions"]["columns"]
    assert "removed_status" in metadata["articles"]["columns"]
    assert metadata["headline_changes"]["title"] == "Headline changes"


def test_internal_index_is_hidden_and_dedup_tables_are_described(datasette: Datasette) -> None:
    database, metadata = fetch_json(datasette, "/archive.json", "/-/metadata.json")
    listed = {t["name"]: t for t in database["tables"]}
    assert all(listed[table]["hidden"] for table in (*neardup.LEVELS, neardup.FILTER))
    assert not listed["revisions"]["hidden"]
    assert not listed["url_aliases"]["hidden"]
    assert not listed["revisits"]["hidden"]  # the revisit schedule is readable like the frontier
    described = metadata["databases"]["archive"]["tables"]
    assert "replaced_at" in described["revisions"]["columns"]
    assert described["url_aliases"]["title"] == "URL aliases"
    assert "due_at" in described["revisits"]["columns"]


def test_metadata_covers_every_database_in_the_folder_and_own_file_is_used(tmp_path: Path) -> None:
    databases = serve.parse_metadata(serve.metadata_text(["demo", "news"]), "x")["databases"]
    assert set(databases) == {"news", "demo"}
    assert databases["demo"] == databases["news"]
    assert databases["news"]["tables"]["articles"]["fts_table"] == "articles_fts"
    path = tmp_path / "news.db"
    archive(path).close()
    store.open_db(tmp_path / "demo.db").close()
    serve.prepare(path)
    written = serve.parse_metadata((tmp_path / "metadata.yml").read_text(encoding="utf-8"), "metadata.yml")
    assert set(written["databases"]) == {"news", "demo"}  # one file for db/news.db and db/demo.db
    (tmp_path / "metadata.yml").unlink()
    own = tmp_path / "mine.yml"
    own.write_text("title: Mine\n", encoding="utf-8")
    metadata, used = serve.prepare(path, own)
    assert (metadata, used) == ({"title": "Mine"}, own)
    assert not (tmp_path / "metadata.yml").exists()
    own.write_text("title: [unclosed\n", encoding="utf-8")
    with pytest.raises(serve.ServeError, match="not valid Datasette metadata"):
        serve.prepare(path, own)


def test_serve_refuses_a_missing_database(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["--db", str(tmp_path / "news.db"), "serve"])
    assert result.exit_code == 2
    assert "no database at" in result.stderr
    assert not (tmp_path / "news.db").exists()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_ingest_serve_over_http_while_the_store_keeps_writing(tmp_path: Path) -> None:
    path = tmp_path / "news.db"
    db = archive(path)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = (tmp_path / "serve.log").open("w+b")
    proc = subprocess.Popen([sys.executable, "-m", "ingest", "--db", str(path), "serve", "--host", "127.0.0.1",
                             "--port", str(port)], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                            env={**os.environ, "INGEST_CONFIG": ""})
    try:
        with httpx.Client(base_url=base, timeout=10) as client:
            deadline = time.monotonic() + 60
            while True:
                assert proc.poll() is None, log.read()
                try:
                    if client.get("/-/versions.json").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, "ingest serve did not answer in 60 s"
                time.sleep(0.1)
            databases = client.get("/-/databases.json").json()
            assert [(d["name"], d["is_mutable"]) for d in databases] == [("news", True)]  # mode=ro, not immutable
            rows = client.get("/news/articles.json", params={"_shape": "array"}).json()
            assert [r["id"] for r in rows] == [3, 2, 1]
            hits = client.get("/news/articles.json", params={"_search": "енергетику", "_shape": "array"}).json()
            assert [h["title"] for h in hits] == ["Рада ухвалила закон"]
            found = client.get("/news/search.json", params={"q": "Tokyo", "_shape": "array"}).json()
            assert [r["title"] for r in found] == ["Japan, Ukraine sign agreement"]
            html = client.get("/news/articles")
            assert html.status_code == 200
            assert "Articles" in html.text
            with store.transaction(db):  # the daemon keeps writing
                store.save_article(db, article(4, title="Written while serving", text="Fresh news from Kyiv."))
            fresh = client.get("/news/latest.json", params={"_shape": "array", "_search": "fresh"}).json()
            assert [r["title"] for r in fresh] == ["Written while serving"]
            # Visitors' own SQL is off unless --allow-sql: the canned queries above are all they may run.
            assert client.get("/news.json", params={"sql": "select * from hosts"}).status_code == 403
        assert (tmp_path / "metadata.yml").exists()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
        log.seek(0)
        assert b"serving" in log.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()
        db.close()


def test_own_sql_is_off_by_default_and_a_public_address_is_warned_about(tmp_path: Path) -> None:
    path = tmp_path / "archive.db"
    archive(path).close()
    metadata, _ = serve.prepare(path)

    async def status(ds: Datasette, url: str) -> int:
        return (await ds.client.get(url)).status_code

    closed, opened = serve.datasette_app(path, metadata), serve.datasette_app(path, metadata, allow_sql=True)
    assert asyncio.run(status(closed, "/archive.json?sql=select+1")) == 403
    assert asyncio.run(status(closed, "/archive/search.json?q=Tokyo")) == 200  # canned queries still run
    assert asyncio.run(status(closed, "/archive/articles.json?_search=Tokyo&_facet=source")) == 200
    assert asyncio.run(status(opened, "/archive.json?sql=select+1")) == 200
    assert [serve.is_loopback(h) for h in ("127.0.0.1", "::1", "localhost", "0.0.0.0", "192.168.1.5")] == [
        True, True, True, False, False]

    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "ingest", "--db", str(path), "serve", "--host", "0.0.0.0",
                             "--port", str(port)], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env={**os.environ, "INGEST_CONFIG": ""})
    try:
        line = proc.stderr.readline() if proc.stderr else ""  # printed before it serves
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=15)
    assert line.startswith("warning: listening on 0.0.0.0: anyone who can reach this machine can read every table")


def test_bad_requests_answer_4xx_and_log_one_line(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "archive.db"
    archive(path).close()
    metadata, _ = serve.prepare(path)
    ds = serve.datasette_app(path, metadata, allow_sql=True)

    async def statuses() -> list[int]:
        return [(await ds.client.get(url)).status_code for url in (
            "/archive/articles.json?_sort=nope", "/archive/articles?_sort=nope", "/archive.json?sql=selec+1",
            "/nothing-here")] + [(await ds.client.post("/archive/articles/-/insert", json={})).status_code]

    with caplog.at_level(logging.INFO, logger="ingest"):
        got = asyncio.run(statuses())
    assert got[:4] == [400, 400, 400, 404]
    assert 400 <= got[4] < 500
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("serve ")]
    assert len(lines) == 5
    assert all("\n" not in line and len(line) < 500 for line in lines)
