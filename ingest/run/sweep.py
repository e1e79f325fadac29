"""SIGKILL recovery for the queue's workers: `doing` jobs of a worker that is gone -> `todo` again, their claims freed.

A worker killed with `kill -9` leaves its jobs `doing` and its links claimed. Procrastinate 3.x workers beat a
heartbeat into `procrastinate_workers` every `heartbeat_for(stalled_after)` seconds; a `doing` job whose worker
has not beaten for `stalled_after` seconds (or whose worker row was pruned) is stalled (Procrastinate's own query,
`select_stalled_jobs_by_heartbeat`). For each, in one transaction with the job's row locked and its stalled state
checked again (two sweepers at once do the work once): the frontier claim its run held is released (the holder
ends in `:job-<id>`, `job_holder`, so exactly that job's claim goes, from any machine), then the job is set back to
`todo` (Procrastinate's `retry_job`). When a newer `todo` job of the same link holds the queueing lock (the retry
would break Procrastinate's unique index), the stalled job is ended as `aborted` instead: the newer job covers the
link. A job killed after `record` committed finds its link `done` when retried: its claim fails, it does nothing.

Workers sweep when they start and every `stalled_after` seconds (`sweep_every`); a queued pass sweeps first.
The scheduler (`ingest run`) also deletes the jobs finished a day ago (`prune_jobs`), at most once an hour.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

import psycopg
from procrastinate.sql import queries
from psycopg.rows import dict_row

from ingest.models import holder_name
from ingest.urls import url_key

log = logging.getLogger("ingest")

JOB_KEEP_HOURS: Final = 24  # finished jobs are kept this long (prune_jobs), then only the fetch log tells
HEARTBEATS_PER_TIMEOUT: Final = 6  # a live worker beats this often within `stalled_after` (60 s -> every 10 s)
_STILL_STALLED: Final = ("SELECT args, (SELECT extract(epoch FROM now() - w.last_heartbeat)::float"
                         " FROM procrastinate_workers w WHERE w.id = worker_id) AS silent"
                         " FROM procrastinate_jobs WHERE id = %(id)s AND status = 'doing'"
                         " AND (worker_id IS NULL OR worker_id IN (SELECT id FROM procrastinate_workers"
                         " WHERE last_heartbeat < now() - make_interval(secs => %(secs)s)))"
                         " FOR UPDATE SKIP LOCKED")


@dataclass(frozen=True)
class Swept:
    """A stalled job and what the sweeper did: "retried" (todo again) or "superseded" (aborted: a newer job
    holds the link's queueing lock)."""

    job_id: int
    source: str
    url: str
    outcome: str


def job_holder(job_id: int) -> str:
    """The claim holder of a job's run: holder_name() (machine:pid first, so holder_alive still frees the claims
    of a dead process of this machine) and the job id, by which the sweeper frees it from any machine."""
    return f"{holder_name()}:job-{job_id}"


def heartbeat_for(stalled_after: float) -> float:
    """Seconds between a worker's heartbeats: several within `stalled_after`, so a busy worker is never taken for
    dead."""
    return stalled_after / HEARTBEATS_PER_TIMEOUT


def sweep(dsn: str, *, task: str | None, stalled_after: float) -> list[Swept]:
    """Stalled `task` jobs (None: of every task; their worker silent for `stalled_after` s): claims released, jobs
    queued again (or ended when a newer job covers the link); dead workers' rows pruned. One log line per job."""
    swept: list[Swept] = []
    with psycopg.connect(dsn, row_factory=dict_row) as conn:
        stalled = conn.execute(queries["select_stalled_jobs_by_heartbeat"],
                               {"queue": None, "task_name": task, "seconds_since_heartbeat": stalled_after}).fetchall()
        conn.commit()
        for job in stalled:
            with conn.transaction():
                row = conn.execute(_STILL_STALLED, {"id": job["id"], "secs": stalled_after}).fetchone()
                if row is None:  # another sweeper has it, or it was retried and runs again
                    continue
                swept.append(_recover(conn, job["id"], row["args"], job["queueing_lock"], row["silent"]))
        conn.execute(queries["prune_stalled_workers"], {"seconds_since_heartbeat": stalled_after})
    return swept


def _job_name(job_id: int, args: dict[str, Any]) -> str:
    """A job for log lines, by the arguments of its task: a link's, a WARC file's, a revisit's or a discovery."""
    source = args.get("source") or ""
    if args.get("url"):
        return f"{source} job {job_id} for {args['url']}"
    if args.get("path"):
        return f"WARC job {job_id} for {args['path']}"
    if args.get("url_key"):
        return f"{source} revisit job {job_id} for {args['url_key']}"
    return f"{source} discovery job {job_id}"


def _recover(conn: psycopg.Connection[Any], job_id: int, args: dict[str, Any], lock: str | None,
             silent: float | None) -> Swept:
    """One stalled job, its row locked: its claim released, then retried, or aborted when a newer job has the
    link. `silent`: seconds since its worker's last heartbeat (None: the worker's row was pruned already)."""
    source, url = str(args.get("source") or ""), str(args.get("url") or "")
    what = _job_name(job_id, args)
    if url:
        conn.execute("UPDATE frontier SET claimed_by = NULL, claimed_until = NULL WHERE url_key = %s"
                     " AND claimed_by LIKE %s", [url_key(url), f"%:job-{job_id}"])
    try:
        with conn.transaction():  # a savepoint: the unique index may refuse the retry
            conn.execute(queries["retry_job"], {"job_id": job_id, "retry_at": datetime.now(UTC), "new_priority": None,
                                                "new_queue_name": None, "new_lock": None})
    except psycopg.errors.UniqueViolation:
        newer = conn.execute("SELECT id FROM procrastinate_jobs WHERE queueing_lock = %s AND status = 'todo'",
                             [lock]).fetchone()
        conn.execute(queries["finish_job"], {"job_id": job_id, "status": "aborted", "delete_job": False})
        log.warning("%s aborted: its worker is gone, and job %s queued since covers it", what,
                    newer["id"] if newer else "?")
        return Swept(job_id, source, url, "superseded")
    log.warning("%s queued again: its worker is gone (%s)", what,
                "pruned as stalled" if silent is None else f"no heartbeat for {silent:.0f} s")
    return Swept(job_id, source, url, "retried")


async def sweep_every(dsn: str, *, task: str | None, stalled_after: float) -> None:
    """`sweep` every `stalled_after` seconds, in a thread, until cancelled; a failed sweep is logged, not fatal."""
    while True:
        await asyncio.sleep(stalled_after)
        try:
            await asyncio.to_thread(sweep, dsn, task=task, stalled_after=stalled_after)
        except psycopg.Error as exc:
            log.warning("sweeping stalled jobs failed (%s): trying again in %gs", exc, stalled_after)


def prune_jobs(dsn: str, *, keep_hours: int = JOB_KEEP_HOURS) -> int:
    """Delete the jobs finished (succeeded, or aborted by the sweeper) more than `keep_hours` ago, so the queue's
    table does not grow with every link ever fetched (the fetch log keeps the outcomes); failed jobs stay, for a
    look. Procrastinate's own query; the number deleted."""
    with psycopg.connect(dsn) as conn:
        return conn.execute(queries["delete_old_jobs"], {"nb_hours": keep_hours, "queue": None,
                                                         "statuses": ["succeeded", "aborted"]}).rowcount
