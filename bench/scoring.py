"""How bench/quality.py scores one page: the same functions for ingest and for plain trafilatura."""

from __future__ import annotations

import re
import unicodedata
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

WORD = re.compile(r"\w+", re.UNICODE)


def words(text: str | None) -> list[str]:
    return WORD.findall(unicodedata.normalize("NFKC", text or "").casefold())


def norm(text: str | None) -> str:
    return " ".join(words(text))


# --- text ---------------------------------------------------------------------------------------------

def bag_f1(got: str, gold: str) -> float:
    """WCXB's measure: F1 of the two bags of lower-cased words."""
    a, b = Counter(words(got)), Counter(words(gold))
    hit = sum((a & b).values())
    if not hit:
        return 0.0
    p, r = hit / sum(a.values()), hit / sum(b.values())
    return 2 * p * r / (p + r)


def shingles(text: str, n: int = 4) -> set[tuple[str, ...]]:
    tokens = words(text)
    if len(tokens) < n:
        return {tuple(tokens)} if tokens else set()
    return {tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1)}


def shingle_prf(got: str, gold: str) -> tuple[float, float, float]:
    a, b = shingles(got), shingles(gold)
    if not a or not b:
        return 0.0, 0.0, 0.0
    hit = len(a & b)
    p, r = hit / len(a), hit / len(b)
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def contains(text: str, snippet: str) -> bool:
    """The snippet's words, in order, inside the text's words (markup and punctuation ignored)."""
    needle = norm(snippet)
    return bool(needle) and f" {needle} " in f" {norm(text)} "


# --- metadata -----------------------------------------------------------------------------------------

def title_right(got: str | None, gold: str | None) -> bool:
    return norm(got) == norm(gold)


# A part after the first that carries a degree, a credential or a role: "MS", "Ph.D.", "CEPF®",
# "E-RYT 200", "Shipping Expert", "Sr. Director of ...". The gold may list it; a name list may leave it out.
_QUALIFIER = re.compile(r"\d|®|^(?:[A-Z][A-Za-z]?\.?){1,4}$|^(?:[A-Z]{2,}\.?\s*)+$|^(?:Dr|Jr|Sr|Mr|Ms|Mrs)\b\.?")
_ROLE_WORDS = re.compile(
    r"\b(?:expert|editor|director|writer|dietitian|representative|ceo|founder|manager|team|staff|reporter|"
    r"correspondent|contributor|specialist|analyst|officer|president|head|lead|author)s?\b", re.IGNORECASE)


def gold_names(gold: str) -> tuple[set[str], set[str]]:
    """(names that must be given, names that may be given) of a gold author string."""
    parts = [p.strip() for p in re.split(r"\s*(?:,|;|&|\band\b)\s*", gold) if p.strip()]
    must = {norm(parts[0])} | {
        norm(p) for p in parts[1:] if not (_QUALIFIER.search(p) or _ROLE_WORDS.search(p) or p[:1].islower())}
    return must, {norm(p) for p in parts} | {norm(gold)}


def authors_right(got: list[str] | None, gold: list[str] | str | None) -> bool:
    names = {norm(a) for a in got or [] if norm(a)}
    if not gold:
        return not names
    if isinstance(gold, list):
        return names == {norm(a) for a in gold}
    must, may = gold_names(gold)
    return bool(names) and must <= names and names <= may


def _parse(value: str | datetime | None) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    try:
        return datetime.fromisoformat(str(value).strip())
    except ValueError:
        return None


def day_right(got: str | datetime | None, gold: str) -> bool:
    """The day the extractor gives (in the offset it gives) is the gold's day (in the gold's offset)."""
    ours, right = _parse(got), _parse(gold)
    return ours is not None and right is not None and ours.date() == right.date()


def instant_right(got: str | datetime | None, gold: str) -> bool:
    ours, right = _parse(got), _parse(gold)
    if ours is None or right is None or ours.tzinfo is None or right.tzinfo is None:
        return False
    return abs((ours.astimezone(UTC) - right.astimezone(UTC)).total_seconds()) < 120


# --- tallies ------------------------------------------------------------------------------------------

@dataclass
class Result:
    """What one extractor gave for one page."""

    text: str = ""
    title: str | None = None
    authors: list[str] = field(default_factory=list)
    date: str | None = None
    modified: str | None = None
    date_source: str | None = None
    seconds: float = 0.0
    rejected: str | None = None


@dataclass
class Tally:
    """Sums over a page set for one extractor; `misses` keeps (page, got, gold) per wrong field."""

    text_measure: str  # "bag" (wcxb), "shingles" (fundus) or "none" (fixtures)
    pages: int = 0
    f1: float = 0.0
    p: float = 0.0
    r: float = 0.0
    with_found: int = 0
    with_total: int = 0
    without_avoided: int = 0
    without_total: int = 0
    rejected: int = 0
    seconds: float = 0.0
    undated: int = 0
    undated_given: int = 0
    right: Counter[str] = field(default_factory=Counter)
    total: Counter[str] = field(default_factory=Counter)
    misses: dict[str, list[tuple[str, Any, Any]]] = field(default_factory=lambda: defaultdict(list))
    answers: dict[tuple[str, str], Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def add(self, page: str, result: Result, body: str | None, must: list[str], must_not: list[str]) -> None:
        self.pages += 1
        self.seconds += result.seconds
        if result.rejected:
            self.rejected += 1
            self.notes.append(f"rejected {page}: {result.rejected}")
        if body is not None and self.text_measure == "bag":
            self.f1 += bag_f1(result.text, body)
        elif body is not None and self.text_measure == "shingles":
            p, r, f = shingle_prf(result.text, body)
            self.p, self.r, self.f1 = self.p + p, self.r + r, self.f1 + f
        # Fixture phrases are exact; wcxb's snippets are matched as words (its "Home" is not "Homeowners").
        has = (lambda s: s in result.text) if self.text_measure == "none" else (lambda s: contains(result.text, s))
        found, left = [s for s in must if has(s)], [s for s in must_not if has(s)]
        self.with_found, self.with_total = self.with_found + len(found), self.with_total + len(must)
        self.without_avoided += len(must_not) - len(left)
        self.without_total += len(must_not)
        self.notes += [f"junk left in {page}: {s!r}" for s in left]

    def check(self, name: str, page: str, ok: bool, got: Any, gold: Any) -> None:
        self.total[name] += 1
        self.right[name] += ok
        self.answers[(name, page)] = got
        if not ok:
            self.misses[name].append((page, got, gold))

    def row(self) -> dict[str, Any]:
        n = max(self.pages, 1)
        out: dict[str, Any] = {
            "pages": self.pages, "word_f1": round(self.f1 / n, 3), "f1": round(self.f1 / n, 3),
            "precision": round(self.p / n, 3), "recall": round(self.r / n, 3),
            "with": f"{self.with_found}/{self.with_total}", "without": f"{self.without_avoided}/{self.without_total}",
            "junk_left": self.without_total - self.without_avoided, "kept": f"{self.with_found}/{self.with_total}",
            "dated": self.total["date"], "undated_given": f"{self.undated_given}/{self.undated}",
            "rejected": self.rejected, "ms_per_page": round(1000 * self.seconds / n, 1),
        }
        for name in ("title", "authors", "date", "instant", "date_on_page", "pub_or_mod"):
            if self.total[name]:
                share = self.right[name] / self.total[name]
                out[name] = f"{self.right[name]}/{self.total[name]} ({share:.1%})"
        return out
