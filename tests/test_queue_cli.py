"""The writing commands on a PostgreSQL --db (issue 20): `run` is the scheduler (a discovery job per due source),
`backfill` discovers and queues a job per link, `backfill --warc` a job per file, `reclean`, `extract` and `capture`
read and write the archive there. A real PostgreSQL (tests/pg.py), loopback outlets (conftest.Site), real
`python -m ingest` processes where signals matter, and workers (run_worker) doing the queued work."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import psycopg
import pytest
from click.testing import CliRunner, Result
from conftest import Site
from pg import Server
from test_worker import ROOT, config_for, outlet_of, rows, sources_toml

from ingest.archive.location import raw_archive
from ingest.cli import cli
from ingest.config import Config
from ingest.run.queue import DISCOVER_TASK, TASK_NAME, WARC_TASK, run_worker

PAGES = 9
UNREACHABLE = "postgresql://postgres@127.0.0.1:1/nothing"


def ingest(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def setup(tmp_path: Path, site: Site) -> tuple[Path, Config]:
    """sources.toml for the outlet, its raw pages in tmp_path/warc (warc_dir), and the Config a worker gets."""
    config_file = tmp_path / "sources.toml"
    warc = f'[settings]\nwarc_dir = "{tmp_path / "warc"}"\n'
    config_file.write_text(sources_toml(site).replace("[settings]\n", warc), encoding="utf-8")
    config = config_for(site)
    return config_file, replace(config, settings=replace(config.settings, warc_dir=str(tmp_path / "warc")))


def jobs(dsn: str) -> dict[tuple[str, str], int]:
    return {(str(task), str(status)): int(str(n)) for task, status, n in rows(
        dsn, "SELECT task_name, status::text, count(*) FROM procrastinate_jobs GROUP BY 1, 2")}


def execute(dsn: str, statement: str) -> None:
    with psycopg.connect(dsn) as conn:
        conn.execute(statement)  # type: ignore[arg-type]


def work(dsn: str, config: Config) -> None:
    """Workers until the queue is empty, keeping raw pages where the config says. (A worker with wait=False ends
    once one of its slots finds the queue empty, so the link jobs a discovery job queues need a second round.)"""
    for _ in range(3):
        run_worker(dsn, config, concurrency=3, wait=False, pool_size=1, install_signal_handlers=False,
                   archive=raw_archive(dsn, config.settings))
        if not any(status in ("todo", "doing") for _, status in jobs(dsn)):
            return


def ingested(dsn: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pages: int) -> tuple[Path, Config]:
    """An outlet of `pages` articles backfilled through the CLI and fetched by workers; its config file and Config."""
    site = outlet_of(pages)
    monkeypatch.chdir(tmp_path)
    config_file, config = setup(tmp_path, site)
    try:
        assert ingest("--config", str(config_file), "--db", dsn, "backfill").exit_code == 0
        work(dsn, config)
    finally:
        site.close()
    return config_file, config


def article_hits(site: Site) -> list[str]:
    return [p for p in site.paths() if p.startswith("/news/")]


def test_backfill_queues_a_job_per_link_workers_store_them_and_reclean_and_extract_read_them(
        pg_dsn: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    site = outlet_of(PAGES)
    monkeypatch.chdir(tmp_path)
    config_file, config = setup(tmp_path, site)
    try:
        dry = ingest("--config", str(config_file), "--db", pg_dsn, "backfill", "--dry-run")
        assert dry.exit_code == 0, dry.output
        assert dry.stdout.splitlines()[-1] == f"news: {PAGES} to fetch"
        result = ingest("--config", str(config_file), "--db", pg_dsn, "backfill")
        assert result.exit_code == 0, result.output
        assert result.stdout.splitlines() == [
            f"news: {PAGES} links discovered, {PAGES} queued for the workers",
            "the workers (`ingest worker` on this --db) fetch and clean them; `ingest stats` shows what is stored"]
        assert article_hits(site) == []  # the calling process discovers only
        assert jobs(pg_dsn) == {(TASK_NAME, "todo"): PAGES}
        again = ingest("--config", str(config_file), "--db", pg_dsn, "backfill")
        assert again.stdout.splitlines()[0] == f"news: 0 links discovered, 0 queued for the workers ({PAGES} were " \
                                               "queued already)"

        work(pg_dsn, config)
        assert jobs(pg_dsn) == {(TASK_NAME, "succeeded"): PAGES}
        assert sorted(article_hits(site)) == sorted(f"/news/{i}" for i in range(PAGES))
        assert rows(pg_dsn, "SELECT count(*), count(DISTINCT url), count(warc_file) FROM articles") == [
            (PAGES, PAGES, PAGES)]
        assert list((tmp_path / "warc").glob("news-*.warc.gz"))  # the workers kept the raw pages in warc_dir

        # reclean on the PostgreSQL archive, from those raw pages
        before = rows(pg_dsn, "SELECT url, text FROM articles ORDER BY url")
        done = ingest("--config", str(config_file), "--db", pg_dsn, "reclean", "--all")
        assert done.exit_code == 0, done.output
        # every raw page found in warc_dir and cleaned again (the same adapter: the same texts)
        assert done.stdout == f"news: 0 re-cleaned, {PAGES} unchanged, 0 kept as they were, 0 without a raw page\n"
        assert rows(pg_dsn, "SELECT url, text FROM articles ORDER BY url") == before
        assert len(article_hits(site)) == PAGES  # nothing fetched again

        # extract reads the archive's learned boilerplate (none yet: it just works) and writes nothing
        page = tmp_path / "page.html"
        page.write_bytes(b"<html><head><title>One</title></head><body><article><h1>One</h1>"
                         + b"<p>" + b"A sentence about one thing that happened today, told at length. " * 6
                         + b"</p></article></body></html>")
        extracted = ingest("--config", str(config_file), "--db", pg_dsn, "extract", str(page),
                           "--url", site.url("/news/x"))
        assert extracted.exit_code == 0, extracted.output
        assert json.loads(extracted.stdout)["source"] == "news"
        assert rows(pg_dsn, "SELECT count(*) FROM articles") == [(PAGES,)]
    finally:
        site.close()


def test_backfill_warc_queues_a_job_per_file_and_workers_replay_them(pg_server: Server, pg_dsn: str,
                                                                      tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """The raw pages one archive's workers kept, replayed into a second archive by its workers: one job per file,
    not queued twice while it waits, every article once."""
    config_file, config = ingested(pg_dsn, tmp_path, monkeypatch, PAGES)
    files = sorted((tmp_path / "warc").glob("*.warc.gz"))
    assert files

    other = pg_server.create_database()
    dry = ingest("--config", str(config_file), "--db", other, "backfill", "--warc", str(files[0]), "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert f"news: {PAGES} to parse" in dry.output
    queued = ingest("--config", str(config_file), "--db", other, "backfill", "--warc", *map(str, files))
    assert queued.exit_code == 0, queued.output
    assert queued.stdout.startswith(f"queued {len(files)} WARC files for the workers; each worker reads them at "
                                    f"these paths: {files[0]}")
    again = ingest("--config", str(config_file), "--db", other, "backfill", "--warc", *map(str, files))
    assert again.stdout.startswith(f"queued 0 WARC files for the workers ({len(files)} were queued already)")
    assert jobs(other) == {(WARC_TASK, "todo"): len(files)}

    work(other, config)
    assert jobs(other) == {(WARC_TASK, "succeeded"): len(files)}
    assert rows(other, "SELECT url, title, text FROM articles ORDER BY url") == rows(
        pg_dsn, "SELECT url, title, text FROM articles ORDER BY url")


def start(tmp_path: Path, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("INGEST_DB", None)
    return subprocess.Popen([sys.executable, "-m", "ingest", *args], cwd=tmp_path, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def wait_for(check: Any, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


def test_run_on_postgresql_is_the_scheduler_discovery_is_queued_once_and_workers_do_it(
        pg_dsn: str, tmp_path: Path) -> None:
    """Two schedulers at once queue one discovery job for the source (its queueing lock) and fetch nothing; SIGTERM
    ends each at once; `ingest worker` then runs the discovery (the feed), which queues a job per link, and the
    pages, keeping their raw pages in warc_dir."""
    site = outlet_of(PAGES)
    config_file, _ = setup(tmp_path, site)
    try:
        schedulers = [start(tmp_path, "--config", str(config_file), "--db", pg_dsn, "run") for _ in range(2)]
        try:
            wait_for(lambda: rows(pg_dsn, "SELECT to_regclass('procrastinate_jobs') IS NOT NULL") == [(True,)]
                     and jobs(pg_dsn).get((DISCOVER_TASK, "todo")) == 1)
            time.sleep(3)  # both have had their first pass due (2 s stagger at most for one source)
        finally:
            for proc in schedulers:
                proc.send_signal(signal.SIGTERM)
        logs = []
        for proc in schedulers:
            _, err = proc.communicate(timeout=15)
            assert proc.returncode == 0, err
            assert "Traceback" not in err
            logs += err.splitlines()
        queued = [line for line in logs if "news pass queued for the workers" in line]
        assert len(queued) == 2, logs
        assert sum("already" in line for line in queued) == 1, logs
        assert jobs(pg_dsn) == {(DISCOVER_TASK, "todo"): 1}
        assert site.paths() == []  # schedulers fetch nothing, not even the feed

        worker = start(tmp_path, "--config", str(config_file), "--db", pg_dsn, "worker", "--concurrency", "3")
        try:
            wait_for(lambda: jobs(pg_dsn).get((TASK_NAME, "succeeded")) == PAGES)
        finally:
            worker.send_signal(signal.SIGTERM)
            _, err = worker.communicate(timeout=15)
        assert worker.returncode == 0, err
        assert "Traceback" not in err
        assert jobs(pg_dsn) == {(DISCOVER_TASK, "succeeded"): 1, (TASK_NAME, "succeeded"): PAGES}
        assert len(list((tmp_path / "warc").glob("news-*.warc.gz"))) == 1  # `ingest worker` keeps the raw pages
        assert rows(pg_dsn, "SELECT count(*), count(DISTINCT url) FROM articles") == [(PAGES, PAGES)]
        assert rows(pg_dsn, "SELECT source, kind, status, discovered FROM runs") == [("news", "run", "ok", PAGES)]
    finally:
        site.close()


@pytest.mark.parametrize("command", [["run"], ["backfill"], ["backfill", "--warc", "x.warc.gz"], ["reclean"],
                                     ["extract", "page.html"]], ids=" ".join)
def test_a_writing_command_on_a_server_out_of_reach_is_one_line(command: list[str], tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "page.html").write_text("<html><body><p>x</p></body></html>", encoding="utf-8")
    (tmp_path / "x.warc.gz").write_bytes(b"")
    (tmp_path / "sources.toml").write_text('[sources.news]\nfeeds = ["http://127.0.0.1:9/feed.xml"]\n',
                                           encoding="utf-8")
    before = sorted(tmp_path.rglob("*"))
    result = ingest("--db", UNREACHABLE, *command)
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("Error: cannot reach PostgreSQL at 127.0.0.1:1: "), lines
    assert sorted(tmp_path.rglob("*")) == before


def test_reclean_on_a_database_without_an_archive_creates_nothing(pg_dsn: str, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sources.toml").write_text('[sources.news]\nfeeds = ["http://127.0.0.1:9/feed.xml"]\n',
                                           encoding="utf-8")
    result = ingest("--db", pg_dsn, "reclean")
    assert result.exit_code == 2
    assert "holds no ingest archive" in result.output
    assert rows(pg_dsn, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'") == [(0,)]


def test_a_job_whose_database_fails_is_one_log_line_and_its_link_stays_pending(
        pg_dsn: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    site = outlet_of(2)
    monkeypatch.chdir(tmp_path)
    config_file, config = setup(tmp_path, site)
    try:
        assert ingest("--config", str(config_file), "--db", pg_dsn, "backfill").exit_code == 0
        execute(pg_dsn, "ALTER TABLE frontier RENAME TO frontier_away")  # every job's claim now fails
        logging.getLogger().addHandler(caplog.handler)  # the command's setup_logging replaced the root's handlers
        with caplog.at_level("INFO"):
            work(pg_dsn, config)
        execute(pg_dsn, "ALTER TABLE frontier_away RENAME TO frontier")
    finally:
        site.close()
    failed = [r for r in caplog.records if "failed: PostgreSQL" in r.getMessage()]
    assert len(failed) == 2, [r.getMessage() for r in caplog.records]
    assert all(r.exc_info is None for r in caplog.records)  # no traceback anywhere
    assert 'relation "frontier" does not exist' in failed[0].getMessage()
    assert jobs(pg_dsn) == {(TASK_NAME, "succeeded"): 2}
    assert rows(pg_dsn, "SELECT state, count(*) FROM frontier GROUP BY state") == [("pending", 2)]
    assert article_hits(site) == []


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
def test_a_warc_job_stopped_mid_file_is_continued_by_the_next_worker(stop: signal.Signals, pg_dsn: str,
                                                                     tmp_path: Path) -> None:
    """One big WARC file, one job. SIGTERM mid-file drains the worker (exit 0) and the job is `todo` again; SIGKILL
    leaves it `doing` until the next worker's sweeper finds its worker silent. Either way the file's cursor is
    saved, the next worker continues from it, and every article is stored once."""
    from datetime import UTC, datetime

    from conftest import article_html

    from ingest.archive.postgres import open_postgres_store
    from ingest.archive.warc import WarcArchive
    from ingest.models import Page

    records = 400
    source_dir = tmp_path / "in"
    archive = WarcArchive(source_dir)
    for i in range(records):
        body = article_html(f"Record {i}", [f"Record {i} tells of a thing number {i} that happened. " * 6] * 3)
        url = f"http://127.0.0.1:9/news/{i}"
        archive.write("news", Page(url, url, 200, {"content-type": "text/html; charset=utf-8"}, body.encode(),
                                   datetime(2025, 3, 1, 12, tzinfo=UTC)))
    (warc,) = source_dir.glob("*.warc.gz")
    config_file = tmp_path / "sources.toml"
    config_file.write_text('[settings]\nwarc = false\nstalled_after = 2\n\n[sources.news]\nfeeds = ["http://127.0.0.1:9/feed.xml"]\n'
                           'domains = ["127.0.0.1"]\n', encoding="utf-8")
    open_postgres_store(pg_dsn).close()
    assert ingest("--config", str(config_file), "--db", pg_dsn, "backfill", "--warc", str(warc)).exit_code == 0

    worker = start(tmp_path, "--config", str(config_file), "--db", pg_dsn, "worker", "--concurrency", "1")
    try:
        wait_for(lambda: rows(pg_dsn, "SELECT count(*) FROM articles")[0][0] >= 20)  # type: ignore[operator]
    finally:
        worker.send_signal(stop)
        _, err = worker.communicate(timeout=15)
    stored = rows(pg_dsn, "SELECT count(*) FROM articles")[0][0]
    assert 20 <= stored < records  # type: ignore[operator]
    assert rows(pg_dsn, "SELECT count(*) FROM cursors")[0][0] == 1  # where the file was left
    if stop == signal.SIGTERM:
        assert worker.returncode == 0, err
        assert "Traceback" not in err
        assert "given-back" in err
        assert jobs(pg_dsn) == {(WARC_TASK, "todo"): 1}
    else:
        assert jobs(pg_dsn) == {(WARC_TASK, "doing"): 1}

    worker = start(tmp_path, "--config", str(config_file), "--db", pg_dsn, "worker")
    try:
        wait_for(lambda: jobs(pg_dsn) == {(WARC_TASK, "succeeded"): 1}, seconds=120)
    finally:
        worker.send_signal(signal.SIGTERM)
        _, err = worker.communicate(timeout=15)
    assert (f"WARC job 1 for {warc} queued again: its worker is gone" in err) == (stop == signal.SIGKILL), err
    assert rows(pg_dsn, "SELECT count(*), count(DISTINCT url) FROM articles") == [(records, records)]
    assert rows(pg_dsn, "SELECT count(*) FROM fetches WHERE outcome = 'new'") == [(records,)]


def test_the_scheduler_deletes_jobs_finished_a_day_ago_and_keeps_the_rest(pg_dsn: str, tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from ingest.run.queue import QueuedPasses

    _, config = ingested(pg_dsn, tmp_path, monkeypatch, 4)
    finished = [job_id for (job_id,) in rows(pg_dsn, "SELECT id FROM procrastinate_jobs ORDER BY id")]
    old, recent = finished[:3], finished[3:]
    execute(pg_dsn, f"UPDATE procrastinate_events SET at = at - interval '25 hours' WHERE job_id IN "
                    f"({', '.join(map(str, old))})")
    execute(pg_dsn, f"UPDATE procrastinate_jobs SET status = 'failed' WHERE id = {old[0]}")  # kept for a look

    passes = QueuedPasses(pg_dsn)
    try:
        assert passes.run_pass(config.sources["news"]).queued == 1
        assert passes.run_pass(config.sources["news"]).already_queued == 1  # no second prune within the hour
    finally:
        passes.close()
    left = {job_id: (task, status) for job_id, task, status in rows(
        pg_dsn, "SELECT id, task_name, status::text FROM procrastinate_jobs")}
    assert left == {old[0]: (TASK_NAME, "failed"), **{i: (TASK_NAME, "succeeded") for i in recent},
                    max(left): (DISCOVER_TASK, "todo")}
