"""Re-cleaning stored articles from their raw pages, with today's adapter and what the source learned since.

Contract: `reclean_source(store, archive, source, ...)` re-extracts a source's stored articles from the raw pages
kept in the WARC archive (ingest/archive/warc.py): by default the stale ones (cleaned by an older adapter version,
or before the source's learned boilerplate last changed), with `since` those published on or after a day,
with `everything` all of them. Each article keeps its id, URL and `duplicate_of`; its text, metadata, FTS
row, near-duplicate fingerprint, topics and `learned_rev` follow the new cleaning, all in the article's
transaction. No revision is recorded: the page did not change, its cleaning did. Idempotent (a second run has
nothing stale left, or finds every text unchanged) and resumable (stale articles drop out as they are done;
a `since`/`everything` run keeps a cursor per source and scope in `reclean_cursors`, cleared when it ends).
Pages are cleaned in the parse worker pool, under its per-page timeout, like fetched pages.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections import Counter
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Final

from ingest.archive import learn
from ingest.archive.topics import match_topics
from ingest.archive.warc import WarcArchive, WarcError
from ingest.clean.adapters import ADAPTERS, get_adapter
from ingest.config import Source, Topic
from ingest.models import Learned, Rejected
from ingest.run.parsing import parse_isolated
from ingest.run.workers import WorkerPool
from ingest.storage import Recleaning, Store, StoredPage
from ingest.urls import url_key

log = logging.getLogger("ingest")

BATCH: Final = 32  # articles read, cleaned and written together


@dataclass
class RecleanSummary:
    """What one reclean of one source did."""

    source: str
    candidates: int = 0
    recleaned: int = 0  # text or metadata changed
    unchanged: int = 0
    rejected: Counter[str] = field(default_factory=Counter)  # the stored article is kept as it was
    no_raw_page: int = 0  # stored before pages were archived, or its WARC file was pruned
    stopped: bool = False

    def line(self) -> str:
        """One line for the terminal."""
        rejected = f" ({', '.join(f'{k}: {v}' for k, v in self.rejected.most_common())})" if self.rejected else ""
        return (f"{self.source}: {self.recleaned} re-cleaned, {self.unchanged} unchanged, "
                f"{sum(self.rejected.values())} kept as they were{rejected}, {self.no_raw_page} without a raw page"
                + (" (stopped: run it again to continue)" if self.stopped else ""))


def stale_count(store: Store, source: Source) -> int:
    """Articles of `source` with a raw page that an older adapter or older learned boilerplate cleaned."""
    return store.count_pages(_selection(store, source, None, False))


def reclean_source(store: Store, archive: WarcArchive, source: Source, pool: WorkerPool, *,
                   since: date | None = None, everything: bool = False, topics: Mapping[str, Topic] | None = None,
                   stop: threading.Event | None = None, on_total: Callable[[int], None] | None = None,
                   on_done: Callable[[str], None] | None = None, workers: int = 2) -> RecleanSummary:
    """Re-clean `source`'s stored articles (stale ones, or since a day, or all); see the module docstring."""
    stop = stop or threading.Event()
    summary = RecleanSummary(source.slug)
    scope = "all" if everything else f"since:{since.isoformat()}" if since else ""
    selection = _selection(store, source, since, everything)
    after = store.read_reclean_cursor(source.slug, scope) if scope else 0
    summary.candidates = store.count_pages(selection, after)
    summary.no_raw_page = store.count_without_raw_page(source.slug)
    if on_total:
        on_total(summary.candidates)
    adapter = get_adapter(source.adapter)
    with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix=f"reclean-{source.slug}") as threads:
        while not stop.is_set():
            pages = store.stored_pages(selection, after, BATCH)
            if not pages:
                break
            learned = learn.learned(store, source.slug, keep=source.keep, junk=source.junk)
            results = list(threads.map(functools.partial(_clean, archive, pool, adapter, source, learned), pages))
            with store.batch():
                for page, result in zip(pages, results, strict=True):
                    outcome = _store(store, source, page, result, topics, summary)
                    if on_done:
                        on_done(outcome)
                after = pages[-1].article_id
                if scope:
                    store.save_reclean_cursor(source.slug, scope, after)
        summary.stopped = stop.is_set()
    if scope and not summary.stopped:
        store.clear_reclean_cursor(source.slug, scope)
    return summary


def _selection(store: Store, source: Source, since: date | None, everything: bool) -> Recleaning:
    """The articles to re-clean: since a day, all, or those an older adapter or older learned boilerplate cleaned."""
    if since is not None or everything:
        return Recleaning(source.slug, since=since, everything=everything)
    return Recleaning(source.slug, adapter_version=ADAPTERS[source.adapter].version,
                      learned_rev=store.learned_revision(source.slug))


def _clean(archive: WarcArchive, pool: WorkerPool, adapter: Any, source: Source, learned: Learned,
           stored: StoredPage) -> Any:
    """A raw page cleaned again: the Parsed result, or the Rejected / WarcError that stopped it."""
    try:
        page = archive.read(stored.raw)
        return parse_isolated(pool, adapter, source, page, learned=learned)
    except (Rejected, WarcError) as exc:
        return exc


def _store(store: Store, source: Source, stored: StoredPage, result: Any,
           topics: Mapping[str, Topic] | None, summary: RecleanSummary) -> str:
    article_id, url = stored.article_id, stored.url
    if isinstance(result, WarcError):
        log.warning("%s reclean: no raw page for %s (%s)", source.slug, url, result)
        summary.no_raw_page += 1
        return "no-raw-page"
    if isinstance(result, Rejected):
        # Kept as stored: what was good enough to store then is not thrown away by a newer rule.
        summary.rejected[result.reason] += 1
        return "rejected"
    article = result.article
    changed = store.replace_cleaning(article_id, article, result.fingerprint)
    store.observe_blocks(source.slug, url_key(article.url), result.blocks)
    if topics:
        store.save_topics(article_id, match_topics(article.title, article.text, topics))
    if changed:
        summary.recleaned += 1
        return "recleaned"
    summary.unchanged += 1
    return "unchanged"
