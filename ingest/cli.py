"""The `ingest` command: parses options, builds the config, database and fetcher, calls the library.

Exit codes: 0 success; 1 a page or run failed (extract: page rejected; health: a source unhealthy; history: no
such article, a lookup that found nothing, as grep's 1); 2 bad usage or configuration.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import re
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from datetime import date
from pathlib import Path
from types import FrameType
from typing import Any, Final
from urllib.parse import urlsplit

import click

from ingest.archive.location import PG_SCHEMES, Database, describe, open_archive, open_hosts, raw_archive, trouble
from ingest.archive.sqlite import (
    DatabaseTrouble,
    SchemaError,
    StoreError,
    check_database,
    check_writable,
    database_trouble,
    drop_new_sidecars,
    open_for_reading,
    open_readonly_store,
    open_store,
    quick_check,
    sidecars,
)
from ingest.clean.adapters import ADAPTERS, adapter_for_url, get_adapter
from ingest.clean.parse import own_url, page_from_bytes
from ingest.config import Config, ConfigError, Settings, Source, check_timezone, load_config
from ingest.crawl.fetch import Fetcher, MemoryHostStates
from ingest.crawl.harvest import planned
from ingest.logs import setup_logging
from ingest.models import Article, Learned, Page, Rejected
from ingest.run import reclean, warcplan
from ingest.run.parsing import parse_isolated, parse_pool
from ingest.run.pipeline import Summary, Window, format_summaries, learned_for
from ingest.run.runner import InProcessRunner
from ingest.run.scheduler import Daemon
from ingest.run.warcplan import WarcError
from ingest.storage import EXPORT_FORMATS, ExportError, Store, export_format, output_file

log = logging.getLogger("ingest")
_FIXTURE_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,99}")
SAMPLE_CHARS: Final = 80  # a paragraph or block shown or kept as a must-contain sample: enough to be unique
MIN_SAMPLE_PARAGRAPH: Final = 40  # characters: shorter paragraphs (datelines, captions) make poor samples
DATE_CHARS: Final = 10  # an ISO timestamp's day, YYYY-MM-DD
MIN_LAG: Final = 60  # seconds: a --max-lag shorter than a minute is a number given without its unit
PIPED_WIDTH: Final = 200  # columns of a table written to a pipe or file, so rows are not wrapped at 80


_URL: Final = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")
# The commands that run on a PostgreSQL archive: every one but `serve` (Datasette reads SQLite: publish first), `backup`
# (SQLite's online backup: `publish` is PostgreSQL's copy to a file) and `demo` (a SQLite file of its own).
ON_POSTGRES: Final = frozenset({"publish", "sources", "stats", "health", "topics", "export", "boilerplate", "worker",
                                "run", "backfill", "reclean", "extract", "capture", "history"})


def _parse_db(ctx: click.Context, param: click.Parameter, value: str) -> Path | str:
    """--db: a postgresql:// URL keeps its string; anything else is a SQLite file's path (not a folder). Another
    scheme (mysql://, sqlite://) is refused rather than taken for a folder named "mysql:"."""
    if _URL.match(value):
        scheme = value.split(":", 1)[0].lower()
        if scheme not in PG_SCHEMES:
            raise click.BadParameter(f"{scheme}:// is not a database ingest reads: give a SQLite file's path or a "
                                     "postgresql://user@host/dbname URL")
        return value
    click.Path(dir_okay=False).convert(value, param, ctx)  # a folder: click's own "is a directory" line
    return Path(value)


class Context:
    """What the global options resolve to; the config is loaded on first use, so errors name the file."""

    def __init__(self, config_path: Path, db: Path | str, config_given: bool) -> None:
        self.config_path = config_path
        self.db = db  # a SQLite file's path, or a PostgreSQL URL (str)
        self.config_given = config_given
        self._config: Config | None = None
        # The SQLite file's -wal and -shm before the command: a refused database is left as it was found.
        self.sidecars = sidecars(db) if isinstance(db, Path) else (True, True)

    @property
    def db_url(self) -> str | None:
        """The PostgreSQL URL --db gives, or None for a SQLite file."""
        return self.db if isinstance(self.db, str) else None

    @property
    def db_path(self) -> Path:
        """The SQLite file --db gives (the `cli` group refuses a PostgreSQL URL to every command that needs one)."""
        if isinstance(self.db, str):
            raise click.UsageError("this command needs a SQLite database file as --db")
        return self.db

    def config(self, *, required: bool = True) -> Config:
        """Load and validate sources.toml, or exit 2 with file, key and reason."""
        if self._config is None:
            if not required and not self.config_given and not self.config_path.exists():
                self._config = Config(settings=Settings())
            else:
                try:
                    self._config = load_config(self.config_path, adapters=set(ADAPTERS), adapter_timezones={
                        slug: cls.timezone for slug, cls in ADAPTERS.items() if cls.timezone})
                except ConfigError as exc:
                    click.echo(f"Error: invalid configuration: {exc}", err=True)
                    sys.exit(2)
        return self._config


ASKS_HELP: Final = "ingest.asks_help"  # ctx.meta key: the subcommand was asked for --help


class _Commands(click.Group):
    """The `ingest` group: a database or file that cannot be opened, read or written ends a command with one line
    and exit 2, never a traceback."""

    def resolve_command(self, ctx: click.Context,
                        args: list[str]) -> tuple[str | None, click.Command | None, list[str]]:
        # Seen before the group's callback runs, which parses nothing of the subcommand's own options.
        ctx.meta[ASKS_HELP] = any(arg in ("-h", "--help") for arg in args[1:])
        return super().resolve_command(ctx, args)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except DatabaseTrouble as exc:
            click.echo(f"Error: {exc}", err=True)
            ctx.exit(2)
        except StoreError as exc:
            where = ctx.obj.db if isinstance(ctx.obj, Context) else "the database"
            if isinstance(ctx.obj, Context) and isinstance(ctx.obj.db, Path):
                drop_new_sidecars(ctx.obj.db, ctx.obj.sidecars)
            click.echo(f"Error: {where}: {database_trouble(exc)}", err=True)
            ctx.exit(2)
        except OSError as exc:
            if exc.filename is None:  # not about a path the user gave: a bug or the network, shown in full
                raise
            click.echo(f"Error: {exc.filename}: {exc.strerror or exc}", err=True)
            ctx.exit(2)
        except Exception as exc:  # a PostgreSQL server gone or failing mid-command (psycopg's errors)
            reason = trouble(exc)
            if reason is None or not isinstance(ctx.obj, Context):
                raise
            click.echo(f"Error: {describe(ctx.obj.db)}: {reason}", err=True)
            ctx.exit(2)


def _check_for_writing(db_path: Database, *, create: bool) -> None:
    """Before a writer starts: `check_database` (with `create`, a missing file is one to make), then an
    existing database must pass PRAGMA quick_check and take a write transaction, else the command ends with one
    line (damaged, read-only, locked), exit 2, the file untouched. A PostgreSQL URL: the server must answer and
    hold the archive, or, with `create`, the archive's tables are made (_pg_ready)."""
    if isinstance(db_path, str):
        _pg_ready(db_path, create=create)
        return
    check_database(db_path, create=create)
    if not db_path.exists():
        return
    _check_intact(db_path, "not writing into it")
    check_writable(db_path)  # StoreError ("readonly", "locked"): one line from _Commands


def _check_intact(db_path: Path, refusal: str) -> None:
    """PRAGMA quick_check of an existing SQLite file (about 1 s per GB): damaged, one line and exit 2. Writers,
    `health` and `serve` check; the other readers fail on the damaged pages they read, and only on those."""
    problems = quick_check(db_path)
    if problems != ["ok"]:
        click.echo(f"Error: {db_path}: damaged (PRAGMA quick_check: {'; '.join(problems)}); {refusal}. "
                   "Restore a backup, or recover it with `sqlite3 news.db .recover`.", err=True)
        sys.exit(2)


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path),
              default=None, envvar="INGEST_CONFIG", show_envvar=True,
              help="Sources and settings file.  [default: ./sources.toml]")
@click.option("--db", "db", default="db/news.db", envvar="INGEST_DB", show_envvar=True, show_default=True,
              metavar="PATH|URL", callback=_parse_db,
              help="SQLite database (its folder is created on demand), or postgresql://user@host/dbname (every command "
                   "but serve, backup and demo; workers on several machines).")
@click.option("--log-json", is_flag=True, envvar="INGEST_LOG_JSON", help="Log one JSON object per line.")
@click.option("-v", "--verbose", is_flag=True, help="Log debug detail.")
@click.version_option(package_name="ingest")
@click.pass_context
def cli(ctx: click.Context, config_path: Path | None, db: Path | str, log_json: bool, verbose: bool) -> None:
    """Fetch, clean and store news articles from the outlets in sources.toml."""
    setup_logging(json_lines=log_json, level=logging.DEBUG if verbose else logging.INFO)
    ctx.obj = Context(config_path or Path("sources.toml"), db, config_given=config_path is not None)
    command = ctx.invoked_subcommand
    asks_help = ctx.meta.get(ASKS_HELP, False)  # the subcommand's help needs no database
    if ctx.obj.db_url is not None and command is not None and command not in ON_POSTGRES and not asks_help:
        _not_on_postgres(command)
    if config_path is not None:
        ctx.obj.config()  # a config named (--config, INGEST_CONFIG) must be valid, whether the command reads it or not


def _not_on_postgres(command: str) -> None:
    """A command that does not run on a PostgreSQL archive: one line, exit 2, nothing connected or created."""
    if command == "serve":
        click.echo("Error: serve does not run on a PostgreSQL database: Datasette reads SQLite files: run "
                   "`ingest --db URL publish --to FILE.db`, then `ingest --db FILE.db serve`.", err=True)
    elif command == "backup":
        click.echo("Error: backup copies a SQLite file; a PostgreSQL archive's copy to a file is "
                   "`ingest --db URL publish --to FILE.db` (or pg_dump for the whole database).", err=True)
    else:
        click.echo(f"Error: {command} runs on a SQLite file of its own; give one with --db.", err=True)
    sys.exit(2)


@contextmanager
def _archive(obj: Context, open_sqlite: Callable[[Path], Store], *, write: bool = False) -> Iterator[Store]:
    """The archive --db names, closed after: a SQLite file by `open_sqlite`, once the path passed check_database
    (with `write`, _check_for_writing), or a PostgreSQL URL by _postgres."""
    if obj.db_url is not None:
        with _postgres(obj.db_url, write=write) as pg:
            yield pg
        return
    if write:
        _check_for_writing(obj.db_path, create=False)
    else:
        check_database(obj.db_path, create=False)
    db = open_sqlite(obj.db_path)
    try:
        yield db
    finally:
        db.close()


@contextmanager
def _postgres(url: str, *, write: bool = False) -> Iterator[Store]:
    """The PostgreSQL archive at `url`, never created (postgres.open_postgres_archive), its transactions read-only
    unless `write`. Out of reach, no archive there, psycopg missing, or the server failing a query: one line, exit 2."""
    try:
        from ingest.archive.postgres import ArchiveTrouble, open_postgres_archive, server_errors
    except ImportError:
        click.echo("Error: a PostgreSQL --db needs psycopg: pip install 'ingest[postgres]'", err=True)
        sys.exit(2)
    try:
        db = open_postgres_archive(url, read_only=not write)
    except ArchiveTrouble as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(2)
    try:
        with server_errors(url):
            yield db
    except ArchiveTrouble as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(2)
    finally:
        db.close()


def _pg_ready(url: str, *, create: bool) -> None:
    """A PostgreSQL archive to write into: made (its tables, in one transaction under a lock) with `create`, else it
    must exist; a server out of reach, a failing query or psycopg missing: one line, exit 2."""
    if not create:
        with _postgres(url, write=True):
            return
    try:
        from ingest.archive.postgres import (
            ArchiveTrouble,
            Unreachable,
            open_postgres_archive,
            open_postgres_store,
            server_errors,
        )
    except ImportError:
        click.echo("Error: a PostgreSQL --db needs psycopg: pip install 'ingest[postgres]'", err=True)
        sys.exit(2)
    try:
        try:
            open_postgres_archive(url, read_only=False).close()
        except Unreachable:
            raise
        except ArchiveTrouble:  # no archive there yet (or an older one): made (or upgraded) now
            with server_errors(url):
                open_postgres_store(url).close()
    except ArchiveTrouble as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(2)


@contextmanager
def _queue_errors(url: str) -> Iterator[None]:
    """The queue's module (psycopg, Procrastinate) loaded, and the server's errors while it is used as one line,
    exit 2."""
    try:
        from ingest.archive.postgres import ArchiveTrouble, server_errors
        from ingest.run import queue  # noqa: F401  (Procrastinate present)
    except ImportError:
        click.echo("Error: workers need psycopg and procrastinate: pip install 'ingest[postgres]'", err=True)
        sys.exit(2)
    try:
        with server_errors(url):
            yield
    except ArchiveTrouble as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(2)


def main() -> None:
    """Console entry point."""
    cli(prog_name="ingest")


@contextmanager
def _fetcher(settings: Settings, db_path: Database | None) -> Iterator[Fetcher]:
    hosts = open_hosts(db_path) if db_path else None  # fetcher threads' own connection (shared politeness)
    fetcher = Fetcher(settings, hosts or MemoryHostStates())
    try:
        yield fetcher
    finally:
        fetcher.close()
        if hosts:
            hosts.close()


@cli.command()
@click.pass_obj
def run(obj: Context) -> None:
    """Run the daemon: every enabled source on its interval, until SIGTERM or Ctrl-C.

    On a PostgreSQL --db it is the scheduler: each due pass is queued for the workers (`ingest worker`).
    """
    config = obj.config()
    if obj.db_url is not None:
        _run_scheduler(obj.db_url, config)
        return
    _check_for_writing(obj.db_path, create=True)
    open_store(obj.db_path).close()  # create the schema before jobs race to do it
    with _fetcher(config.settings, obj.db_path) as fetcher, InProcessRunner(config, obj.db_path, fetcher) as runner:
        daemon = Daemon(config, obj.db_path, runner)
        clean = daemon.run()
    if daemon.failure:
        click.echo(f"Error: {daemon.failure}", err=True)
        sys.exit(2)
    if not clean:  # a pass ignored the stop; what it committed is safe, the rest is in the frontier
        logging.shutdown()
        os._exit(0)


def _run_scheduler(url: str, config: Config) -> None:
    """`ingest run` on PostgreSQL: the daemon's schedule, each due pass a discovery job for the workers."""
    _pg_ready(url, create=True)
    with _queue_errors(url):
        from ingest.run.queue import QueuedPasses

        runner = QueuedPasses(url)
        daemon = Daemon(config, url, runner)
        clean = daemon.run()
    if daemon.failure:
        click.echo(f"Error: {daemon.failure}", err=True)
        sys.exit(2)
    if not clean:
        logging.shutdown()
        os._exit(0)


def _parse_day(ctx: click.Context, param: click.Parameter, value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date like 2024-01-31") from None


@cli.command()
@click.argument("sources", nargs=-1)
@click.option("--since", callback=_parse_day, metavar="YYYY-MM-DD",
              help="First publication day (inclusive), on the source's calendar (its `timezone`).")
@click.option("--until", callback=_parse_day, metavar="YYYY-MM-DD",
              help="Last publication day (inclusive), on the source's calendar (its `timezone`).")
@click.option("--limit", type=click.IntRange(min=1), help="At most N articles fetched per source.")
@click.option("--dry-run", is_flag=True, help="Count what would be fetched, per source and month; fetch no article.")
@click.option("--no-reclean", is_flag=True,
              help="Leave the pages cleaned before what was learned as they are (`ingest reclean` later).")
@click.option("--warc", multiple=True, metavar="PATH",
              help="Read the pages from WARC files (.warc, .warc.gz; globs) instead of the outlets; the "
                   "arguments are then more WARC paths.")
@click.option("--source", "forced", metavar="SLUG",
              help="With --warc: every record goes to this source (default: the source whose domains it is on).")
@click.pass_obj
def backfill(obj: Context, sources: tuple[str, ...], since: date | None, until: date | None,
             limit: int | None, dry_run: bool, no_reclean: bool, warc: tuple[str, ...], forced: str | None) -> None:
    """Fetch every article the sources' feeds, sitemaps and listings offer, once: the whole archive (every child
    sitemap, every listing page), or the days --since/--until name.

    Interrupted (Ctrl-C, SIGTERM, a crash), the same command continues where it stopped.
    """
    if warc or forced:
        _backfill_warc(obj, warc, sources, forced, Window(since, until), limit, dry_run, no_reclean)
        return
    config = obj.config()
    unknown = [s for s in sources if s not in config.sources]
    if unknown:
        raise click.UsageError(f"unknown source {unknown[0]!r} (known: {', '.join(config.sources)})")
    if since and until and since > until:
        raise click.UsageError("--since is after --until")
    chosen = [config.sources[s] for s in sources] or [s for s in config.sources.values() if s.enabled]
    _check_for_writing(obj.db, create=True)
    if obj.db_url is not None and not dry_run:
        _backfill_queued(obj.db_url, config, chosen, Window(since, until), limit)
        return
    stop = threading.Event()
    summaries = []
    recleaned: list[reclean.RecleanSummary] = []
    # A dry run writes nothing: with no database yet, it counts against an empty one in memory (and keeps the
    # hosts' politeness in memory too) rather than making the file.
    counting_only = dry_run and isinstance(obj.db, Path) and not obj.db.exists()
    db = open_for_reading(obj.db) if counting_only else open_archive(obj.db)
    with closing(db), _signal_handlers() as on_signal:
        if dry_run:
            with _fetcher(config.settings, None if counting_only else obj.db) as fetcher, \
                    _progress() as progress:
                plans = {s.slug: planned(db, fetcher, s, get_adapter(s.adapter), Window(since, until),
                                         on_read=progress.discovering(s.slug)) for s in chosen}
            _print_rows([{"source": slug, "month": month, "articles": n}
                         for slug, plan in plans.items() for month, n in sorted(plan.items())], False)
            click.echo("\n".join(f"{slug}: {sum(plan.values())} to fetch" for slug, plan in plans.items()))
            return
        with _fetcher(config.settings, obj.db_path) as fetcher, _progress() as progress, \
                InProcessRunner(config, obj.db_path, fetcher,
                                pool_size=min(config.settings.concurrency, os.cpu_count() or 1)) as runner:
            on_signal(_stop_handler(stop, runner.stop))
            for source in chosen:
                if stop.is_set():
                    break
                summaries.append(runner.run_pass(
                    source, kind="backfill", window=Window(since, until), limit=limit,
                    on_total=progress.start(source.slug), on_outcome=progress.advance,
                    on_discovered=progress.discovering(source.slug)))
                # The source's first pages were cleaned before there was evidence of its boilerplate.
                if not (stop.is_set() or no_reclean) and reclean.stale_count(db, source):
                    recleaned.append(runner.reclean(
                        source, on_total=progress.start(f"{source.slug} reclean"), on_done=progress.advance))
    click.echo(format_summaries(summaries))
    for done in recleaned:
        click.echo(done.line())
    _exit_if_all_failed(summaries)


def _exit_if_all_failed(summaries: list[Summary]) -> None:
    """Exit 1 when every request of a source's backfill failed (its line says FAILED): the outlet or the network
    is down, and a script or cron job running the backfill must not take that for an archive without news."""
    if any(s.all_failed for s in summaries):
        sys.exit(1)


def _backfill_queued(url: str, config: Config, chosen: list[Source], window: Window, limit: int | None) -> None:
    """`backfill` on PostgreSQL: each source's discovery here, then a job per link for the workers; returns once
    they are queued (the workers fetch them). Interrupted, the same command continues: the frontier remembers."""
    stop = threading.Event()
    summaries = []
    with _queue_errors(url), _signal_handlers() as on_signal:
        from ingest.run.queue import QueueRunner

        with _fetcher(config.settings, url) as fetcher, _progress() as progress, \
                QueueRunner(config, url, fetcher) as runner:
            on_signal(_stop_handler(stop, runner.stop))
            for source in chosen:
                if stop.is_set():
                    break
                summaries.append(runner.run_pass(source, kind="backfill", window=window, limit=limit,
                                                 on_discovered=progress.discovering(source.slug)))
    click.echo(format_summaries(summaries))
    click.echo("the workers (`ingest worker` on this --db) fetch and clean them; `ingest stats` shows what is stored")
    _exit_if_all_failed(summaries)


def _backfill_warc(obj: Context, warc: tuple[str, ...], more: tuple[str, ...], forced: str | None, window: Window,
                   limit: int | None, dry_run: bool, no_reclean: bool) -> None:
    """`backfill --warc`: the records of WARC files through the pipeline (ingest/run/replay.py), resumable per file."""
    config = obj.config()
    if not warc:
        raise click.UsageError("--source goes with --warc PATH")
    if forced is not None and forced not in config.sources:
        raise click.UsageError(f"unknown source {forced!r} (known: {', '.join(config.sources)})")
    if window.since and window.until and window.since > window.until:
        raise click.UsageError("--since is after --until")
    try:
        paths = warcplan.expand((*warc, *more))
    except WarcError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(2)
    source = config.sources[forced] if forced else None
    chosen = [s for s in config.sources.values() if s.enabled]
    stop = threading.Event()
    with _signal_handlers() as on_signal:
        on_signal(_stop_handler(stop))
        if dry_run:
            with _byte_progress() as progress:
                counts, stats = warcplan.plan(paths, chosen, forced=source, window=window, stop=stop,
                                            on_file=progress.file, on_bytes=progress.advance)
            _print_rows([{"source": slug, "month": month, "articles": n}
                         for (slug, month), n in sorted(counts.items())], False)
            totals: dict[str, int] = {}
            for (slug, _), n in counts.items():
                totals[slug] = totals.get(slug, 0) + n
            click.echo("\n".join([*(f"{slug}: {n} to parse" for slug, n in totals.items()), stats.line()]))
            if stats.stopped:
                click.echo("stopped early: the counts are of the records read so far")
            return
        _check_for_writing(obj.db, create=True)
        if obj.db_url is not None:
            _warc_queued(obj.db_url, config, paths, source, window, limit)
            return
        db = open_store(obj.db_path)
        recleaned: list[reclean.RecleanSummary] = []
        try:
            with _byte_progress() as progress, \
                    InProcessRunner(config, obj.db_path, pool_size=min(config.settings.concurrency,
                                                                       os.cpu_count() or 1)) as runner:
                on_signal(_stop_handler(stop, runner.stop))
                done = runner.replay(paths, chosen, forced=source, window=window, limit=limit,
                                     on_file=progress.file, on_bytes=progress.advance)
                for summary in done.summaries:
                    stored = config.sources[summary.source]
                    if not (stop.is_set() or no_reclean) and reclean.stale_count(db, stored):
                        recleaned.append(runner.reclean(stored))
        except WarcError as exc:
            click.echo(f"Error: {exc}", err=True)
            sys.exit(2)
        finally:
            db.close()
    lines = [format_summaries(done.summaries)] if done.summaries else []
    lines.append(done.stats.line())
    if done.stats.stopped and not done.summaries:
        lines.append("stopped early: run the same command again to continue")
    lines += [r.line() for r in recleaned]
    click.echo("\n".join(line for line in lines if line))


def _warc_queued(url: str, config: Config, paths: list[Path], forced: Source | None, window: Window,
                 limit: int | None) -> None:
    """`backfill --warc` on PostgreSQL: a job per file for the workers, who must read it at the same path."""
    with _queue_errors(url):
        from ingest.run.queue import QueueRunner

        with QueueRunner(config, url) as runner:
            deferred, queued = runner.defer_warc(paths, forced, window, limit)
    click.echo(f"queued {deferred} WARC files for the workers" + (f" ({queued} were queued already)" if queued else "")
               + "; each worker reads them at these paths: " + ", ".join(str(p.resolve()) for p in paths[:3])
               + (", ..." if len(paths) > 3 else ""))


class _Bytes:
    """A progress bar in bytes per WARC file on a terminal; silent otherwise."""

    def __init__(self, bar: Any) -> None:
        self.bar = bar
        self.task: Any = None

    def file(self, path: Path, size: int, start: int) -> None:
        if self.bar is not None:
            self.task = self.bar.add_task(path.name, total=size, completed=start)

    def advance(self, position: int) -> None:
        if self.bar is not None and self.task is not None:
            self.bar.update(self.task, completed=position)


@contextmanager
def _byte_progress() -> Iterator[_Bytes]:
    if not sys.stdout.isatty():
        yield _Bytes(None)
        return
    from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn, TransferSpeedColumn

    with Progress("{task.description}", BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                  TimeRemainingColumn()) as bar:
        yield _Bytes(bar)


@cli.command("reclean")
@click.argument("sources", nargs=-1)
@click.option("--since", callback=_parse_day, metavar="YYYY-MM-DD",
              help="Every article published on or after this day, stale or not.")
@click.option("--all", "everything", is_flag=True, help="Every stored article of the sources, stale or not.")
@click.pass_obj
def reclean_command(obj: Context, sources: tuple[str, ...], since: date | None, everything: bool) -> None:
    """Clean stored articles again from their raw pages, with today's adapters and learned boilerplate.

    Without --since or --all: the stale ones (an older adapter version, or cleaned before the source's learned
    boilerplate last changed). Interrupted (Ctrl-C, SIGTERM, a crash), the same command continues where it stopped.
    """
    config = obj.config()
    unknown = [s for s in sources if s not in config.sources]
    if unknown:
        raise click.UsageError(f"unknown source {unknown[0]!r} (known: {', '.join(config.sources)})")
    if since and everything:
        raise click.UsageError("--since and --all: give one of them")
    _check_for_writing(obj.db, create=False)
    chosen = [config.sources[s] for s in sources] or [s for s in config.sources.values() if s.enabled]
    stop = threading.Event()
    done: list[reclean.RecleanSummary] = []
    with _signal_handlers() as on_signal, _progress() as progress, \
            InProcessRunner(config, obj.db, pool_size=min(config.settings.concurrency,
                                                          os.cpu_count() or 1)) as runner:
        on_signal(_stop_handler(stop, runner.stop))
        for source in chosen:
            if stop.is_set():
                break
            done.append(runner.reclean(source, since=since, everything=everything,
                                       on_total=progress.start(source.slug), on_done=progress.advance))
    click.echo("\n".join(d.line() for d in done))


@contextmanager
def _signal_handlers() -> Iterator[Callable[[Any], None]]:
    """SIGINT's and SIGTERM's handlers as found, put back when the block ends; inside it, the function yielded sets
    one handler for both, once what a signal must stop (a runner) exists."""
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}

    def install(handler: Any) -> None:
        for sig in previous:
            signal.signal(sig, handler)
    try:
        yield install
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _stop_handler(stop: threading.Event, cancel: Callable[[], None] | None = None) -> Any:
    def handler(signum: int, frame: FrameType | None) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        click.echo("\nstopping after the pages in flight (Ctrl-C again to abort)", err=True)
        stop.set()
        if cancel is not None:
            cancel()
    return handler


class _Progress:
    """A rich progress bar on a terminal; silent otherwise."""

    def __init__(self, bar: Any) -> None:
        self.bar = bar
        self.task: Any = None
        self.discovery: Any = None  # the line following the current source's discovery

    def start(self, slug: str) -> Any:
        def on_total(total: int) -> None:
            if self.bar is not None:
                if self.discovery is not None:
                    self.bar.remove_task(self.discovery)
                    self.discovery = None
                self.task = self.bar.add_task(slug, total=total)
        return on_total

    def discovering(self, slug: str) -> Callable[[int, int], None]:
        """A line that follows discovery (feeds, sitemaps and listing pages read, links found): a whole
        archive takes a while before the first article is fetched."""
        def on_read(resources: int, links: int) -> None:
            if self.bar is None:
                return
            text = f"{slug}: {resources} feeds, sitemaps and listing pages read, {links} links"
            if self.discovery is None:
                self.discovery = self.bar.add_task(text, total=None)
            self.bar.update(self.discovery, description=text)
        return on_read

    def advance(self, outcome: str) -> None:
        if self.bar is not None and self.task is not None:
            self.bar.advance(self.task)


@contextmanager
def _progress() -> Iterator[_Progress]:
    if not sys.stdout.isatty():
        yield _Progress(None)
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, Task, TimeRemainingColumn
    from rich.text import Text

    class PagesPerSecond(ProgressColumn):
        def render(self, task: Task) -> Text:
            return Text(f"{task.speed:.1f} pages/s" if task.speed else "… pages/s", style="progress.data.speed")

    columns = ("{task.description}", BarColumn(), MofNCompleteColumn(), PagesPerSecond(), TimeRemainingColumn())
    with Progress(*columns) as bar:
        yield _Progress(bar)


def _timezone_option(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return check_timezone(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


@cli.command()
@click.argument("file_or_url")
@click.option("--url", help="The page's URL, when FILE_OR_URL is a file.")
@click.option("--source", "slug", help="A source slug from the config, or an adapter name.")
@click.option("--timezone", "timezone", callback=_timezone_option, metavar="IANA",
              help="Read the page's times that have no offset in this zone (e.g. Europe/Kyiv); default: the "
                   "source's `timezone`, else the adapter's, else by language.")
@click.pass_obj
def extract(obj: Context, file_or_url: str, url: str | None, slug: str | None, timezone: str | None) -> None:
    """Clean one page (a file or a URL) and print it as JSON; the database is not touched."""
    page, source, result = _load_and_parse(obj, file_or_url, url, slug, timezone)
    if isinstance(result, Rejected):
        click.echo(json.dumps({"url": page.url, "source": source.slug, "rejected": result.reason,
                               "detail": result.detail}, ensure_ascii=False))
        sys.exit(1)
    out = result.to_json()
    first = ("url", "source", "title", "authors", "published_at", "modified_at", "date_source", "language", "text")
    click.echo(json.dumps({**{k: out[k] for k in first}, **out}, ensure_ascii=False, indent=2))


def _fixture_name(ctx: click.Context, param: click.Parameter, value: str) -> str:
    """A plain file name (letters, digits, '.', '_', '-'): never a path out of --fixtures."""
    if not _FIXTURE_NAME.fullmatch(value):
        raise click.BadParameter(f"{value!r} is not a plain file name (letters, digits, '.', '_', '-'; "
                                 "at most 100, not starting with '.')")
    return value


@cli.command()
@click.argument("file_or_url")
@click.option("--url", help="The page's URL, when FILE_OR_URL is a file.")
@click.option("--source", "slug", help="A source slug from the config, or an adapter name.")
@click.option("--name", required=True, callback=_fixture_name,
              help="Fixture name, a plain file name: writes NAME.html and NAME.json.")
@click.option("--fixtures", type=click.Path(file_okay=False, path_type=Path), default=Path("ingest/demo_site"),
              show_default=True, help="Folder holding one sub-folder per adapter.")
@click.pass_obj
def capture(obj: Context, file_or_url: str, url: str | None, slug: str | None, name: str, fixtures: Path) -> None:
    """Save a page as a golden fixture of its adapter, with today's extraction as the draft expectation.

    Check the JSON by hand: the extraction is a starting point, not the truth.
    """
    page, source, result = _load_and_parse(obj, file_or_url, url, slug)
    folder = fixtures / source.adapter
    try:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{name}.html").write_bytes(page.body)
    except OSError as exc:
        raise click.FileError(str(folder / f"{name}.html"), exc.strerror) from None
    if isinstance(result, Rejected):
        expected: dict[str, Any] = {"rejected": result.reason}
        must: list[str] = []
    else:
        expected = {k: v for k, v in result.to_json().items()
                    if k in ("title", "authors", "published_at", "language", "section", "tags")}
        must = [p[:SAMPLE_CHARS] for p in result.text.split("\n\n") if len(p) > MIN_SAMPLE_PARAGRAPH]
    meta = {"url": url or page.url, "expected": expected, "must_contain": must, "must_not_contain": []}
    try:
        (folder / f"{name}.json").write_text(json.dumps(meta, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    except OSError as exc:
        raise click.FileError(str(folder / f"{name}.json"), exc.strerror) from None
    click.echo(f"wrote {folder / name}.html and .json: check the expectations, add the junk to must_not_contain")


def _load_and_parse(obj: Context, file_or_url: str, url: str | None, slug: str | None,
                    timezone: str | None = None) -> tuple[Page, Source, Article | Rejected]:
    """Fetch or read one page and run its adapter: (page, source, article or the rejection)."""
    config = obj.config(required=False)
    if obj.db_url is None and obj.db_path.exists():  # optional (learned boilerplate); one that is there must be read
        check_database(obj.db_path, create=False)
    is_url = urlsplit(file_or_url).scheme in ("http", "https")
    page_url = file_or_url if is_url else (url or Path(file_or_url).resolve().as_uri())
    saved: Page | None = None
    if not is_url:
        try:
            saved = page_from_bytes(Path(file_or_url).read_bytes(), page_url)
        except OSError as exc:
            raise click.BadParameter(str(exc), param_hint="FILE_OR_URL") from None
        if url is None and (own := own_url(saved)):
            # A saved page names its own address: read it as if fetched there (its URL; its outlet's adapter
            # unless --source names one).
            url = page_url = own
            saved = dataclasses.replace(saved, url=own, requested_url=own)
    source = _extract_source(config, slug, url or (file_or_url if is_url else None))
    if timezone:
        source = dataclasses.replace(source, timezone=timezone)
    if saved is not None:
        page = saved
    else:
        try:
            with _fetcher(config.settings, None) as fetcher:
                page = fetcher.fetch(file_or_url)
        except Rejected as exc:
            click.echo(json.dumps({"url": page_url, "source": source.slug, "rejected": exc.reason,
                                   "detail": exc.detail}, ensure_ascii=False))
            sys.exit(1)
    learned = _learned_readonly(obj, source)
    try:
        # In a parse worker under the daemon's deadline, as a fetched page is cleaned: a hostile page ends as
        # `parse-timeout` (or `parse-crash`), not as a command that never returns.
        with parse_pool(1) as pool:
            return page, source, parse_isolated(pool, get_adapter(source.adapter), source, page,
                                                learned=learned).article
    except Rejected as exc:
        return page, source, exc


def _learned_readonly(obj: Context, source: Source) -> Learned:
    """The source's learned boilerplate when the database holds it, read-only; only its pins otherwise. A PostgreSQL
    archive must be there (one line, exit 2 otherwise: the URL was given on purpose)."""
    if obj.db_url is not None:
        with _postgres(obj.db_url) as pg:
            return learned_for(pg, source)
    pins = Learned(keep=tuple(k.casefold() for k in source.keep), junk=tuple(j.casefold() for j in source.junk))
    try:
        db = open_readonly_store(obj.db_path)
    except (FileNotFoundError, StoreError):
        return pins
    try:
        return learned_for(db, source)
    except StoreError:  # not an ingest database, or one from before learning
        return pins
    finally:
        db.close()


def _extract_source(config: Config, slug: str | None, url: str | None) -> Source:
    """The --source slug (a configured source or an adapter), else the URL's outlet, else generic."""
    host = (urlsplit(url).hostname or "") if url else ""
    if slug in config.sources:
        return config.sources[slug]
    if slug is not None and slug not in ADAPTERS:
        known = sorted({*config.sources, *ADAPTERS})
        raise click.BadParameter(f"unknown source {slug!r} (known: {', '.join(known)})", param_hint="--source")
    if slug is None and url:
        slug = next((s.slug for s in config.sources.values() if s.allows(url)), None)
        if slug in config.sources:
            return config.sources[slug]
    adapter = get_adapter(slug) if slug else adapter_for_url(url or "")
    domains = tuple(adapter.domains) + ((host.removeprefix("www."),) if host else ())
    return Source(slug=slug or adapter.slug, adapter=adapter.slug, domains=domains, language=None)


@cli.command()
@click.argument("source")
@click.option("--all", "candidates", is_flag=True, help="Also the blocks seen on two pages or more, not yet learned.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.pass_obj
def boilerplate(obj: Context, source: str, candidates: bool, as_json: bool) -> None:
    """What ingest learned to remove from SOURCE's pages: each block, pages seen, first and last seen."""
    with _archive(obj, open_readonly_store) as db:
        try:
            found = db.boilerplate_listing(source, candidates=candidates)
        except StoreError as exc:
            raise click.UsageError(f"{obj.db} is not an ingest database with learned boilerplate ({exc})") from None
    if as_json:
        click.echo(json.dumps(dataclasses.asdict(found), ensure_ascii=False, indent=2))
        return
    click.echo(f"{source}: {len(found.blocks)} blocks over {found.pages} pages seen (revision {found.revision})")
    _print_rows([{"kind": b["kind"], "pages": b["pages"], "first_seen": b["first_seen"][:DATE_CHARS],
                  "last_seen": b["last_seen"][:DATE_CHARS], "learned": "yes" if b["learned_at"] else "no",
                  "block": b["block"][:SAMPLE_CHARS]} for b in found.blocks], False)


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.pass_obj
def sources(obj: Context, as_json: bool) -> None:
    """List each source: its adapter, schedule, last run and counts."""
    config = obj.config()
    with _archive(obj, open_for_reading) as db:
        rows = db.source_rows(config)
    _print_rows(rows, as_json)


@cli.command()
@click.option("--days", type=click.IntRange(min=1), default=7, show_default=True, help="Look-back window.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of tables.")
@click.pass_obj
def stats(obj: Context, days: int, as_json: bool) -> None:
    """Per-source health: last success, errors by reason, layout fallbacks, articles per day."""
    config = obj.config()
    with _archive(obj, open_for_reading) as db:
        data = db.stats(config, days=days)
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))
        return
    click.echo(f"{data['articles']} articles ({data['duplicates']} duplicates); "
               f"fetch outcomes in the last {days} days: {data['outcomes'] or 'none'}")
    _print_rows([{**s, "errors": ", ".join(f"{k}: {v}" for k, v in s["errors"].items())}
                 for s in data["sources"]], False)
    if data["per_day"]:
        _print_rows(data["per_day"], False)


def _parse_lag(ctx: click.Context, param: click.Parameter, value: str | None) -> float | None:
    """--max-lag as the config's durations: '6h', '90m', '2d'; at least a minute (a bare '6' is 6 seconds)."""
    from ingest.config import parse_duration

    if value is None:
        return None
    try:
        seconds = parse_duration(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a duration like '6h', '90m' or '2d'") from None
    if seconds < MIN_LAG:
        raise click.BadParameter(f"{value!r} is shorter than a minute: give a unit, like '6h'")
    return seconds


@cli.command("health")
@click.option("--max-lag", callback=_parse_lag, metavar="DURATION",
              help="Unhealthy after this long without a success, e.g. 6h.  [default: 3 x each source's interval, "
                   "at least 1h]")
@click.pass_obj
def health_command(obj: Context, max_lag: float | None) -> None:
    """Exit 0 when every enabled source succeeded within its lag, else 1 with a line per source saying why.

    For cron, systemd timers and container health checks; reads the database only.
    """
    config = obj.config()
    with _archive(obj, open_readonly_store) as db:
        if obj.db_url is None:  # a damaged file is no healthy archive, whatever its `runs` rows say
            _check_intact(obj.db_path, "not healthy")
        try:
            verdicts = db.health(config, max_lag=max_lag)
        except SchemaError as exc:
            click.echo(f"Error: {obj.db} is not an ingest database ({exc})", err=True)
            sys.exit(2)
    bad = [v for v in verdicts if not v.ok]
    for verdict in bad:
        click.echo(f"UNHEALTHY {verdict.line}")
    if bad:
        sys.exit(1)
    click.echo(f"OK: {len(verdicts)} enabled sources, each with a success within its lag")


@cli.command("backup")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--force", is_flag=True, help="Replace FILE if it exists.")
@click.pass_obj
def backup_command(obj: Context, file: Path, force: bool) -> None:
    """Copy the database to FILE, consistent while the daemon writes (SQLite's online backup), and check the copy."""
    from ingest.archive.backup import BackupError, backup

    try:  # backup() makes its own checks of both paths, the database's those of check_database among them
        done = backup(obj.db_path, file, force=force)
    except BackupError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(2)
    articles = f", {done.articles} articles" if done.articles is not None else ""
    click.echo(f"backed up {obj.db_path} to {done.path} ({done.bytes / 1e6:.1f} MB{articles}; integrity ok)")


def _print_rows(items: list[dict[str, Any]], as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(items, ensure_ascii=False, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(*(items[0].keys() if items else ["(none)"]))
    for item in items:
        table.add_row(*("" if v is None else str(v) for v in item.values()))
    Console(width=PIPED_WIDTH if not sys.stdout.isatty() else None).print(table)


@cli.command()
@click.option("--serve/--no-serve", default=False, help="Keep the demo site running after ingesting.")
@click.pass_obj
def demo(obj: Context, serve: bool) -> None:
    """Run the configured sources on bundled outlet pages served on 127.0.0.1, into db/demo.db; say how to browse."""
    from ingest.demo.run import run_demo

    db_path = obj.db_path.parent / "demo.db"
    _check_for_writing(db_path, create=True)
    click.echo(run_demo(db_path, obj.config(), keep_serving=serve))


@cli.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on (0.0.0.0: all).")
@click.option("--port", type=click.IntRange(1, 65535), default=8001, show_default=True, help="TCP port.")
@click.option("--metadata", "metadata_file", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="Your own Datasette metadata file instead of the bundled one (then nothing is written).")
@click.option("--allow-sql", is_flag=True, help="Also let visitors run their own SQL (off: tables, search, facets "
              "and the canned queries only).")
@click.pass_obj
def serve_command(obj: Context, host: str, port: int, metadata_file: Path | None, allow_sql: bool) -> None:
    """Browse, search and query the database in Datasette, read-only, while the daemon keeps writing."""
    from ingest.archive import serve

    check_database(obj.db_path, create=False)
    _check_intact(obj.db_path, "not serving it")
    try:
        metadata, metadata_path = serve.prepare(obj.db_path, metadata_file)
    except serve.ServeError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(2)
    if not serve.is_loopback(host):
        click.echo(f"warning: listening on {host}: anyone who can reach this machine can read every table of "
                   f"{obj.db_path.name}" + (" and run any SQL on it (--allow-sql)" if allow_sql else ""), err=True)
    where = metadata_path or "bundled; the folder cannot be written"
    click.echo(f"serving {obj.db_path} read-only at http://{host}:{port}/{obj.db_path.stem} "
               f"(metadata: {where}; own SQL {'allowed' if allow_sql else 'off'}); Ctrl-C stops")
    serve.serve(obj.db_path, host=host, port=port, metadata=metadata, allow_sql=allow_sql)


@cli.command("export")
@click.option("--format", "fmt", type=click.Choice(EXPORT_FORMATS),
              help="Output format.  [default: from --output's suffix, else jsonl]")
@click.option("--since", callback=_parse_day, metavar="YYYY-MM-DD", help="Published on or after this day (UTC).")
@click.option("--source", "slug", metavar="SLUG", help="Only this source's articles.")
@click.option("--query", metavar="FTS", help="SQLite FTS5 query over titles and texts, e.g. 'Japan NEAR Ukraine'.")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path),
              help="File to write.  [default: stdout]")
@click.option("--revisions", is_flag=True, help="Also each article's earlier versions, what changed, and whether its "
              "page was found removed (columns removed_at, removed_status, revisions).")
@click.pass_obj
def export_command(obj: Context, fmt: str | None, since: date | None, slug: str | None, query: str | None,
                   output: Path | None, revisions: bool) -> None:
    """Stream articles (oldest first) as JSON lines, CSV or Parquet, for pandas and other tools."""
    fmt = fmt or export_format(output)
    try:
        with _archive(obj, _open_for_export) as db:  # read-only: an export never takes a lock the daemon waits on
            db.check_export(fmt, query)
            if output is None:
                stdout = sys.stdout.buffer  # click.get_binary_stream is deprecated from Click 8.2
                if fmt == "parquet" and stdout.isatty():
                    raise ExportError("parquet is binary: give --output FILE or redirect stdout")
                db.export_articles(stdout, fmt, since=since, source=slug, query=query, revisions=revisions)
                stdout.flush()
                return
            with output_file(output) as out:
                count = db.export_articles(out, fmt, since=since, source=slug, query=query, revisions=revisions)
    except ExportError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(2)
    click.echo(f"{count} articles written to {output}", err=True)


def _open_for_export(db_path: Path) -> Store:
    try:
        return open_readonly_store(db_path)
    except FileNotFoundError:
        raise ExportError(f"no database at {db_path}") from None


@cli.command("history")
@click.argument("ref", metavar="URL_OR_ID")
@click.option("--json", "as_json", is_flag=True, help="Print JSON: the versions and the changes between them.")
@click.pass_obj
def history_command(obj: Context, ref: str, as_json: bool) -> None:
    """An article's versions, oldest first, and what changed between each two (headline, paragraphs, words).

    URL_OR_ID is the article's id or any URL it was stored or fetched at. No such article: one line, exit 1.
    """
    with _archive(obj, open_for_reading) as db:
        found = db.article_history(ref)
    if found is None:
        click.echo(f"Error: no article with the id or URL {ref!r} is stored", err=True)
        sys.exit(1)
    data = found.to_json()
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))
        return
    _print_history(data)


def _print_history(data: dict[str, Any]) -> None:
    """History.to_json's versions and changes for a reader: on a terminal added words and paragraphs green, removed
    ones red (words struck through); written to a pipe or file, plain text with `+`/`-`/`~` paragraphs and
    `[-removed-]{+added+}` words (as `git diff --word-diff`), so nothing is lost without colour."""
    from rich.console import Console
    from rich.text import Text

    tty = sys.stdout.isatty()
    console = Console(width=PIPED_WIDTH if not tty else None, highlight=False)
    styles = {"-": "red strike", "+": "green"}
    marks = {"-": ("[-", "-]"), "+": ("{+", "+}")}
    versions, changes = data["versions"], data["changes"]
    console.print(Text(f"Article {data['id']} ({data['source']}): {data['url']}", style="bold"), soft_wrap=True)
    console.print(Text(f"published {data['published_at'] or 'unknown'}; {len(versions)} version"
                       f"{'s' if len(versions) != 1 else ''}"), soft_wrap=True)
    for version in versions:
        current = version["replaced_at"] is None
        when = f"fetched {version['fetched_at']}" + ("" if current else f", replaced {version['replaced_at']}")
        console.print(Text(f"\nVersion {version['version']}{' (current)' if current else ''}: {when}", style="bold"),
                      soft_wrap=True)
        console.print(Text(f"  {version['title']}"), soft_wrap=True)
        if current:
            break
        change = changes[version["version"] - 1]
        claims = (f"page says updated, modified {change['modified_at']}" if change["said_updated"]
                  else f"page claims modified {change['modified_at']}" if change["modified_at"]
                  else "page claims no modification time")
        console.print(Text(f"Changes {change['from']} → {change['to']}: headline "
                           f"{'changed' if change['headline_changed'] else 'unchanged'}; paragraphs "
                           f"{change['paragraphs_added']} added, {change['paragraphs_removed']} removed, "
                           f"{change['paragraphs_changed']} changed; {claims}", style="cyan"), soft_wrap=True)
        found = change["diff"]
        if found["title_before"] is not None:
            line = Text("  headline: ")
            line.append(found["title_before"], style=styles["-"] if tty else None)
            line.append(" → ")
            line.append(found["title_after"], style=styles["+"] if tty else None)
            console.print(line, soft_wrap=True)
        for paragraph in found["paragraphs"]:
            kind = paragraph["kind"]
            if kind != "changed":
                sign = "+" if kind == "added" else "-"
                text = paragraph["after"] if kind == "added" else paragraph["before"]
                console.print(Text(f"  {sign} {text}", style="green" if sign == "+" else "red"), soft_wrap=True)
                continue
            line, previous = Text("  ~ "), None
            for op, words in paragraph["words"]:
                line.append("" if previous is None or ((previous, op) == ("-", "+") and not tty) else " ")  # [-a-]{+b+}
                previous = op
                if op == "=":
                    line.append(words)
                elif tty:
                    line.append(words, style=styles[op])
                else:
                    line.append(f"{marks[op][0]}{words}{marks[op][1]}")
            console.print(line, soft_wrap=True)
    if data["removed_at"] is not None:
        console.print(Text(f"\nRemoved: the page answered {data['removed_status']} on {data['removed_at']}",
                           style="bold red"), soft_wrap=True)


@cli.command("topics")
@click.option("--retag", is_flag=True, help="First re-apply the current [topics] rules to every stored article.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.pass_obj
def topics_command(obj: Context, retag: bool, as_json: bool) -> None:
    """List the configured topics and the articles each tags; --retag re-applies changed rules."""
    config = obj.config()
    with _archive(obj, open_store if retag else open_for_reading, write=retag) as db:
        if retag:
            read = db.retag(config.topics)
            click.echo(f"retagged {read} articles with {len(config.topics)} topics", err=True)
        counts = db.topic_counts()
    rows: list[dict[str, Any]] = [
        {"topic": name, "keywords": len(topic.keywords), "articles": counts.get(name, 0), "configured": True}
        for name, topic in config.topics.items()]
    rows += [{"topic": name, "keywords": 0, "articles": n, "configured": False}  # rules removed: run --retag
             for name, n in counts.items() if name not in config.topics]
    _print_rows(rows, as_json)


@cli.command("publish")
@click.option("--to", "target", required=True, type=click.Path(path_type=Path), metavar="FILE.db",
              help="The SQLite file to write (read-only, for `ingest --db FILE.db serve` and for sharing).")
@click.option("--since", callback=_parse_day, metavar="YYYY-MM-DD", help="Published on or after this day (UTC).")
@click.option("--until", callback=_parse_day, metavar="YYYY-MM-DD", help="Published on or before this day (UTC).")
@click.option("--source", "slug", metavar="SLUG", help="Only this source's articles.")
@click.option("--force", is_flag=True, help="Replace FILE.db if it exists.")
@click.pass_obj
def publish_command(obj: Context, target: Path, since: date | None, until: date | None, slug: str | None,
                    force: bool) -> None:
    """Write a read-only SQLite snapshot of a PostgreSQL archive (--db postgresql://...) for Datasette and sharing."""
    if obj.db_url is None:
        check_database(obj.db_path, create=False)  # a bad path is named as for every command, then the refusal
        click.echo(f"Error: publish copies a PostgreSQL archive (--db postgresql://user@host/dbname); {obj.db} is a "
                   "SQLite file already: `ingest backup FILE` copies it, `ingest serve` serves it.", err=True)
        sys.exit(2)
    if since and until and since > until:
        raise click.UsageError("--since is after --until")
    try:
        from ingest.archive.publish import PublishError, publish
    except ImportError:
        click.echo("Error: a PostgreSQL --db needs psycopg: pip install 'ingest[postgres]'", err=True)
        sys.exit(2)
    try:
        done = publish(obj.db_url, target, since=since, until=until, source=slug, force=force)
    except PublishError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(2)
    rows = done.rows
    click.echo(f"published {rows.get('articles', 0)} articles ({rows.get('revisions', 0)} revisions, "
               f"{rows.get('url_aliases', 0)} aliases, {rows.get('article_topics', 0)} topic tags) to {done.path}, "
               f"read-only; browse it with `ingest --db {done.path} serve`")


@cli.command("worker")
@click.option("--concurrency", type=click.IntRange(min=1), default=None,
              help="Jobs (pages) at once.  [default: the config's concurrency]")
@click.pass_obj
def worker_command(obj: Context, concurrency: int | None) -> None:
    """Take fetch-and-clean jobs from a PostgreSQL archive's queue and store the articles, until SIGTERM or Ctrl-C.

    SIGTERM drains within 10 s: no more jobs; pages in flight finish, or are given back for another worker.
    """
    if obj.db_url is None:
        check_database(obj.db_path, create=False)  # a bad path is named as for every command, then the refusal
        click.echo(f"Error: workers need a PostgreSQL archive (--db postgresql://user@host/dbname); {obj.db} is a "
                   "SQLite file: `ingest run` fetches into it.", err=True)
        sys.exit(2)
    config = obj.config()
    _pg_ready(obj.db_url, create=False)  # the archive must exist (one line otherwise): nothing is created
    with _queue_errors(obj.db_url):
        from ingest.run.queue import run_worker

        clean = run_worker(obj.db_url, config, concurrency=concurrency or config.settings.concurrency,
                           archive=raw_archive(obj.db_url, config.settings))
    log.info("worker stopped" if clean else "worker stopped; pages still in flight were given back")
    if not clean:  # their threads cannot be interrupted: what they committed is safe, their jobs are queued again
        logging.shutdown()
        os._exit(0)
