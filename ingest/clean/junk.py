"""Junk-removal stage: extracted article text -> the same text without boilerplate paragraphs.

Contract: `clean_text(text, language)` drops whole paragraphs (or lines) that are junk by the rules in
`ingest/data/junk.toml` ("Read also: ...", credits, bylines as text, datelines, subscribe boxes, and the
related/popular/news-feed lists that follow a sidebar heading) and keeps every story paragraph; the
result has paragraphs separated by one blank line. Rules are data, per language plus [common], loaded
lazily on first use.
"""

from __future__ import annotations

import functools
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Final

RULES_PATH = Path(__file__).parent.parent / "data" / "junk.toml"
LANGUAGES = ("en", "uk", "ru", "ja")

_BULLETS = "-–—•·▪►*"
_SPACES = re.compile(r"\s+")
_SHOWN_CHARS: Final = 80  # of a junk line, as the reason it was dropped: enough to recognise it in a log
MAX_PREFIX_CHARS: Final = 300  # junk.toml's default max_prefix_chars: a junk prefix is a line's start, not its body
_EXTRA_WORDS: Final = 4  # words a junk line may have beyond its longest phrase ("Read more: ...", a date, a name)


@dataclass(frozen=True)
class Rules:
    """The compiled rules for one language (its own table plus [common])."""

    exact: frozenset[str]
    prefix: tuple[str, ...]
    regex: tuple[re.Pattern[str], ...]
    cut: tuple[str, ...]
    strip: tuple[re.Pattern[str], ...]
    phrases: tuple[str, ...]  # the literal phrases, as written, for benchmarks and tests
    max_prefix_chars: int
    max_words: int  # longest exact phrase or heading, plus a leading bullet, trailing words and punctuation


def clean_text(text: str, language: str | None) -> str:
    """Drop junk paragraphs and lines from `text`; keep the story, blank-line separated."""
    rules = _rules(_table_key(language))
    lines = [_strip(line, rules) for line in _lines(text)]
    end = _cut_point(lines, rules)
    kept = [line for line in lines[:end] if line and not _is_junk(line, rules)]
    return "\n\n".join(kept)


def junk_phrases(language: str | None = None) -> list[str]:
    """Literal junk phrases (exact, prefix and sidebar headings) for `language`, or for all languages."""
    return list(_rules(_table_key(language)).phrases)


def find_junk(text: str, language: str | None = None) -> list[str]:
    """Junk still in `text`: the phrase a paragraph matched (or the paragraph, for patterns), in order."""
    rules = _rules(_table_key(language))
    found: list[str] = []
    for line in _lines(text):
        label = _junk_label(line, rules)
        if label is not None and label not in found:
            found.append(label)
    return found


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.replace("\r\n", "\n").split("\n") if line.strip()]


def _key(line: str) -> str:
    """Comparison form: casefolded, plain quotes, single spaces, no leading bullet."""
    line = _SPACES.sub(" ", line.replace("’", "'").replace("‘", "'").replace("`", "'")).strip().casefold()
    stripped = line.lstrip(_BULLETS).strip()
    # "* indicates required" is itself a phrase: only drop a bullet that is followed by text.
    return stripped if stripped and not line.startswith("* indicates") else line


def _exact_key(line: str) -> str:
    return _key(line).rstrip(":.!").strip()


def _strip(line: str, rules: Rules) -> str:
    for pattern in rules.strip:
        match = pattern.match(line)
        if match:
            line = line[match.end():]
    return line.strip()


def _cut_marker(line: str, rules: Rules) -> bool:
    return _short(line, rules) and _is_cut(_exact_key(line), rules)


def _is_cut(key: str, rules: Rules) -> bool:
    words = len(key.split())
    # '"Politics" POPULAR ARTICLE' is a heading; "He scrolled his news feed" is a sentence.
    return any(key == c or (key.endswith(c) and words <= len(c.split()) + 2) for c in rules.cut)


def _short(line: str, rules: Rules) -> bool:
    """Few enough words to be an exact phrase or a sidebar heading: story paragraphs skip those checks."""
    return len(line.split()) <= rules.max_words


def _cut_point(lines: list[str], rules: Rules) -> int:
    """Index where a trailing sidebar starts, or len(lines)."""
    counts = [len(line.split()) for line in lines]
    total = sum(counts)
    before = 0
    for i, line in enumerate(lines):
        # A sidebar never outweighs the story: cut only when most of the words came before the heading.
        if _cut_marker(line, rules) and before >= total - before - counts[i]:
            return i
        before += counts[i]
    return len(lines)


def _is_junk(line: str, rules: Rules) -> bool:
    return _junk_label(line, rules) is not None


def _junk_label(line: str, rules: Rules) -> str | None:
    if _short(line, rules):
        key = _exact_key(line)
        if key in rules.exact or _is_cut(key, rules):
            return key
    if len(line) <= rules.max_prefix_chars:
        lowered = _key(line)
        for prefix in rules.prefix:
            if lowered.startswith(prefix):
                return prefix
    for pattern in rules.regex:
        if pattern.fullmatch(line.strip()):
            return line.strip()[:_SHOWN_CHARS]  # the junk itself reads better than its pattern
    return None


def _table_key(language: str | None) -> str:
    lang = (language or "").split("-")[0].split("_")[0].lower()
    return lang if lang in LANGUAGES else "*"


@functools.cache
def _load() -> dict[str, object]:
    with RULES_PATH.open("rb") as fh:
        return tomllib.load(fh)


@functools.cache
def _rules(table_key: str) -> Rules:
    data = _load()
    names = ["common", *(LANGUAGES if table_key == "*" else (table_key,))]
    exact: set[str] = set()
    prefix: list[str] = []
    regex: list[re.Pattern[str]] = []
    cut: list[str] = []
    strip: list[re.Pattern[str]] = []
    phrases: list[str] = []
    for name in names:
        table = data.get(name, {})
        if not isinstance(table, dict):
            raise ValueError(f"{RULES_PATH}: [{name}] must be a table")
        for phrase in table.get("exact", []):
            exact.add(_exact_key(phrase))
            phrases.append(phrase)
        for phrase in table.get("prefix", []):
            prefix.append(_key(phrase))
            phrases.append(phrase)
        for phrase in table.get("cut", []):
            cut.append(_exact_key(phrase))
            phrases.append(phrase)
        regex += [re.compile(p, re.IGNORECASE) for p in table.get("regex", [])]
        strip += [re.compile(p, re.IGNORECASE) for p in table.get("strip", [])]
    limit = data.get("max_prefix_chars", MAX_PREFIX_CHARS)
    return Rules(
        exact=frozenset(exact),
        prefix=tuple(dict.fromkeys(prefix)),
        regex=tuple(regex),
        cut=tuple(dict.fromkeys(cut)),
        strip=tuple(strip),
        phrases=tuple(p for p in dict.fromkeys(phrases) if len(p) > 1),
        max_prefix_chars=limit if isinstance(limit, int) else MAX_PREFIX_CHARS,
        max_words=max((len(p.split()) for p in (*exact, *cut)), default=0) + _EXTRA_WORDS,
    )
