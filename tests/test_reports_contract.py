"""Both stores report alike: the same articles, runs, fetches, frontier and topics stored in a SqliteStore and a
PostgresStore give the same `ingest sources`, `stats`, `health`, `topics` and `export` output (storage.Reports).

Each test fills both stores (`pair`) and compares them, and checks a few values by hand so that two stores
agreeing on something wrong (or on nothing) does not pass. Times the store takes from the clock are set by SQL,
and the reports' clock is frozen, so both see the same now.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from test_store_contract import AnyStore, article, save

from ingest.archive import health, pgreports, report
from ingest.archive.sqlite import open_store
from ingest.config import Config, Settings, Source
from ingest.models import Link
from ingest.storage import ExportError

NOW = datetime(2026, 6, 10, 12, 0, 0, tzinfo=UTC)
CONFIG = Config(settings=Settings(), sources={
    "alpha": Source("alpha", adapter="generic", interval=900.0),
    "beta": Source("beta", adapter="unn", interval=3600.0),
    "gamma": Source("gamma", enabled=False),
    "delta": Source("delta"),
})
WORDS = [f"w{i}" for i in range(40)]


class Frozen(datetime):
    @classmethod
    def now(cls, tz: Any = None) -> Frozen:  # type: ignore[override]
        return cls.fromtimestamp(NOW.timestamp(), tz)


def iso(delta: timedelta) -> str:
    return (NOW + delta).isoformat(timespec="seconds")


def body(*words: str, n: int = 30) -> str:
    """Text with `words` spread at known places among filler words (each filler distinct)."""
    return " ".join([*words, *WORDS[:n]])


ARTICLES: list[dict[str, Any]] = [
    # 1: a Japan-Ukraine story, in the window, layout fallback
    {"url": "https://alpha.example/1", "source": "alpha", "title": "Kishida visits Kyiv",
     "text": body("Japan", "and", "Ukraine", "signed", "a", "security", "agreement"),
     "published_at": NOW - timedelta(days=1), "fallback": True, "authors": ["Ann Lee"], "tags": ["asia"],
     "fetched_at": NOW - timedelta(hours=2)},
    # 2: published the same second as 1 (order by id), Japan and Ukraine 10 words apart
    {"url": "https://alpha.example/2", "source": "alpha", "title": "Trade",
     "text": "Japan " + " ".join(WORDS[:10]) + " Ukraine " + body(n=20),
     "published_at": NOW - timedelta(days=1)},
    # 3: Ukraine then Japan 11 words apart (outside NEAR's 10), and mis-dated in the future
    {"url": "https://alpha.example/3", "source": "alpha", "title": "Later",
     "text": "Ukraine " + " ".join(WORDS[:11]) + " Japan " + body(n=5), "published_at": NOW + timedelta(days=3),
     "paywalled": True},
    # 4: undated, Cyrillic; Japan ends the title and Ukraine starts the text: no phrase or NEAR across columns
    {"url": "https://beta.example/4", "source": "beta", "title": "Новини Japan",
     "text": "Ukraine Японія та Україна уклали угоду " + body(n=10), "authors": ["Іван Франко"],
     "truncated": True},
    # 5: old, outside the 7-day window
    {"url": "https://beta.example/5", "source": "beta", "title": "Old security news",
     "text": "security agreement Kishida's visit " + " ".join(f"v{i}" for i in range(30)),
     "published_at": NOW - timedelta(days=10), "fallback": True, "fetched_at": NOW - timedelta(days=10)},
    # 6: an exact copy of 1 at another URL (a duplicate)
    {"url": "https://beta.example/6", "source": "beta", "title": "Kishida visits Kyiv",
     "text": body("Japan", "and", "Ukraine", "signed", "a", "security", "agreement"),
     "published_at": NOW - timedelta(days=2)},
]
TOPICS = [(1, "japan-ukraine"), (1, "Diplomacy"), (4, "japan-ukraine"), (6, "japan-ukraine"), (2, "ärger"),
          (3, "ärger"), (5, "Diplomacy")]
RUNS = [  # source, started (from NOW), finished, status
    ("alpha", timedelta(hours=-2), timedelta(hours=-2, minutes=5), "failed"),
    ("alpha", timedelta(hours=-1), timedelta(minutes=-55), "ok"),
    ("beta", timedelta(hours=-5), timedelta(hours=-5, minutes=1), "ok"),
    ("beta", timedelta(hours=-3), timedelta(hours=-3, minutes=1), "failed"),
    ("beta", timedelta(hours=-2), timedelta(hours=-2, minutes=1), "error"),
    ("beta", timedelta(hours=-1), timedelta(hours=-1, minutes=1), "failed"),
    ("beta", timedelta(minutes=-30), None, "stopped"),
    ("gamma", timedelta(days=-30), timedelta(days=-30), "ok"),
]
FETCHES = [  # source, outcome, reason, detail, time (from NOW)
    ("alpha", "new", None, None, timedelta(hours=-2)),
    ("alpha", "duplicate", None, None, timedelta(minutes=-50)),
    ("alpha", "failed", "http-500", "Server Error", timedelta(hours=-3)),
    ("alpha", "rejected", "too-short", None, timedelta(minutes=-30)),
    ("alpha", "rejected", "too-short", None, timedelta(minutes=-20)),
    ("beta", "new", None, None, timedelta(hours=-7)),
    ("beta", "failed", "host-backoff", None, timedelta(minutes=-10)),
    ("beta", "failed", "connection", "refused " * 30, timedelta(minutes=-20)),
    ("beta", "failed", None, None, timedelta(hours=-6)),  # SQLite sorts a NULL reason first: it is the evidence
    ("beta", "failed", "dns", None, timedelta(days=-8)),  # outside the window
    ("delta", "failed", "dns", "no such host", timedelta(days=-1)),
]


def run(store: AnyStore, query: str, params: tuple[Any, ...] = ()) -> None:
    """A statement (? placeholders) on the store's own connection."""
    if pg_store(store):
        store.conn.execute(query.replace("?", "%s"), list(params))
    else:
        with store.db.conn:
            store.db.execute(query, list(params))


def pg_store(store: AnyStore) -> bool:
    return hasattr(store, "conn")


def fill(store: AnyStore, pg: bool) -> None:
    for item in ARTICLES:
        save(store, article(**item))
    first_seen = iso(timedelta(hours=-1))
    run(store, "UPDATE articles SET first_seen_at = ?", (first_seen,))  # the store took it from the clock
    if pg:  # the topics table is the other half of the PostgreSQL store's work; made here when it is not yet
        store.conn.execute("CREATE TABLE IF NOT EXISTS article_topics (article_id bigint NOT NULL,"
                           " topic text NOT NULL, PRIMARY KEY (article_id, topic))")
    for article_id, topic in TOPICS:
        run(store, "INSERT INTO article_topics (article_id, topic) VALUES (?, ?)", (article_id, topic))
    for source, started, finished, status in RUNS:
        run(store, "INSERT INTO runs (source, kind, started_at, finished_at, status, new) VALUES (?, ?, ?, ?, ?, ?)",
             (source, "daemon", iso(started), iso(finished) if finished is not None else None, status, 2))
    for source, outcome, reason, detail, when in FETCHES:
        run(store, "INSERT INTO fetches (url, source, outcome, reason, detail, time) VALUES (?, ?, ?, ?, ?, ?)",
             (f"https://{source}.example/f", source, outcome, reason, detail, iso(when)))
    store.add_links([Link(url=f"https://alpha.example/l{i}", source="alpha", via="feed") for i in range(4)])
    store.settle_link("https://alpha.example/l0", "done")
    store.settle_link("https://alpha.example/l1", "failed", "http-500")


FIRST = ARTICLES[0]
LEAD = "Japan and Ukraine signed a security agreement in Kyiv on Saturday after talks."
# Article 1 as two later fetches edited it: (title, text, fetched, the modified time the page claims)
EDITS = [
    ("Kishida visits Kyiv", LEAD + "\n\nThe deal runs ten years.\n\n" + FIRST["text"],
     timedelta(hours=-1), timedelta(hours=-1, minutes=-5)),
    ("Kishida signs Kyiv pact", LEAD.replace("signed", "sealed").replace("Saturday", "Sunday") + "\n\n"
     + FIRST["text"] + "\n\nReactions followed from Moscow.", timedelta(minutes=-30), None),
]
REPLACED = [timedelta(hours=-1), timedelta(minutes=-30)]  # when each edit replaced the version before it
REMOVED = (5, 410, timedelta(minutes=-10))  # article 5's page answered 410 on a revisit


def revise(store: AnyStore) -> None:
    """Article 1 edited twice (a paragraph added, then its headline and a paragraph changed, one added and one
    removed), article 5 found gone; the times the store took from the clock set by SQL, alike in both."""
    for title, text, fetched, modified in EDITS:
        item = article(**{**FIRST, "title": title, "text": text, "fetched_at": NOW + fetched,
                          "modified_at": NOW + modified if modified is not None else None})
        assert save(store, item)[1].outcome == "updated"
    for n, replaced in enumerate(REPLACED, 1):
        run(store, "UPDATE revisions SET replaced_at = ? WHERE id = ?", (iso(replaced), n))
    article_id, status, when = REMOVED
    store.mark_removed(article_id, status)
    run(store, "UPDATE articles SET removed_at = ? WHERE id = ?", (iso(when), article_id))


@pytest.fixture
def pair(tmp_path: Path, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[
        tuple[AnyStore, AnyStore]]:
    """(SqliteStore, PostgresStore) holding the same archive, the reports' clock at NOW."""
    from ingest.archive.postgres import open_postgres_store

    for module in (report, health, pgreports):
        monkeypatch.setattr(module, "datetime", Frozen)
    lite, pg = open_store(tmp_path / "archive.db"), open_postgres_store(request.getfixturevalue("pg_dsn"))
    try:
        fill(lite, False)
        fill(pg, True)
        yield lite, pg
    finally:
        lite.close()
        pg.close()


def test_source_rows(pair: tuple[AnyStore, AnyStore]) -> None:
    lite, pg = pair
    got = pg.source_rows(CONFIG)
    assert got == lite.source_rows(CONFIG)
    by = {r["source"]: r for r in got}
    assert [r["source"] for r in got] == ["alpha", "beta", "gamma", "delta"]
    assert by["alpha"] | {"failing": None} == {
        "source": "alpha", "adapter": "generic", "enabled": True, "interval_min": 15,
        "last_run": iso(timedelta(hours=-1)), "last_status": "ok", "last_new": 2, "articles": 3, "duplicates": 0,
        "pending": 3, "failing": None}
    assert (by["beta"]["articles"], by["beta"]["duplicates"]) == (3, 1)
    assert by["beta"]["last_status"] == "stopped"
    assert by["beta"]["failing"] == "FAILING: last 3 passes failed"
    assert by["delta"]["last_run"] is None


def test_stats(pair: tuple[AnyStore, AnyStore]) -> None:
    lite, pg = pair
    got = pg.stats(CONFIG, days=7)
    want = lite.stats(CONFIG, days=7)
    assert got == want
    assert json.dumps(got) == json.dumps(want)  # and in the same order, keys and rows
    assert (got["articles"], got["duplicates"]) == (6, 1)
    assert got["outcomes"] == {"duplicate": 1, "failed": 5, "new": 2, "rejected": 2}
    alpha, beta = got["sources"][0], got["sources"][1]
    assert alpha["last_success"] == iso(timedelta(minutes=-50))
    assert alpha["newest_article"] == iso(timedelta(days=3))  # the mis-dated one...
    assert alpha["lag_seconds"] == 86400  # ...does not hide the lag
    assert alpha["errors"] == {"too-short": 2, "http-500": 1}
    assert (alpha["layout_fallbacks"], alpha["last_fallback"]) == (1, iso(timedelta(hours=-2)))
    assert list(beta["errors"]) == ["host-backoff", "connection", None]
    assert got["per_day"] == [
        {"day": "2026-06-13", "source": "alpha", "articles": 1},
        {"day": "2026-06-09", "source": "alpha", "articles": 2},
        {"day": "2026-06-08", "source": "beta", "articles": 1}]
    assert pg.stats(CONFIG, days=30) == lite.stats(CONFIG, days=30)


def test_health(pair: tuple[AnyStore, AnyStore]) -> None:
    lite, pg = pair
    for max_lag in (None, 600.0, 30 * 86400.0):
        assert pg.health(CONFIG, max_lag=max_lag) == lite.health(CONFIG, max_lag=max_lag)
    lines = [h.line for h in pg.health(CONFIG)]
    assert lines == [
        "alpha: ok, last success 50m ago (max lag 1h 0m)",
        "beta: no successful pass or fetch for 4h 59m (max lag 3h 0m); last 3 passes failed;"
        " last failure 2026-06-10T06:00:00+00:00: None",
        "delta: no successful pass or fetch yet (max lag 1h 0m); no pass has run (is `ingest run` running on this"
        " database?); last failure 2026-06-09T12:00:00+00:00: dns: no such host"]
    lines = [h.line for h in pg.health(CONFIG, max_lag=600.0)]
    assert lines[0] == ("alpha: no successful pass or fetch for 50m (max lag 10m); last pass ok at"
                        " 2026-06-10T11:00:00+00:00; last failure 2026-06-10T09:00:00+00:00: http-500: Server Error")


def test_topic_counts(pair: tuple[AnyStore, AnyStore]) -> None:
    lite, pg = pair
    got = pg.topic_counts()
    assert list(got.items()) == list(lite.topic_counts().items())
    assert list(got.items()) == [("japan-ukraine", 3), ("Diplomacy", 2), ("ärger", 2)]


def test_topic_counts_without_topics(tmp_path: Path, pg_dsn: str) -> None:
    from ingest.archive.postgres import open_postgres_store

    pg = open_postgres_store(pg_dsn)
    try:
        pg.conn.execute("DROP TABLE IF EXISTS article_topics")
        assert pg.topic_counts() == {} == open_store(tmp_path / "a.db").topic_counts()
    finally:
        pg.close()


def exported(store: AnyStore, fmt: str, **filters: Any) -> tuple[int, bytes]:
    out = io.BytesIO()
    count = store.export_articles(out, fmt, **filters)
    return count, out.getvalue()


def ids(store: AnyStore, query: str) -> list[int]:
    return [json.loads(line)["id"] for line in exported(store, "jsonl", query=query)[1].splitlines()]


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_export_is_byte_for_byte_the_same(pair: tuple[AnyStore, AnyStore], fmt: str) -> None:
    lite, pg = pair
    for filters in ({}, {"since": date(2026, 6, 8)}, {"source": "beta"}, {"since": date(2026, 6, 9),
                                                                           "source": "alpha"}):
        assert exported(pg, fmt, **filters) == exported(lite, fmt, **filters), filters
    count, data = exported(pg, fmt)
    assert count == 6
    if fmt == "jsonl":
        items = [json.loads(line) for line in data.splitlines()]
        assert [i["id"] for i in items] == [4, 5, 6, 1, 2, 3]  # undated first, then by time and id
        assert items[0]["authors"] == ["Іван Франко"]
        assert items[0]["truncated"] is True
        assert items[3]["topics"] == ["Diplomacy", "japan-ukraine"]
        assert items[3]["published_at"] == iso(timedelta(days=-1))


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_export_with_revisions_is_byte_for_byte_the_same(pair: tuple[AnyStore, AnyStore], fmt: str) -> None:
    lite, pg = pair
    plain = exported(lite, fmt)
    for store in pair:
        revise(store)
    for filters in ({}, {"source": "alpha"}, {"query": "Reactions"}):
        assert exported(pg, fmt, revisions=True, **filters) == exported(lite, fmt, revisions=True, **filters)
    count, data = exported(pg, fmt, revisions=True)
    assert count == 6
    assert exported(pg, fmt)[1] != data
    if fmt == "csv":
        assert data.splitlines()[0].decode().endswith(",removed_at,removed_status,revisions")
        assert len(exported(lite, fmt)[1]) > len(plain[1])  # article 1's new text, in the columns of before
        assert exported(lite, fmt)[1].splitlines()[0] == plain[1].splitlines()[0]
        return
    items = {item["id"]: item for item in map(json.loads, data.splitlines())}
    assert [r["title"] for r in items[1]["revisions"]] == ["Kishida visits Kyiv", "Kishida visits Kyiv"]
    first, second = items[1]["revisions"]
    assert (first["fetched_at"], first["replaced_at"]) == (iso(timedelta(hours=-2)), iso(timedelta(hours=-1)))
    assert (first["paragraphs_added"], first["paragraphs_removed"], first["paragraphs_changed"]) == (2, 0, 0)
    assert first["headline_changed"] is False  # booleans, as the article's flags are
    assert first["said_updated"] is True
    assert first["modified_at"] == iso(timedelta(hours=-1, minutes=-5))
    assert (second["title_after"], second["headline_changed"], second["said_updated"]) == (
        "Kishida signs Kyiv pact", True, False)
    assert (second["paragraphs_added"], second["paragraphs_removed"], second["paragraphs_changed"]) == (1, 1, 1)
    changed = next(p for p in second["diff"]["paragraphs"] if p["kind"] == "changed")
    assert ["-", "signed"] in changed["words"]
    assert ["+", "sealed"] in changed["words"]
    assert (items[5]["removed_at"], items[5]["removed_status"]) == (iso(timedelta(minutes=-10)), 410)
    assert (items[4]["removed_at"], items[4]["revisions"]) == (None, [])
    assert "revisions" not in json.loads(exported(lite, fmt)[1].splitlines()[0])


def test_export_parquet_with_revisions_is_the_same(pair: tuple[AnyStore, AnyStore]) -> None:
    pq = pytest.importorskip("pyarrow.parquet")
    lite, pg = pair
    for store in pair:
        revise(store)
    tables = [pq.read_table(io.BytesIO(exported(store, "parquet", revisions=True)[1])) for store in (lite, pg)]
    assert tables[0].schema == tables[1].schema
    assert tables[0].to_pylist() == tables[1].to_pylist()
    rows = {row["id"]: row for row in tables[1].to_pylist()}
    assert [r["title_after"] for r in rows[1]["revisions"]] == ["Kishida visits Kyiv", "Kishida signs Kyiv pact"]
    assert rows[1]["revisions"][0]["replaced_at"] == NOW + timedelta(hours=-1)
    assert json.loads(rows[1]["revisions"][1]["diff"])["title_after"] == "Kishida signs Kyiv pact"
    assert rows[5]["removed_status"] == 410
    assert "revisions" not in pq.read_table(io.BytesIO(exported(lite, "parquet")[1])).schema.names


def test_export_parquet_is_the_same(pair: tuple[AnyStore, AnyStore]) -> None:
    pq = pytest.importorskip("pyarrow.parquet")
    lite, pg = pair
    tables = [pq.read_table(io.BytesIO(exported(store, "parquet")[1])) for store in (lite, pg)]
    assert tables[0].schema == tables[1].schema
    assert tables[0].to_pylist() == tables[1].to_pylist()
    assert tables[1].num_rows == 6


# The README's example queries (grep README.md for --query) and more of FTS5's syntax, with the ids each finds.
QUERIES = [
    ("NEAR(Japan Ukraine)", [6, 1, 2]),
    ('"security agreement" OR Kishida', [5, 6, 1]),
    ("title:japan", [4]),
    ("Kish*", [5, 6, 1]),
    ("japan NOT kishida", [4, 2, 3]),
    ("NEAR(japan ukraine, 2)", [6, 1]),
    ("NEAR(ukraine japan, 11)", [6, 1, 2, 3]),
    ("NEAR(ukraine japan, 10)", [6, 1, 2]),
    ('"japan ukraine"', []),
    ('"japan and"', [6, 1]),
    ("-title:japan", [6, 1, 2, 3]),
    ("{title text}:ukraine AND w29", [6, 1]),
    ("text:Японія", [4]),
    ("security + agreement", [5, 6, 1]),
    ("(japan OR security) AND w12", [6, 1, 2]),
    ("japan OR security w12 NOT w13", [4, 6, 1, 2, 3]),
    ("japan NOT w12 w13", [4, 3]),
    ("kyiv OR old AND news", [5, 6, 1]),
    ('"w3" + w4*', [4, 6, 1, 2, 3]),
    ('title:(kyiv OR news) AND visit', [5]),
    ('"." OR japan', [4, 6, 1, 2, 3]),
    ("NEAR(japan, 5)", [4, 6, 1, 2, 3]),
]


@pytest.mark.parametrize(("query", "want"), QUERIES)
def test_full_text_queries_find_the_same_articles(pair: tuple[AnyStore, AnyStore], query: str,
                                                  want: list[int]) -> None:
    lite, pg = pair
    assert ids(lite, query) == want
    assert ids(pg, query) == want
    assert exported(pg, "csv", query=query) == exported(lite, "csv", query=query)


@pytest.mark.parametrize("query", ['"unbalanced', "AND", "a AND", "a )", "foo:japan", "NOT a", "a NOT", "don't",
                                   "NEAR(a, x)", "()", "", "a OR", "a + ", "a:b:c", "(a", "a,b", "NEAR(a b,)",
                                   "NEAR(a b", "a.b", "-{title nope}:a", "foo(bar)",
                                   "a (b)", "(a) b", "near(a b)", "a* *", "title:-text:a", "title:{text}:a", "a:",
                                   "NEAR(a b, 1 2)", "a AND NOT b"])
def test_bad_queries_fail_alike(pair: tuple[AnyStore, AnyStore], query: str) -> None:
    lite, pg = pair
    messages = []
    for store in (lite, pg):
        with pytest.raises(ExportError) as error:
            store.check_export("jsonl", query)
        messages.append(str(error.value))
        out = io.BytesIO()
        with pytest.raises(ExportError):
            store.export_articles(out, "jsonl", query=query)
        assert out.getvalue() == b""
    assert messages[0] == messages[1]
    assert messages[0].startswith(f"bad full-text query {query!r}: ")


def test_bad_formats_fail_alike(pair: tuple[AnyStore, AnyStore]) -> None:
    lite, pg = pair
    messages = []
    for store in (lite, pg):
        with pytest.raises(ExportError) as error:
            store.check_export("xml", None)
        messages.append(str(error.value))
    assert messages == ["unknown format 'xml' (known: jsonl, csv, parquet)"] * 2


@pytest.mark.parametrize("query", ["NEAR(a b c)", "^japan"])
def test_what_the_translation_lacks_is_refused(pair: tuple[AnyStore, AnyStore], query: str) -> None:
    _, pg = pair
    with pytest.raises(ExportError, match="not supported by the PostgreSQL store"):
        pg.check_export("jsonl", query)


def test_the_readmes_example_queries_are_among_those_compared() -> None:
    """Every query the README and docs/commands.md show for `ingest export --query` is one QUERIES runs on both
    stores."""
    root = Path(__file__).resolve().parents[1]
    readme = (root / "README.md").read_text(encoding="utf-8")
    commands = (root / "docs" / "commands.md").read_text(encoding="utf-8")
    section = commands[commands.index("\n## `ingest export"):]
    section = section[:section.index("\n## ", 1)]
    shown = set(re.findall(r"`'([^`]+)'`", section)) | set(re.findall(r"--query '([^']+)'", readme))
    assert len(shown) >= 3
    assert shown <= {query for query, _ in QUERIES}
