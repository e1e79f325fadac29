"""storage.Reports in PostgreSQL: what `ingest sources`, `stats`, `health`, `topics`, `export` and `history` read.

PostgresReports is a mixin of archive/postgres.py's PostgresStore (it reads over `self.conn`, a psycopg 3
connection whose time zone is UTC). Every method answers as SqliteStore's does (archive/report.py, health.py,
topics.py, export.py): the same rows, keys, order and messages (tests/test_reports_contract.py stores the same
articles, runs and fetches in both and compares). Times come out as the ISO 8601 UTC strings SQLite stores;
orderings SQLite makes (NULLs first ascending, text by bytes) are spelled out (NULLS FIRST/LAST, COLLATE "C").
The export's rows go through export.write_batches, the writers SQLite's export uses.

The full-text query is what users type for SQLite: FTS5 syntax. `fts_condition` translates it into a condition
over the `articles.fts` tsvector (pgschema.py: title weighted A, text B):

- a word or "quoted phrase" (its words split as SQLite's unicode61 tokenizer splits them, lower-cased) is a
  tsquery phrase whose words all carry one weight, so a phrase never spans title and text; `word*` is a prefix
  (`:*`); `a + b` joins phrases;
- `title:` / `text:` / `{title text}:` / `-title:` restrict the weights;
- implicit AND, AND, OR and NOT (NOT binding tightest, then AND, then OR) become SQL AND, OR and AND NOT
  between `fts @@ tsquery` tests, each of which can use the GIN index;
- NEAR(a b, N) (N defaults to 10) is the two phrases in either order with at most N words between them (one
  `<d>` alternative per distance).
- Malformed queries raise ExportError with SQLite's own message ("fts5: syntax error near ...", "no such column:
  ...", "unterminated string", "expected integer, got ...").

What the translation does not do, and says so (ExportError): NEAR of more than two phrases, and `^` (first
word of a column). Known differences that are the tokenizers' (text side): PostgreSQL's parser keeps URLs, host
names, e-mail addresses and decimal numbers whole ("example.com" is one word, so `example` does not find it),
reads "covid-19" as "covid" and "-19", and does not fold diacritics as unicode61's remove_diacritics does
("cafe" does not find "café"); tsvector positions stop at 16383, so NEAR and phrases near the end of very long
texts can match more loosely.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import IO, Any, Final, LiteralString

import psycopg
from psycopg import sql

from ingest.archive import export, revdiff
from ingest.archive.db import iso_utc
from ingest.archive.health import STORED_OUTCOMES, evidence_line, verdicts
from ingest.archive.report import FAILING_STATUSES, _flag, format_lag
from ingest.config import Config
from ingest.storage import REVISION_FIELDS, ExportError, Health, History, Revision
from ingest.urls import article_ref

COLUMNS: Final = {"title": "A", "text": "B"}  # the FTS columns and their weights in articles.fts
NEAR_DEFAULT: Final = 10
_SUCCESS: Final = tuple(STORED_OUTCOMES)


class PostgresReports:
    """The read side of PostgresStore (storage.Reports): mixed in, it reads over the store's connection."""

    conn: psycopg.Connection[tuple[Any, ...]]

    def _row(self, query: LiteralString, params: Any = ()) -> tuple[Any, ...]:
        row = self.conn.execute(query, params).fetchone()
        assert row is not None
        return row

    # --- ingest sources ------------------------------------------------------------------------------------------

    def source_rows(self, config: Config) -> list[dict[str, Any]]:
        """See storage.Reports.source_rows (report.source_rows)."""
        out = []
        for source in config.sources.values():
            last = self.conn.execute("SELECT started_at, status, new FROM runs WHERE source = %s"
                                     " ORDER BY id DESC LIMIT 1", [source.slug]).fetchone()
            articles = self._row("SELECT count(*), count(duplicate_of) FROM articles WHERE source = %s",
                                 [source.slug])
            pending = self._row("SELECT count(*) FROM frontier WHERE source = %s AND state IN ('pending', 'failed')",
                                [source.slug])[0]
            out.append({
                "source": source.slug, "adapter": source.adapter, "enabled": source.enabled,
                "interval_min": round(source.interval / 60), "last_run": iso_utc(last[0]) if last else None,
                "last_status": last[1] if last else None, "last_new": last[2] if last else None,
                "articles": articles[0], "duplicates": articles[1], "pending": pending,
                "failing": _flag(self._failed_streak(source.slug)),
            })
        return out

    def _failed_streak(self, slug: str, limit: int = 100) -> int:
        """report.failed_streak: how many of the source's latest finished passes failed in a row."""
        statuses = [row[0] for row in self.conn.execute(
            "SELECT status FROM runs WHERE source = %s AND status NOT IN ('running', 'stopped')"
            " ORDER BY started_at DESC NULLS LAST, id DESC LIMIT %s", [slug, limit])]
        return next((i for i, status in enumerate(statuses) if status not in FAILING_STATUSES), len(statuses))

    # --- ingest stats --------------------------------------------------------------------------------------------

    def stats(self, config: Config, *, days: int = 7) -> dict[str, Any]:
        """See storage.Reports.stats (report.stats): to the second, as SQLite's stored times are."""
        now = datetime.now(UTC).replace(microsecond=0)
        window = now - timedelta(days=days)
        total = self._row("SELECT count(*), count(duplicate_of) FROM articles")
        per_source = []
        for slug in config.sources:
            last_ok = self._row("SELECT max(time) FROM fetches WHERE source = %s AND outcome = ANY(%s)",
                                [slug, list(_SUCCESS)])[0]
            newest = self._row("SELECT max(published_at) FROM articles WHERE source = %s", [slug])[0]
            latest = self._row("SELECT max(published_at) FROM articles WHERE source = %s AND published_at <= %s",
                               [slug, now])[0]
            lag = int((now - latest).total_seconds()) if latest else None
            # ties: SQLite's sorter returns the groups (reason ascending, NULL first) last to first
            errors = dict(self.conn.execute(
                "SELECT reason, count(*) AS n FROM fetches WHERE source = %s AND outcome IN ('failed', 'rejected')"
                ' AND time >= %s GROUP BY reason ORDER BY n DESC, reason COLLATE "C" DESC NULLS LAST',
                [slug, window]).fetchall())
            drift = self._row("SELECT count(*), max(fetched_at) FROM articles WHERE source = %s AND fallback = 1"
                              " AND fetched_at >= %s", [slug, window])
            per_source.append({"source": slug, "last_success": iso_utc(last_ok), "newest_article": iso_utc(newest),
                               "lag": format_lag(lag), "lag_seconds": lag, "errors": errors,
                               "layout_fallbacks": drift[0], "last_fallback": iso_utc(drift[1])})
        per_day = [{"day": day, "source": source, "articles": n} for day, source, n in self.conn.execute(
            "SELECT to_char(published_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day, source, count(*)"
            " FROM articles WHERE published_at >= %s"
            ' GROUP BY day, source ORDER BY day DESC, source COLLATE "C" NULLS FIRST', [window])]
        outcomes = dict(self.conn.execute(
            'SELECT outcome, count(*) FROM fetches WHERE time >= %s GROUP BY outcome'
            ' ORDER BY outcome COLLATE "C" NULLS FIRST', [window]).fetchall())
        return {"articles": total[0], "duplicates": total[1], "days": days, "outcomes": outcomes,
                "sources": per_source, "per_day": per_day}

    # --- ingest health -------------------------------------------------------------------------------------------

    def health(self, config: Config, *, max_lag: float | None = None) -> list[Health]:
        """See storage.Reports.health (health.check's verdicts and lines)."""
        return verdicts(config, max_lag=max_lag, now=datetime.now(UTC), last_success=self._last_success,
                        evidence=self._evidence)

    def _last_success(self, slug: str) -> str | None:
        run = self._row("SELECT max(finished_at) FROM runs WHERE source = %s AND status = 'ok'", [slug])[0]
        fetch = self._row("SELECT max(time) FROM fetches WHERE source = %s AND outcome = ANY(%s)",
                          [slug, list(_SUCCESS)])[0]
        return max((t for t in (iso_utc(run), iso_utc(fetch)) if t), default=None)

    def _evidence(self, slug: str) -> str:
        last = self.conn.execute("SELECT status, started_at FROM runs WHERE source = %s"
                                 " ORDER BY started_at DESC NULLS LAST, id DESC LIMIT 1", [slug]).fetchone()
        streak = self._failed_streak(slug) if last is not None else 0
        # SQLite sorts NULL (a failure without a reason) before false and true: NULLS FIRST says so here
        failure = self.conn.execute(
            "SELECT reason, detail, time FROM fetches WHERE source = %s AND outcome = 'failed'"
            " ORDER BY reason = 'host-backoff' NULLS FIRST, time DESC NULLS LAST, id DESC LIMIT 1", [slug]).fetchone()
        return evidence_line(None if last is None else (last[0], iso_utc(last[1])), streak,
                             None if failure is None else (failure[0], failure[1], iso_utc(failure[2])))

    # --- ingest topics -------------------------------------------------------------------------------------------

    def topic_counts(self) -> dict[str, int]:
        """See storage.Reports.topic_counts (topics.topic_counts)."""
        if not self._has_topics():
            return {}
        return dict(self.conn.execute(
            'SELECT topic, count(*) AS n FROM article_topics GROUP BY topic ORDER BY n DESC, topic COLLATE "C"'
        ).fetchall())

    def _has_topics(self) -> bool:
        return self._row("SELECT to_regclass('article_topics') IS NOT NULL")[0] is True

    # --- ingest export -------------------------------------------------------------------------------------------

    def check_export(self, fmt: str, query: str | None) -> None:
        """See storage.Reports.check_export (export.check; the query is translated, fts_condition)."""
        export.check_format(fmt)
        if query is not None:
            fts_condition(query)

    def export_articles(self, out: IO[bytes], fmt: str, *, since: date | None = None, source: str | None = None,
                        query: str | None = None, revisions: bool = False) -> int:
        """See storage.Reports.export_articles: export.write_batches over rows streamed by a server-side cursor,
        in one snapshot (each batch's revisions read in it too)."""
        self.check_export(fmt, query)
        topics = (sql.SQL("ARRAY(SELECT topic FROM article_topics WHERE article_id = a.id"
                          ' ORDER BY topic COLLATE "C")') if self._has_topics() else sql.SQL("ARRAY[]::text[]"))
        names = export.COLUMNS + (export.REMOVAL_COLUMNS if revisions else ())
        columns = sql.SQL(", ").join(topics if c == "topics" else sql.SQL("a.{}").format(sql.Identifier(c))
                                     for c in names)
        where: list[sql.Composable] = []
        params: list[Any] = []
        if since is not None:
            where.append(sql.SQL("a.published_at >= %s"))
            params.append(datetime.combine(since, time(), UTC))
        if source is not None:
            where.append(sql.SQL("a.source = %s"))
            params.append(source)
        if query is not None:
            condition, values = fts_condition(query)
            where.append(condition)
            params.extend(values)
        statement = sql.SQL("SELECT {} FROM articles a").format(columns)
        if where:
            statement += sql.SQL(" WHERE ") + sql.SQL(" AND ").join(where)
        statement += sql.SQL(" ORDER BY a.published_at NULLS FIRST, a.id")  # SQLite's order: undated first
        with self.conn.transaction(), self.conn.cursor(name="ingest_export") as cursor:
            cursor.execute(statement, params)
            return export.write_batches(_batches(cursor), out, fmt, revisions=self._revisions if revisions else None)

    def _revisions(self, ids: list[int]) -> dict[int, list[tuple[Any, ...]]]:
        """export.Revisions: the articles' revisions oldest first, as SQLite's rows (times ISO 8601 UTC text)."""
        found: dict[int, list[tuple[Any, ...]]] = {}
        for article_id, *values in self.conn.execute(
                sql.SQL("SELECT article_id, {} FROM revisions WHERE article_id = ANY(%s) ORDER BY article_id, id")
                .format(sql.SQL(", ").join(map(sql.Identifier, REVISION_FIELDS))), [ids]):
            found.setdefault(article_id, []).append(_sqlite_values(values))
        return found

    # --- ingest history ------------------------------------------------------------------------------------------

    def article_history(self, ref: str) -> History | None:
        """See storage.Reports.article_history (report.article_history)."""
        found = article_ref(ref)
        if found is None:
            return None
        select: LiteralString = ("SELECT a.id, a.url, a.source, a.title, a.text, a.published_at, a.modified_at,"
                                 " a.fetched_at, a.removed_at, a.removed_status FROM articles a")
        article = (self.conn.execute(select + " WHERE a.id = %s", [found]) if isinstance(found, int) else
                   self.conn.execute(select + " WHERE a.url_key = %s OR a.id = (SELECT article_id FROM url_aliases"
                                     " WHERE url_key = %s) LIMIT 1", [found, found])).fetchone()
        if article is None:
            return None
        earlier = self._revisions([article[0]]).get(article[0], [])
        names = ("article_id", "url", "source", "title", "text", "published_at", "modified_at", "fetched_at",
                 "removed_at", "removed_status")
        return revdiff.with_diffs(History(**dict(zip(names, _sqlite_values(article), strict=True)),
                                          revisions=tuple(Revision(*values) for values in earlier)))


_TIMESTAMP: Final = datetime  # psycopg's type for timestamptz (tests freeze this module's `datetime.now`)


def _sqlite_values(values: Any) -> tuple[Any, ...]:
    """A row's values as SQLite keeps them: times as ISO 8601 UTC text."""
    return tuple(iso_utc(value) if isinstance(value, _TIMESTAMP) else value for value in values)


_TIMES: Final = frozenset(export.COLUMNS.index(c) for c in export.TIME_COLUMNS) | {len(export.COLUMNS)}  # removed_at
_TOPICS: Final = export.COLUMNS.index("topics")


def _batches(cursor: psycopg.Cursor[tuple[Any, ...]]) -> Iterator[list[tuple[Any, ...]]]:
    """The cursor's rows as SQLite's export reads them: times as ISO 8601 UTC text, topics as its JSON text."""
    while batch := cursor.fetchmany(export.BATCH_ROWS):
        yield [tuple(iso_utc(value) if i in _TIMES
                     else json.dumps(value, ensure_ascii=False, separators=(",", ":")) if i == _TOPICS
                     else value for i, value in enumerate(row)) for row in batch]


# --- FTS5 query -> tsquery conditions ----------------------------------------------------------------------------

_TOKEN = re.compile(r"[^\W_]+")  # unicode61: runs of letters and digits


@dataclass(frozen=True)
class _Lex:
    kind: str  # word, string, ( ) , + * : { } - ^ and end
    text: str


@dataclass(frozen=True)
class _Phrase:
    words: tuple[tuple[str, bool], ...]  # (token, prefix)


def _bareword(char: str) -> bool:
    return char >= "\x80" or (char.isascii() and (char.isalnum() or char in "_\x1a"))


def _lex(query: str) -> list[_Lex]:
    out, i = [], 0
    while i < len(query):
        char = query[i]
        if char.isspace():
            i += 1
        elif char == '"':
            text, i = [], i + 1
            while True:
                end = query.find('"', i)
                if end < 0:
                    raise _Bad("unterminated string")
                text.append(query[i:end])
                if query[end + 1:end + 2] == '"':
                    text.append('"')
                    i = end + 2
                    continue
                i = end + 1
                break
            out.append(_Lex("string", "".join(text)))
        elif _bareword(char):
            start = i
            while i < len(query) and _bareword(query[i]):
                i += 1
            out.append(_Lex("word", query[start:i]))
        elif char in "(),+*:{}-^":
            out.append(_Lex(char, char))
            i += 1
        else:
            raise _Bad(f'fts5: syntax error near "{char}"')
    out.append(_Lex("end", ""))
    return out


class _Bad(Exception):
    """SQLite's message for a malformed query."""


class _Parser:
    """FTS5's query grammar (https://www.sqlite.org/fts5.html#full_text_query_syntax) -> SQL over articles.fts."""

    def __init__(self, query: str) -> None:
        self.lexes = _lex(query)
        self.at = 0
        self.params: list[str] = []

    @property
    def next(self) -> _Lex:
        return self.lexes[self.at]

    def take(self, kind: str) -> _Lex:
        lex = self.next
        if lex.kind != kind:
            raise _Bad(f'fts5: syntax error near "{lex.text}"')
        self.at += 1
        return lex

    def keyword(self, word: str) -> bool:
        return self.next.kind == "word" and self.next.text == word

    def parse(self) -> sql.Composable:
        condition = self.or_(frozenset(COLUMNS.values()))
        self.take("end")
        return condition

    def or_(self, weights: frozenset[str]) -> sql.Composable:
        parts = [self.and_(weights)]
        while self.keyword("OR"):
            self.at += 1
            parts.append(self.and_(weights))
        return parts[0] if len(parts) == 1 else sql.SQL("({})").format(sql.SQL(" OR ").join(parts))

    def and_(self, weights: frozenset[str]) -> sql.Composable:
        parts = [self.not_(weights)]
        while self.keyword("AND"):
            self.at += 1
            parts.append(self.not_(weights))
        return _all(parts)

    def not_(self, weights: frozenset[str]) -> sql.Composable:
        left = self.unit(weights)
        while self.keyword("NOT"):
            self.at += 1
            left = sql.SQL("({} AND NOT {})").format(left, self.unit(weights))
        return left

    def unit(self, weights: frozenset[str]) -> sql.Composable:
        """( query ), colspec : ( query ), or a list of phrases and NEAR groups (implicit AND, which binds
        tighter than NOT: `a NOT b c` is a NOT (b c))."""
        if self.next.kind == "(":
            return self.group(weights)
        first = weights
        if self.starts_colspec():
            first = self.colspec(weights)
            if self.next.kind == "(":
                return self.group(first)
        parts = [self.nearset(first)]
        while self.starts_cnearset():
            parts.append(self.nearset(self.colspec(weights) if self.starts_colspec() else weights))
        return _all(parts)

    def group(self, weights: frozenset[str]) -> sql.Composable:
        self.take("(")
        inner = self.or_(weights)
        self.take(")")
        return inner

    def starts_colspec(self) -> bool:
        lex = self.next
        return lex.kind in ("-", "{") or (lex.kind == "word" and self.lexes[self.at + 1].kind == ":")

    def starts_cnearset(self) -> bool:
        lex = self.next
        return (lex.kind == "word" and lex.text not in ("AND", "OR", "NOT")) or lex.kind in ("string", "^", "-", "{")

    def nearset(self, weights: frozenset[str]) -> sql.Composable:
        lex = self.next
        if lex.kind == "^":
            raise _Bad("^ (the first word of a column) is not supported by the PostgreSQL store")
        if lex.kind == "word" and self.lexes[self.at + 1].kind == "(":
            if lex.text != "NEAR":
                raise _Bad(f'fts5: syntax error near "{lex.text}"')
            return self.near(weights)
        if lex.kind == "string" or (lex.kind == "word" and lex.text not in ("AND", "OR", "NOT")):
            return self.match(_phrase_query(self.phrase(), weights))
        raise _Bad(f'fts5: syntax error near "{lex.text}"')

    def colspec(self, weights: frozenset[str]) -> frozenset[str]:
        exclude = self.next.kind == "-"
        if exclude:
            self.at += 1
        names = []
        if self.next.kind == "{":
            self.at += 1
            while self.next.kind == "word":
                names.append(self.take("word").text)
            self.take("}")
        else:
            names.append(self.take("word").text)
        self.take(":")
        chosen = set()
        for name in names:
            if name.lower() not in COLUMNS:
                raise _Bad(f"no such column: {name}")
            chosen.add(COLUMNS[name.lower()])
        return weights - chosen if exclude else weights & chosen

    def phrase(self) -> _Phrase:
        words: list[tuple[str, bool]] = []
        while True:
            lex = self.next
            if lex.kind not in ("word", "string"):
                raise _Bad(f'fts5: syntax error near "{lex.text}"')
            self.at += 1
            tokens = _TOKEN.findall(lex.text.lower())
            prefix = self.next.kind == "*"
            if prefix:
                self.at += 1
            words.extend((token, prefix and i == len(tokens) - 1) for i, token in enumerate(tokens))
            if self.next.kind != "+":
                return _Phrase(tuple(words))
            self.at += 1

    def near(self, weights: frozenset[str]) -> sql.Composable:
        self.take("word")
        self.take("(")
        phrases = [self.phrase()]
        while self.next.kind in ("word", "string"):
            phrases.append(self.phrase())
        distance = NEAR_DEFAULT
        if self.next.kind == ",":
            self.at += 1
            lex = self.next
            if lex.kind == ")":
                raise _Bad('fts5: syntax error near ")"')
            if not (lex.kind == "word" and lex.text.isdigit()):
                raise _Bad(f'expected integer, got "{lex.text}"')
            distance = int(lex.text)
            self.at += 1
        self.take(")")
        if len(phrases) == 1:
            return self.match(_phrase_query(phrases[0], weights))
        if len(phrases) > 2:
            raise _Bad("NEAR of more than two phrases is not supported by the PostgreSQL store")
        first, second = phrases
        if not first.words or not second.words or not weights:
            return sql.SQL("FALSE")
        alternatives = [f"({_words(a, w)}) <{gap + 1}> ({_words(b, w)})"
                        for w in sorted(weights) for gap in range(distance + 1)
                        for a, b in ((first, second), (second, first))]
        return self.match(" | ".join(alternatives))

    def match(self, tsquery: str | None) -> sql.Composable:
        if tsquery is None:
            return sql.SQL("FALSE")
        self.params.append(tsquery)
        return sql.SQL("a.fts @@ %s::tsquery")


def _all(parts: list[sql.Composable]) -> sql.Composable:
    return parts[0] if len(parts) == 1 else sql.SQL("({})").format(sql.SQL(" AND ").join(parts))


def _lexeme(word: str, prefix: bool, weight: str) -> str:
    quoted = "'" + word.replace("\\", "\\\\").replace("'", "''") + "'"
    return f"{quoted}:{'*' if prefix else ''}{weight}"


def _words(phrase: _Phrase, weight: str) -> str:
    return " <-> ".join(_lexeme(word, prefix, weight) for word, prefix in phrase.words)


def _phrase_query(phrase: _Phrase, weights: frozenset[str]) -> str | None:
    """A tsquery for the phrase in any of the columns `weights` stand for (each word of one weight: one column);
    None when it cannot match (no words, no column)."""
    if not phrase.words or not weights:
        return None
    if len(phrase.words) == 1:
        word, prefix = phrase.words[0]
        return _lexeme(word, prefix, "".join(sorted(weights)))
    return " | ".join(f"({_words(phrase, weight)})" for weight in sorted(weights))


def fts_condition(query: str) -> tuple[sql.Composable, list[str]]:
    """An FTS5 query as a condition over `a.fts` (articles a) and its parameters; ExportError, with SQLite's
    message, when it is malformed or uses what the translation lacks (the module's docstring)."""
    try:
        parser = _Parser(query)
        return parser.parse(), parser.params
    except _Bad as exc:
        raise ExportError(f"bad full-text query {query!r}: {exc}") from None
