"""`ingest serve`: Datasette on the live database, read-only, with the bundled metadata.

The metadata (titles, descriptions, full-text search, facets, canned queries) is package data,
`ingest/data/datasette.yml`, written for a database named "news" (Datasette names a database
after its file). `metadata_text(names)` gives the same metadata to other names too (YAML
aliases), and `prepare()` writes it next to the database as `metadata.yml`, covering every
`*.db` there (news.db and demo.db share db/), so plain `datasette db/news.db -m db/metadata.yml`
behaves like `ingest serve`. The file is rewritten on every start, so it follows upgrades;
pass your own file to keep edits.

Before serving, the schema and views are created (a write, so Datasette itself never has to).
Datasette then opens the file as a mutable database, which it reads with `mode=ro` and no
`immutable`/`nolock`: the daemon keeps writing (WAL) and every page shows the current rows. Only a
database in a folder that can't be written is served immutable: SQLite can read nothing else there.
Uvicorn runs in this process; SIGINT or SIGTERM stops it cleanly and `serve()` returns.

The dashboard, /dashboard, is a Datasette page template (ingest/templates/pages/) whose script draws the canned
queries named in the metadata's `plugins.ingest-dashboard` with Vega-Lite, all served from ingest/static: it
needs neither the internet nor arbitrary SQL.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import logging
import os
import re
import signal
import sqlite3
import threading
import types
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Any

from ingest.archive import store

PACKAGE_DB_NAME = "news"  # the database key in ingest/data/datasette.yml
GENERATED = "# Written by `ingest serve` from ingest/data/datasette.yml on every start: edit a copy, not this file.\n"
# Datasette's defaults (1 s per query, 200 ms per facet) are tight for counts, per-day groupings and the
# topics array facet (one article_topics lookup per row) over a large archive of long texts.
SETTINGS = {"sql_time_limit_ms": 3000, "facet_time_limit_ms": 1000}
PACKAGE = Path(__file__).parent.parent  # the package folder: templates/, static/, data/
STATIC_MOUNT = "ingest-static"  # /ingest-static/<file>: ingest/static (dashboard.js, the vendored Vega-Lite)


class ServeError(RuntimeError):
    """Datasette cannot be started as asked (no database, unreadable metadata)."""


def metadata_text(db_names: Iterable[str] = ()) -> str:
    """The bundled metadata as YAML text, for the database "news" and for each of `db_names`."""
    text = (resources.files("ingest") / "data" / "datasette.yml").read_text(encoding="utf-8")
    # `databases:` is the file's last mapping and "news" its only key: the others alias it
    text, found = re.subn(rf"^  {PACKAGE_DB_NAME}:$", f"  {PACKAGE_DB_NAME}: &ingest", text, count=1,
                          flags=re.MULTILINE)
    assert found, "ingest/data/datasette.yml lost its database key"
    aliases = "".join(f"  {json.dumps(name)}: *ingest\n" for name in sorted(set(db_names) - {PACKAGE_DB_NAME}))
    return GENERATED + text.rstrip("\n") + "\n" + aliases


def parse_metadata(text: str, source: str) -> dict[str, Any]:
    """YAML or JSON metadata -> dict, the way `datasette -m` reads it."""
    from datasette.utils import BadMetadataError
    from datasette.utils import parse_metadata as datasette_parse

    try:
        data = datasette_parse(text)
    except BadMetadataError as exc:
        raise ServeError(f"{source}: not valid Datasette metadata: {exc}") from None
    if not isinstance(data, dict):
        raise ServeError(f"{source}: not valid Datasette metadata: expected a mapping")
    return data


def write_metadata(path: Path, text: str) -> None:
    """Write the metadata file atomically (a Datasette reading it never sees half a file)."""
    if path.exists() and path.read_text(encoding="utf-8") == text:
        return
    partial = path.with_name(path.name + ".partial")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, path)


def prepare(db_path: Path, metadata_file: Path | None = None) -> tuple[dict[str, Any], Path | None]:
    """Check the database, create schema and views, and write or read the metadata: (metadata, its file, or None
    when the database's folder can't be written: the bundled metadata is used without a file)."""
    if not db_path.is_file():
        raise ServeError(f"no database at {db_path}: run `ingest run`, `ingest backfill` or `ingest demo` first")
    try:
        store.open_db(db_path).close()  # creates or migrates the schema, views included
    except sqlite3.OperationalError as exc:
        # A read-only file or folder: served as it is, if it is a current one (else nothing could read it right)
        if not ("readonly" in str(exc) or "unable to open" in str(exc)):
            raise
        with contextlib.closing(store.open_readonly(db_path)) as db:
            current = db.execute("PRAGMA user_version").fetchone()[0] >= store.SCHEMA_VERSION
        if not current:
            raise ServeError(f"{db_path} was made by an older ingest and cannot be written to upgrade it "
                             f"({exc})") from None
    if metadata_file is None:
        text = metadata_text({db_path.stem, *(p.stem for p in db_path.parent.glob("*.db"))})
        metadata_file = db_path.parent / "metadata.yml"
        try:
            write_metadata(metadata_file, text)
        except OSError:
            metadata_file = None
    else:
        try:
            text = metadata_file.read_text(encoding="utf-8")
        except OSError as exc:
            raise ServeError(f"{metadata_file}: {exc.strerror or exc}") from None
    return parse_metadata(text, str(metadata_file or "bundled metadata")), metadata_file


def datasette_app(db_path: Path, metadata: dict[str, Any], *, allow_sql: bool = False) -> Any:
    """A Datasette instance on the live file: mutable (read with mode=ro), never nolock; immutable only in a
    folder that can't be written (store.readonly_uri).

    Arbitrary SQL (`?sql=`, the SQL box) only with `allow_sql`: tables, views, facets, full-text search and
    the canned queries need none of it (Datasette's `default_allow_sql` setting)."""
    from datasette.app import Datasette

    _quiet_errors()
    settings = {**SETTINGS, "default_allow_sql": allow_sql}
    # The dashboard page (/dashboard) and its scripts, Vega-Lite included, are served from the package: no CDN.
    pages = {"template_dir": str(PACKAGE / "templates"), "static_mounts": [(STATIC_MOUNT, str(PACKAGE / "static"))]}
    if "immutable=1" in store.readonly_uri(db_path):  # a read-only folder: SQLite can read only a snapshot there
        return Datasette([], immutables=[str(db_path)], metadata=metadata, settings=settings, **pages)
    return Datasette([str(db_path)], immutables=[], nolock=False, metadata=metadata, settings=settings, **pages)


def _log_error(request: Any, exception: BaseException) -> None:
    """Every error a request meets, as one line (no traceback, no locals)."""
    status = getattr(exception, "status", 500)
    text = " ".join(str(exception).split())[:300]
    logging.getLogger("ingest").log(logging.ERROR if status >= 500 else logging.INFO, "serve %s %s -> %s: %s%s",
                                    request.method, request.path, status, type(exception).__name__,
                                    f": {text}" if text else "")


def _quiet_errors() -> None:
    """Datasette's own error handler prints each error with rich and its locals (about 40 kB for a bad SQL
    request, so a remote client could fill the disk), and raises doing so outside an except block (a 404 became
    a 500): without rich and print_exc it renders the same 4xx/5xx pages, and _log_error logs one line."""
    import datasette.handle_exception as handler
    from datasette import hookimpl
    from datasette.plugins import pm
    from datasette.views.base import DatasetteError

    handler.rich = None
    handler.traceback = types.SimpleNamespace(print_exc=lambda: None)
    if pm.get_plugin("ingest-error-line") is None:
        def handle_exception(request: Any, exception: BaseException) -> None:
            # Datasette raises its own DatasetteError for a request it refuses (`?_sort=` a missing column) with
            # status 500: that is the request's fault, a 400. Anything else that gets here is a real 500.
            if isinstance(exception, DatasetteError) and exception.status == 500:
                exception.status = 400
            _log_error(request, exception)  # and None: Datasette's handler still renders the page
        plugin = types.ModuleType("ingest_error_line")  # a plugin is a module with hook functions
        plugin.handle_exception = hookimpl(tryfirst=True)(handle_exception)  # type: ignore[attr-defined]
        pm.register(plugin, name="ingest-error-line")


def is_loopback(host: str) -> bool:
    """True for an address only this machine can reach (127.0.0.0/8, ::1, localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def serve(db_path: Path, *, host: str = "127.0.0.1", port: int = 8001, metadata: dict[str, Any],
          allow_sql: bool = False) -> None:
    """Run Datasette over HTTP until SIGINT or SIGTERM; returns after a clean shutdown."""
    import uvicorn

    app = datasette_app(db_path, metadata, allow_sql=allow_sql).app()
    with _quiet_signals():
        uvicorn.run(app, host=host, port=port, log_level="info", lifespan="on", workers=1, log_config=None)


@contextmanager
def _quiet_signals() -> Iterator[None]:
    """Uvicorn shuts down on SIGINT/SIGTERM, then re-raises the signal to the handler it found:
    with the default ones the process would die by the signal (or a KeyboardInterrupt) after a
    clean shutdown. A no-op handler underneath lets `ingest serve` exit 0 instead."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, lambda signum, frame: None) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
