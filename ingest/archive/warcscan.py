"""A WARC file read from a byte offset -> its records with their byte ranges; broken ones reported, never raised.

`scan(handle, start, wanted=..., max_bytes=...)` streams the records of any .warc or .warc.gz (warcio) from
`start` (0, or the `end` of a record an earlier scan yielded) and yields a Scanned per record: its WARC type,
target URL, WARC-Date, HTTP status and content type, and its byte range in the file, so a reader killed midway
can come back to the first record it had not finished. A response record that `wanted(head)` accepts also
carries its Page (body decoded and capped as warc.iter_pages does); no other body is kept, so memory stays flat
however large the file.

A record whose framing is broken (a torn gzip member, a Content-Length running into the next record, a file cut
short, garbage) comes out as a Scanned of kind "broken" saying why, and the scan goes on at the next record
start found after it: for gzip, the next member that inflates to a WARC header; uncompressed, the next
`WARC/1.x` followed by a WARC-Type header. warcio alone stops at a tear, or silently drops a torn last member.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, BinaryIO, Final

from warcio.archiveiterator import ArchiveIterator

from ingest.archive.warc import MAX_BODY, response_page
from ingest.models import Page

RESYNC_BLOCK: Final = 1024 * 1024  # bytes searched at a time for the next record after a broken one
_PEEK: Final = 2048  # bytes of a candidate record start inflated or read to check it is one
_GZIP_MAGIC: Final = b"\x1f\x8b\x08"


@dataclass(frozen=True)
class Scanned:
    """One record: what its headers say and where it is; `page` only for a wanted response."""

    kind: str  # the WARC-Type ("response", "request", "revisit", "warcinfo", ...), or "broken"
    start: int  # byte offset of the record (its gzip member) in the file
    end: int  # where the next record begins
    url: str = ""
    date: datetime | None = None  # WARC-Date, UTC
    status: int | None = None  # of the HTTP response
    content_type: str = ""  # of the HTTP response, without parameters
    page: Page | None = None  # a wanted response's page (None when over max_bytes: see too_large)
    too_large: bool = False  # wanted, but its decoded body is over max_bytes
    problem: str = ""  # why a broken record is broken


class _Records(ArchiveIterator):  # type: ignore[misc]  # warcio is untyped
    """warcio's iterator without its raw write to stderr on a Content-Length overrun: we report it (err_count)."""

    INC_RECORD = ""


def scan(handle: BinaryIO, start: int = 0, *, wanted: Callable[[Scanned], bool] = lambda head: False,
         max_bytes: int = MAX_BODY, end: int | None = None) -> Iterator[Scanned]:
    """Every record of the open file from `start` on, up to `end` (default: its size when the scan began)."""
    size = _size(handle) if end is None else end
    position = start
    while position < size:
        handle.seek(position)
        records = _Records(handle)
        broken: Scanned | None = None
        head: Scanned | None = None
        try:
            for record in records:
                before = records.err_count
                head = None  # a record whose headers fail is not the one before it
                head = _head(record, records)
                page, too_large = None, False
                if head.kind == "response" and head.status is not None and wanted(head):
                    page = response_page(record, max_bytes)
                    too_large = page is None
                records.read_to_end()
                item = replace(head, end=records.offset, page=page, too_large=too_large)
                if not position <= item.start < item.end <= size:  # warcio's offsets in one long gzip member
                    broken = replace(item, kind="broken", start=position, page=None,
                                     problem="not one gzip member per record (`warcio recompress` rewrites it so)")
                elif not head.kind or record.rec_headers.get_header("Content-Length") is None:
                    broken = replace(item, kind="broken", page=None, problem="its header is incomplete")
                elif records.err_count > before:
                    broken = replace(item, kind="broken", page=None, problem="its Content-Length runs past its end")
                elif getattr(record.raw_stream, "limit", 0) > 0:
                    broken = replace(item, kind="broken", page=None,
                                     problem=f"cut short: {record.raw_stream.limit} bytes of its content are missing")
                if broken is not None:
                    break
                position = item.end
                if item.start >= size:
                    return
                yield item
                head = None
            else:
                if position >= size:
                    return
                # warcio ends without a word at a torn last gzip member: the bytes left say so
                broken = Scanned("broken", position, size, problem=f"torn: {size - position} bytes at the end are "
                                 "not a whole record")
        except Exception as exc:  # warcio meets a garbled record with any exception, AttributeError included
            broken = Scanned("broken", position, size, url=head.url if head else "", problem=_reason(exc))
        finally:
            records.close()
        resumed = _next_record(handle, broken.start + 1, size)
        yield replace(broken, end=resumed)
        position = resumed


def _head(record: Any, records: ArchiveIterator) -> Scanned:
    """The record's headers as a Scanned (no body read); ValueError for a WARC-Date that is no date."""
    headers = record.rec_headers
    url = str(headers.get_header("WARC-Target-URI") or "").strip().strip("<>")
    raw_date = headers.get_header("WARC-Date")
    date = datetime.fromisoformat(str(raw_date)) if raw_date else None
    if date is not None:
        date = date.replace(tzinfo=UTC) if date.tzinfo is None else date.astimezone(UTC)
    status: int | None = None
    content_type = ""
    if record.http_headers is not None and record.rec_type == "response":
        try:
            status = int(str(record.http_headers.get_statuscode()))
        except ValueError:
            status = None
        content_type = str(record.http_headers.get_header("Content-Type") or "").split(";")[0].strip().lower()
    return Scanned(str(record.rec_type or ""), records.offset, records.offset, url, date, status, content_type)


def _reason(exc: Exception) -> str:
    """The first line of what warcio said (its gzip message is a paragraph)."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return f"{type(exc).__name__}: {lines[0] if lines else ''}"[:300]


def _next_record(handle: BinaryIO, offset: int, size: int) -> int:
    """The offset of the first record start at or after `offset` (a gzip member or a plain WARC header), else size."""
    while offset < size:
        handle.seek(offset)
        block = handle.read(min(RESYNC_BLOCK, size - offset) + _PEEK)
        for found in _candidates(block, RESYNC_BLOCK):
            if _starts_record(block[found:found + _PEEK]):
                return offset + found
        offset += RESYNC_BLOCK
    return size


def _candidates(block: bytes, within: int) -> Iterator[int]:
    """Positions in block (before `within`) where a gzip member or a WARC header line may begin."""
    yield from sorted({*_all(block, _GZIP_MAGIC, within), *_all(block, b"WARC/1.", within)})


def _all(block: bytes, needle: bytes, within: int) -> Iterator[int]:
    at = block.find(needle)
    while 0 <= at < within:
        yield at
        at = block.find(needle, at + 1)


def _starts_record(peek: bytes) -> bool:
    """True when the bytes begin a WARC record: plain, or a gzip member whose first bytes inflate to one."""
    if peek.startswith(_GZIP_MAGIC):
        try:
            peek = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(peek, _PEEK)
        except zlib.error:
            return False
    return peek.startswith(b"WARC/1.") and b"\nwarc-type:" in peek.lower()


def _size(handle: BinaryIO) -> int:
    handle.seek(0, 2)
    return handle.tell()
