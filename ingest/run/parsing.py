"""The cleaning stage in worker processes, under a deadline: a page whose cleaning takes longer than the timeout
is rejected as `parse-timeout` and its worker replaced, a worker that dies costs its page `parse-crash`, so no
page can hang or kill the daemon (a 9 MB page took 4.7 s to clean, and 50,000 nested divs are quadratic).
The worker also decodes the page's bytes, hashes the article's near-duplicate fingerprint and content hash (the
dedup stage's inputs) and packs the raw page's WARC records, so the process that fetches and writes (one GIL for
every fetch thread) spends no CPU on any of them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from ingest.archive.dedup import content_hash
from ingest.archive.neardup import Fingerprint, fingerprint
from ingest.archive.warc import Packed, pack
from ingest.clean.adapters.base import Adapter
from ingest.clean.parse import check_page, clean_page
from ingest.config import Source
from ingest.models import NOTHING_LEARNED, OPEN_WINDOW, Article, BlockKey, Learned, Page, Rejected, Window
from ingest.run.workers import PoolClosed, WorkerDied, WorkerError, WorkerPool, WorkerTimeout

# Real news pages clean in 20-170 ms; a 9 MB page took 4.7 s. Ten seconds is a hostile page.
PARSE_TIMEOUT: Final = 10.0
PARSE_WORKER_TASKS: Final = 500  # pages a parse worker cleans before it is replaced (bounds cache growth)


def parse_pool(size: int | None = None) -> WorkerPool:
    """Worker processes for parse_isolated: one per CPU by default, the cleaning stage preloaded."""
    size = size or os.cpu_count() or 1
    return WorkerPool(size, max_tasks=PARSE_WORKER_TASKS, preload=parse_preload())


def parse_preload() -> tuple[str, ...]:
    """The modules a parse worker needs, which its pool's forkserver imports once for all its workers.

    This module and what it imports (the adapters, whose classes the pages' tasks unpickle, dedup, neardup, warc),
    and ingest.clean.extract (trafilatura, lxml: ~25 MiB), which the adapters import only when they clean a page,
    so the fetching and writing process never loads it. What a worker imports because multiprocessing runs the
    main script again in it (the `ingest` console script imports the CLI) is WorkerPool's to preload.
    """
    return ("ingest.run.parsing", "ingest.clean.extract")


@dataclass(frozen=True)
class Parsed:
    """A worker's result: the article, its near-duplicate fingerprint (hashed there to spare the writer) and
    the keys of its text blocks, for the source's learned boilerplate."""

    article: Article
    fingerprint: Fingerprint
    blocks: tuple[BlockKey, ...] = ()
    digest: str = ""  # dedup.content_hash of the text
    packed: Packed | None = None  # the page's WARC records, built here when the raw page is kept


def parse_isolated(pool: WorkerPool, adapter: Adapter, source: Source, page: Page, window: Window = OPEN_WINDOW,
                   timeout: float = PARSE_TIMEOUT, learned: Learned = NOTHING_LEARNED,
                   keep_raw: Mapping[str, str] | None = None) -> Parsed:
    """parse_page in a worker process; raises Rejected, incl. parse-timeout, parse-crash and stopped.

    `keep_raw`: the request headers the page was fetched with; given, the worker also builds the page's WARC
    records (Parsed.packed) for the archive, where the CPU for it is (the fetching process feeds the workers).
    """
    check_page(page)  # cheap refusals need no worker, and no image or PDF crosses the pipe
    try:
        result = pool.call(parse_task, adapter, source, page, window, learned, keep_raw, timeout=timeout)
    except PoolClosed:
        raise Rejected("stopped", "the parse pool was closed") from None
    except WorkerTimeout:
        raise Rejected("parse-timeout", f"cleaning took more than {timeout:g} s; worker replaced") from None
    except WorkerDied as exc:
        raise Rejected("parse-crash", str(exc)) from None
    except WorkerError as exc:
        raise Rejected("parse-error", str(exc)) from None
    if isinstance(result, Parsed):
        return result
    raise Rejected(*result)


def parse_task(adapter: Adapter, source: Source, page: Page, window: Window, learned: Learned = NOTHING_LEARNED,
               keep_raw: Mapping[str, str] | None = None) -> Parsed | tuple[str, str]:
    """Runs in a parse worker: the article with its fingerprint, or (reason, detail) of the rejection."""
    try:
        cleaned = clean_page(adapter, source, page, window, learned)
        text = cleaned.article.text
        return Parsed(cleaned.article, fingerprint(text), cleaned.blocks, content_hash(text),
                      pack(page, keep_raw) if keep_raw is not None else None)
    except Rejected as exc:  # exceptions do not survive pickling with their reason; plain values do
        return exc.reason, exc.detail
    except Exception as exc:  # a hostile page may break a parser in any way
        return "parse-error", f"{type(exc).__name__}: {exc}"
