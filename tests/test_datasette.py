"""Real Datasette on a database the store wrote: tables browse, full-text search finds articles."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from datasette.app import Datasette

from ingest.archive import store
from ingest.models import Article


def get_json(path: Path, url: str) -> Any:
    async def go() -> Any:
        ds = Datasette([str(path)])  # immutable=False: read-only mode=ro on the live file, as users run it
        response = await ds.client.get(url)
        assert response.status_code == 200, response.text
        return response.json()
    return asyncio.run(go())


def test_datasette_reads_and_searches_the_live_database(tmp_path: Path) -> None:
    path = tmp_path / "news.db"
    db = store.open_db(path)
    with store.transaction(db):
        store.save_article(db, Article(
            url="https://www.ukrinform.net/rubric-polytics/1-a.html", source="ukrinform_en",
            title="Japan, Ukraine sign security agreement", text="Tokyo and Kyiv signed.\n\nSecond paragraph.",
            authors=["Ukrinform"], published_at=datetime(2024, 11, 17, 6, 23, tzinfo=UTC), language="en"))
        store.save_article(db, Article(
            url="https://unn.ua/news/2-b", source="unn_uk", title="Рада ухвалила закон",
            text="Верховна Рада ухвалила закон про енергетику.", published_at=datetime(2024, 11, 18, tzinfo=UTC),
            language="uk"))
    tables = {t["name"] for t in get_json(path, "/news.json")["tables"]}
    assert {"articles", "fetches", "frontier", "articles_fts"} <= tables
    rows = get_json(path, "/news/articles.json?_shape=array&_sort_desc=published_at")
    assert [r["source"] for r in rows] == ["unn_uk", "ukrinform_en"]
    hits = get_json(path, "/news/articles.json?_search=енергетику&_shape=array")
    assert [h["title"] for h in hits] == ["Рада ухвалила закон"]
    db.close()
