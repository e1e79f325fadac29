"""The daemon: APScheduler 3.x runs one job per enabled source; the jobs ask the runner for a pass.

The scheduler holds no crawl state (an in-memory job store rebuilt from sources.toml at start);
the frontier and cursors live in the database, so a kill -9 loses at most the pages in flight.
What executes the passes is the runner's (runner.py; `ingest run` gives it the in-process one, whose
jobs share one pool of parse worker processes). SIGTERM or SIGINT: stop taking work, close the runner
(pages being cleaned stay pending), let running jobs finish, commit, exit 0.
"""

from __future__ import annotations

import logging
import random
import signal
import threading
import time
from datetime import date, datetime, timedelta
from types import FrameType
from typing import Final

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler

from ingest.archive.location import Database, describe, open_archive, raw_archive, trouble
from ingest.config import Config, Source
from ingest.logs import pass_fields
from ingest.run.runner import Passes
from ingest.storage import Store

log = logging.getLogger("ingest")

PAGES_PER_PASS: Final = 500  # a daemon pass is short; the frontier carries the rest to the next pass
SHUTDOWN_GRACE: Final = 8.0  # seconds a running job gets to finish its page after SIGTERM
MIN_JOB_THREADS: Final = 2  # scheduler threads even at concurrency 1: one slow source must not hold up the rest
MAX_JITTER: Final = 60.0  # seconds; a job's start varies by a tenth of its interval, at most this
START_STAGGER: Final = 2  # seconds between the first passes of two sources at start-up
STOP_POLL: Final = 0.5  # seconds between two looks at the stop flag while the scheduler runs


class Daemon:
    """Schedules every enabled source; `stop()` (or a signal) ends it cleanly."""

    def __init__(self, config: Config, db_path: Database, runner: Passes) -> None:
        self.config = config
        self.db_path = db_path
        self.where = describe(db_path)  # for log lines: no password
        self.runner = runner
        self.stopping = threading.Event()
        self.failure: str | None = None  # why the daemon stopped on its own (a damaged database)
        self.archive = raw_archive(db_path, config.settings)
        self._running = 0
        self._idle = threading.Condition()
        self.scheduler = BackgroundScheduler(
            executors={"default": ThreadPoolExecutor(max_workers=max(MIN_JOB_THREADS, config.settings.concurrency))},
            job_defaults={"coalesce": True, "max_instances": 1},
        )

    def job(self, source: Source) -> None:
        """One pass over one source; a failure is logged and the daemon keeps going."""
        if self.stopping.is_set():
            return
        with self._idle:
            self._running += 1
        db: Store | None = None
        started = time.monotonic()

        def took() -> int:
            return round((time.monotonic() - started) * 1000)
        try:
            summary = self.runner.run_pass(source, kind="run", limit=PAGES_PER_PASS)
            self.prune_archive()
            db = open_archive(self.db_path)
            self.prune_fetches(db, source)
            if summary.queued is not None:  # the workers run it (run/queue.py): its counts are theirs
                log.info("%s pass queued for the workers%s", source.slug,
                         "" if summary.queued else " already (the last one is not taken yet)",
                         extra=pass_fields(source=source.slug, outcome="queued", ms=took(),
                                           counts={"queued": summary.queued}))
                return
            counts = {"new": summary.new, "duplicate": summary.duplicate, "updated": summary.updated,
                      "rejected": sum(summary.rejected.values()), "failed": sum(summary.failed.values())}
            numbers = "%d new, %d duplicate, %d updated, %d rejected, %d failed"
            if summary.status == "stopped":  # as its runs row says (SIGTERM, Ctrl-C): not "done", nor FAILED
                log.info("%s pass stopped early: " + numbers, source.slug, *counts.values(),
                         extra=pass_fields(source=source.slug, outcome="stopped", ms=took(), counts=counts))
            elif summary.status == "failed":  # every request failed: say so, not "done ... 0 failed"
                unread = ", ".join(f"{k}: {v}" for k, v in summary.unread.most_common()) or "none"
                log.warning("%s pass FAILED, every request failed: " + numbers + "; feeds, sitemaps, listing "
                            "pages unread: %s", source.slug, *counts.values(), unread,
                            extra=pass_fields(source=source.slug, outcome="failed", reason=f"every request failed; "
                                              f"unread: {unread}", ms=took(), counts=counts))
            else:
                log.info("%s pass done: " + numbers + "; %d revisited (%d removed)", source.slug, *counts.values(),
                         summary.revisited, summary.removed,
                         extra=pass_fields(source=source.slug, outcome="ok", ms=took(),
                                           counts={**counts, "revisited": summary.revisited,
                                                   "removed": summary.removed}))
        except Exception as exc:
            reason = trouble(exc)
            if reason is None:
                log.exception("%s pass failed", source.slug,
                              extra=pass_fields(source=source.slug, outcome="error", reason=repr(exc), ms=took()))
            else:
                log.error("%s pass failed: %s: %s", source.slug, self.where, reason,
                          extra=pass_fields(source=source.slug, outcome="error", reason=reason, ms=took()))
                if "damaged" in reason:  # writing on would spread the damage: stop, and say why
                    self.failure = f"{self.where}: {reason}; the daemon stopped"
                    self.stop()
        finally:
            if db is not None:
                db.close()
            with self._idle:
                self._running -= 1
                self._idle.notify_all()

    def prune_archive(self) -> None:
        """Delete raw-page files older than `warc_keep_months` (0: keep them all)."""
        keep = self.config.settings.warc_keep_months
        if keep:
            for path in self.archive.prune(keep, today=date.today()):
                log.info("deleted %s: older than warc_keep_months = %d", path, keep)

    def prune_fetches(self, db: Store, source: Source) -> None:
        """Delete the source's fetch-log rows older than `keep_fetches_days` (0: keep them all)."""
        days = self.config.settings.keep_fetches_days
        deleted = db.prune_fetches(source.slug, days, stop=self.stopping)
        if deleted:
            log.info("%s deleted %d fetches rows older than keep_fetches_days = %d", source.slug, deleted, days)

    def schedule(self) -> int:
        """Add one job per enabled source, staggered so they don't all start at once."""
        now = datetime.now().astimezone()
        count = 0
        for index, source in enumerate(s for s in self.config.sources.values() if s.enabled):
            self.scheduler.add_job(
                self.job, "interval", args=[source], id=source.slug, name=source.slug,
                seconds=source.interval, jitter=min(MAX_JITTER, source.interval / 10),
                # a missed slot (laptop asleep, long pass) runs once late rather than being dropped
                misfire_grace_time=int(source.interval),
                next_run_time=now + timedelta(seconds=index * START_STAGGER + random.uniform(0, 1)),
            )
            count += 1
        return count

    def stop(self, *_: object) -> None:
        """Stop taking work; running passes return after their current page."""
        if not self.stopping.is_set():
            log.info("stopping: finishing pages in flight")
        self.stopping.set()
        self.runner.stop()  # fetches waiting out a politeness delay give up at once
        self.runner.close()  # a page being cleaned stays pending: shutdown never waits for a parse

    def run(self, *, install_signals: bool = True) -> bool:
        """Run until stopped; True when every pass had finished by the end of the grace period."""
        if install_signals:
            def handler(signum: int, frame: FrameType | None) -> None:
                self.stop()
            signal.signal(signal.SIGTERM, handler)
            signal.signal(signal.SIGINT, handler)
        count = self.schedule()
        log.info("daemon started: %d sources, database %s", count, self.where)
        self.scheduler.start()
        while not self.stopping.wait(STOP_POLL):
            pass
        self.scheduler.shutdown(wait=False)
        with self._idle:
            clean = self._idle.wait_for(lambda: self._running == 0, timeout=SHUTDOWN_GRACE)
        self.runner.close()
        log.info("daemon stopped" if clean else "daemon stopped with a pass still running")
        return clean
