"""Topics: keyword rules in sources.toml are validated, match at word starts, and tag stored articles."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlite_utils
from click.testing import CliRunner

from ingest.archive import store, topics, views
from ingest.clean.adapters import ADAPTERS
from ingest.cli import cli
from ingest.config import ConfigError, Topic, load_config
from ingest.models import Article

ROOT = Path(__file__).resolve().parent.parent
JAPAN = {"japan": Topic("japan", ("Japan", "Tokyo", "японськ", "Японі", "Ishiba", "日本", "石破"))}


def add(db: sqlite_utils.Database, n: int, title: str, text: str) -> int:
    with store.transaction(db):
        return store.save_article(db, Article(url=f"https://news.example/{n}", source="ukrinform_en", title=title,
                                              text=text, published_at=datetime(2024, 11, n, tzinfo=UTC))).article_id


@pytest.mark.parametrize(("title", "text", "expected"), [
    ("Kyiv and Tokyo sign a deal", "", ["japan"]),
    ("", "The Japanese prime minister arrived.", ["japan"]),  # a keyword is a word start: Japan -> Japanese
    ("Візит японського прем'єра", "", ["japan"]),  # японськ -> японського
    ("", "ДЕЛЕГАЦІЯ ЯПОНІЇ ПРИБУЛА", ["japan"]),  # case-insensitive in Cyrillic, Японі -> Японії
    ("", "Nishibashi said so.", []),  # Ishiba inside a word is not a match
    ("", "Dejapan is no word start", []),
    ("", "在日本举行", ["japan"]),  # Chinese and Japanese keywords match anywhere
    ("石破首相がキーウ訪問", "", ["japan"]),
    ("Weather in Kyiv", "Rain, then snow.", []),
])
def test_keywords_match_at_word_starts(title: str, text: str, expected: list[str]) -> None:
    assert topics.match_topics(title, text, JAPAN) == expected


def test_require_needs_one_more_word_and_order_follows_the_config() -> None:
    rules = {"war": Topic("war", ("frontline",)),
             "japan-ukraine": Topic("japan-ukraine", ("Japan",), require=("Ukrain", "Україн"))}
    assert topics.match_topics("Japan's economy grows", "", rules) == []
    assert topics.match_topics("Japan to aid Ukraine", "", rules) == ["japan-ukraine"]
    assert topics.match_topics("Japan", "На фронтлінії... frontline: Україна", rules) == ["war", "japan-ukraine"]


def test_shipped_config_has_the_japan_ukraine_topic() -> None:
    config = load_config(ROOT / "sources.toml", adapters=set(ADAPTERS))
    rules = {"japan-ukraine": config.topics["japan-ukraine"]}
    assert topics.match_topics("Японія виділить Україні допомогу", "", rules) == ["japan-ukraine"]
    assert topics.match_topics("Прем'єр Японії Ісіба зустрівся із Зеленським", "", rules) == ["japan-ukraine"]
    assert topics.match_topics("日本、ウクライナに支援", "", rules) == ["japan-ukraine"]
    assert topics.match_topics("Japan's exports rose in October", "Tokyo stocks closed higher.", rules) == []


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "sources.toml"
    path.write_text(text + '[sources.x]\nfeeds = ["https://x.com/rss"]\n', encoding="utf-8")
    return path


@pytest.mark.parametrize(("text", "key", "reason"), [
    ('[topics.Japan]\nkeywords = ["Japan"]\n', "topics.Japan", "lower-case letters"),
    ('[topics."a b"]\nkeywords = ["Japan"]\n', "topics.a b", "lower-case letters"),
    ('[topics.japan]\n', "topics.japan", "needs keywords"),
    ('[topics.japan]\nkeywords = []\n', "topics.japan.keywords", "non-empty list"),
    ('[topics.japan]\nkeywords = "Japan"\n', "topics.japan.keywords", "non-empty list"),
    ('[topics.japan]\nkeywords = ["Japan", " "]\n', "topics.japan.keywords", "non-empty strings"),
    ('[topics.japan]\nkeywords = ["Japan", 3]\n', "topics.japan.keywords", "non-empty strings"),
    ('[topics.japan]\nkeywords = ["Japan"]\nrequire = []\n', "topics.japan.require", "non-empty list"),
    ('[topics.japan]\nkeywords = ["Japan"]\nwords = ["x"]\n', "topics.japan.words", "unknown key"),
    ('topics = 3\n', "topics", "must be a table"),
    ('[topics]\njapan = ["Japan"]\n', "topics.japan", "must be a table"),
])
def test_bad_topics_name_file_key_and_reason(tmp_path: Path, text: str, key: str, reason: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert (info.value.file, info.value.key) == (str(path), key)
    assert reason in info.value.reason


def test_topics_load_with_names_and_stripped_keywords(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, '[topics.japan-ukraine_2]\nkeywords = [" Japan ", "日本"]\n'))
    assert config.topics == {"japan-ukraine_2": Topic("japan-ukraine_2", ("Japan", "日本"))}
    assert load_config(write(tmp_path, "")).topics == {}


def test_save_topics_replaces_the_set_and_writes_nothing_when_unchanged(tmp_path: Path) -> None:
    db = store.open_db(tmp_path / "news.db")
    article = add(db, 1, "Japan", "text")
    topics.save_topics(db, article, ["japan", "asia"])
    topics.save_topics(db, article, ["japan", "asia"])
    assert db.execute("SELECT topic FROM article_topics ORDER BY topic").fetchall() == [("asia",), ("japan",)]
    changes = db.conn.total_changes
    topics.save_topics(db, article, ["asia", "japan"])
    assert db.conn.total_changes == changes
    with store.transaction(db):  # inside the caller's transaction, as the pipeline calls it
        topics.save_topics(db, article, ["japan", "war"])
    assert db.execute("SELECT topic FROM article_topics ORDER BY topic").fetchall() == [("japan",), ("war",)]
    topics.save_topics(db, article, [])
    assert db.execute("SELECT count(*) FROM article_topics").fetchone() == (0,)
    with pytest.raises(sqlite3.IntegrityError):  # foreign key: only stored articles are tagged
        topics.save_topics(db, 999, ["japan"])
    db.close()


def test_retag_applies_changed_rules_to_every_article_in_batches(tmp_path: Path) -> None:
    db = store.open_db(tmp_path / "news.db")
    ids = [add(db, 1, "Tokyo visit", "a"), add(db, 2, "Weather", "rain"), add(db, 3, "Японія і Україна", "b"),
           add(db, 4, "Market", "Japanese stocks"), add(db, 5, "Sport", "Kyiv won")]
    assert topics.retag(db, JAPAN, batch=2) == 5
    assert topics.topic_counts(db) == {"japan": 3}
    tagged = [r[0] for r in db.execute("SELECT article_id FROM article_topics ORDER BY article_id")]
    assert tagged == [ids[0], ids[2], ids[3]]
    rules = {"kyiv": Topic("kyiv", ("Kyiv",)), "ukraine": Topic("ukraine", ("Україн",))}
    topics.retag(db, rules, batch=2)  # japan is no longer configured: it disappears
    assert topics.topic_counts(db) == {"kyiv": 1, "ukraine": 1}
    db.close()


def test_topics_command_lists_and_retags(tmp_path: Path) -> None:
    config = write(tmp_path, '[topics.japan]\nkeywords = ["Japan"]\n[topics.kyiv]\nkeywords = ["Kyiv"]\n')
    db_path = tmp_path / "news.db"
    db = store.open_db(db_path)
    add(db, 1, "Japan and Kyiv", "x")
    add(db, 2, "Japan", "y")
    topics.save_topics(db, 2, ["obsolete"])
    db.close()
    args = ["--config", str(config), "--db", str(db_path), "topics", "--json"]
    before = CliRunner().invoke(cli, args)
    assert before.exit_code == 0, before.output
    assert json.loads(before.output) == [
        {"topic": "japan", "keywords": 1, "articles": 0, "configured": True},
        {"topic": "kyiv", "keywords": 1, "articles": 0, "configured": True},
        {"topic": "obsolete", "keywords": 0, "articles": 1, "configured": False}]
    after = CliRunner().invoke(cli, [*args, "--retag"])
    assert after.exit_code == 0, after.output
    assert json.loads(after.stdout) == [
        {"topic": "japan", "keywords": 1, "articles": 2, "configured": True},
        {"topic": "kyiv", "keywords": 1, "articles": 1, "configured": True}]
    assert "retagged 2 articles" in after.stderr
    table = CliRunner().invoke(cli, ["--config", str(config), "--db", str(db_path), "topics"])
    assert table.exit_code == 0
    assert "japan" in table.output
    db = store.open_db(db_path)
    assert views.outdated_views(db) == []  # the command creates the views the topics facet needs
    db.close()
