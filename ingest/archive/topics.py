"""Topics: keyword rules from sources.toml -> the `article_topics(article_id, topic)` table.

`match_topics(title, text, topics)` is pure: the names of the topics whose keywords occur in the
title or text (and, when a topic has `require`, one of those too), in the config's order. A
keyword matches case-insensitively where a word starts, so "японськ" finds "японського" and
"Japan" finds "Japanese" but "Ishiba" does not match inside "Nishibashi"; a keyword in a script
written without spaces (Chinese, Japanese, Thai...) matches anywhere, since there are no word
starts to look for. `save_topics` replaces one article's set of topics (rows only change when the
set does); `retag` re-applies the current rules to every stored article in short batches, so the
daemon can keep writing meanwhile.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable, Mapping
from functools import lru_cache

import sqlite_utils

from ingest.archive.db import transaction
from ingest.config import Topic

# Scripts with no spaces between words: Thai, Lao, Myanmar, Khmer, CJK radicals .. unified
# ideographs (kana, bopomofo, Hangul jamo, ext. A included), CJK compatibility, half-width kana, ext. B+.
_UNSPACED = ((0x0E00, 0x0EFF), (0x1000, 0x109F), (0x1780, 0x17FF), (0x2E80, 0x9FFF), (0xF900, 0xFAFF),
             (0xFF66, 0xFF9F), (0x20000, 0x3FFFF))
RETAG_BATCH = 500


def is_unspaced(keyword: str) -> bool:
    """True when a keyword starts in a script written without spaces (it then matches anywhere)."""
    code = ord(keyword[0])
    return any(low <= code <= high for low, high in _UNSPACED)


@lru_cache(maxsize=256)
def topic_pattern(keywords: tuple[str, ...]) -> re.Pattern[str]:
    """One case-insensitive regular expression for a topic's keywords."""
    words = sorted({unicodedata.normalize("NFC", k) for k in keywords}, key=len, reverse=True)
    anywhere = [re.escape(w) for w in words if is_unspaced(w)]
    at_start = [re.escape(w) for w in words if not is_unspaced(w)]
    parts = ([rf"(?<!\w)(?:{'|'.join(at_start)})"] if at_start else []) + anywhere
    return re.compile("|".join(parts), re.IGNORECASE)


def match_topics(title: str, text: str, topics: Mapping[str, Topic]) -> list[str]:
    """The names of the topics whose keywords (and one `require` word, if any) occur in the title or text."""
    haystack = f"{title}\n{text}"
    return [name for name, topic in topics.items()
            if topic_pattern(topic.keywords).search(haystack)
            and (not topic.require or topic_pattern(topic.require).search(haystack))]


def ensure_table(db: sqlite_utils.Database) -> None:
    """Create `article_topics` (primary key article_id + topic) and its topic index when missing."""
    if db["article_topics"].exists():
        return
    db.table("article_topics").create({"article_id": int, "topic": str}, pk=("article_id", "topic"),
                                      not_null={"article_id", "topic"},
                                      foreign_keys=[("article_id", "articles", "id")], if_not_exists=True)
    db.table("article_topics").create_index(["topic"], if_not_exists=True)


def save_topics(db: sqlite_utils.Database, article_id: int, names: Iterable[str]) -> None:
    """Make `names` the article's set of topics; idempotent, and writes nothing when the set is unchanged.

    Call it inside the transaction that stores the article (a nested call joins it). The table exists in
    every database store.open_db opened (views.create_views makes it).
    """
    wanted = sorted(set(names))
    current = [r[0] for r in db.execute("SELECT topic FROM article_topics WHERE article_id = ? ORDER BY topic",
                                        [article_id])]
    if current == wanted:
        return
    with transaction(db):
        db.execute("DELETE FROM article_topics WHERE article_id = ? AND topic NOT IN (SELECT value FROM json_each(?))",
                   [article_id, json.dumps(wanted)])
        db.conn.executemany("INSERT INTO article_topics (article_id, topic) VALUES (?, ?)"
                            " ON CONFLICT (article_id, topic) DO NOTHING", [(article_id, t) for t in wanted])


def retag(db: sqlite_utils.Database, topics: Mapping[str, Topic], *, batch: int = RETAG_BATCH) -> int:
    """Re-apply the current rules to every stored article; returns the number of articles read.

    Matching happens outside transactions and each batch is written in its own short one: a
    retag of the whole archive never holds the write lock long enough to stall the daemon.
    Topics that are no longer configured disappear from every article.
    """
    last_id, seen = 0, 0
    while True:
        rows = db.execute("SELECT id, title, text FROM articles WHERE id > ? ORDER BY id LIMIT ?",
                          [last_id, batch]).fetchall()
        if not rows:
            return seen
        tagged = [(article_id, match_topics(title or "", text or "", topics)) for article_id, title, text in rows]
        with transaction(db):
            for article_id, names in tagged:
                save_topics(db, article_id, names)
        last_id, seen = rows[-1][0], seen + len(rows)


def topic_counts(db: sqlite_utils.Database) -> dict[str, int]:
    """Articles per stored topic, most first (empty when nothing was ever tagged)."""
    if not db["article_topics"].exists():
        return {}
    return {topic: count for topic, count in db.execute(
        "SELECT topic, count(*) AS n FROM article_topics GROUP BY topic ORDER BY n DESC, topic")}
