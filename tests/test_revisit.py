"""Edits over time (issue 21): stored articles are fetched again on their source's revisit schedule, after the new
links; a real change is one revision with its diff, a view counter is none, a deleted story is marked removed.

A loopback outlet (conftest.Site) whose stories change between two daemon passes (pipeline.run_source, kind "run")
on a real SQLite archive; the schedule's steps are a fraction of a second (a Source made in code: the config file
refuses steps under a minute), so the test clock is the real one, fast.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
from conftest import Site, article_html, query, rss, send

from ingest.archive.sqlite import open_host_states, open_store
from ingest.config import Settings, Source
from ingest.crawl.fetch import Fetcher
from ingest.run.pipeline import Summary, run_source
from ingest.run.revisit import after_revisit, next_step

SETTINGS = Settings(user_agent="ingest-test/1.0 (+https://example.org/contact)", per_host_delay=0.0,
                    respect_robots=False, max_retries=0)
STEPS = (3.0, 6.0, 600.0)  # seconds after publication (the pages give it to the second)
FIGURES = "12 people were injured in the attack on the district, officials said on Tuesday morning."


@dataclass
class Story:
    title: str
    paragraphs: list[str]
    views: int = 1204
    gone: bool = False
    conditional: list[str] = field(default_factory=list)  # the If-None-Match each request sent

    def html(self, published: str) -> bytes:
        return article_html(self.title, [*self.paragraphs, f"{self.views:,} views"], published=published).encode()


class Outlet:
    """Five stories behind a feed; each answers with an ETag of its body and honours If-None-Match (304)."""

    def __init__(self) -> None:
        self.published = datetime.now(UTC).isoformat(timespec="seconds")
        base = [f"Paragraph {j} of the story tells what the council decided about schools and roads this year."
                for j in range(3)]
        self.stories = {f"/news/{i}": Story(f"Story number {i} about the city budget",
                                            [f"Story {i}: {p}" for p in base]) for i in range(5)}
        self.stories["/news/1"].paragraphs[1] = FIGURES
        self.site = Site({"/feed.xml": lambda h: send(h, 200, rss([self.site.url(p) for p in self.stories]),
                                                      "application/rss+xml")})
        for path in self.stories:
            self.site.routes[path] = lambda h, path=path: self.reply(h, path)

    def reply(self, handler: BaseHTTPRequestHandler, path: str) -> None:
        story = self.stories[path]
        story.conditional.append(handler.headers.get("If-None-Match") or "")
        if story.gone:
            send(handler, 404, b"<html><body>Not found</body></html>")
            return
        body = story.html(self.published)
        etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
        if handler.headers.get("If-None-Match") == etag:
            handler.send_response(304)
            handler.send_header("ETag", etag)
            handler.end_headers()
            return
        send(handler, 200, body, headers={"ETag": etag})


    def until(self, step: float) -> None:
        """Sleep until `step` seconds after the stories' publication, and a little more."""
        time.sleep(max(0.0, datetime.fromisoformat(self.published).timestamp() + step + 0.3 - time.time()))


def rows(db: Path, sql: str) -> list[tuple[object, ...]]:
    return [tuple(row) for row in query(db, sql)]


@pytest.fixture
def outlet() -> Iterator[Outlet]:
    made = Outlet()
    yield made
    made.site.close()


def one_pass(db: Path, source: Source, *, limit: int = 500, workers: int = 2) -> Summary:
    """A daemon pass (kind "run") of `source` into the SQLite archive at `db`, with a real Fetcher."""
    store, hosts = open_store(db), open_host_states(db)
    try:
        with Fetcher(SETTINGS, hosts) as fetcher:
            return run_source(store, fetcher, source, kind="run", limit=limit, workers=workers)
    finally:
        store.close()
        hosts.close()


def daemon_pass(db: Path, outlet: Outlet, steps: tuple[float, ...] = STEPS) -> dict[str, int]:
    source = Source(slug="city", feeds=(outlet.site.url("/feed.xml"),), domains=("127.0.0.1",), revisit=steps)
    summary = one_pass(db, source)
    return {"new": summary.new, "updated": summary.updated, "unchanged": summary.unchanged,
            "removed": summary.removed, "revisited": summary.revisited}


def test_each_real_edit_is_one_revision_with_its_diff_a_counter_is_none_a_deleted_story_is_marked(
        tmp_path: Path, outlet: Outlet) -> None:
    db = tmp_path / "news.db"
    assert daemon_pass(db, outlet) == {"new": 5, "updated": 0, "unchanged": 0, "removed": 0, "revisited": 0}
    assert rows(db, "SELECT count(*), min(step) FROM revisits") == [(5, 0)]  # in the schedule, at the first step

    stories = outlet.stories
    stories["/news/0"].title = "Story number 0 about the city budget: council votes it down"  # the headline
    stories["/news/1"].paragraphs[1] = FIGURES.replace("12 people", "15 people")  # a figure in one paragraph
    stories["/news/2"].paragraphs.append("UPDATE: The mayor said the vote would be held again on Friday, after "
                                         "a recount of the ballots.")  # an update paragraph
    stories["/news/3"].views = 2040  # only the view counter
    stories["/news/4"].gone = True  # taken down
    outlet.until(STEPS[0])

    assert daemon_pass(db, outlet) == {"new": 0, "updated": 3, "unchanged": 1, "removed": 1, "revisited": 5}
    # the first revisit is a conditional GET already: the first fetch's ETag (the pages changed since: 200s)
    assert all(story.conditional[1].startswith('"') for story in outlet.stories.values())
    revisions = {row[0]: row[1:] for row in rows(
        db, "SELECT a.url, r.title, r.title_after, r.headline_changed, r.paragraphs_added, r.paragraphs_removed,"
            " r.paragraphs_changed, r.diff FROM revisions r JOIN articles a ON a.id = r.article_id")}
    url = outlet.site.url
    assert set(revisions) == {url("/news/0"), url("/news/1"), url("/news/2")}
    before, after, headline, added, removed, changed, _ = revisions[url("/news/0")]
    assert (before, after, headline, added, removed, changed) == (
        "Story number 0 about the city budget", "Story number 0 about the city budget: council votes it down", 1,
        0, 0, 0)
    assert revisions[url("/news/1")][2:6] == (0, 0, 0, 1)
    figure = json.loads(revisions[url("/news/1")][6])["paragraphs"]
    assert figure[0]["words"][:2] == [["-", "12"], ["+", "15"]]
    assert revisions[url("/news/2")][2:6] == (0, 1, 0, 0)
    assert json.loads(revisions[url("/news/2")][6])["paragraphs"][0]["after"].startswith("UPDATE: The mayor")
    assert rows(db, "SELECT url, removed_status FROM articles WHERE removed_at IS NOT NULL") == [
        (url("/news/4"), 404)]
    assert query(db, "SELECT count(*) FROM articles")[0][0] == 5  # marked, not deleted
    schedule = dict(rows(db, "SELECT a.url, r.step FROM revisits r JOIN articles a ON a.id = r.article_id"))
    assert schedule[url("/news/4")] == len(STEPS)  # no more revisits for a removed story
    assert {schedule[url(f"/news/{i}")] for i in range(4)} == {1}
    outcomes = rows(db, "SELECT outcome, count(*) FROM fetches GROUP BY outcome ORDER BY outcome")
    assert outcomes == [("new", 5), ("removed", 1), ("unchanged", 1), ("updated", 3)]

    outlet.until(STEPS[1])  # the second step: a conditional GET each, nothing changed since
    assert daemon_pass(db, outlet) == {"new": 0, "updated": 0, "unchanged": 4, "removed": 0, "revisited": 4}
    assert all(story.conditional[-1].startswith('"') for path, story in stories.items() if path != "/news/4")
    assert len(stories["/news/4"].conditional) == 2  # the fetch and the revisit that found it gone: no more
    assert query(db, "SELECT count(*) FROM revisions")[0][0] == 3


def test_new_links_come_before_revisits_and_the_pass_budget_holds(tmp_path: Path, outlet: Outlet) -> None:
    db = tmp_path / "news.db"
    daemon_pass(db, outlet)
    outlet.until(STEPS[0])
    for i in range(5, 8):  # three new stories
        outlet.stories[f"/news/{i}"] = Story(f"Late story {i}", [
            f"Late story {i}, paragraph {j}: the council met again and the mayor spoke about the budget at length."
            for j in range(3)])
        outlet.site.routes[f"/news/{i}"] = lambda h, path=f"/news/{i}": outlet.reply(h, path)
    order_before = len(outlet.site.hits)
    source = Source(slug="city", feeds=(outlet.site.url("/feed.xml"),), domains=("127.0.0.1",), revisit=STEPS)
    summary = one_pass(db, source, limit=5, workers=1)
    assert (summary.new, summary.revisited) == (3, 2)  # a budget of 5 pages: the new ones first, then 2 revisits
    paths = [h.path for h in outlet.site.hits[order_before:] if h.path != "/feed.xml"]
    assert sorted(paths[:3]) == ["/news/5", "/news/6", "/news/7"]
    assert len(paths) == 5


def test_the_schedule_steps() -> None:
    assert next_step(1000.0, (60.0, 3600.0), now=1000.0) == (0, 1060.0)
    assert next_step(1000.0, (60.0, 3600.0), now=2000.0) == (1, 4600.0)  # the first step still ahead
    assert next_step(1000.0, (60.0, 3600.0), now=9000.0) == (2, None)  # an old article: never
    assert after_revisit((60.0, 3600.0), 1000.0, 0, now=1100.0) == (1, 4600.0)  # counted from publication
    assert after_revisit((60.0, 3600.0), 1000.0, 0, now=5000.0) == (2, None)  # a pass that came too late
    assert after_revisit((60.0, 3600.0), 1000.0, 1, now=4700.0) == (2, None)
    assert after_revisit((60.0, 3600.0), 1000.0, 0, now=1100.0, gone=True) == (2, None)
    assert after_revisit((60.0, 3600.0), 1000.0, 1, now=4700.0, retry=True) == (1, 4760.0)


@pytest.mark.parametrize("feed_first", [False, True])
def test_a_sitemap_lastmod_that_moves_brings_the_revisit_forward(tmp_path: Path, outlet: Outlet,
                                                                 feed_first: bool) -> None:
    """Steps far away (10 min): only the story whose <lastmod> moved past its fetch is revisited, at the next pass,
    and once (its revisit is then newer than the lastmod). `feed_first`: the source's feed, which gives no
    <updated>, names the stories before the sitemap does; the sitemap's word on the change still counts."""
    lastmod = {path: outlet.published for path in outlet.stories}

    def sitemap(handler: BaseHTTPRequestHandler) -> None:
        urls = "".join(f"<url><loc>{outlet.site.url(path)}</loc><lastmod>{lastmod[path]}</lastmod></url>"
                       for path in outlet.stories)
        send(handler, 200, f'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
                           f"{urls}</urlset>".encode(), "application/xml")
    outlet.site.routes["/sitemap.xml"] = sitemap
    source = Source(slug="city", sitemaps=(outlet.site.url("/sitemap.xml"),), domains=("127.0.0.1",),
                    revisit=(600.0, 1200.0), feeds=(outlet.site.url("/feed.xml"),) if feed_first else ())
    db = tmp_path / "news.db"

    def counts() -> tuple[int, int, int]:
        summary = one_pass(db, source)
        return summary.new, summary.revisited, summary.updated

    assert counts() == (5, 0, 0)
    time.sleep(1.1)  # lastmod has whole seconds: the edit is after the first fetch
    outlet.stories["/news/1"].title = "Story number 1 about the city budget, corrected"
    lastmod["/news/1"] = datetime.now(UTC).isoformat(timespec="seconds")
    assert counts() == (0, 1, 1)
    assert rows(db, "SELECT a.url, r.title_after FROM revisions r JOIN articles a ON a.id = r.article_id") == [
        (outlet.site.url("/news/1"), "Story number 1 about the city budget, corrected")]
    assert counts() == (0, 0, 0)  # revisited since the lastmod: not again


def test_workers_on_postgresql_revisit_after_the_new_links(pg_dsn: str, tmp_path: Path, outlet: Outlet,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """The scheduler's discovery job, run by a worker, queues the due revisits after the new links (a lower
    priority); a worker's revisit finds the edit and stores the revision with its diff, in PostgreSQL."""
    import psycopg
    from test_queue_cli import jobs, work

    from ingest.archive.postgres import open_postgres_store
    from ingest.config import Config
    from ingest.run.queue import DISCOVER_TASK, REVISIT_TASK, TASK_NAME, QueuedPasses

    monkeypatch.chdir(tmp_path)  # the workers' raw pages: ./warc for a PostgreSQL archive without warc_dir
    source = Source(slug="city", feeds=(outlet.site.url("/feed.xml"),), domains=("127.0.0.1",), revisit=STEPS)
    config = Config(settings=SETTINGS, sources={"city": source})
    open_postgres_store(pg_dsn).close()

    def scheduled_pass() -> None:
        passes = QueuedPasses(pg_dsn)
        try:
            passes.run_pass(source)
        finally:
            passes.close()
        work(pg_dsn, config)

    scheduled_pass()
    assert jobs(pg_dsn) == {(DISCOVER_TASK, "succeeded"): 1, (TASK_NAME, "succeeded"): 5}
    outlet.stories["/news/1"].paragraphs[1] = FIGURES.replace("12 people", "15 people")
    outlet.stories["/news/3"].views = 9999
    outlet.until(STEPS[0])
    scheduled_pass()
    assert jobs(pg_dsn) == {(DISCOVER_TASK, "succeeded"): 2, (TASK_NAME, "succeeded"): 5,
                            (REVISIT_TASK, "succeeded"): 5}
    with psycopg.connect(pg_dsn) as conn:
        revised = conn.execute("SELECT a.url, r.paragraphs_changed, r.diff FROM revisions r JOIN articles a"
                               " ON a.id = r.article_id").fetchall()
        steps = conn.execute("SELECT step, count(*) FROM revisits GROUP BY step").fetchall()
        outcomes = dict(conn.execute("SELECT outcome, count(*) FROM fetches GROUP BY outcome").fetchall())
    assert [(url, changed) for url, changed, _ in revised] == [(outlet.site.url("/news/1"), 1)]
    assert json.loads(revised[0][2])["paragraphs"][0]["words"][:2] == [["-", "12"], ["+", "15"]]
    assert steps == [(1, 5)]
    assert outcomes == {"new": 5, "updated": 1, "unchanged": 4}
    assert [p.name for p in (tmp_path / "warc").iterdir()] == [f"city-{datetime.now(UTC):%Y-%m}.warc.gz"]
