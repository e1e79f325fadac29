"""The WARC reader of replays: byte ranges that resume exactly, wanted bodies only, and every kind of broken
record (torn gzip member, garbage, a Content-Length overrun, a file cut short) reported once, reading going on."""

from __future__ import annotations

import gzip as gzip_module
import io
import itertools
from datetime import UTC, datetime

import pytest
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from ingest.archive.warcscan import Scanned, scan

WHEN = datetime(2024, 5, 17, 8, 30, tzinfo=UTC)


def records(gzip: bool, count: int = 4) -> list[bytes]:
    """`count` response records, each written alone (a gzip member each when compressed)."""
    out = []
    for n in range(count):
        buffer = io.BytesIO()
        writer = WARCWriter(buffer, gzip=gzip)
        body = f"<html><body><p>page {n}</p>{'x' * 3000}</body></html>".encode()
        http = StatusAndHeaders("200 OK", [("Content-Type", "text/html; charset=utf-8")], protocol="HTTP/1.1")
        writer.write_record(writer.create_warc_record(
            f"https://alpha.example/{n}", "response", payload=io.BytesIO(body), length=len(body), http_headers=http,
            warc_headers_dict={"WARC-Date": "2024-05-17T08:30:00Z"}))
        out.append(buffer.getvalue())
    return out


def read(data: bytes, start: int = 0) -> list[Scanned]:
    return list(scan(io.BytesIO(data), start, wanted=lambda head: True))


@pytest.mark.parametrize("gzip", [True, False])
def test_records_with_their_byte_ranges_and_a_resume_in_the_middle(gzip: bool) -> None:
    parts = records(gzip)
    data = b"".join(parts)
    found = read(data)
    assert [r.url for r in found] == [f"https://alpha.example/{n}" for n in range(4)]
    assert [r.start for r in found] == [sum(len(p) for p in parts[:n]) for n in range(4)]
    assert found[-1].end == len(data)
    assert found[0].date == WHEN
    assert found[0].status == 200
    assert found[0].content_type == "text/html"
    assert found[0].page is not None
    assert b"page 0" in found[0].page.body
    assert [r.url for r in read(data, found[2].start)] == ["https://alpha.example/2", "https://alpha.example/3"]


def test_only_wanted_bodies_are_read_and_big_ones_are_flagged() -> None:
    data = b"".join(records(True))
    skipped = list(scan(io.BytesIO(data), wanted=lambda head: head.url.endswith("/1")))
    assert [r.page is not None for r in skipped] == [False, True, False, False]
    capped = list(scan(io.BytesIO(data), wanted=lambda head: True, max_bytes=100))
    assert all(r.page is None and r.too_large for r in capped)


@pytest.mark.parametrize(("gzip", "damage", "responses"), [
    (True, "torn member", [0, 2, 3]),
    (True, "garbage", [0, 1, 2, 3]),
    (True, "torn end", [0, 1, 2]),
    (False, "torn member", [0, 2, 3]),  # the cut record's Content-Length runs into the next one
    (False, "garbage", [0, 1, 2, 3]),
    (False, "torn end", [0, 1, 2]),
    (False, "cut header", [0, 1, 2]),
])
def test_a_broken_record_is_reported_once_and_reading_goes_on(gzip: bool, damage: str, responses: list[int]) -> None:
    p = records(gzip)
    data = {"torn member": p[0] + p[1][:len(p[1]) // 2] + p[2] + p[3],
            "garbage": p[0] + b"this is not a WARC record\r\n\r\n" + p[1] + p[2] + p[3],
            "torn end": p[0] + p[1] + p[2] + p[3][:len(p[3]) // 2],
            "cut header": p[0] + p[1] + p[2] + p[3][:30]}[damage]
    found = read(data)
    assert [r.url[-1] for r in found if r.kind == "response"] == [str(n) for n in responses]
    broken = [r for r in found if r.kind == "broken"]
    assert len(broken) == 1
    assert broken[0].problem
    assert broken[0].page is None
    assert found[-1].end == len(data)  # nothing left unaccounted for
    for before, after in itertools.pairwise(found):
        assert before.end == after.start  # the ranges tile the file: a cursor is always a record start


def test_a_single_gzip_stream_is_one_broken_record() -> None:
    data = gzip_module.compress(b"".join(records(False)))  # not a member per record: no offset leads to a record
    assert [(r.kind, r.start, r.end) for r in read(data)] == [("broken", 0, len(data))]
    assert "one gzip member per record" in read(data)[0].problem
