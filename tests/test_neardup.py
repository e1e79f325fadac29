"""Near duplicates on real texts and real SQLite files, across connections and processes."""

from __future__ import annotations

import json
import random
import re
import sqlite3
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from ingest.archive import neardup, store
from ingest.clean.adapters import get_adapter
from ingest.clean.parse import page_from_bytes, parse_page
from ingest.config import Source
from ingest.demo.outlet import PAGES
from ingest.models import Article
from ingest.run.parsing import parse_isolated, parse_pool

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "ingest" / "demo_site"
TEXTS = tomllib.loads((ROOT / "bench" / "data" / "dedup_texts.toml").read_text("utf-8"))

AGGREGATOR_HEAD = TEXTS["boilerplate_en_head"]["text"].strip()
AGGREGATOR_FOOT = TEXTS["boilerplate_en_foot"]["text"].strip()

# Our own Japanese wording of a wire item, and a different story of the same day.
JA_STORY = ("岩屋外務大臣は十六日、ウクライナの首都キーウを訪問し、ゼレンスキー大統領と会談した。"
            "両氏はロシアと北朝鮮の軍事協力について深刻な懸念を共有し、安全保障分野での協力を強化することで一致した。"
            "日本政府は冬を越すための発電機とガスタービンを提供する方針を伝えた。")
JA_OTHER = ("政府は五日、コメの価格高騰を受けて備蓄米の追加放出を決めた。"
            "スーパーでの平均価格は九週連続で上昇しており、農林水産省は流通の目詰まりを解消するよう業者に求めた。"
            "店頭に並ぶのは三月下旬以降になる見通しだ。")


def demo_text(slug: str, name: str) -> str:
    """A bundled outlet page, cleaned by its adapter as the pipeline would store it."""
    html = DEMO / slug / f"{name}.html"
    url = json.loads(html.with_suffix(".json").read_text("utf-8"))["url"]
    page = page_from_bytes(html.read_bytes(), url)
    source = Source(slug=slug, adapter=slug, domains=(re.sub(r"^www\.", "", url.split("/")[2]),))
    return parse_page(get_adapter(slug), source, page).text


def save(db: store.sqlite_utils.Database, url: str, text: str) -> store.Saved:
    with store.transaction(db):
        return store.save_article(db, Article(url=url, source=url.split("/")[2], title="T", text=text))


def band_index(db: store.sqlite_utils.Database) -> list[tuple[int, int, int]]:
    """Every (band, hash, article_id) row of the band index, over all its levels."""
    return sorted(row for table in neardup.LEVELS for row in db.execute(f"SELECT * FROM {table}").fetchall())


def synthetic(n: int) -> str:
    """Eighty words drawn at random from 2,000: two such texts share no shingle."""
    rng = random.Random(n)
    return " ".join(f"w{rng.randrange(2000)}" for _ in range(80)) + "."


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    store.open_db(tmp_path / "news.db").close()
    return tmp_path / "news.db"


@pytest.fixture
def db(db_path: Path) -> store.sqlite_utils.Database:
    database = store.open_db(db_path)
    yield database
    database.close()


def test_tokens_split_cjk_characters_and_keep_cyrillic_words() -> None:
    assert neardup.tokens("Рада УХВАЛИЛА закон, 287 голосів") == ["рада", "ухвалила", "закон", "287", "голосів"]
    assert neardup.tokens("岩屋外相がキーウ訪問") == list("岩屋外相がキーウ訪問")
    assert len(neardup.shingles("one two three")) == 1  # shorter than a shingle: the whole text is one
    assert neardup.shingles("One, two; THREE") == neardup.shingles("one two three")
    assert len(neardup.shingles("a b c d e f g")) == 3
    assert neardup.shingles("") == frozenset()


def test_overlap_is_the_share_of_the_shorter_text() -> None:
    story = neardup.shingles(demo_text("ukrinform", "net-2025-zelensky-ishiba"))
    wrapped = neardup.shingles(f"{AGGREGATOR_HEAD}\n\n{demo_text('ukrinform', 'net-2025-zelensky-ishiba')}\n\n"
                               f"{AGGREGATOR_FOOT}")
    assert neardup.overlap(story, wrapped) == 1.0
    assert neardup.jaccard(story, wrapped) < 0.9
    assert neardup.overlap(frozenset(), story) == 0.0


def test_band_hashes_are_stable_across_runs_and_versions() -> None:
    """Bands are persisted: a change of hashing (or of numpy) that moved them would blind every stored band."""
    fp = neardup.fingerprint("Japan and Ukraine signed an information security agreement earlier in the day that "
                             "will allow the two countries to exchange classified information on security issues.")
    assert len(fp.bands) == neardup.BANDS
    assert fp.bands[:3] == (274747919779636337, 5100574428433086, 531352845680147935)


def test_parse_worker_returns_the_fingerprint_the_store_would_compute() -> None:
    """The writer trusts the worker's fingerprint: it must be the one save_article would make itself."""
    raw = next(iter(sorted(PAGES.glob("ukrinform/*.html")))).read_bytes()
    page = page_from_bytes(raw, "https://www.ukrinform.ua/rubric-polytics/1-story.html")
    source = Source(slug="ukrinform_uk", adapter="ukrinform", domains=("ukrinform.ua",))
    with parse_pool(1) as pool:
        parsed = parse_isolated(pool, get_adapter("ukrinform"), source, page)
    assert parsed.article == parse_page(get_adapter("ukrinform"), source, page)
    assert parsed.fingerprint == neardup.fingerprint(parsed.article.text)
    assert len(parsed.fingerprint.bands) == neardup.BANDS


def test_short_texts_get_no_bands() -> None:
    assert neardup.fingerprint("Kyiv. Short brief of ten words, no more than that.").bands == ()


def test_copy_with_boilerplate_from_another_process_points_at_the_original(db_path: Path) -> None:
    """The original is stored by another process; this one finds it through the persisted bands."""
    story = demo_text("ukrinform", "net-2025-zelensky-ishiba")
    script = ("import sys; from ingest.archive import store; from ingest.models import Article\n"
              "db = store.open_db(sys.argv[1])\n"
              "with store.transaction(db):\n"
              "    s = store.save_article(db, Article(url=sys.argv[2], source='ukrinform_en', title='T',"
              " text=sys.stdin.read()))\n"
              "print(s.outcome, s.article_id)\n")
    url = "https://www.ukrinform.net/rubric-polytics/3998752-ukraine-japan.html"
    child = subprocess.run([sys.executable, "-c", script, str(db_path), url], input=story, capture_output=True,
                           text=True, check=True, cwd=ROOT)
    outcome, original_id = child.stdout.split()
    assert outcome == "new"
    db = store.open_db(db_path)
    try:
        copy = save(db, "https://aggregator.example/news/1", f"{AGGREGATOR_HEAD}\n\n{story}\n\n{AGGREGATOR_FOOT}")
    finally:
        db.close()
    assert (copy.outcome, copy.duplicate_of) == ("duplicate", int(original_id))
    conn = sqlite3.connect(db_path)
    rows = conn.execute("SELECT url, duplicate_of FROM articles ORDER BY id").fetchall()
    conn.close()
    assert rows == [(url, None), ("https://aggregator.example/news/1", int(original_id))]


def test_same_event_reported_by_two_outlets_is_not_a_duplicate(db: store.sqlite_utils.Database) -> None:
    japan_news = save(db, "https://japannews.yomiuri.co.jp/politics/20241117-223456/",
                      demo_text("japan_news", "20241117-iwaya-kyiv"))
    other = save(db, "https://news.example/iwaya-kyiv", TEXTS["event_iwaya_kyiv"]["text"])
    assert japan_news.outcome == other.outcome == "new"
    assert other.duplicate_of is None


def test_follow_up_reusing_background_paragraphs_is_not_a_duplicate(db: store.sqlite_utils.Database) -> None:
    save(db, "https://www.ukrinform.ua/rubric-polytics/4120187-rada.html",
         demo_text("ukrinform", "ua-2026-rada-energy"))
    follow_up = save(db, "https://www.ukrinform.ua/rubric-polytics/4121000-signed.html",
                     TEXTS["followup_rada_signed"]["text"])
    assert (follow_up.outcome, follow_up.duplicate_of) == ("new", None)


def test_template_report_with_other_numbers_is_not_a_duplicate(db: store.sqlite_utils.Database) -> None:
    save(db, "https://www.ukrinform.net/losses-1117", TEXTS["losses_en_1117"]["text"])
    assert save(db, "https://www.ukrinform.net/losses-1118", TEXTS["losses_en_1118"]["text"]).outcome == "new"


def test_truncated_and_edited_copies_are_duplicates(db: store.sqlite_utils.Database) -> None:
    story = demo_text("kyiv_independent", "zelensky-meets-kamikawa")
    original = save(db, "https://kyivindependent.com/zelensky-meets-kamikawa/", story)
    paragraphs = story.split("\n\n")
    teaser = "\n\n".join([*paragraphs[: len(paragraphs) // 2], "Read more on the Kyiv Independent."])
    edited = "\n\n".join([*paragraphs[:3], "Kamikawa also met Foreign Minister Dmytro Kuleba.", *paragraphs[5:]])
    for n, text in enumerate((teaser, edited)):
        copy = save(db, f"https://aggregator.example/{n}", text)
        assert (copy.outcome, copy.duplicate_of) == ("duplicate", original.article_id)


def test_a_copy_of_a_copy_points_at_the_original(db: store.sqlite_utils.Database) -> None:
    story = demo_text("unn", "en-2025-yermak-okano")
    original = save(db, "https://unn.ua/en/news/yermak-okano", story)
    first = save(db, "https://a.example/1", f"{story}\n\n{AGGREGATOR_FOOT}")
    second = save(db, "https://b.example/1", f"{AGGREGATOR_HEAD}\n\n{story}\n\n{AGGREGATOR_FOOT}")
    assert first.duplicate_of == second.duplicate_of == original.article_id
    assert {article_id for _, _, article_id in band_index(db)} == {original.article_id}


def test_japanese_copy_is_found_and_another_story_is_not(db: store.sqlite_utils.Database) -> None:
    original = save(db, "https://www.yomiuri.co.jp/world/1", JA_STORY)
    copy = save(db, "https://ja.example/1", JA_STORY + "\n\n" + TEXTS["boilerplate_ja_foot"]["text"].strip())
    other = save(db, "https://ja.example/2", JA_OTHER)
    assert (copy.outcome, copy.duplicate_of) == ("duplicate", original.article_id)
    assert other.outcome == "new"


def test_an_updated_original_is_found_by_its_new_text_only(db: store.sqlite_utils.Database) -> None:
    old, new = demo_text("pravda", "eng-2025-drone-strike"), demo_text("kyiv_independent", "drone-line-feature")
    original = save(db, "https://www.pravda.com.ua/eng/news/2025/11/20/7584012/", old)
    assert save(db, "https://www.pravda.com.ua/eng/news/2025/11/20/7584012/", new).outcome == "updated"
    copy_of_new = save(db, "https://a.example/new", f"{new}\n\n{AGGREGATOR_FOOT}")
    copy_of_old = save(db, "https://a.example/old", f"{old}\n\n{AGGREGATOR_FOOT}")
    assert copy_of_new.duplicate_of == original.article_id
    assert (copy_of_old.outcome, copy_of_old.duplicate_of) == ("new", None)


def test_schema_1_database_is_backfilled_on_open(db_path: Path) -> None:
    """An archive written before near-dup detection gets bands and aliases for what it holds."""
    story = demo_text("ukrinform", "net-2025-zelensky-ishiba")
    db = store.open_db(db_path)
    with store.transaction(db):
        db.table("articles").insert({"url": "https://www.ukrinform.net/a.html", "url_key": "ukrinform.net/a.html",
                                     "source": "ukrinform_en", "title": "T", "text": story,
                                     "fetched_url": "https://www.ukrinform.net/a.html?utm_source=rss&id=7"})
    db.close()
    conn = sqlite3.connect(db_path)
    conn.executescript("DROP TABLE article_bands; DROP TABLE url_aliases; DROP TABLE revisions;"
                       " PRAGMA user_version = 1;")
    conn.close()
    db = store.open_db(db_path)
    try:
        assert db.execute("PRAGMA user_version").fetchone()[0] == store.SCHEMA_VERSION
        assert db.execute("SELECT count(*) FROM article_bands").fetchone() == (neardup.BANDS,)
        assert store.is_known(db, "https://ukrinform.net/a.html?id=7")
        copy = save(db, "https://aggregator.example/1", f"{story}\n\n{AGGREGATOR_FOOT}")
        assert copy.outcome == "duplicate"
    finally:
        db.close()


def test_schema_2_bands_are_rebuilt_with_the_current_parameters(db_path: Path) -> None:
    """Schema 2 kept 32 bands of 3 rows: stale hashes that no lookup would match are replaced on open."""
    story = demo_text("ukrinform", "net-2025-zelensky-ishiba")
    db = store.open_db(db_path)
    original = save(db, "https://www.ukrinform.net/a.html", story)
    with store.transaction(db):
        db.execute("DELETE FROM article_bands")
        db.conn.executemany("INSERT INTO article_bands (band, hash, article_id) VALUES (?, ?, ?)",
                            [(band, 1000 + band, original.article_id) for band in range(32)])
    db.execute("PRAGMA user_version = 2")
    db.close()
    db = store.open_db(db_path)
    try:
        rows = db.execute("SELECT hash FROM article_bands ORDER BY band").fetchall()
        assert tuple(h for (h,) in rows) == neardup.fingerprint(story).bands
        copy = save(db, "https://aggregator.example/1", f"{story}\n\n{AGGREGATOR_FOOT}")
        assert copy.duplicate_of == original.article_id
    finally:
        db.close()


def test_schema_3_index_is_kept_and_gets_its_newer_levels(db_path: Path) -> None:
    """Schema 4 adds empty levels and the oldest level's filter: a million-article index is not rebuilt."""
    story = demo_text("ukrinform", "net-2025-zelensky-ishiba")
    db = store.open_db(db_path)
    original = save(db, "https://www.ukrinform.net/a.html", story)
    with store.transaction(db):  # schema 3 kept every band row in article_bands
        neardup.merge(db, neardup.LEVELS[0], "article_bands")
    db.execute("DROP TABLE article_bands_new")
    db.execute("DROP TABLE article_bands_recent")
    db.execute("DROP TABLE article_bands_filter")
    db.execute("PRAGMA user_version = 3")
    before = db.execute("SELECT * FROM article_bands ORDER BY 1, 2, 3").fetchall()
    db.close()
    db = store.open_db(db_path)
    try:
        assert db.execute("SELECT * FROM article_bands ORDER BY 1, 2, 3").fetchall() == before
        assert len(before) == neardup.BANDS
        copy = save(db, "https://aggregator.example/1", f"{story}\n\n{AGGREGATOR_FOOT}")
        assert copy.duplicate_of == original.article_id
        late = save(db, "https://www.ukrinform.net/b.html", synthetic(1))
        assert {row[2] for row in db.execute("SELECT * FROM article_bands_new")} == {late.article_id}
    finally:
        db.close()


def test_originals_are_found_in_every_level_of_the_band_index(db: store.sqlite_utils.Database,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """Merges every 4 ids, a band moved every 2nd merge: copies of originals at every level are found."""
    monkeypatch.setattr(neardup, "FLUSH_EVERY", 4)
    monkeypatch.setattr(neardup, "MOVE_EVERY", 2)
    originals = [save(db, f"https://news.example/{n}", synthetic(n)) for n in range(1, 27)]
    assert [o.article_id for o in originals] == list(range(1, 27))
    levels = {table: {(band, article_id) for band, _, article_id in db.execute(f"SELECT * FROM {table}")}
              for table in neardup.LEVELS}
    # Ids 4, 8, ..., 24 merged the newest level into the middle one; ids 8, 16, 24 moved bands 1, 2, 3 on.
    assert levels["article_bands_new"] == {(band, n) for band in range(neardup.BANDS) for n in (25, 26)}
    assert levels["article_bands"] == {(1, n) for n in range(1, 9)} | {(2, n) for n in range(1, 17)} | {
        (3, n) for n in range(1, 25)}
    assert len(band_index(db)) == sum(map(len, levels.values())) == 26 * neardup.BANDS
    assert band_index(db) == sorted((band, value, n) for n in range(1, 27)
                                    for band, value in enumerate(neardup.fingerprint(synthetic(n)).bands))
    for n in (1, 8, 20, 24, 25):
        copy = save(db, f"https://aggregator.example/{n}", f"{AGGREGATOR_HEAD}\n\n{synthetic(n)}")
        assert (copy.outcome, copy.duplicate_of) == ("duplicate", n)
    # A revision leaves no row of the old text in any level, wherever its rows had moved to.
    assert save(db, "https://news.example/1", synthetic(1000)).outcome == "updated"
    assert {row for row in band_index(db) if row[2] == 1} == {
        (band, value, 1) for band, value in enumerate(neardup.fingerprint(synthetic(1000)).bands)}
    assert save(db, "https://aggregator.example/old-1", f"{synthetic(1)}\n\n{AGGREGATOR_FOOT}").outcome == "new"
    assert save(db, "https://aggregator.example/new-1", f"{synthetic(1000)}\n\n{AGGREGATOR_FOOT}").duplicate_of == 1


def test_a_bucket_is_its_earliest_articles_over_all_levels(db: store.sqlite_utils.Database) -> None:
    """A re-indexed old article sits in the newest level but still comes first in its bucket."""
    rows = {"article_bands": range(10, 41), "article_bands_recent": range(50, 61), "article_bands_new": (5, 3)}
    with store.transaction(db):
        for table, ids in rows.items():
            db.conn.executemany(f"INSERT INTO {table} VALUES (0, 7, ?)", [(i,) for i in ids])
            db.conn.execute(f"INSERT INTO {table} VALUES (0, 8, 1)")
    assert neardup.bucket(db, 0, 7, limit=5) == [3, 5, 10, 11, 12]
    assert neardup.bucket(db, 0, 7) == [3, 5, *range(10, 40)]
    assert neardup.bucket(db, 0, 7, limit=100) == [3, 5, *range(10, 41), *range(50, 61)]
    assert neardup.bucket(db, 1, 7) == []


def test_a_merge_is_idempotent(db: store.sqlite_utils.Database) -> None:
    new, recent, _ = neardup.LEVELS
    with store.transaction(db):
        db.conn.executemany(f"INSERT INTO {new} VALUES (?, ?, ?)", [(0, 1, 1), (1, 2, 1), (0, 3, 2)])
        db.conn.execute(f"INSERT INTO {recent} VALUES (0, 1, 1)")  # already there: stays one row
        neardup.merge(db, new, recent)
        neardup.merge(db, new, recent)
    assert db.execute(f"SELECT * FROM {new}").fetchall() == []
    assert db.execute(f"SELECT * FROM {recent} ORDER BY 1, 2, 3").fetchall() == [(0, 1, 1), (0, 3, 2), (1, 2, 1)]
    with store.transaction(db):
        neardup.merge(db, recent, "article_bands", band=1)
    assert db.execute("SELECT * FROM article_bands").fetchall() == [(1, 2, 1)]
    assert db.execute(f"SELECT * FROM {recent} ORDER BY 1, 2, 3").fetchall() == [(0, 1, 1), (0, 3, 2)]


def test_the_filter_passes_every_hash_of_the_oldest_level_and_few_others(db: store.sqlite_utils.Database) -> None:
    """Every way into the oldest level sets its filter bits: reindex, a merge, a schema 3 upgrade."""
    with store.transaction(db):
        db.conn.executemany(
            "INSERT INTO articles (id, url, url_key, source, title, text) VALUES (?, ?, ?, 's', 'T', ?)",
            [(n, f"https://news.example/{n}", f"news.example/{n}", synthetic(n)) for n in range(1, 301)])
        assert neardup.reindex(db) == 300
    stored = [neardup.fingerprint(synthetic(n)).bands for n in range(1, 301)]
    others = [neardup.fingerprint(synthetic(n)).bands for n in range(1000, 1300)]
    assert all(all(neardup.oldest_may_hold(db, bands)) for bands in stored)
    assert sum(sum(neardup.oldest_may_hold(db, bands)) for bands in others) <= 5  # of 4,800: 2 bits of 4M set

    late = neardup.fingerprint(synthetic(2000)).bands
    with store.transaction(db):
        neardup.index(db, 301, late)
        assert not any(neardup.oldest_may_hold(db, late))
        neardup.merge(db, neardup.LEVELS[0], neardup.LEVELS[1])
        neardup.merge(db, neardup.LEVELS[1], neardup.LEVELS[2], band=3)
    assert neardup.oldest_may_hold(db, late) == [band == 3 for band in range(neardup.BANDS)]

    # Lookups read the oldest level only where the filter lets them: a row put there by hand is not found...
    ghost = neardup.fingerprint(synthetic(3000)).bands
    with store.transaction(db):
        db.conn.execute("INSERT INTO article_bands VALUES (0, ?, 7)", [ghost[0]])
    assert neardup.bucket(db, 0, ghost[0]) == [7]
    assert neardup.bucket(db, 0, ghost[0], oldest=neardup.oldest_may_hold(db, ghost)[0]) == []
    # ...until the filter is rebuilt from the rows, as the upgrade from schema 3 does.
    with store.transaction(db):
        neardup.rebuild_filter(db)
    assert neardup.oldest_may_hold(db, ghost)[0]
    assert all(all(neardup.oldest_may_hold(db, bands)) for bands in stored)
