"""Stream articles out of the database as JSON lines, CSV or Parquet, for pandas and other tools.

`export_articles(db, out, fmt, since=, source=, query=)` writes every matching article to the
binary stream `out`, oldest first, and returns how many it wrote. Rows come from the cursor in
batches and go out as they come: memory stays flat however large the archive. Filters: `since`
(published on or after that UTC day; undated articles are left out), `source` (a slug), `query`
(an FTS5 MATCH over title and text, e.g. 'Japan NEAR Ukraine'). `authors`, `tags` and `topics`
are JSON arrays in JSON lines and Parquet (list<string>), JSON strings in CSV; Parquet also gets
typed timestamps (UTC) and booleans. Parquet needs pyarrow (the `parquet` extra). Bad input
(a malformed FTS query, a missing pyarrow) raises ExportError before anything is written.
storage.Reports.export_articles is this over SQLite; the file it writes to (storage.output_file) and the
format a suffix implies (storage.export_format) are the interface's.
"""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from collections.abc import Iterator
from datetime import date
from typing import IO, Any

import sqlite_utils

from ingest.storage import EXPORT_FORMATS
from ingest.storage import ExportError as ExportError  # re-exported: what the export raises

FORMATS = EXPORT_FORMATS
BATCH_ROWS = 1000
PARQUET_INSTALL = "pip install 'ingest[parquet]'  (or: pip install 'pyarrow>=15')"

COLUMNS = ("id", "url", "source", "title", "authors", "published_at", "modified_at", "date_source", "language",
           "section", "tags", "topics", "lead", "text", "words", "image", "duplicate_of", "content_hash", "adapter",
           "adapter_version", "fallback", "paywalled", "truncated", "fetched_at", "first_seen_at")
JSON_COLUMNS = ("authors", "tags", "topics")
BOOL_COLUMNS = ("fallback", "paywalled", "truncated")
INT_COLUMNS = ("id", "words", "duplicate_of", "adapter_version")
TIME_COLUMNS = ("published_at", "modified_at", "fetched_at", "first_seen_at")


def check(db: sqlite_utils.Database, fmt: str, query: str | None) -> None:
    """Raise ExportError for an unknown format, a missing pyarrow or a bad FTS query; writes nothing."""
    check_format(fmt)
    if query is not None:
        check_query(db, query)


def export_articles(db: sqlite_utils.Database, out: IO[bytes], fmt: str, *, since: date | None = None,
                    source: str | None = None, query: str | None = None) -> int:
    """Write the matching articles to `out` in `fmt` (jsonl, csv or parquet); returns the row count."""
    check(db, fmt, query)
    return write_batches(_batches(db, since=since, source=source, query=query), out, fmt)


def write_batches(batches: Iterator[list[tuple[Any, ...]]], out: IO[bytes], fmt: str) -> int:
    """Write batches of rows (tuples in COLUMNS order, as SQLite stores them: times ISO 8601 UTC text, authors,
    tags and topics JSON text, flags 0/1) to `out` in `fmt`; the row count. Every store's export writes through
    this (archive/pgreports.py feeds it PostgreSQL's rows in that form)."""
    if fmt == "parquet":
        return _write_parquet(batches, out)
    text = io.TextIOWrapper(out, encoding="utf-8", newline="" if fmt == "csv" else "\n", write_through=True)
    try:
        return _write_csv(batches, text) if fmt == "csv" else _write_jsonl(batches, text)
    finally:
        text.flush()
        text.detach()  # the caller owns `out`: don't let the wrapper close it


def check_format(fmt: str) -> None:
    """Raise ExportError for an unknown format, or parquet without pyarrow (every store's export checks this)."""
    if fmt not in FORMATS:
        raise ExportError(f"unknown format {fmt!r} (known: {', '.join(FORMATS)})")
    if fmt == "parquet":
        require_pyarrow()


def require_pyarrow() -> None:
    """Raise ExportError naming the install command when pyarrow is not installed."""
    try:
        import pyarrow.parquet  # noqa: F401
    except ImportError:
        raise ExportError(f"parquet export needs pyarrow: {PARQUET_INSTALL}") from None


def check_query(db: sqlite_utils.Database, query: str) -> None:
    """Raise ExportError when `query` is not a valid FTS5 query (or the index is missing)."""
    try:
        db.execute("SELECT rowid FROM articles_fts WHERE articles_fts MATCH ? LIMIT 1", [query]).fetchall()
    except sqlite3.OperationalError as exc:
        raise ExportError(f"bad full-text query {query!r}: {exc}") from None


def select_sql(db: sqlite_utils.Database, *, since: date | None, source: str | None,
               query: str | None) -> tuple[str, list[Any]]:
    """The SELECT for an export and its parameters; ordered by publication time, then id."""
    topics = ("(SELECT json_group_array(t.topic) FROM (SELECT topic FROM article_topics"
              " WHERE article_id = a.id ORDER BY topic) t)") if db["article_topics"].exists() else "'[]'"
    stored = db["articles"].columns_dict  # an archive from before schema 9 has no `truncated`: none was
    columns = ", ".join(f"{topics} AS topics" if c == "topics" else f"a.{c}" if c in stored else f"0 AS {c}"
                        for c in COLUMNS)
    where, params = [], []
    if since is not None:
        where.append("a.published_at >= ?")
        params.append(since.isoformat())
    if source is not None:
        where.append("a.source = ?")
        params.append(source)
    if query is not None:
        where.append("a.id IN (SELECT rowid FROM articles_fts WHERE articles_fts MATCH ?)")
        params.append(query)
    sql = f"SELECT {columns} FROM articles a"
    if where:
        sql += " WHERE " + " AND ".join(where)
    # (published_at, rowid) is an index: the rows stream in order without a sort of the whole table
    return sql + " ORDER BY a.published_at, a.id", params


def _batches(db: sqlite_utils.Database, **filters: Any) -> Iterator[list[tuple[Any, ...]]]:
    sql, params = select_sql(db, **filters)
    cursor = db.execute(sql, params)
    while rows := cursor.fetchmany(BATCH_ROWS):
        yield rows


def _write_jsonl(batches: Iterator[list[tuple[Any, ...]]], out: IO[str]) -> int:
    count = 0
    for rows in batches:
        lines = []
        for row in rows:
            item = dict(zip(COLUMNS, row, strict=True))
            for key in JSON_COLUMNS:
                item[key] = json.loads(item[key]) if item[key] else []
            for key in BOOL_COLUMNS:
                item[key] = None if item[key] is None else bool(item[key])
            lines.append(json.dumps(item, ensure_ascii=False) + "\n")
        out.write("".join(lines))
        count += len(rows)
    return count


def _write_csv(batches: Iterator[list[tuple[Any, ...]]], out: IO[str]) -> int:
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    count = 0
    for rows in batches:
        writer.writerows(rows)  # authors, tags and topics are stored as JSON text: they stay JSON strings
        count += len(rows)
    return count


def _write_parquet(batches: Iterator[list[tuple[Any, ...]]], out: IO[bytes]) -> int:
    import pyarrow as pa
    import pyarrow.parquet as pq

    timestamp = pa.timestamp("us", tz="UTC")
    types = {**dict.fromkeys(COLUMNS, pa.string()), **dict.fromkeys(INT_COLUMNS, pa.int64()),
             **dict.fromkeys(BOOL_COLUMNS, pa.bool_()), **dict.fromkeys(JSON_COLUMNS, pa.list_(pa.string())),
             **dict.fromkeys(TIME_COLUMNS, timestamp)}
    schema = pa.schema([(c, types[c]) for c in COLUMNS])
    count = 0
    with pq.ParquetWriter(pa.PythonFile(out, mode="w"), schema, compression="zstd") as writer:
        for rows in batches:
            arrays = []
            for index, name in enumerate(COLUMNS):
                values = [row[index] for row in rows]
                if name in JSON_COLUMNS:
                    arrays.append(pa.array([json.loads(v) if v else [] for v in values], types[name]))
                elif name in TIME_COLUMNS:  # ISO 8601 with offset, as the store writes it
                    arrays.append(pa.array(values, pa.string()).cast(timestamp))
                elif name in BOOL_COLUMNS:
                    arrays.append(pa.array([None if v is None else bool(v) for v in values], pa.bool_()))
                else:
                    arrays.append(pa.array(values, types[name]))
            writer.write_batch(pa.RecordBatch.from_arrays(arrays, schema=schema))
            count += len(rows)
    return count
