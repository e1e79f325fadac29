"""`ingest export`: real files in JSON lines, CSV and Parquet, read back; filters; clear errors."""

from __future__ import annotations

import csv
import io
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from ingest.archive import export, store, topics
from ingest.cli import cli
from ingest.models import Article


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    """Four articles over three days and two sources; one tagged, one a copy, one flagged fallback."""
    path = tmp_path / "news.db"
    db = store.open_db(path)
    with store.transaction(db):
        first = store.save_article(db, Article(
            url="https://www.ukrinform.net/1", source="ukrinform_en", title="Japan, Ukraine sign agreement",
            text="Tokyo and Kyiv signed.\n\nSecond paragraph.", authors=["Ukrinform", "Олена Петренко"],
            tags=["Japan", "Україна"], published_at=datetime(2024, 11, 17, 6, 23, tzinfo=UTC), language="en",
            fallback=True))
        store.save_article(db, Article(
            url="https://unn.ua/news/2", source="unn_uk", title="Рада ухвалила закон, \"енергетика\"",
            text="Верховна Рада ухвалила закон про енергетику.", published_at=datetime(2024, 11, 18, tzinfo=UTC),
            language="uk"))
        store.save_article(db, Article(
            url="https://unn.ua/news/3", source="unn_uk", title="Copy",
            text="Tokyo and Kyiv signed.\n\nSecond paragraph.", published_at=datetime(2024, 11, 19, 12, tzinfo=UTC),
            language="en"))
        store.save_article(db, Article(url="https://unn.ua/news/4", source="unn_uk", title="Undated", text="No date."))
    topics.save_topics(db, first.article_id, ["japan-ukraine"])
    db.close()
    return path


def run(db_path: Path, *args: str) -> Any:
    return CliRunner().invoke(cli, ["--db", str(db_path), "export", *args])


def test_jsonl_file_has_arrays_booleans_and_oldest_first(db_path: Path, tmp_path: Path) -> None:
    out = tmp_path / "articles.jsonl"
    result = run(db_path, "--output", str(out))  # format from the suffix
    assert result.exit_code == 0, result.output
    assert "4 articles written" in result.stderr
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [r["title"] for r in rows] == [
        "Undated", "Japan, Ukraine sign agreement", "Рада ухвалила закон, \"енергетика\"", "Copy"]
    first = rows[1]
    assert list(first) == list(export.COLUMNS)
    assert first["authors"] == ["Ukrinform", "Олена Петренко"]
    assert first["tags"] == ["Japan", "Україна"]
    assert first["topics"] == ["japan-ukraine"]
    assert first["fallback"] is True
    assert first["paywalled"] is False
    assert first["published_at"] == "2024-11-17T06:23:00+00:00"
    assert rows[3]["duplicate_of"] == first["id"]
    assert rows[0]["published_at"] is None
    assert not list(tmp_path.glob("*.partial"))


def test_csv_via_the_csv_module_with_json_strings(db_path: Path, tmp_path: Path) -> None:
    out = tmp_path / "articles.csv"
    result = run(db_path, "--format", "csv", "--output", str(out))
    assert result.exit_code == 0, result.output
    with out.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 4
    first = rows[1]
    assert json.loads(first["authors"]) == ["Ukrinform", "Олена Петренко"]
    assert json.loads(first["topics"]) == ["japan-ukraine"]
    assert first["text"] == "Tokyo and Kyiv signed.\n\nSecond paragraph."  # newlines survive quoting
    assert rows[2]["title"] == "Рада ухвалила закон, \"енергетика\""
    assert first["fallback"] == "1"
    assert rows[0]["published_at"] == ""


def test_parquet_has_types_and_reads_back(db_path: Path, tmp_path: Path) -> None:
    out = tmp_path / "articles.parquet"
    result = run(db_path, "--output", str(out))
    assert result.exit_code == 0, result.output
    table = pq.read_table(out)
    assert table.column_names == list(export.COLUMNS)
    assert table.schema.field("published_at").type == pa.timestamp("us", tz="UTC")
    assert table.schema.field("authors").type == pa.list_(pa.string())
    assert table.schema.field("fallback").type == pa.bool_()
    rows = table.to_pylist()
    assert rows[1]["authors"] == ["Ukrinform", "Олена Петренко"]
    assert rows[1]["topics"] == ["japan-ukraine"]
    assert rows[1]["published_at"] == datetime(2024, 11, 17, 6, 23, tzinfo=UTC)
    assert rows[0]["published_at"] is None
    assert rows[3]["duplicate_of"] == rows[1]["id"]


def test_parquet_to_stdout_and_jsonl_by_default(db_path: Path) -> None:
    result = run(db_path, "--format", "parquet", "--source", "ukrinform_en")
    assert result.exit_code == 0, result.stderr
    assert pq.read_table(pa.BufferReader(result.stdout_bytes)).column("source").to_pylist() == ["ukrinform_en"]
    result = run(db_path, "--since", "2024-11-18")
    assert result.exit_code == 0
    assert [json.loads(line)["id"] for line in result.stdout.splitlines()] == [2, 3]


@pytest.mark.parametrize(("args", "ids"), [
    (["--source", "unn_uk"], [4, 2, 3]),
    (["--since", "2024-11-18", "--source", "unn_uk"], [2, 3]),
    (["--query", "Tokyo"], [1, 3]),
    (["--query", "tokyo NOT copy", "--since", "2024-11-01"], [1]),
    (["--query", "енергетик*"], [2]),
    (["--query", "title:copy"], [3]),
    (["--source", "nowhere"], []),
])
def test_filters(db_path: Path, args: list[str], ids: list[int]) -> None:
    result = run(db_path, "--format", "jsonl", *args)
    assert result.exit_code == 0, result.output
    assert [json.loads(line)["id"] for line in result.stdout.splitlines()] == ids


@pytest.mark.parametrize("query", ["Tokyo AND", "nosuchcolumn:Tokyo", '"unbalanced'])
def test_a_bad_fts_query_exits_2_and_writes_nothing(db_path: Path, tmp_path: Path, query: str) -> None:
    out = tmp_path / "out.jsonl"
    result = run(db_path, "--query", query, "--output", str(out))
    assert result.exit_code == 2
    assert "bad full-text query" in result.stderr
    assert not out.exists()
    assert not list(tmp_path.glob("*.partial"))


def test_missing_pyarrow_names_the_install_command(db_path: Path, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # import pyarrow now raises ImportError
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    out = tmp_path / "a.parquet"
    result = run(db_path, "--output", str(out))
    assert result.exit_code == 2
    assert "pip install 'ingest[parquet]'" in result.stderr
    assert not out.exists()


def test_missing_database_and_bad_options(tmp_path: Path) -> None:
    result = run(tmp_path / "none.db")
    assert result.exit_code == 2
    assert "no database at" in result.stderr
    assert not (tmp_path / "none.db").exists()
    assert run(tmp_path / "none.db", "--format", "xml").exit_code == 2
    assert run(tmp_path / "none.db", "--since", "yesterday").exit_code == 2


class Writes(io.BytesIO):
    """A binary sink that counts write calls."""

    calls = 0

    def write(self, data: Any) -> int:
        self.calls += 1
        return super().write(data)


def test_rows_stream_out_in_batches(db_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = store.open_db(db_path)
    with store.transaction(db):
        for n in range(25):
            store.save_article(db, Article(url=f"https://x.example/{n}", source="x", title=f"T{n}", text=f"body {n}",
                                           published_at=datetime(2024, 12, 1, 0, n, tzinfo=UTC)))
    monkeypatch.setattr(export, "BATCH_ROWS", 10)
    for fmt in ("jsonl", "csv"):
        out = Writes()
        assert export.export_articles(db, out, fmt, source="x") == 25
        assert out.calls >= 3  # one write per batch at least: nothing waits for the whole table
    out = Writes()
    assert export.export_articles(db, out, "parquet", source="x") == 25
    assert pq.read_metadata(pa.BufferReader(out.getvalue())).num_row_groups == 3
    db.close()
