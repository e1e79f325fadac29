"""Undo Content-Encoding under a size cap: raw chunks + Content-Encoding -> bytes. gzip, deflate (zlib or raw),
br and zstd are inflated at most 64 KiB per step, so a decompression bomb stops at the cap in bounded memory (httpx
would inflate it in one piece). Decoding the bytes to text is ingest/decoding.py's.
"""

from __future__ import annotations

import itertools
import zlib
from collections.abc import Callable, Iterable, Iterator
from typing import IO, Final, cast

import brotli
import zstandard

_PIECE: Final = 64 * 1024  # most decoded bytes produced per step
_ZSTD_WINDOW: Final = 8 * 1024 * 1024  # RFC 8878 3.1.1.1.2: HTTP zstd windows are at most 8 MiB
_GZIP_WBITS: Final = 16 + zlib.MAX_WBITS  # zlib's way to ask for a gzip header and trailer
# RFC 1950: a zlib stream's first byte names compression method 8 (deflate) in its low nibble, and its first
# two bytes, read big-endian, are a multiple of 31. Anything else is raw deflate (as some servers send).
_DEFLATE_METHOD: Final = 8
_ZLIB_CHECK: Final = 31


class TooLarge(Exception):
    """The decoded body went over the cap."""


class BadEncoding(Exception):
    """A compressed body that does not decompress."""


def decompress(raw: Iterable[bytes], content_encoding: str, *, cap: int, truncate: bool = False) -> bytes:
    """Undo Content-Encoding on raw chunks; over `cap` decoded bytes: TooLarge, or cut when `truncate`."""
    stream: Iterator[bytes] = iter(raw)
    codings = [c.strip().lower() for c in content_encoding.split(",") if c.strip()]
    for coding in reversed(codings):  # listed in the order they were applied
        decoder = _DECODERS.get(coding)
        if decoder is not None:  # like httpx, pass unknown codings (and identity) through
            stream = decoder(stream)
    body = bytearray()
    try:
        for piece in stream:
            if len(body) + len(piece) > cap:
                if truncate:
                    body += piece[: cap - len(body)]
                    break
                raise TooLarge(f"more than {cap} bytes decoded")
            body += piece
    except (zlib.error, brotli.error, zstandard.ZstdError) as exc:
        raise BadEncoding(f"{content_encoding}: {exc}") from None
    return bytes(body)


def _inflate(chunks: Iterable[bytes], wbits: int) -> Iterator[bytes]:
    decompressor = zlib.decompressobj(wbits)
    for chunk in chunks:
        pending = chunk
        while pending:
            if decompressor.eof:
                if wbits < _GZIP_WBITS or not pending.strip(b"\0"):
                    return  # trailing bytes after a deflate stream, or gzip padding
                decompressor = zlib.decompressobj(wbits)  # the next member of a multi-member gzip
            yield decompressor.decompress(pending, _PIECE)
            pending = decompressor.unconsumed_tail or decompressor.unused_data


def _gunzip(chunks: Iterable[bytes]) -> Iterator[bytes]:
    return _inflate(chunks, _GZIP_WBITS)


def _deflate(chunks: Iterable[bytes]) -> Iterator[bytes]:
    # "deflate" should be zlib-wrapped, but some servers send raw deflate: look at the header.
    it = iter(chunks)
    head = b""
    for chunk in it:
        head += chunk
        if len(head) >= 2:
            break
    wrapped = (len(head) >= 2 and head[0] & 0x0F == _DEFLATE_METHOD
               and int.from_bytes(head[:2], "big") % _ZLIB_CHECK == 0)
    return _inflate(itertools.chain([head], it), zlib.MAX_WBITS if wrapped else -zlib.MAX_WBITS)


def _unbrotli(chunks: Iterable[bytes]) -> Iterator[bytes]:
    decompressor = brotli.Decompressor()
    for chunk in chunks:
        while not decompressor.can_accept_more_data():  # drain output held back by the limit
            out = decompressor.process(b"", output_buffer_limit=_PIECE)
            if not out:
                break
            yield out
        yield decompressor.process(chunk, output_buffer_limit=_PIECE)
    while not decompressor.is_finished():
        out = decompressor.process(b"", output_buffer_limit=_PIECE)
        if not out:
            break
        yield out


class _ChunkReader:
    """A read()-able view of an iterator of chunks, for zstandard.stream_reader."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks = iter(chunks)
        self._buffer = b""

    def read(self, size: int = -1) -> bytes:
        while not self._buffer:
            chunk = next(self._chunks, None)
            if chunk is None:
                return b""
            self._buffer = chunk
        size = len(self._buffer) if size < 0 else size
        out, self._buffer = self._buffer[:size], self._buffer[size:]
        return out


def _unzstd(chunks: Iterable[bytes]) -> Iterator[bytes]:
    # ZstdDecompressionObj.decompress() has no output limit; a stream reader read()s in bounded steps.
    decompressor = zstandard.ZstdDecompressor(max_window_size=_ZSTD_WINDOW)
    source = cast("IO[bytes]", _ChunkReader(chunks))  # stream_reader needs only read()
    with decompressor.stream_reader(source, read_across_frames=True, closefd=False) as reader:
        while out := reader.read(_PIECE):
            yield out


_DECODERS: Final[dict[str, Callable[[Iterable[bytes]], Iterator[bytes]]]] = {
    "gzip": _gunzip, "x-gzip": _gunzip, "deflate": _deflate, "br": _unbrotli, "zstd": _unzstd,
}
