"""`ingest backfill --warc`: WARC files written by warcio here (two configured sources, a foreign domain, a torn
record, a non-HTML record, requests, revisits, a 404) through the pipeline; windows, --limit, --dry-run, errors,
and a real process killed mid-file that resumes from its cursor."""

from __future__ import annotations

import contextlib
import io
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from archive_site import Story
from click.testing import CliRunner
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from ingest.cli import cli

ALPHA, BETA = "https://alpha.example", "https://news.beta.example"


def config(tmp_path: Path, concurrency: int = 2) -> Path:
    path = tmp_path / "sources.toml"
    path.write_text(f"""[settings]
user_agent = "ingest-test (+https://example.org/contact)"
concurrency = {concurrency}

[sources.alpha]
adapter = "generic"
feeds = ["{ALPHA}/feed.xml"]

[sources.beta]
adapter = "generic"
feeds = ["{BETA}/rss"]
""", encoding="utf-8")
    return path


def member(kind: str, url: str, when: datetime, body: bytes = b"", *, status: str = "200 OK",
           content_type: str = "text/html; charset=utf-8") -> bytes:
    """One record as its own gzip member, as CC-NEWS and our archive write them."""
    out = io.BytesIO()
    writer = WARCWriter(out, gzip=True)
    warc_date = {"WARC-Date": when.strftime("%Y-%m-%dT%H:%M:%SZ")}
    if kind == "response":
        http = StatusAndHeaders(status, [("Content-Type", content_type), ("Content-Length", str(len(body)))],
                                protocol="HTTP/1.1")
        record = writer.create_warc_record(url, "response", payload=io.BytesIO(body), length=len(body),
                                           http_headers=http, warc_headers_dict=warc_date)
    elif kind == "request":
        http = StatusAndHeaders("GET / HTTP/1.1", [("Host", "alpha.example")], is_http_request=True)
        record = writer.create_warc_record(url, "request", payload=io.BytesIO(b""), length=0, http_headers=http,
                                           warc_headers_dict=warc_date)
    elif kind == "revisit":
        http = StatusAndHeaders("200 OK", [("Content-Type", "text/html")], protocol="HTTP/1.1")
        record = writer.create_revisit_record(url, "sha1:AAAA", url, "2024-01-01T00:00:00Z", http_headers=http)
    else:
        record = writer.create_warc_record(url, kind, payload=io.BytesIO(body), length=len(body),
                                           warc_headers_dict=warc_date)
    writer.write_record(record)
    return out.getvalue()


def story_record(base: str, story: Story) -> bytes:
    fetched = (story.published + timedelta(hours=2)).astimezone(UTC)
    return member("response", f"{base}{story.path}", fetched, story.html().encode())


def stories(first: int, days: int, start: date = date(2024, 1, 10)) -> list[Story]:
    return [Story(first + n, start + timedelta(days=n)) for n in range(days)]


def mixed_warc(path: Path) -> tuple[list[Story], list[Story]]:
    """Alpha and beta articles interleaved, plus every kind of record a replay must pass over or reject."""
    alpha, beta = stories(100, 6), stories(200, 6)
    when = datetime(2024, 1, 20, 8, 0)
    parts = [member("warcinfo", "", when, b"software: test\r\n")]
    for a, b in zip(alpha, beta, strict=True):
        parts += [member("request", f"{ALPHA}{a.path}", when), story_record(ALPHA, a), story_record(BETA, b)]
    torn = story_record(ALPHA, Story(999, date(2024, 1, 12)))
    foreign = Story(300, date(2024, 1, 11)).html().encode()
    png = b"\x89PNG\r\n\x1a\n" + bytes(200)
    parts[4:4] = [member("response", "https://foreign.example/news/1/", when, foreign),
                  member("response", f"{ALPHA}/logo.png", when, png, content_type="image/png"),
                  member("revisit", f"{ALPHA}{alpha[0].path}", when),
                  member("metadata", f"{ALPHA}{alpha[0].path}", when, b"outlinks: none\r\n"),
                  member("response", f"{ALPHA}/gone/", when, b"not found", status="404 Not Found"),
                  torn[: len(torn) // 2]]  # a writer killed mid-record, then appended to again
    path.write_bytes(b"".join(parts))
    return alpha, beta


def ingest(cfg: Path, db: Path, *args: str, code: int = 0) -> str:
    result = CliRunner().invoke(cli, ["--config", str(cfg), "--db", str(db), "backfill", *args])
    assert result.exit_code == code, result.output
    return result.output


def query(db: Path, sql: str, *params: object) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def test_records_of_two_sources_go_through_the_pipeline(tmp_path: Path) -> None:
    cfg, db, warc = config(tmp_path), tmp_path / "news.db", tmp_path / "cc-news.warc.gz"
    alpha, beta = mixed_warc(warc)
    out = ingest(cfg, db, "--warc", str(warc))
    assert "alpha: 6 new, 0 duplicate, 0 updated, 0 unchanged, 2 rejected (not-html: 1, http-404: 1)" in out, out
    assert "beta: 6 new" in out
    assert re.search(r"records: 1 foreign, 0 fetched before --since, 0 over --limit, 0 older than the stored copy, "
                     r"1 broken", out), out
    rows = query(db, "SELECT url, source, fetched_at, published_at FROM articles ORDER BY url")
    assert sorted(r[0] for r in rows) == sorted([f"{ALPHA}{s.path}" for s in alpha] + [f"{BETA}{s.path}" for s in beta])
    by_url = {r[0]: r for r in rows}
    first = by_url[f"{ALPHA}{alpha[0].path}"]
    assert first[1] == "alpha"
    assert first[2] == "2024-01-10T12:00:00+00:00"  # the record's WARC-Date is the fetch time (12:00 Kyiv + 2 h)
    assert first[3] == "2024-01-10T10:00:00+00:00"
    rejected = dict(query(db, "SELECT reason, url FROM fetches WHERE outcome = 'rejected'"))
    assert set(rejected) == {"not-html", "http-404", "warc-broken"}
    assert rejected["not-html"] == f"{ALPHA}/logo.png"
    assert query(db, "SELECT count(*) FROM fetches WHERE url LIKE '%foreign.example%'") == [(0,)]
    detail = query(db, "SELECT detail FROM fetches WHERE reason = 'warc-broken'")[0][0]
    assert "cc-news.warc.gz bytes" in str(detail)
    # the raw pages are archived as fetched ones are, so `ingest reclean` can clean them again
    assert query(db, "SELECT count(*) FROM articles WHERE warc_file IS NULL") == [(0,)]
    assert (tmp_path / "warc" / "alpha-2024-01.warc.gz").is_file()
    assert query(db, "SELECT count(*) FROM cursors") == [(0,)]  # the file was finished
    # a second run is a refetch of every URL: nothing new, no second row
    again = ingest(cfg, db, "--warc", str(warc))
    assert "alpha: 0 new, 0 duplicate, 0 updated, 6 unchanged" in again, again
    assert query(db, "SELECT count(*) FROM articles") == [(12,)]
    # our own archive replayed into its database: its records are the raw copies, nothing is appended to them
    # (it holds each page twice: the second run archived what it parsed, as a refetch does)
    own = tmp_path / "warc" / "alpha-2024-01.warc.gz"
    size = own.stat().st_size
    again = ingest(cfg, db, "--warc", str(own))
    assert "alpha: 0 new, 0 duplicate, 0 updated, 12 unchanged" in again, again
    assert own.stat().st_size == size
    # into another database beside it (the same db/warc): its articles point at the records read
    other = tmp_path / "other.db"
    assert "alpha: 6 new, 0 duplicate, 0 updated, 6 unchanged" in ingest(cfg, other, "--warc", str(own))
    assert own.stat().st_size == size
    refs = query(other, "SELECT DISTINCT warc_file FROM articles")
    assert refs == [("alpha-2024-01.warc.gz",)]
    recleaned = CliRunner().invoke(cli, ["--config", str(cfg), "--db", str(other), "reclean", "--all"])
    assert "alpha: 0 re-cleaned, 6 unchanged, 0 kept as they were, 0 without a raw page" in recleaned.output, \
        recleaned.output


def test_window_and_dry_run(tmp_path: Path) -> None:
    cfg, db, warc = config(tmp_path), tmp_path / "news.db", tmp_path / "a.warc.gz"
    spread = [Story(500 + n, date(2024, 1, 20) + timedelta(days=10 * n)) for n in range(6)]  # Jan 20 .. Mar 10
    warc.write_bytes(b"".join(story_record(ALPHA, s) for s in spread))
    out = ingest(cfg, db, "--warc", str(warc), "--dry-run", "--since", "2024-02-01")
    assert re.search(r"alpha\s*│\s*2024-02\s*│\s*3\s*│", out), out
    assert "alpha: 4 to parse" in out
    assert not db.exists()  # a dry run writes nothing
    out = ingest(cfg, db, "--warc", str(warc), "--since", "2024-02-01", "--until", "2024-02-29")
    assert "alpha: 3 new" in out, out
    assert "1 rejected (out-of-window: 1)" in out, out
    assert "2 fetched before --since" in out
    days = [r[0] for r in query(db, "SELECT substr(published_at, 1, 10) FROM articles ORDER BY 1")]
    assert days == ["2024-02-09", "2024-02-19", "2024-02-29"]


def test_limit_stops_with_a_cursor_and_the_same_command_goes_on(tmp_path: Path) -> None:
    cfg, db, warc = config(tmp_path), tmp_path / "news.db", tmp_path / "mixed.warc.gz"
    mixed_warc(warc)
    first = ingest(cfg, db, "--warc", str(warc), "--limit", "4")
    assert "alpha: 4 new" in first, first
    assert "beta: 4 new" in first, first
    assert query(db, "SELECT count(*) FROM cursors WHERE stage LIKE 'warc %'") == [(1,)]
    second = ingest(cfg, db, "--warc", str(warc), "--limit", "4")
    assert "alpha: 2 new" in second, second
    assert "beta: 2 new" in second, second
    assert "1 resumed from a cursor" in second, second
    assert query(db, "SELECT count(*) FROM articles") == [(12,)]
    assert query(db, "SELECT count(*) FROM cursors") == [(0,)]
    assert query(db, "SELECT count(*) FROM fetches GROUP BY url HAVING count(*) > 1") == []


def test_a_changed_file_is_not_resumed_at_a_stale_offset(tmp_path: Path) -> None:
    cfg, db, warc = config(tmp_path), tmp_path / "news.db", tmp_path / "a.warc.gz"
    mixed_warc(warc)
    ingest(cfg, db, "--warc", str(warc), "--limit", "2")
    offset = int(str(query(db, "SELECT value FROM cursors")[0][0]).split()[0])
    warc.write_bytes(b"".join(story_record(BETA, s) for s in stories(700, 3)))  # replaced by another file
    assert warc.stat().st_size != offset
    out = ingest(cfg, db, "--warc", str(warc))
    assert "beta: 3 new" in out, out  # read from its start, not from the old offset


def test_forced_source_globs_and_errors(tmp_path: Path) -> None:
    cfg, db = config(tmp_path), tmp_path / "news.db"
    for n in range(2):
        (tmp_path / f"part-{n}.warc.gz").write_bytes(
            b"".join(story_record("https://mirror.example", s) for s in stories(800 + 10 * n, 2)))
    out = ingest(cfg, db, "--warc", str(tmp_path / "part-*.warc.gz"), "--source", "beta")
    assert "beta: 4 new" in out, out
    assert "2 files" in out, out
    missing = ingest(cfg, db, "--warc", str(tmp_path / "nothing-*.warc.gz"), code=2)
    assert "no file matches" in missing
    assert len(missing.strip().splitlines()) == 1
    fresh = tmp_path / "fresh.db"
    assert "no such WARC file" in ingest(cfg, fresh, "--warc", str(tmp_path / "a.warc"), code=2)
    assert not fresh.exists()
    assert "unknown source 'gamma'" in ingest(cfg, db, "--warc", str(tmp_path / "part-0.warc.gz"), "--source",
                                              "gamma", code=2)
    assert "--source goes with --warc" in ingest(cfg, db, "--source", "beta", code=2)
    # positional arguments are WARC paths too when --warc is given
    out = ingest(cfg, db, "--warc", str(tmp_path / "part-0.warc.gz"), str(tmp_path / "part-1.warc.gz"))
    assert "2 files" in out, out
    assert "4 foreign" in out, out


def test_killed_replay_resumes_from_its_cursor(tmp_path: Path) -> None:
    """SIGKILL a real `ingest backfill --warc` mid-file; run it again: every article exactly once, and the second
    run reads only the records after the cursor."""
    cfg, db, warc = config(tmp_path, concurrency=1), tmp_path / "news.db", tmp_path / "big.warc.gz"
    many = stories(1000, 240, start=date(2023, 1, 1))
    warc.write_bytes(b"".join(story_record(ALPHA, s) for s in many))
    env = {**os.environ, "INGEST_CONFIG": str(cfg), "INGEST_DB": str(db)}
    args = [sys.executable, "-m", "ingest", "backfill", "--warc", str(warc)]
    proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    stored = 0
    while time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
        try:
            stored = query(db, "SELECT count(*) FROM articles")[0][0]  # type: ignore[assignment]
        except sqlite3.OperationalError:
            continue  # not created yet
        if stored >= 20:
            break
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    before = query(db, "SELECT count(*) FROM articles")[0][0]
    assert isinstance(before, int)
    assert 20 <= before < len(many)
    assert query(db, "SELECT count(*) FROM cursors WHERE stage LIKE 'warc %'") == [(1,)]
    second = subprocess.run(args, env=env, capture_output=True, text=True, timeout=300)
    assert second.returncode == 0, second.stderr
    assert f"alpha: {len(many) - before} new, 0 duplicate, 0 updated, 0 unchanged" in second.stdout, second.stdout
    records = int(re.search(r"(\d+) records", second.stdout)[1])  # type: ignore[index]
    assert records == len(many) - before  # it started at the cursor: the stored records were not read again
    assert "1 resumed from a cursor" in second.stdout
    assert query(db, "SELECT count(*), count(DISTINCT url) FROM articles") == [(len(many), len(many))]
    assert query(db, "SELECT count(*) FROM fetches GROUP BY url HAVING count(*) > 1") == []  # parsed once each
    assert query(db, "SELECT count(*) FROM cursors") == [(0,)]


def test_sigterm_saves_the_cursor_and_says_so(tmp_path: Path) -> None:
    cfg, db, warc = config(tmp_path, concurrency=1), tmp_path / "news.db", tmp_path / "big.warc.gz"
    many = stories(2000, 200, start=date(2023, 1, 1))
    warc.write_bytes(b"".join(story_record(ALPHA, s) for s in many))
    env = {**os.environ, "INGEST_CONFIG": str(cfg), "INGEST_DB": str(db)}
    args = [sys.executable, "-m", "ingest", "backfill", "--warc", str(warc)]
    proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
        with contextlib.suppress(sqlite3.OperationalError):
            if query(db, "SELECT count(*) FROM articles")[0][0] >= 10:  # type: ignore[operator]
                break
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "stopped early: run the same command again to continue" in out, out
    assert query(db, "SELECT count(*) FROM cursors WHERE stage LIKE 'warc %'") == [(1,)]
    stored = query(db, "SELECT count(*) FROM articles")[0][0]
    second = subprocess.run(args, env=env, capture_output=True, text=True, timeout=300)
    assert f"alpha: {len(many) - stored} new, 0 duplicate, 0 updated, 0 unchanged" in second.stdout, second.stdout  # type: ignore[operator]
    assert query(db, "SELECT count(*) FROM articles") == [(len(many),)]


def test_an_older_snapshot_never_replaces_newer_text(tmp_path: Path) -> None:
    """History replayed after the daemon stored a story: the older copy is passed over, the newer text stays; a
    newer snapshot is an update (the stored text becomes a revision)."""
    cfg, db = config(tmp_path), tmp_path / "news.db"
    story = Story(100, date(2024, 1, 10))
    new_html = story.html().replace("<p>", "<p>Updated: casualty figures revised upward today. ", 1).encode()
    url = f"{ALPHA}{story.path}"
    newer = tmp_path / "newer.warc.gz"
    newer.write_bytes(member("response", url, datetime(2024, 1, 11, 9, 0), new_html))
    older = tmp_path / "older.warc.gz"
    older.write_bytes(member("response", url, datetime(2024, 1, 10, 13, 0), story.html().encode()))
    ingest(cfg, db, "--warc", str(newer))
    out = ingest(cfg, db, "--warc", str(older))
    assert "1 older than the stored copy" in out, out
    assert query(db, "SELECT count(*) FROM articles WHERE text LIKE 'Updated: casualty%'") == [(1,)]
    assert query(db, "SELECT count(*) FROM revisions") == [(0,)]
    # the other way round: the newer snapshot updates the story and keeps the older text as a revision
    db2 = tmp_path / "other.db"
    ingest(cfg, db2, "--warc", str(older))
    out = ingest(cfg, db2, "--warc", str(newer))
    assert "alpha: 0 new, 0 duplicate, 1 updated" in out, out
    assert query(db2, "SELECT count(*) FROM articles WHERE text LIKE 'Updated: casualty%'") == [(1,)]
    assert query(db2, "SELECT count(*) FROM revisions") == [(1,)]
