"""`ingest history URL_OR_ID`: an article's versions oldest first and what changed between each two, read from real
archives (tests/test_reports_contract.py's articles, article 1 edited twice and article 5 found gone by `revise`),
on SQLite and on PostgreSQL, whose outputs are compared byte for byte."""

from __future__ import annotations

import json
import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from test_reports_contract import ARTICLES, EDITS, FIRST, Frozen, fill, iso, revise
from test_store_contract import AnyStore, article, save

from ingest.archive import health, pgreports, report
from ingest.archive.sqlite import open_store
from ingest.cli import cli

ALIAS = "https://alpha.example/news/trade-talks?id=2"


def ingest(db: str, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--db", db, *args])


def filled(store: AnyStore, pg: bool) -> None:
    fill(store, pg)
    revise(store)
    # article 2 fetched again at another URL (an alias: the old address that redirected to it), unchanged
    again = article(**{**ARTICLES[1], "fetched_url": ALIAS})
    assert save(store, again)[1].outcome == "unchanged"


@pytest.fixture
def lite(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    for module in (report, health, pgreports):
        monkeypatch.setattr(module, "datetime", Frozen)
    store = open_store(tmp_path / "archive.db")
    try:
        filled(store, False)
    finally:
        store.close()
    return str(tmp_path / "archive.db")


def test_the_versions_oldest_first_and_what_changed(lite: str) -> None:
    result = ingest(lite, "history", "1")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[:2] == ["Article 1 (alpha): https://alpha.example/1",
                         f"published {iso(timedelta(days=-1))}; 3 versions"]
    assert lines.index(f"Version 1: fetched {iso(timedelta(hours=-2))}, replaced {iso(timedelta(hours=-1))}") < \
        lines.index(f"Version 2: fetched {iso(timedelta(hours=-1))}, replaced {iso(timedelta(minutes=-30))}") < \
        lines.index(f"Version 3 (current): fetched {iso(timedelta(minutes=-30))}")
    assert (f"Changes 1 → 2: headline unchanged; paragraphs 2 added, 0 removed, 0 changed; page says updated, "
            f"modified {iso(timedelta(hours=-1, minutes=-5))}") in lines
    assert ("Changes 2 → 3: headline changed; paragraphs 1 added, 1 removed, 1 changed; page claims no "
            "modification time") in lines
    assert "  headline: Kishida visits Kyiv → Kishida signs Kyiv pact" in lines
    assert "  + The deal runs ten years." in lines
    assert "  - The deal runs ten years." in lines
    assert "  + Reactions followed from Moscow." in lines
    assert ("  ~ Japan and Ukraine [-signed-]{+sealed+} a security agreement in Kyiv on [-Saturday-]{+Sunday+} after"
            " talks.") in lines
    assert lines[-1] == "  Kishida signs Kyiv pact"
    assert "\x1b[" not in result.stdout  # not a terminal: no colour codes


def test_a_url_or_an_alias_names_the_article(lite: str) -> None:
    by_id = ingest(lite, "history", "2").stdout
    assert by_id.splitlines()[1].endswith("; 1 version")
    for ref in ("https://alpha.example/2", "http://www.alpha.example/2/", "https://alpha.example/2?utm_source=feed",
                ALIAS, "http://www.alpha.example/news/trade-talks/?id=2&utm_medium=rss"):
        assert ingest(lite, "history", ref).stdout == by_id, ref
    assert ingest(lite, "history", "1").stdout == ingest(lite, "history", FIRST["url"] + "/").stdout


def test_a_removed_story_says_so(lite: str) -> None:
    lines = ingest(lite, "history", "5").stdout.splitlines()
    assert lines[-1] == f"Removed: the page answered 410 on {iso(timedelta(minutes=-10))}"
    assert "Removed" not in ingest(lite, "history", "1").stdout


def test_json_holds_the_versions_and_the_diffs(lite: str) -> None:
    data = json.loads(ingest(lite, "history", "1", "--json").stdout)
    assert [v["title"] for v in data["versions"]] == ["Kishida visits Kyiv", "Kishida visits Kyiv",
                                                      "Kishida signs Kyiv pact"]
    assert [v["text"] for v in data["versions"][1:]] == [text for _, text, _, _ in EDITS]
    assert data["versions"][-1]["replaced_at"] is None
    assert [(c["from"], c["to"], c["said_updated"]) for c in data["changes"]] == [(1, 2, True), (2, 3, False)]
    last = data["changes"][1]["diff"]
    assert (last["title_before"], last["title_after"]) == ("Kishida visits Kyiv", "Kishida signs Kyiv pact")
    assert [p["kind"] for p in last["paragraphs"]] == ["changed", "removed", "added"]
    assert ["-", "signed"] in last["paragraphs"][0]["words"]
    removed = json.loads(ingest(lite, "history", "5", "--json").stdout)
    assert (removed["removed_at"], removed["removed_status"], removed["changes"]) == (
        iso(timedelta(minutes=-10)), 410, [])


def test_a_revision_kept_before_schema_10_gets_its_diff_computed(lite: str) -> None:
    with sqlite3.connect(lite) as conn:
        conn.execute("UPDATE revisions SET diff = NULL, title_after = NULL, headline_changed = NULL,"
                     " paragraphs_added = NULL, paragraphs_removed = NULL, paragraphs_changed = NULL,"
                     " modified_at = NULL, said_updated = NULL")
    conn.close()
    data = json.loads(ingest(lite, "history", "1", "--json").stdout)
    assert [(c["paragraphs_added"], c["paragraphs_removed"], c["paragraphs_changed"], c["headline_changed"])
            for c in data["changes"]] == [(2, 0, 0, False), (1, 1, 1, True)]
    assert [c["said_updated"] for c in data["changes"]] == [None, None]


@pytest.mark.parametrize("ref", ["999", "https://alpha.example/nowhere", "99999999999999999999999", "not a url"])
def test_an_unknown_article_is_one_line_exit_1_and_nothing_changes(lite: str, ref: str) -> None:
    folder = Path(lite).parent
    before = Path(lite).read_bytes()
    result = ingest(lite, "history", ref)
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == f"Error: no article with the id or URL {ref!r} is stored\n"
    assert Path(lite).read_bytes() == before
    # a reader of a WAL database leaves SQLite's shared-memory index (as `ingest export` does), nothing written
    assert {p.name for p in folder.iterdir()} <= {"archive.db", "archive.db-wal", "archive.db-shm"}
    assert not (folder / "archive.db-wal").exists() or (folder / "archive.db-wal").stat().st_size == 0


# --- the same on PostgreSQL --------------------------------------------------------------------------------------

COMMANDS = [["history", "1"], ["history", "1", "--json"], ["history", "5"], ["history", "5", "--json"],
            ["history", ALIAS], ["history", "https://alpha.example/1"],
            ["history", "999"], ["history", "https://alpha.example/nowhere"],
            ["export", "--revisions"], ["export", "--revisions", "--format", "csv"], ["export"]]


@pytest.fixture
def both(tmp_path: Path, pg_dsn: str, monkeypatch: pytest.MonkeyPatch) -> tuple[str, str]:
    from ingest.archive.postgres import open_postgres_store

    for module in (report, health, pgreports):
        monkeypatch.setattr(module, "datetime", Frozen)
    lite_store, pg = open_store(tmp_path / "archive.db"), open_postgres_store(pg_dsn)
    try:
        filled(lite_store, False)
        filled(pg, True)
    finally:
        lite_store.close()
        pg.close()
    return str(tmp_path / "archive.db"), pg_dsn


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_postgresql_prints_what_sqlite_prints(both: tuple[str, str], command: list[str]) -> None:
    lite_result, pg_result = (ingest(db, *command) for db in both)
    assert pg_result.exception is None or isinstance(pg_result.exception, SystemExit), pg_result.exception
    assert (pg_result.exit_code, pg_result.stdout_bytes, pg_result.stderr_bytes) == (
        lite_result.exit_code, lite_result.stdout_bytes, lite_result.stderr_bytes)
    assert pg_result.stdout_bytes or pg_result.stderr_bytes
    if command == ["history", "1"]:
        assert "Changes 2 → 3: headline changed" in pg_result.stdout

