"""Workers on PostgreSQL (ingest/run/queue.py): passes defer a Procrastinate job per link, workers store each once.

A real PostgreSQL (tests/pg.py) and a loopback outlet (conftest.Site).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import pytest
from conftest import Site, article_html, rss, send

from ingest.archive.postgres import open_postgres_host_states
from ingest.config import Config, Settings, Source
from ingest.crawl.fetch import Fetcher
from ingest.models import Link
from ingest.run.queue import QUEUE, TASK_NAME, LinkJobs, QueueRunner, apply_queue_schema, pending_jobs, run_worker
from ingest.urls import url_key

PAGES = 12
SETTINGS = Settings(user_agent="ingest-test/1.0 (+https://example.org/contact)", per_host_delay=0.0, max_retries=0)


@pytest.fixture
def outlet() -> Iterator[Site]:
    site = Site({"/robots.txt": lambda h: send(h, 200, b"User-agent: *\nAllow: /\n", "text/plain")})
    for i in range(PAGES):
        body = article_html(f"Story {i}", [f"Story number {i} tells of event {i} in some detail, again. " * 5
                                           for _ in range(3)]).encode()
        site.routes[f"/news/{i}"] = lambda h, body=body: send(h, 200, body)
    urls = [site.url(f"/news/{i}") for i in range(PAGES)]
    site.routes["/feed.xml"] = lambda h: send(h, 200, rss(urls), "application/rss+xml")
    yield site
    site.close()


def config_for(site: Site) -> Config:
    source = Source(slug="news", feeds=(site.url("/feed.xml"),), domains=("127.0.0.1",))
    return Config(settings=SETTINGS, sources={"news": source})


def rows(dsn: str, sql: str) -> list[tuple[object, ...]]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(sql).fetchall()  # type: ignore[arg-type]


def article_hits(site: Site) -> list[str]:
    return [p for p in site.paths() if p.startswith("/news/")]


def test_the_queue_schema_is_made_once_even_by_processes_at_the_same_time(pg_dsn: str) -> None:
    made: list[bool] = []
    threads = [threading.Thread(target=lambda: made.append(apply_queue_schema(pg_dsn))) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(made) == [False, False, False, True]
    assert apply_queue_schema(pg_dsn) is False
    assert rows(pg_dsn, "SELECT count(*) FROM procrastinate_jobs") == [(0,)]


def test_a_pass_defers_a_job_per_link_and_a_worker_stores_every_article_once(pg_dsn: str, outlet: Site) -> None:
    config = config_for(outlet)
    source = config.sources["news"]
    totals: list[int] = []
    with fetcher_on(pg_dsn) as fetcher, QueueRunner(config, pg_dsn, fetcher) as runner:
        summary = runner.run_pass(source, kind="backfill", on_total=totals.append)
        assert summary.discovered == PAGES
        assert totals == [PAGES]
        assert pending_jobs(pg_dsn) == {"todo": PAGES}
        # the same links again while their jobs wait: the queueing lock (the URL key) queues none of them twice
        again = runner.run_pass(source, kind="backfill", on_total=totals.append)
        assert again.discovered == 0
        assert totals == [PAGES, PAGES]
        assert pending_jobs(pg_dsn) == {"todo": PAGES}
    assert article_hits(outlet) == []  # a pass fetches no article: the workers do

    run_worker(pg_dsn, config, concurrency=4, wait=False, pool_size=2, install_signal_handlers=False)

    assert pending_jobs(pg_dsn) == {"succeeded": PAGES}
    assert sorted(article_hits(outlet)) == sorted(f"/news/{i}" for i in range(PAGES))
    assert rows(pg_dsn, "SELECT count(*), count(DISTINCT url) FROM articles") == [(PAGES, PAGES)]
    assert rows(pg_dsn, "SELECT state, count(*) FROM frontier GROUP BY state") == [("done", PAGES)]
    assert rows(pg_dsn, "SELECT outcome, count(*) FROM fetches GROUP BY outcome") == [("new", PAGES)]
    assert rows(pg_dsn, "SELECT count(*) FROM frontier WHERE claimed_by IS NOT NULL") == [(0,)]

    # a later pass finds every link settled: nothing is deferred, and a worker fetches nothing
    with fetcher_on(pg_dsn) as fetcher, QueueRunner(config, pg_dsn, fetcher) as runner:
        assert runner.run_pass(source).discovered == 0
    assert pending_jobs(pg_dsn) == {"succeeded": PAGES}
    run_worker(pg_dsn, config, concurrency=2, wait=False, pool_size=1, install_signal_handlers=False)
    assert len(article_hits(outlet)) == PAGES


def test_a_link_deferred_twice_is_fetched_once(pg_dsn: str, outlet: Site) -> None:
    """Past the queueing lock (a second job is deferred once the first has started, or without the lock), the
    store's claim still lets one job only fetch the link."""
    config = config_for(outlet)
    with fetcher_on(pg_dsn) as fetcher, QueueRunner(config, pg_dsn, fetcher) as runner:
        runner.run_pass(config.sources["news"], limit=3)
    assert pending_jobs(pg_dsn) == {"todo": 3}
    queued = [str(url) for (url,) in rows(pg_dsn, "SELECT args->>'url' FROM procrastinate_jobs ORDER BY id")]
    jobs = LinkJobs(pg_dsn)
    with jobs.app.open():
        for url in queued:  # the same links again, no queueing lock
            jobs.task.defer(source="news", url=url)
        assert jobs.defer([Link(queued[0], "news")]) == (0, 1)  # with the lock: already queued
    assert pending_jobs(pg_dsn) == {"todo": 6}

    run_worker(pg_dsn, config, concurrency=3, wait=False, pool_size=1, install_signal_handlers=False)

    assert pending_jobs(pg_dsn) == {"succeeded": 6}
    assert sorted(article_hits(outlet)) == sorted(url.removeprefix(outlet.base_url) for url in queued)
    assert rows(pg_dsn, "SELECT count(*) FROM articles") == [(3,)]
    assert rows(pg_dsn, "SELECT count(*) FROM fetches") == [(3,)]
    assert rows(pg_dsn, "SELECT state, count(*) FROM frontier GROUP BY state ORDER BY state") == [
        ("done", 3), ("pending", PAGES - 3)]


def test_jobs_are_in_the_ingest_queue_under_the_task_name(pg_dsn: str, outlet: Site) -> None:
    config = config_for(outlet)
    with fetcher_on(pg_dsn) as fetcher, QueueRunner(config, pg_dsn, fetcher) as runner:
        runner.run_pass(config.sources["news"], limit=1)
    [(queue, task, lock, args)] = rows(pg_dsn, "SELECT queue_name, task_name, queueing_lock, args"
                                               " FROM procrastinate_jobs")
    assert (queue, task) == (QUEUE, TASK_NAME)
    assert isinstance(args, dict)
    assert args["source"] == "news"
    assert args["via"] == "feed"
    assert lock == url_key(args["url"])  # the URL key: a link is queued once under any spelling



@contextmanager
def fetcher_on(dsn: str) -> Iterator[Fetcher]:
    """A Fetcher whose host leases are in the database."""
    hosts = open_postgres_host_states(dsn)
    try:
        with Fetcher(SETTINGS, hosts) as fetcher:
            yield fetcher
    finally:
        hosts.close()
