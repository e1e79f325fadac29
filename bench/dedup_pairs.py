"""Near-duplicate detection on labelled pairs: precision and recall of the threshold, and a sweep.

    python bench/dedup_pairs.py [--corpus ../shared/corpus] [--seeds ../shared/seeds] [--json]

bench/data/dedup_pairs.jsonl holds one labelled pair a line: {id, category, duplicate, a, b, note}. A side is
{"ref": ..., "ops": [...]}; refs are `demo:<slug>/<name>` (a bundled ingest/demo_site page, cleaned by its
adapter as the pipeline would), `seed:<NNN>` (a shared seed text, as a naive scraper saw it),
`fundus:<group>/<Publisher>.json#<version>` (the hand-checked body of a fundus corpus page) and `text:<name>`
(bench/data/dedup_texts.toml). Ops derive copies: prepend/append boilerplate, drop a
paragraph, change a sentence, keep the first part, reflow the formatting. Nothing from the corpus is copied
into this repository; the pairs name what to take and what to change.

Duplicates: exact copies, copies with boilerplate added or removed, lightly edited copies (a paragraph or
sentence changed, dropped or added), truncated copies ("read the full story at ..."), and other outlets'
rewrites of one story that keep its quotes. Not duplicates: other outlets' own reports of the same event,
stories on the same topic, follow-ups that reuse a story's background paragraphs, template reports with other
numbers (daily losses, exchange rates), different stories carrying the same boilerplate, and unrelated pages.

Each pair is stored, a then b, through store.save_article in a fresh database: b is flagged when its outcome
is "duplicate" with duplicate_of -> a. The sweep recomputes that decision for other thresholds (exact content
hash, or at least one shared LSH band and shingle overlap >= threshold), and the same with shingle Jaccard
similarity in place of the overlap, for comparison.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import tempfile
import tomllib
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ingest.archive import neardup, store  # noqa: E402
from ingest.archive.dedup import content_hash  # noqa: E402
from ingest.clean.adapters import get_adapter  # noqa: E402
from ingest.clean.parse import page_from_bytes, parse_page  # noqa: E402
from ingest.config import Source  # noqa: E402
from ingest.models import Article  # noqa: E402

DATA = ROOT / "bench" / "data"
POSITIVE = ("exact", "boilerplate", "edited", "truncated", "rewrite")
NEGATIVE = ("same-event", "same-topic", "follow-up", "template", "shared-boilerplate", "same-publisher",
            "unrelated")
SWEEP = (0.3, 0.4, 0.5, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9)
_SENTENCE_END = re.compile(r"(?<=[.!?。！？])\s*")


class Texts:
    """Resolves the `ref` of a pair's side to a text, caching each."""

    def __init__(self, corpus: Path, seeds: Path) -> None:
        self.corpus, self.seeds = corpus, seeds
        self.named = tomllib.loads((DATA / "dedup_texts.toml").read_text("utf-8"))
        self.cache: dict[str, str] = {}

    def get(self, ref: str) -> str:
        if ref not in self.cache:
            self.cache[ref] = self._load(ref)
        return self.cache[ref]

    def _load(self, ref: str) -> str:
        kind, _, name = ref.partition(":")
        if kind == "text":
            return str(self.named[name]["text"]).strip()
        if kind == "demo":
            return cleaned(ROOT / "ingest" / "demo_site" / f"{name}.html", name.split("/")[0])
        if kind == "seed":
            return next(self.seeds.glob(f"{name}_*.txt")).read_text("utf-8").strip()
        if kind == "fundus":
            path, _, version = name.partition("#")
            return fundus_body(json.loads((self.corpus / "fundus" / path).read_text("utf-8"))[version])
        raise ValueError(f"unknown ref {ref!r}")


def cleaned(html: Path, slug: str) -> str:
    """A bundled page through its adapter, as the pipeline would store it."""
    url = json.loads(html.with_suffix(".json").read_text("utf-8"))["url"]
    page = page_from_bytes(html.read_bytes(), url)
    source = Source(slug=slug, adapter=slug, domains=(re.sub(r"^www\.", "", url.split("/")[2]),))
    return parse_page(get_adapter(slug), source, page).text


def fundus_body(record: dict[str, Any]) -> str:
    """A fundus expected record's body: summary, then each section's headline and paragraphs."""
    body = record.get("body") or {}
    paragraphs = list(body.get("summary") or [])
    for section in body.get("sections") or []:
        paragraphs += list(section.get("headline") or []) + list(section.get("paragraphs") or [])
    return "\n\n".join(p.strip() for p in paragraphs if p.strip())


def apply(text: str, ops: list[dict[str, Any]], texts: Texts) -> str:
    """Derive a copy: each op changes the list of paragraphs (blank-line separated)."""
    paras = [p for p in re.split(r"\n\s*\n", text) if p.strip()]
    for op in ops:
        name = op["op"]
        extra = texts.get(op["ref"]) if "ref" in op else op.get("text", "")
        if name == "prepend":
            paras = [extra, *paras]
        elif name == "append":
            paras = [*paras, extra]
        elif name == "insert":
            paras.insert(op["at"], extra)
        elif name == "replace":
            paras[op["at"]] = extra
        elif name == "drop":
            del paras[op["at"]]
        elif name == "edit_sentence":  # the paragraph's last sentence is replaced (or added, if it has one)
            sentences = [s for s in _SENTENCE_END.split(paras[op["at"]]) if s]
            paras[op["at"]] = " ".join([*sentences[:-1], extra] if len(sentences) > 1 else [*sentences, extra])
        elif name == "drop_sentence":
            sentences = [s for s in _SENTENCE_END.split(paras[op["at"]]) if s]
            if len(sentences) > 1:
                paras[op["at"]] = " ".join(sentences[:-1])
        elif name == "keep":
            paras = paras[:max(1, round(len(paras) * op["fraction"]))]
        elif name == "reflow":  # formatting noise only: quotes, dashes, line breaks, spacing
            table = str.maketrans({"“": '"', "”": '"', "’": "'", "«": '"', "»": '"', "–": "-", "—": "-"})
            return "\n".join("  ".join(p.translate(table).split(" ")) for p in paras)
        else:
            raise ValueError(f"unknown op {name!r}")
    return "\n\n".join(paras)


@dataclass
class Result:
    """One pair: its label, what the store did, and the numbers the sweep needs."""

    pair: dict[str, Any]
    flagged: bool
    exact: bool
    candidate: bool
    overlap: float
    jaccard: float


def evaluate(pair: dict[str, Any], texts: Texts, workdir: Path) -> Result:
    a, b = (apply(texts.get(side["ref"]), side.get("ops", []), texts) for side in (pair["a"], pair["b"]))
    db = store.open_db(workdir / f"{pair['id']}.db")
    try:
        with store.transaction(db):
            first = store.save_article(db, Article(url="https://a.example/1", source="a", title="A", text=a))
        with store.transaction(db):
            second = store.save_article(db, Article(url="https://b.example/1", source="b", title="B", text=b))
    finally:
        db.close()
    flagged = second.outcome == "duplicate" and second.duplicate_of == first.article_id
    fa, fb = neardup.fingerprint(a), neardup.fingerprint(b)
    candidate = any(x == y for x, y in zip(fa.bands, fb.bands, strict=False))
    return Result(pair, flagged, content_hash(a) == content_hash(b), candidate,
                  neardup.overlap(fa.shingles, fb.shingles), neardup.jaccard(fa.shingles, fb.shingles))


def scores(results: list[Result], decide: Any) -> dict[str, Any]:
    tp = sum(1 for r in results if r.pair["duplicate"] and decide(r))
    fp = sum(1 for r in results if not r.pair["duplicate"] and decide(r))
    fn = sum(1 for r in results if r.pair["duplicate"] and not decide(r))
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"pairs": len(results), "tp": tp, "fp": fp, "fn": fn, "precision": round(precision, 3),
            "recall": round(recall, 3), "f1": round(f1, 3)}


def report(results: list[Result]) -> dict[str, Any]:
    by_category: dict[str, list[Result]] = defaultdict(list)
    for r in results:
        by_category[r.pair["category"]].append(r)
    categories = []
    for name in (*POSITIVE, *NEGATIVE):
        group = by_category.get(name, [])
        if not group:
            continue
        sims, jacs = [r.overlap for r in group], [r.jaccard for r in group]
        categories.append({"category": name, "label": "duplicate" if name in POSITIVE else "distinct",
                           "pairs": len(group), "flagged": sum(r.flagged for r in group),
                           "overlap min-median-max": f"{min(sims):.2f} {statistics.median(sims):.2f} {max(sims):.2f}",
                           "jaccard min-median-max": f"{min(jacs):.2f} {statistics.median(jacs):.2f} {max(jacs):.2f}"})
    sweep = []
    for t in SWEEP:
        by_overlap = scores(results, lambda r, t=t: r.exact or (r.candidate and r.overlap >= t))
        by_jaccard = scores(results, lambda r, t=t: r.exact or (r.candidate and r.jaccard >= t))
        sweep.append({"threshold": t, "overlap precision": by_overlap["precision"],
                      "overlap recall": by_overlap["recall"], "overlap f1": by_overlap["f1"],
                      "jaccard precision": by_jaccard["precision"], "jaccard recall": by_jaccard["recall"],
                      "jaccard f1": by_jaccard["f1"]})
    mistakes = [{"id": r.pair["id"], "category": r.pair["category"], "duplicate": r.pair["duplicate"],
                 "flagged": r.flagged, "candidate": r.candidate, "overlap": round(r.overlap, 3),
                 "jaccard": round(r.jaccard, 3)}
                for r in results if r.flagged != r.pair["duplicate"]]
    return {"threshold": neardup.THRESHOLD, "shingle": neardup.SHINGLE, "num_perm": neardup.NUM_PERM,
            "bands": neardup.BANDS, "overall": scores(results, lambda r: r.flagged), "categories": categories,
            "sweep": sweep, "mistakes": mistakes}


def table(rows: list[dict[str, Any]]) -> str:
    head = list(rows[0])
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(str(row[k]) for k in head) + " |" for row in rows]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpus")
    parser.add_argument("--seeds", type=Path, default=ROOT.parent / "shared" / "seeds")
    parser.add_argument("--pairs", type=Path, default=DATA / "dedup_pairs.jsonl")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args()
    texts = Texts(args.corpus, args.seeds)
    pairs = [json.loads(line) for line in args.pairs.read_text("utf-8").splitlines() if line.strip()]
    with tempfile.TemporaryDirectory() as tmp:
        results = [evaluate(pair, texts, Path(tmp)) for pair in pairs]
    out = report(results)
    if args.json:
        print(json.dumps(out, indent=1, ensure_ascii=False))
        return 0
    print(f"threshold {out['threshold']} (word {out['shingle']}-shingle overlap), MinHash {out['num_perm']} "
          f"permutations in {out['bands']} bands; {len(pairs)} labelled pairs\n")
    print(table([out["overall"]]) + "\n")
    print(table(out["categories"]) + "\n")
    print(table(out["sweep"]) + "\n")
    for m in out["mistakes"]:
        print(f"wrong: {m}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
