"""Page -> WARC records on disk (a WarcRef); WarcRef -> Page: the raw-page archive.

Every fetched page is kept as fetched, so a page can be cleaned again later (`ingest reclean`) or handed to
any WARC tool. `WarcArchive(root).write(source, page)` appends a WARC/1.0 `request` record (the GET line,
Host and the headers our fetcher sent) and a `response` record (status line, the page's headers, the body),
each its own gzip member, to `root/<source>-<YYYY-MM>.warc.gz` (the UTC month of `page.fetched_at`; a new
file opens with a `warcinfo` record) and returns a WarcRef: the file, relative to root, and the byte range of
the response member, so `read(ref)` seeks straight to it. `iter_pages(path)` reads every response of any
standard .warc or .warc.gz; `prune(keep_months, today=...)` deletes the files of older months.

What is stored differs from the wire in one way: Page.body is already decompressed (fetch.py inflates it
under a cap), so Content-Encoding and Transfer-Encoding are dropped from the stored headers and
Content-Length is set to len(body); a WARC reader then sees a plain, consistent response. WARC/1.0 dates
have whole seconds, so `fetched_at` comes back truncated to the second (as the database stores it).

Appends are safe across threads (a lock per archive) and processes (an exclusive flock on the file while
appending): records are built and compressed in memory, then appended with one write at the end of the
file, so records never interleave and a failed write is cut back off. A crash mid-write (kill -9, power
loss) can leave a torn member at the end of a file: every record before it still reads, and so does every
record appended after it by its WarcRef, though a sequential reader stops at the tear.
Nothing is written outside root; root is created on the first write, never before.
"""

from __future__ import annotations

import io
import os
import re
import sys
import threading
import uuid
import zlib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, date, datetime
from http import HTTPStatus
from pathlib import Path
from typing import Any, Final
from urllib.parse import quote, urlsplit

from isal import igzip
from warcio.archiveiterator import ArchiveIterator
from warcio.bufferedreaders import BufferedReader
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from ingest import __version__
from ingest.models import Page
from ingest.models import WarcRef as WarcRef  # re-exported: the archive's files are read by it

if sys.platform != "win32":
    import fcntl

# write() of a fundus page (~320 KiB): median 4.8 ms at level 6 (disk: 0.191 of the raw bytes), 6.9 ms at 9
# (warcio's own level; 0.189), 2.1 ms at 1 (0.227). Compression is ~85% of the time and releases the GIL.
GZIP_LEVEL: Final = 1  # of ISA-L (0-3); see _gzip
MAX_BODY: Final = 10 * 1024 * 1024  # iter_pages' cap on a decoded body, as Settings.max_bytes' default
_SLUG: Final = re.compile(r"^[a-z][a-z0-9_]*$")
_FILE: Final = re.compile(r"^([a-z][a-z0-9_]*)-(\d{4})-(\d{2})\.warc\.gz$")
_DROPPED: Final = frozenset({"content-encoding", "transfer-encoding", "content-length"})
_PATH_SAFE: Final = "!#$%&'()*+,/:;=?@[]~"  # kept as they are in a request target; the rest is %-encoded


class WarcError(Exception):
    """A WARC file or record is missing or unreadable; the message names the file."""


@dataclass(frozen=True)
class Packed:
    """A page's request and response records, each a gzip member, ready to append; `month` names the file."""

    month: str  # YYYY-MM of the fetch, UTC
    request: bytes
    response: bytes


def pack(page: Page, request_headers: Mapping[str, str] | None = None) -> Packed:
    """The WARC records of one fetched page, compressed: pure, so a parse worker can build them."""
    fetched_at = _utc(page.fetched_at)
    warc_date = fetched_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    request_id, response_id = _record_id(), _record_id()
    request = _gzip(_request_record(page.url, request_headers or {}, warc_date, request_id, response_id))
    response = _gzip(_response_record(page, warc_date, response_id, request_id))
    return Packed(f"{fetched_at:%Y-%m}", request, response)


class WarcArchive:
    """The WARC files of one archive root (e.g. db/warc): one file per source per month, appended to."""

    def __init__(self, root: Path, *, enabled: bool = True) -> None:
        self.root = Path(root)
        self.enabled = enabled
        self._lock = threading.Lock()

    def __getstate__(self) -> dict[str, Any]:
        # Picklable, for worker processes: the lock is per process (flock keeps processes apart).
        return {"root": self.root, "enabled": self.enabled}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.root, self.enabled, self._lock = state["root"], state["enabled"], threading.Lock()

    def write(self, source: str, page: Page, *,
              request_headers: Mapping[str, str] | None = None) -> WarcRef | None:
        """Append the request and response records of `page`; where the response is, or None when disabled.

        The body is stored decompressed, as Page holds it: Content-Encoding and Transfer-Encoding are dropped
        from the stored headers and Content-Length is len(body). `request_headers` are those the fetcher sent
        (User-Agent, Accept, ...); Host is taken from the URL. ValueError for a source that is not a slug.
        """
        if not _SLUG.match(source):
            raise ValueError(f"{source!r} is not a source slug ([a-z][a-z0-9_]*)")
        if not self.enabled:
            return None
        return self.append(source, pack(page, request_headers))

    def append(self, source: str, packed: Packed) -> WarcRef | None:
        """Append records `pack` built (in a parse worker: building them is most of the cost) to the source's
        file for their month; where the response is, or None when disabled."""
        if not _SLUG.match(source):
            raise ValueError(f"{source!r} is not a source slug ([a-z][a-z0-9_]*)")
        if not self.enabled:
            return None
        name = f"{source}-{packed.month}.warc.gz"
        with self._lock:
            self.root.mkdir(parents=True, exist_ok=True)
            path = self.root / name
            with _appending(path) as (fd, start):
                head = _gzip(_warcinfo_record(name, source)) if start == 0 else b""
                _write_all(fd, start, b"".join((head, packed.request, packed.response)))
        return WarcRef(file=name, offset=start + len(head) + len(packed.request), length=len(packed.response))

    def read(self, ref: WarcRef) -> Page:
        """The Page stored in the response record at `ref`; WarcError when the file or record is missing or bad."""
        if not _FILE.match(ref.file) or ref.offset < 0 or ref.length <= 0:
            raise WarcError(f"{ref.file}: not a record of this archive ({ref})")
        path = self.root / ref.file
        try:
            with path.open("rb") as handle:
                handle.seek(ref.offset)
                member = handle.read(ref.length)
        except FileNotFoundError:
            raise WarcError(f"{ref.file}: no such WARC file in {self.root}") from None
        except OSError as exc:
            raise WarcError(f"{ref.file}: cannot read: {exc}") from None
        if len(member) != ref.length:
            raise WarcError(f"{ref.file}: record at {ref.offset} is cut short ({len(member)} of {ref.length} bytes)")
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            raw = inflater.decompress(member)
        except zlib.error as exc:
            raise WarcError(f"{ref.file}: record at {ref.offset} is not a gzip member: {exc}") from None
        if not inflater.eof or inflater.unused_data:
            raise WarcError(f"{ref.file}: record at {ref.offset} is not one whole gzip member")
        try:
            for record in ArchiveIterator(io.BytesIO(raw), check_digests="raise"):
                page = _page(record)
                if page is None:
                    raise WarcError(f"{ref.file}: record at {ref.offset} is not an HTTP response")
                return page
        except WarcError:
            raise
        except Exception as exc:  # warcio meets a garbled record with any exception, AttributeError included
            raise WarcError(f"{ref.file}: record at {ref.offset} is corrupt: {exc!r}") from None
        raise WarcError(f"{ref.file}: no record at {ref.offset}")

    def prune(self, keep_months: int, *, today: date) -> list[Path]:
        """Delete the files of months before the `keep_months` most recent (this one included; 0: none)."""
        if keep_months <= 0 or not self.root.is_dir():
            return []
        first_kept = today.year * 12 + today.month - keep_months  # months since year 0, zero-based
        deleted: list[Path] = []
        with self._lock:
            for path in sorted(self.root.iterdir()):
                match = _FILE.match(path.name)
                if match and int(match[2]) * 12 + int(match[3]) - 1 < first_kept and path.is_file():
                    with _appending(path):  # wait for a writer still appending to it
                        path.unlink()
                    deleted.append(path)
        return deleted


def iter_pages(path: Path, *, max_bytes: int = MAX_BODY) -> Iterator[Page]:
    """Every HTTP response record of one .warc or .warc.gz file (ours or any other) as a Page.

    Bodies come back decoded (chunked transfer, gzip/deflate/br content) with the same header normalisation
    as `WarcArchive.write`; a response whose decoded body is over `max_bytes` is skipped, as the fetcher
    would have refused it (a foreign file may hold a decompression bomb). WarcError naming the file when
    it is missing or unreadable.
    """
    try:
        with Path(path).open("rb") as handle:
            for record in ArchiveIterator(handle):
                page = _page(record, max_bytes)
                if page is not None:
                    yield page
    except FileNotFoundError:
        raise WarcError(f"{path}: no such WARC file") from None
    except Exception as exc:  # warcio meets a garbled record with any exception, AttributeError included
        raise WarcError(f"{path}: unreadable WARC: {exc!r}") from None


@contextmanager
def _appending(path: Path) -> Iterator[tuple[int, int]]:
    """The file opened for appending under an exclusive lock, and its size once the lock is held."""
    while True:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o644)
        try:
            if sys.platform != "win32":
                fcntl.flock(fd, fcntl.LOCK_EX)  # released when fd is closed, also when the process dies
            status = os.fstat(fd)
            if _same_file(path, status):
                yield fd, status.st_size
                return
        finally:
            os.close(fd)
        # prune() deleted the file while we waited for the lock: appending to it would lose the records


def _same_file(path: Path, status: os.stat_result) -> bool:
    try:
        now = os.stat(path)
    except FileNotFoundError:
        return False
    return (now.st_dev, now.st_ino) == (status.st_dev, status.st_ino)


def _write_all(fd: int, start: int, data: bytes) -> None:
    """Append data; on any failure cut the file back to `start`, so no partial record is left behind."""
    view = memoryview(data)
    try:
        while view:
            view = view[os.write(fd, view):]
    except BaseException:
        with suppress(OSError):
            os.ftruncate(fd, start)
        raise


def _gzip(record: bytes) -> bytes:
    """One gzip member, any reader's. ISA-L's deflate at its level 1 is the same format, 12x faster than zlib's
    level 6 on news pages (0.45 vs 5.7 ms a page) for files 15% larger (0.22 of the raw size against 0.19): the
    fetching process shares its two cores with the parse workers, and zlib cost a fifth of the pass."""
    return igzip.compress(record, GZIP_LEVEL)


def _record_id() -> str:
    return f"<urn:uuid:{uuid.uuid4()}>"


def _serialise(record: Any) -> bytes:
    out = io.BytesIO()
    WARCWriter(out, gzip=False).write_record(record)  # digests, Content-Length, trailing CRLFs
    return out.getvalue()


def _warcinfo_record(name: str, source: str) -> bytes:
    warc_date = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")  # when the file was begun
    writer = WARCWriter(io.BytesIO(), gzip=False)
    fields = (f"software: ingest/{__version__} (warcio)\r\nformat: WARC File Format 1.0\r\n"
              f"conformsTo: http://bibnum.bnf.fr/WARC/WARC_ISO_28500_version1_latestdraft.pdf\r\n"
              f"isPartOf: {source}\r\n"
              "description: pages as fetched; bodies stored decompressed (no Content-Encoding)\r\n").encode()
    headers = StatusAndHeaders("", [("WARC-Type", "warcinfo"), ("WARC-Record-ID", _record_id()),
                                    ("WARC-Filename", name), ("WARC-Date", warc_date)], protocol="WARC/1.0")
    return _serialise(writer.create_warc_record("", "warcinfo", payload=io.BytesIO(fields), length=len(fields),
                                                warc_headers=headers))


def _request_record(url: str, sent: Mapping[str, str], warc_date: str, record_id: str, response_id: str) -> bytes:
    parts = urlsplit(url)
    target = quote(parts.path or "/", safe=_PATH_SAFE) + (f"?{quote(parts.query, safe=_PATH_SAFE)}"
                                                         if parts.query else "")
    headers = [("Host", _host(parts.netloc))]
    headers += [(k, v) for k, v in sent.items() if k.lower() != "host"]
    http = StatusAndHeaders(f"GET {target} HTTP/1.1", headers, is_http_request=True)
    writer = WARCWriter(io.BytesIO(), gzip=False)
    record = writer.create_warc_record(url, "request", payload=io.BytesIO(b""), length=0, http_headers=http,
                                       warc_headers_dict={"WARC-Record-ID": record_id, "WARC-Date": warc_date,
                                                          "WARC-Concurrent-To": response_id})
    return _serialise(record)


def _response_record(page: Page, warc_date: str, record_id: str, request_id: str) -> bytes:
    try:
        reason = HTTPStatus(page.status).phrase
    except ValueError:
        reason = "Unknown"
    http = StatusAndHeaders(f"{page.status} {reason}", list(_stored_headers(page.headers, page.body).items()),
                            protocol="HTTP/1.1")
    writer = WARCWriter(io.BytesIO(), gzip=False)
    record = writer.create_warc_record(page.url, "response", payload=io.BytesIO(page.body), length=len(page.body),
                                       http_headers=http,
                                       warc_headers_dict={"WARC-Record-ID": record_id, "WARC-Date": warc_date,
                                                          "WARC-Concurrent-To": request_id})
    return _serialise(record)


def _stored_headers(headers: Mapping[str, str], body: bytes) -> dict[str, str]:
    """The headers as stored for a decompressed body: lower-cased, no codings, Content-Length = len(body)."""
    out = {k.lower(): v for k, v in headers.items() if k.lower() not in _DROPPED}
    out["content-length"] = str(len(body))
    return out


def _host(netloc: str) -> str:
    host = netloc.rpartition("@")[2]  # never archive credentials from the URL
    try:
        host.encode("ascii")
    except UnicodeEncodeError:
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            host = quote(host, safe=":[]")
    return host


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def response_page(record: Any, max_bytes: int | None = MAX_BODY) -> Page | None:
    """A warcio response record as a Page, its body decoded as iter_pages does; None for any other record and
    for a body over `max_bytes` once decoded (ingest/archive/warcscan.py reads records one at a time)."""
    return _page(record, max_bytes)


def _page(record: Any, max_bytes: int | None = None) -> Page | None:
    """A response record as a Page; None for any other record (warcinfo, request, metadata, dns, revisit) and
    for a body over `max_bytes` once decoded."""
    http = record.http_headers
    if record.rec_type != "response" or http is None:
        return None
    try:
        status = int(str(http.get_statuscode()))
    except ValueError:
        return None
    url = str(record.rec_headers.get_header("WARC-Target-URI") or "").strip().strip("<>")
    fetched_at = _utc(datetime.fromisoformat(str(record.rec_headers.get_header("WARC-Date"))))
    headers: dict[str, str] = {}
    for name, value in http.headers:
        key = str(name).lower()
        headers[key] = f"{headers[key]}, {value}" if key in headers else str(value)  # as httpx joins repeats
    # content_stream() undoes chunking and the codings warcio knows; a coding it does not know stays.
    coding = headers.get("content-encoding", "").strip().lower()
    known = set(BufferedReader.get_supported_decompressors())
    body = _read(record.content_stream(), max_bytes)
    if body is None:
        return None
    if coding and coding not in known:
        headers = {**_stored_headers(headers, body), "content-encoding": headers["content-encoding"]}
    else:
        headers = _stored_headers(headers, body)
    return Page(url=url, requested_url=url, status=status, headers=headers, body=body, fetched_at=fetched_at)


def _read(stream: Any, cap: int | None) -> bytes | None:
    """The whole stream, or None once it is longer than cap (read a block at a time, never more)."""
    if cap is None:
        return bytes(stream.read())
    out = bytearray()
    while block := stream.read(64 * 1024):
        out += block
        if len(out) > cap:
            return None
    return bytes(out)
