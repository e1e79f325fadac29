"""Two versions of a story -> what changed: the headline, and paragraphs added, removed and changed (word by word).

A revision is a change a reader would see. What only moves a view or comment counter ("1,204 views",
"Переглядів: 57"), whitespace, or the case and punctuation content_hash ignores is not one: `significant` removes
those before two versions are compared, so such a fetch is no revision. Paragraphs are the cleaned text's blocks
(split on blank lines); they are matched in order (difflib's SequenceMatcher over the significant paragraphs),
and a replaced paragraph that still shares most of its words with the old one is "changed" with a word-level diff,
else the old one is "removed" and the new one "added".

Pure functions over strings: the dedup stage calls `is_revision`, the store keeps `diff(...).to_json()` beside the
earlier version in `revisions`, and `ingest history` prints it (`with_diffs` fills in the diffs of revisions kept
before schema 10).
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass, field, replace
from difflib import SequenceMatcher
from typing import Any, Final

from ingest.storage import History

# A counter and its number, either order: "1,204 views", "Views: 1204", "Переглядів: 57", "57 переглядів",
# "閲覧数 1204". The number may carry thousands separators or a k/K/тис. suffix.
_COUNTER_WORDS: Final = (r"views?|reads?|comments?|shares?|likes?|переглядів|перегляди|перегляд|просмотров|"
                         r"просмотра|просмотр|коментарів|коментарі|комментариев|閲覧数?|ページビュー|コメント")
_NUMBER: Final = r"\d[\d\s.,\u00a0\u202f]*(?:k|K|тис\.?|тыс\.?)?"
_COUNTER: Final = re.compile(rf"(?:{_NUMBER}\s*(?:{_COUNTER_WORDS})\b|(?:{_COUNTER_WORDS})\s*[:：]?\s*{_NUMBER})",
                             re.IGNORECASE)
_NOISE: Final = re.compile(r"[\W_]+", re.UNICODE)  # as content_hash: punctuation and whitespace are no change
CHANGED_SHARE: Final = 0.5  # a replaced paragraph keeping at least this share of its words is "changed"


def _words(text: str) -> list[str]:
    return text.split()


def significant(text: str) -> str:
    """The text as a reader compares it: counters removed, case, punctuation and whitespace folded."""
    folded = unicodedata.normalize("NFKC", text)
    return _NOISE.sub(" ", _COUNTER.sub(" ", folded).casefold()).strip()


def paragraphs(text: str) -> list[str]:
    """The cleaned text's paragraphs, without those that are only a counter or blank."""
    return [p.strip() for p in re.split(r"\n\s*\n", text) if significant(p)]


def is_revision(old_title: str, old_text: str, new_title: str, new_text: str) -> bool:
    """True when a reader would see a change: the headline or the text, counters and spacing aside."""
    return significant(old_title) != significant(new_title) or significant(old_text) != significant(new_text)


@dataclass(frozen=True)
class Change:
    """One paragraph's change: "added" (after only), "removed" (before only), "changed" (both, and `words`: the
    word-level diff as (op, words) runs, op "=" kept, "-" removed, "+" added)."""

    kind: str
    before: str | None = None
    after: str | None = None
    words: tuple[tuple[str, str], ...] = ()

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind}
        if self.before is not None:
            out["before"] = self.before
        if self.after is not None:
            out["after"] = self.after
        if self.words:
            out["words"] = [list(run) for run in self.words]
        return out


@dataclass(frozen=True)
class Diff:
    """What changed between two versions: the headline (both None when it did not) and the paragraphs."""

    title_before: str | None = None
    title_after: str | None = None
    changes: tuple[Change, ...] = field(default_factory=tuple)

    @property
    def headline_changed(self) -> bool:
        return self.title_before is not None

    def count(self, kind: str) -> int:
        return sum(1 for change in self.changes if change.kind == kind)

    def to_json(self) -> dict[str, Any]:
        """What `revisions.diff` keeps (JSON)."""
        return {"title_before": self.title_before, "title_after": self.title_after,
                "paragraphs": [change.to_json() for change in self.changes]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Diff:
        return cls(data.get("title_before"), data.get("title_after"), tuple(
            Change(c["kind"], c.get("before"), c.get("after"), tuple((op, words) for op, words in c.get("words", ())))
            for c in data.get("paragraphs", ())))


def word_diff(before: str, after: str) -> tuple[tuple[str, str], ...]:
    """Runs of kept, removed and added words between two paragraphs."""
    old, new = _words(before), _words(after)
    runs: list[tuple[str, str]] = []
    for op, i1, i2, j1, j2 in SequenceMatcher(None, old, new, autojunk=False).get_opcodes():
        if op == "equal":
            runs.append(("=", " ".join(old[i1:i2])))
            continue
        if i2 > i1:
            runs.append(("-", " ".join(old[i1:i2])))
        if j2 > j1:
            runs.append(("+", " ".join(new[j1:j2])))
    return tuple(runs)


def _similar(before: str, after: str) -> bool:
    old, new = _words(significant(before)), _words(significant(after))
    matcher = SequenceMatcher(None, old, new, autojunk=False)
    kept = sum(block.size for block in matcher.get_matching_blocks())
    return kept >= CHANGED_SHARE * max(len(old), len(new), 1)


def diff(old_title: str, old_text: str, new_title: str, new_text: str) -> Diff:
    """The changes from the old version to the new one (paragraphs compared by their significant text)."""
    title_changed = significant(old_title) != significant(new_title)
    old, new = paragraphs(old_text), paragraphs(new_text)
    matcher = SequenceMatcher(None, [significant(p) for p in old], [significant(p) for p in new], autojunk=False)
    changes: list[Change] = []
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            continue
        added, at = new[j1:j2], 0
        for before in old[i1:i2]:  # a replaced paragraph still like one of the new ones (in order) is "changed"
            match = next((k for k in range(at, len(added)) if _similar(before, added[k])), None)
            if match is None:
                changes.append(Change("removed", before=before))
                continue
            changes += [Change("added", after=p) for p in added[at:match]]
            changes.append(Change("changed", before, added[match], word_diff(before, added[match])))
            at = match + 1
        changes += [Change("added", after=p) for p in added[at:]]
    return Diff(old_title if title_changed else None, new_title if title_changed else None, tuple(changes))


def revision_fields(old_title: str, old_text: str, old_modified_at: str | None, new_title: str, new_text: str,
                    new_modified_at: str | None) -> dict[str, Any]:
    """What a `revisions` row keeps beside the earlier version (both stores write it): the headline after, the diff
    as JSON and its counts, the modification time the new page claims (ISO 8601 UTC) and whether it says it was
    updated (it claims a modification later than the one stored, or its first)."""
    found = diff(old_title, old_text, new_title, new_text)
    return {"title_after": new_title, "diff": json.dumps(found.to_json(), ensure_ascii=False),
            "headline_changed": int(found.headline_changed), "paragraphs_added": found.count("added"),
            "paragraphs_removed": found.count("removed"), "paragraphs_changed": found.count("changed"),
            "modified_at": new_modified_at,
            "said_updated": int(new_modified_at is not None and (old_modified_at is None
                                                                  or new_modified_at > old_modified_at))}


def with_diffs(history: History) -> History:
    """The history with every revision's diff: one kept by an ingest older than schema 10 has none, so it is computed
    here from the version and the one that replaced it (its modified_at and said_updated stay unknown). Both stores'
    article_history return this."""
    later = [(r.title, r.text) for r in history.revisions[1:]] + [(history.title, history.text)]
    revisions = []
    for revision, (title, text) in zip(history.revisions, later[:len(history.revisions)], strict=True):
        if revision.diff is None:
            found = revision_fields(revision.title, revision.text, None, title, text, None)
            revision = replace(revision, **{k: v for k, v in found.items() if k not in ("modified_at", "said_updated")})
        revisions.append(revision)
    return replace(history, revisions=tuple(revisions))
