"""Stream articles out of the database as JSON lines, CSV or Parquet, for pandas and other tools.

`export_articles(db, out, fmt, since=, source=, query=)` writes every matching article to the
binary stream `out`, oldest first, and returns how many it wrote. Rows come from the cursor in
batches and go out as they come: memory stays flat however large the archive. Filters: `since`
(published on or after that UTC day; undated articles are left out), `source` (a slug), `query`
(an FTS5 MATCH over title and text, e.g. 'Japan NEAR Ukraine'). `authors`, `tags` and `topics`
are JSON arrays in JSON lines and Parquet (list<string>), JSON strings in CSV; Parquet also gets
typed timestamps (UTC) and booleans. With `revisions`, each article also carries removed_at, removed_status and
`revisions`, its earlier versions oldest first (REVISION_FIELDS: a list of objects in JSON lines, the diff an
object; a JSON string in CSV; a list of structs in Parquet, the diff its JSON text); without it the columns are
COLUMNS alone, as before. Parquet needs pyarrow (the `parquet` extra). Bad input
(a malformed FTS query, a missing pyarrow) raises ExportError before anything is written.
storage.Reports.export_articles is this over SQLite; the file it writes to (storage.output_file) and the
format a suffix implies (storage.export_format) are the interface's.
"""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from collections.abc import Callable, Iterator
from datetime import date, datetime
from typing import IO, Any

import sqlite_utils

from ingest.storage import EXPORT_FORMATS, REVISION_FIELDS
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
REMOVAL_COLUMNS = ("removed_at", "removed_status")  # with revisions: whether the page was found gone
WITH_REVISIONS = (*COLUMNS, *REMOVAL_COLUMNS, "revisions")  # an export's columns with `revisions`
REVISION_TIMES = ("fetched_at", "replaced_at", "modified_at")
REVISION_FLAGS = ("headline_changed", "said_updated")
REVISION_INTS = ("paragraphs_added", "paragraphs_removed", "paragraphs_changed")
# article ids -> their revisions oldest first, each a tuple in REVISION_FIELDS order as SQLite stores it
Revisions = Callable[[list[int]], dict[int, list[tuple[Any, ...]]]]


def check(db: sqlite_utils.Database, fmt: str, query: str | None) -> None:
    """Raise ExportError for an unknown format, a missing pyarrow or a bad FTS query; writes nothing."""
    check_format(fmt)
    if query is not None:
        check_query(db, query)


def export_articles(db: sqlite_utils.Database, out: IO[bytes], fmt: str, *, since: date | None = None,
                    source: str | None = None, query: str | None = None, revisions: bool = False) -> int:
    """Write the matching articles to `out` in `fmt` (jsonl, csv or parquet), with `revisions` their removal and
    earlier versions too; returns the row count."""
    check(db, fmt, query)
    batches = _batches(db, since=since, source=source, query=query, revisions=revisions)
    return write_batches(batches, out, fmt, revisions=_revisions_of(db) if revisions else None)


def write_batches(batches: Iterator[list[tuple[Any, ...]]], out: IO[bytes], fmt: str, *,
                  revisions: Revisions | None = None) -> int:
    """Write batches of rows (tuples in COLUMNS order, as SQLite stores them: times ISO 8601 UTC text, authors,
    tags and topics JSON text, flags 0/1) to `out` in `fmt`; the row count. With `revisions` (what reads them), the
    rows also end in REMOVAL_COLUMNS, and each batch's revisions are read and written after them. Every store's
    export writes through this (archive/pgreports.py feeds it PostgreSQL's rows in that form)."""
    if revisions is not None:
        batches = _with_revisions(batches, revisions)
    columns = WITH_REVISIONS if revisions is not None else COLUMNS
    if fmt == "parquet":
        return _write_parquet(batches, out, columns)
    text = io.TextIOWrapper(out, encoding="utf-8", newline="" if fmt == "csv" else "\n", write_through=True)
    try:
        return _write_csv(batches, text, columns) if fmt == "csv" else _write_jsonl(batches, text, columns)
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
               query: str | None, revisions: bool = False) -> tuple[str, list[Any]]:
    """The SELECT for an export and its parameters (with `revisions`, REMOVAL_COLUMNS too: NULL in an archive from
    before schema 10); ordered by publication time, then id."""
    topics = ("(SELECT json_group_array(t.topic) FROM (SELECT topic FROM article_topics"
              " WHERE article_id = a.id ORDER BY topic) t)") if db["article_topics"].exists() else "'[]'"
    stored = db["articles"].columns_dict  # an archive from before schema 9 has no `truncated`: none was
    columns = ", ".join(f"{topics} AS topics" if c == "topics" else f"a.{c}" if c in stored else f"0 AS {c}"
                        for c in COLUMNS)
    if revisions:
        columns += "".join(f", a.{c}" if c in stored else f", NULL AS {c}" for c in REMOVAL_COLUMNS)
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


def _revisions_of(db: sqlite_utils.Database) -> Revisions:
    """What reads a batch's revisions from SQLite (columns an archive from before schema 10 lacks read as NULL)."""
    stored = db["revisions"].columns_dict if db["revisions"].exists() else {}
    columns = ", ".join(c if c in stored else f"NULL AS {c}" for c in REVISION_FIELDS)

    def read(ids: list[int]) -> dict[int, list[tuple[Any, ...]]]:
        found: dict[int, list[tuple[Any, ...]]] = {}
        if not stored or not ids:
            return found
        marks = ", ".join("?" * len(ids))
        for article_id, *values in db.execute(f"SELECT article_id, {columns} FROM revisions"
                                              f" WHERE article_id IN ({marks}) ORDER BY article_id, id", ids):
            found.setdefault(article_id, []).append(tuple(values))
        return found
    return read


def _with_revisions(batches: Iterator[list[tuple[Any, ...]]],
                    revisions: Revisions) -> Iterator[list[tuple[Any, ...]]]:
    """Each row with its revisions (a list of REVISION_FIELDS tuples) as its last value, read a batch at a time."""
    for rows in batches:
        found = revisions([row[0] for row in rows])
        yield [(*row, found.get(row[0], [])) for row in rows]


def revision_item(values: tuple[Any, ...]) -> dict[str, Any]:
    """A revision as JSON lines and CSV give it: flags as booleans, the diff as its object."""
    item = dict(zip(REVISION_FIELDS, values, strict=True))
    for key in REVISION_FLAGS:
        item[key] = None if item[key] is None else bool(item[key])
    item["diff"] = json.loads(item["diff"]) if item["diff"] else None
    return item


def _write_jsonl(batches: Iterator[list[tuple[Any, ...]]], out: IO[str], columns: tuple[str, ...]) -> int:
    count = 0
    for rows in batches:
        lines = []
        for row in rows:
            item = dict(zip(columns, row, strict=True))
            for key in JSON_COLUMNS:
                item[key] = json.loads(item[key]) if item[key] else []
            for key in BOOL_COLUMNS:
                item[key] = None if item[key] is None else bool(item[key])
            if "revisions" in item:
                item["revisions"] = [revision_item(values) for values in item["revisions"]]
            lines.append(json.dumps(item, ensure_ascii=False) + "\n")
        out.write("".join(lines))
        count += len(rows)
    return count


def _write_csv(batches: Iterator[list[tuple[Any, ...]]], out: IO[str], columns: tuple[str, ...]) -> int:
    writer = csv.writer(out)
    writer.writerow(columns)
    count = 0
    for rows in batches:
        if columns is WITH_REVISIONS:  # the revisions as one JSON string, as authors, tags and topics are
            rows = [(*row[:-1], json.dumps([revision_item(v) for v in row[-1]], ensure_ascii=False)) for row in rows]
        writer.writerows(rows)  # authors, tags and topics are stored as JSON text: they stay JSON strings
        count += len(rows)
    return count


def _revision_struct(values: tuple[Any, ...]) -> dict[str, Any]:
    """A revision as Parquet's struct takes it: times as datetimes, flags as booleans, the diff as JSON text."""
    item = dict(zip(REVISION_FIELDS, values, strict=True))
    for key in REVISION_TIMES:
        item[key] = datetime.fromisoformat(item[key]) if item[key] else None
    for key in REVISION_FLAGS:
        item[key] = None if item[key] is None else bool(item[key])
    return item


def _write_parquet(batches: Iterator[list[tuple[Any, ...]]], out: IO[bytes], columns: tuple[str, ...]) -> int:
    import pyarrow as pa
    import pyarrow.parquet as pq

    timestamp = pa.timestamp("us", tz="UTC")
    revision = pa.struct([(name, timestamp if name in REVISION_TIMES else pa.bool_() if name in REVISION_FLAGS
                           else pa.int64() if name in REVISION_INTS else pa.string()) for name in REVISION_FIELDS])
    types = {**dict.fromkeys(columns, pa.string()), **dict.fromkeys(INT_COLUMNS, pa.int64()),
             **dict.fromkeys(BOOL_COLUMNS, pa.bool_()), **dict.fromkeys(JSON_COLUMNS, pa.list_(pa.string())),
             **dict.fromkeys(TIME_COLUMNS, timestamp), "removed_at": timestamp, "removed_status": pa.int64(),
             "revisions": pa.list_(revision)}
    schema = pa.schema([(c, types[c]) for c in columns])
    count = 0
    with pq.ParquetWriter(pa.PythonFile(out, mode="w"), schema, compression="zstd") as writer:
        for rows in batches:
            arrays = []
            for index, name in enumerate(columns):
                values = [row[index] for row in rows]
                if name == "revisions":
                    arrays.append(pa.array([[_revision_struct(v) for v in revs] for revs in values], types[name]))
                elif name in JSON_COLUMNS:
                    arrays.append(pa.array([json.loads(v) if v else [] for v in values], types[name]))
                elif name in TIME_COLUMNS or name == "removed_at":  # ISO 8601 with offset, as the store writes it
                    arrays.append(pa.array(values, pa.string()).cast(timestamp))
                elif name in BOOL_COLUMNS:
                    arrays.append(pa.array([None if v is None else bool(v) for v in values], pa.bool_()))
                else:
                    arrays.append(pa.array(values, types[name]))
            writer.write_batch(pa.RecordBatch.from_arrays(arrays, schema=schema))
            count += len(rows)
    return count
