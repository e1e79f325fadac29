"""The raw-page archive: pages written to WARC files come back equal, standard readers read the files, appends
from threads and processes never interleave, a torn tail spares earlier records, prune keeps the newest months."""

from __future__ import annotations

import gzip
import io
import json
import multiprocessing
import pickle
import threading
import time
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from ingest.archive.warc import WarcArchive, WarcError, WarcRef, iter_pages
from ingest.config import ConfigError, Settings, parse_config
from ingest.decoding import page_text
from ingest.models import Page

SENT = {"User-Agent": Settings().user_agent, "Accept": "text/html", "Accept-Encoding": "gzip, deflate, br, zstd"}
UK_HTML = ("<html><head><meta charset='windows-1251'><title>Новини України</title></head>"
           "<body><h1>Київ: засідання уряду</h1><p>Прем'єр-міністр заявив, що ґрунтовні зміни є.</p></body></html>")
JSON_LD = {"@context": "https://schema.org", "@type": "NewsArticle", "headline": "Japan's PM visits Kyiv",
           "datePublished": "2026-04-30T09:00:00+09:00", "author": [{"@type": "Person", "name": "Aiko Sato"}]}


def page(url: str, body: bytes, fetched_at: datetime, *, content_type: str = "text/html; charset=utf-8",
         **headers: str) -> Page:
    return Page(url=url, requested_url=url, status=200, fetched_at=fetched_at, body=body,
                headers={"content-type": content_type, **headers})


def stored(original: Page) -> Page:
    """`original` as the archive gives it back: no codings, Content-Length of the decompressed body."""
    headers = {k: v for k, v in original.headers.items()
               if k not in ("content-encoding", "transfer-encoding", "content-length")}
    return replace(original, requested_url=original.url, headers={**headers, "content-length": str(len(original.body))})


def sample_pages() -> list[tuple[str, Page]]:
    ukrainian = page("https://www.ukrinform.ua/rubric-polytics/4100001-kiiv.html", UK_HTML.encode("cp1251"),
                     datetime(2026, 4, 30, 23, 59, 59, tzinfo=UTC), content_type="text/html; charset=windows-1251",
                     **{"content-encoding": "gzip", "transfer-encoding": "chunked", "content-length": "999",
                        "last-modified": "Thu, 30 Apr 2026 20:00:00 GMT", "set-cookie": "a=1, b=2"})
    ld = json.dumps(JSON_LD, ensure_ascii=False)
    json_ld = page("https://japannews.yomiuri.co.jp/politics/20260501-1/",
                   f'<html><head><script type="application/ld+json">{ld}</script></head><body>x</body></html>'
                   .encode(), datetime(2026, 5, 1, 0, 0, 1, tzinfo=UTC))
    later = page("https://www.ukrinform.ua/rubric-ato/4100002-front.html?utm=1&x=%D0%B0",
                 "<p>Фронт</p>".encode(), datetime(2026, 5, 2, 8, 30, tzinfo=UTC))
    return [("ukrinform_uk", ukrainian), ("japan_news", json_ld), ("ukrinform_uk", later)]


def records(path: Path) -> list[tuple[str, dict[str, str], str, bytes]]:
    """Every record of a WARC file as warcio reads it: type, WARC headers, HTTP head, content (digests checked)."""
    out = []
    with path.open("rb") as handle:
        for record in ArchiveIterator(handle, check_digests="raise"):
            http = record.http_headers.to_str() if record.http_headers else ""
            out.append((record.rec_type, dict(record.rec_headers.headers), http, record.content_stream().read()))
    return out


def test_round_trip_and_a_standard_reader(tmp_path: Path) -> None:
    archive = WarcArchive(tmp_path / "db" / "warc")
    written = [(source, p, archive.write(source, p, request_headers=SENT)) for source, p in sample_pages()]
    refs = [ref for _, _, ref in written]
    assert [r.file for r in refs if r] == ["ukrinform_uk-2026-04.warc.gz", "japan_news-2026-05.warc.gz",
                                           "ukrinform_uk-2026-05.warc.gz"]
    for _, original, ref in written:
        assert ref is not None
        back = archive.read(ref)
        assert back == stored(original)
        assert page_text(back) == page_text(original)
    assert "Київ: засідання уряду" in page_text(archive.read(refs[0]))  # type: ignore[arg-type]
    assert "Aiko Sato" in page_text(archive.read(refs[1]))  # type: ignore[arg-type]

    files = sorted((tmp_path / "db" / "warc").iterdir())
    assert [f.name for f in files] == ["japan_news-2026-05.warc.gz", "ukrinform_uk-2026-04.warc.gz",
                                       "ukrinform_uk-2026-05.warc.gz"]
    for file in files:
        found = records(file)
        assert found[0][0] == "warcinfo"
        assert found[0][1]["WARC-Filename"] == file.name
        pairs = found[1:]
        assert [t for t, _, _, _ in pairs] == ["request", "response"] * (len(pairs) // 2)
        for (_, request, sent, _), (_, response, _, _) in zip(pairs[::2], pairs[1::2], strict=True):
            assert request["WARC-Target-URI"] == response["WARC-Target-URI"]
            assert request["WARC-Concurrent-To"] == response["WARC-Record-ID"]
            assert response["WARC-Concurrent-To"] == request["WARC-Record-ID"]
            assert request["WARC-Date"] == response["WARC-Date"]
            assert sent.startswith("GET /")
            assert f"\r\nUser-Agent: {SENT['User-Agent']}\r\n" in sent
            assert "\r\nHost: www.ukrinform.ua\r\n" in sent or "\r\nHost: japannews.yomiuri.co.jp\r\n" in sent
    uk_may = records(tmp_path / "db" / "warc" / "ukrinform_uk-2026-05.warc.gz")
    assert uk_may[1][1]["WARC-Target-URI"] == sample_pages()[2][1].url
    assert uk_may[1][2].startswith("GET /rubric-ato/4100002-front.html?utm=1&x=%D0%B0 HTTP/1.1\r\n")
    assert uk_may[2][1]["WARC-Date"] == "2026-05-02T08:30:00Z"
    assert [p.url for p in iter_pages(files[1])] == [sample_pages()[0][1].url]


def test_the_response_header_block_is_consistent(tmp_path: Path) -> None:
    archive = WarcArchive(tmp_path)
    _, original = sample_pages()[0]
    ref = archive.write("ukrinform_uk", original)
    assert ref is not None
    with (tmp_path / ref.file).open("rb") as handle:
        handle.seek(ref.offset)
        record = next(iter(ArchiveIterator(handle)))
        assert record.rec_type == "response"
        http = record.http_headers
        assert http.get_statuscode() == "200"
        assert http.get_header("content-encoding") is None
        assert http.get_header("transfer-encoding") is None
        assert http.get_header("content-length") == str(len(original.body))
        assert record.content_stream().read() == original.body


def test_fetched_at_keeps_whole_seconds_and_naive_times_are_utc(tmp_path: Path) -> None:
    archive = WarcArchive(tmp_path)
    precise = page("https://x.example/a", b"<p>a</p>", datetime(2026, 1, 31, 23, 0, 5, 987654, tzinfo=UTC))
    ref = archive.write("x", precise)
    assert ref is not None
    assert archive.read(ref).fetched_at == datetime(2026, 1, 31, 23, 0, 5, tzinfo=UTC)
    naive = archive.write("x", replace(precise, fetched_at=datetime(2026, 2, 1, 0, 0, 0)))
    assert naive is not None
    assert naive.file == "x-2026-02.warc.gz"


def _append_many(archive: WarcArchive, worker: int, count: int, start_at: float) -> list[WarcRef]:
    while time.time() < start_at:
        time.sleep(0.001)
    refs = []
    for i in range(count):
        body = f"<p>worker {worker} page {i}</p>".encode() + bytes([65 + worker]) * (4000 + 97 * i)
        p = page(f"https://x.example/{worker}/{i}", body, datetime(2026, 5, 3, tzinfo=UTC))
        ref = archive.write("x", p, request_headers=SENT)
        assert ref is not None
        refs.append(ref)
    return refs


def _check_appended(root: Path, refs: dict[int, list[WarcRef]], count: int) -> None:
    archive = WarcArchive(root)
    for worker, worker_refs in refs.items():
        assert len(worker_refs) == count
        for i, ref in enumerate(worker_refs):
            assert archive.read(ref).url == f"https://x.example/{worker}/{i}"
    found = records(root / "x-2026-05.warc.gz")
    assert [t for t, _, _, _ in found] == ["warcinfo"] + ["request", "response"] * (count * len(refs))
    for (_, request, _, _), (_, response, _, body) in zip(found[1::2], found[2::2], strict=True):
        assert request["WARC-Concurrent-To"] == response["WARC-Record-ID"]
        assert body.endswith(b"</p>" + body[-1:] * (len(body) - body.index(b"</p>") - 4))  # one writer's bytes


def test_appends_from_two_processes_never_interleave(tmp_path: Path) -> None:
    count = 200
    context = multiprocessing.get_context("spawn")
    start_at = time.time() + 2.0  # both processes are up by then (spawn imports ingest afresh)
    with context.Pool(2) as pool:
        # each process gets its own pickled copy of one archive, as a pipeline's worker processes would
        archive = WarcArchive(tmp_path)
        jobs = {w: pool.apply_async(_append_many, (archive, w, count, start_at)) for w in (0, 1)}
        refs = {w: job.get(timeout=120) for w, job in jobs.items()}
    offsets = sorted(r.offset for rs in refs.values() for r in rs)
    assert len(set(offsets)) == 2 * count
    _check_appended(tmp_path, refs, count)


def test_appends_from_threads_never_interleave(tmp_path: Path) -> None:
    count, refs = 50, {}
    start_at = time.time() + 0.2
    archive = WarcArchive(tmp_path)

    def run(worker: int) -> None:
        # two threads share one archive (its lock), two have their own (flock between open files)
        refs[worker] = _append_many(archive if worker < 2 else WarcArchive(tmp_path), worker, count, start_at)

    threads = [threading.Thread(target=run, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    _check_appended(tmp_path, refs, count)


def test_a_torn_last_record_spares_the_others(tmp_path: Path) -> None:
    archive = WarcArchive(tmp_path)
    pages = [page(f"https://x.example/{i}", f"<p>page {i}</p>".encode() * 500, datetime(2026, 5, 3, tzinfo=UTC))
             for i in range(4)]
    refs = [archive.write("x", p) for p in pages[:3]]
    assert all(refs)
    path = tmp_path / "x-2026-05.warc.gz"
    last = refs[-1]
    assert last is not None
    assert path.stat().st_size == last.offset + last.length
    with path.open("r+b") as handle:  # a crash halfway through writing the last record
        handle.truncate(last.offset + last.length // 2)
    for ref, original in zip(refs[:2], pages[:2], strict=True):
        assert ref is not None
        assert archive.read(ref) == stored(original)
    with pytest.raises(WarcError, match=r"x-2026-05\.warc\.gz"):
        archive.read(last)
    after = archive.write("x", pages[3])  # the next append still reads back by its ref
    assert after is not None
    assert archive.read(after) == stored(pages[3])


def test_read_refuses_a_garbled_record(tmp_path: Path) -> None:
    archive = WarcArchive(tmp_path)
    ref = archive.write("x", page("https://x.example/a", b"<p>a</p>" * 100, datetime(2026, 5, 3, tzinfo=UTC)))
    assert ref is not None
    with pytest.raises(WarcError, match=r"x-2026-05\.warc\.gz"):
        archive.read(replace(ref, offset=ref.offset + 1))
    with pytest.raises(WarcError, match=r"x-2026-05\.warc\.gz"):
        archive.read(replace(ref, offset=0, length=ref.offset))  # the request record, not a response
    with pytest.raises(WarcError, match="not a record of this archive"):
        archive.read(replace(ref, file="../x-2026-05.warc.gz"))


def test_read_of_a_missing_file_names_it(tmp_path: Path) -> None:
    with pytest.raises(WarcError, match=r"ukrinform_uk-2026-05\.warc\.gz"):
        WarcArchive(tmp_path / "warc").read(WarcRef("ukrinform_uk-2026-05.warc.gz", 0, 100))
    assert not (tmp_path / "warc").exists()


def test_disabled_archive_writes_nothing(tmp_path: Path) -> None:
    archive = WarcArchive(tmp_path / "warc", enabled=False)
    assert archive.write("x", page("https://x.example/a", b"<p>a</p>", datetime.now(UTC))) is None
    assert not (tmp_path / "warc").exists()


@pytest.mark.parametrize("source", ["../x", "x/../../y", "X", "", "1x", "x-y", "x.warc"])
def test_a_source_that_is_not_a_slug_is_refused(tmp_path: Path, source: str) -> None:
    archive = WarcArchive(tmp_path / "warc")
    with pytest.raises(ValueError, match="slug"):
        archive.write(source, page("https://x.example/a", b"<p>a</p>", datetime.now(UTC)))
    assert list(tmp_path.iterdir()) == []


def test_an_archive_pickles_without_its_lock(tmp_path: Path) -> None:
    copy = pickle.loads(pickle.dumps(WarcArchive(tmp_path / "warc", enabled=False)))
    assert (copy.root, copy.enabled) == (tmp_path / "warc", False)


def test_prune_keeps_the_newest_months(tmp_path: Path) -> None:
    archive = WarcArchive(tmp_path)
    for source in ("a", "b_2"):
        for year, month in ((2025, 12), (2026, 1), (2026, 2), (2026, 3)):
            archive.write(source, page("https://x.example/", b"x", datetime(year, month, 15, tzinfo=UTC)))
    (tmp_path / "notes.txt").write_text("mine")
    assert archive.prune(0, today=date(2026, 3, 20)) == []
    deleted = archive.prune(2, today=date(2026, 3, 20))
    assert sorted(p.name for p in deleted) == ["a-2025-12.warc.gz", "a-2026-01.warc.gz",
                                               "b_2-2025-12.warc.gz", "b_2-2026-01.warc.gz"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-2026-02.warc.gz", "a-2026-03.warc.gz",
                                                          "b_2-2026-02.warc.gz", "b_2-2026-03.warc.gz", "notes.txt"]
    assert [p.name for p in archive.prune(1, today=date(2026, 4, 1))] == [
        "a-2026-02.warc.gz", "a-2026-03.warc.gz", "b_2-2026-02.warc.gz", "b_2-2026-03.warc.gz"]
    assert WarcArchive(tmp_path / "none").prune(1, today=date(2026, 4, 1)) == []


def test_iter_pages_reads_a_foreign_warc(tmp_path: Path) -> None:
    """A crawler's WARC as Common Crawl writes it: body gzip-encoded and chunked as sent, a dns record, plain file."""
    html = "<html><body><p>Привіт</p></body></html>".encode()
    chunked = b"%x\r\n%s\r\n0\r\n\r\n" % (len(gzip.compress(html)), gzip.compress(html))
    for compress in (True, False):
        out = io.BytesIO()
        writer = WARCWriter(out, gzip=compress)
        writer.write_record(writer.create_warc_record("dns:example.com", "resource", payload=io.BytesIO(b"1.2.3.4"),
                                                      length=7, warc_content_type="text/dns"))
        http = StatusAndHeaders("200 OK", [("Content-Type", "text/html; charset=utf-8"), ("Content-Encoding", "gzip"),
                                           ("Transfer-Encoding", "chunked"), ("Vary", "a"), ("Vary", "b")],
                                protocol="HTTP/1.1")
        writer.write_record(writer.create_warc_record("https://example.com/n", "response", payload=io.BytesIO(chunked),
                                                      length=len(chunked), http_headers=http,
                                                      warc_headers_dict={"WARC-Date": "2024-02-29T12:00:00Z"}))
        path = tmp_path / ("cc.warc.gz" if compress else "cc.warc")
        path.write_bytes(out.getvalue())
        [found] = list(iter_pages(path))
        assert found.url == found.requested_url == "https://example.com/n"
        assert found.body == html
        assert found.headers == {"content-type": "text/html; charset=utf-8", "vary": "a, b",
                                 "content-length": str(len(html))}
        assert found.fetched_at == datetime(2024, 2, 29, 12, tzinfo=UTC)
    bomb = tmp_path / "bomb.warc.gz"
    writer = WARCWriter(out := io.BytesIO(), gzip=True)
    zeros = gzip.compress(b"\0" * (3 * 1024 * 1024))
    http = StatusAndHeaders("200 OK", [("Content-Type", "text/html"), ("Content-Encoding", "gzip")],
                            protocol="HTTP/1.1")
    writer.write_record(writer.create_warc_record("https://example.com/z", "response", payload=io.BytesIO(zeros),
                                                  length=len(zeros), http_headers=http))
    bomb.write_bytes(out.getvalue())
    assert list(iter_pages(bomb, max_bytes=1024 * 1024)) == []
    assert [len(p.body) for p in iter_pages(bomb)] == [3 * 1024 * 1024]
    with pytest.raises(WarcError, match=r"nope\.warc\.gz"):
        list(iter_pages(tmp_path / "nope.warc.gz"))
    (tmp_path / "junk.warc.gz").write_bytes(gzip.compress(b"WARC/1.0\r\nWARC-Type: response\r\n" * 50)[:300])
    with pytest.raises(WarcError, match=r"junk\.warc\.gz"):
        list(iter_pages(tmp_path / "junk.warc.gz"))


def test_settings_keys() -> None:
    settings = parse_config({"settings": {"warc": False, "warc_keep_months": 3}}).settings
    assert (settings.warc, settings.warc_keep_months) == (False, 3)
    assert (Settings().warc, Settings().warc_keep_months) == (True, 0)
    assert parse_config({"settings": {"warc_keep_months": 0}}).settings.warc_keep_months == 0


@pytest.mark.parametrize(("value", "key", "reason"), [
    ({"warc": "no"}, "settings.warc", "true or false"),
    ({"warc": 0}, "settings.warc", "true or false"),
    ({"warc_keep_months": -1}, "settings.warc_keep_months", "at least 0"),
    ({"warc_keep_months": 1.5}, "settings.warc_keep_months", "whole number"),
    ({"warc_keep_months": True}, "settings.warc_keep_months", "whole number"),
])
def test_bad_settings_name_file_key_and_reason(value: dict[str, object], key: str, reason: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config({"settings": value}, file="sources.toml")
    assert (info.value.file, info.value.key) == ("sources.toml", key)
    assert reason in info.value.reason
