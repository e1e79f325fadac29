"""Cleaning quality: ingest's adapters vs plain `trafilatura.extract` (defaults), same pages, same run.

    python bench/quality.py [--corpus ../shared/corpus] [--group ua --group jp] [--json]

Two page sets:
- fundus: 258 real article pages from 181 publishers with hand-checked title/authors/date/body. Body
  quality is word 4-gram shingle precision, recall and F1 against the expected body (mean per page).
- fixtures: our outlet-style pages in ingest/demo_site with their must_contain / must_not_contain phrases:
  junk phrases left in, story phrases kept, and title/author/date right.
Metadata for plain trafilatura comes from `trafilatura.bare_extraction` on the same bytes.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import re
import sys
import time
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import trafilatura

from ingest.adapters import adapter_for_url, get_adapter
from ingest.charset import decode_html
from ingest.config import Source
from ingest.demo import PAGES
from ingest.models import Rejected
from ingest.parse import page_from_bytes
from ingest.pipeline import parse_page

ROOT = Path(__file__).resolve().parent.parent
WORD = re.compile(r"\w+", re.UNICODE)


def shingles(text: str, n: int = 4) -> set[tuple[str, ...]]:
    words = WORD.findall(unicodedata.normalize("NFKC", text).casefold())
    if len(words) < n:
        return {tuple(words)} if words else set()
    return {tuple(words[i:i + n]) for i in range(len(words) - n + 1)}


def prf(got: str, gold: str) -> tuple[float, float, float]:
    a, b = shingles(got), shingles(gold)
    if not a or not b:
        return 0.0, 0.0, 0.0
    hit = len(a & b)
    p, r = hit / len(a), hit / len(b)
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def norm(text: str | None) -> str:
    return " ".join(WORD.findall(unicodedata.normalize("NFKC", text or "").casefold()))


def same_time(got: datetime | str | None, gold: str | None) -> bool:
    if not got or not gold:
        return not got and not gold
    try:
        a = got if isinstance(got, datetime) else datetime.fromisoformat(str(got))
        b = datetime.fromisoformat(gold)
    except ValueError:
        return False
    if a.tzinfo is None or b.tzinfo is None:  # plain trafilatura gives a date only: compare the day
        return a.date() == b.date()
    return abs((a.astimezone(UTC) - b.astimezone(UTC)).total_seconds()) < 120


def same_authors(got: list[str], gold: list[str]) -> bool:
    return sorted(norm(a) for a in got) == sorted(norm(a) for a in gold)


@dataclass
class Tally:
    pages: int = 0
    p: float = 0.0
    r: float = 0.0
    f1: float = 0.0
    title: int = 0
    authors: int = 0
    date: int = 0
    rejected: int = 0
    seconds: float = 0.0
    junk_left: int = 0
    kept: int = 0
    must_contain: int = 0
    notes: list[str] = field(default_factory=list)

    def add(self, text: str, gold_body: str | None) -> None:
        self.pages += 1
        if gold_body is not None:
            p, r, f = prf(text, gold_body)
            self.p, self.r, self.f1 = self.p + p, self.r + r, self.f1 + f

    def row(self) -> dict[str, Any]:
        n = max(self.pages, 1)
        return {"pages": self.pages, "precision": round(self.p / n, 3), "recall": round(self.r / n, 3),
                "f1": round(self.f1 / n, 3), "title": f"{self.title}/{self.pages}",
                "authors": f"{self.authors}/{self.pages}", "date": f"{self.date}/{self.pages}",
                "rejected": self.rejected, "ms_per_page": round(1000 * self.seconds / n, 1)}


def run_ours(raw: bytes, url: str, slug: str | None, tally: Tally) -> tuple[str, str | None, list[str], Any]:
    adapter = get_adapter(slug) if slug else adapter_for_url(url)
    source = Source(slug=adapter.slug, adapter=adapter.slug, domains=(re.sub(r"^www\.", "", url.split("/")[2]),))
    page = page_from_bytes(raw, url)  # decoding is the fetch stage's: run_plain decodes outside its timer too
    start = time.perf_counter()
    try:
        article = parse_page(adapter, source, page)
    except Rejected as exc:
        tally.seconds += time.perf_counter() - start
        tally.rejected += 1
        tally.notes.append(f"rejected {url}: {exc.reason}")
        return "", None, [], None
    tally.seconds += time.perf_counter() - start
    return article.text, article.title, article.authors, article.published_at


def run_plain(raw: bytes, url: str, tally: Tally) -> tuple[str, str | None, list[str], Any]:
    html, _ = decode_html(raw, None)
    start = time.perf_counter()
    text = trafilatura.extract(html) or ""
    tally.seconds += time.perf_counter() - start
    meta = trafilatura.bare_extraction(html, with_metadata=True, only_with_metadata=False)
    get = (lambda k: getattr(meta, k, None)) if meta is not None else (lambda k: None)
    authors = [a.strip() for a in re.split(r";|,(?![^()]*\))", get("author") or "") if a.strip()]
    return text, get("title"), authors, get("date")


def fundus_cases(corpus: Path, groups: list[str]) -> list[dict[str, Any]]:
    cases = []
    with (corpus / "fundus" / "INDEX.tsv").open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh, delimiter="\t"):
            if groups and row["group"] not in groups:
                continue
            expected = json.loads((corpus / "fundus" / row["group"] / row["expected_json"]).read_text("utf-8"))
            key = row["json_version_key(guess: Nth-oldest html -> Nth key)"]
            gold = expected.get(key) or next(iter(expected.values()))
            body = gold.get("body") or {}
            parts = list(body.get("summary") or [])
            for section in body.get("sections") or []:
                parts += list(section.get("headline") or []) + list(section.get("paragraphs") or [])
            cases.append({"path": corpus / "fundus" / row["group"] / row["html"], "url": row["url"],
                          "title": gold.get("title"), "authors": gold.get("authors") or [],
                          "date": gold.get("publishing_date"), "body": "\n\n".join(parts)})
    return cases


def bench_fundus(corpus: Path, groups: list[str]) -> dict[str, Tally]:
    ours, plain = Tally(), Tally()
    for case in fundus_cases(corpus, groups):
        raw = gzip.decompress(case["path"].read_bytes())
        results = ((ours, run_ours(raw, case["url"], None, ours)), (plain, run_plain(raw, case["url"], plain)))
        for tally, result in results:
            text, title, authors, date = result
            tally.add(text, case["body"])
            tally.title += norm(title) == norm(case["title"])
            tally.authors += same_authors(authors, case["authors"])
            tally.date += same_time(date, case["date"])
    return {"ours": ours, "plain trafilatura": plain}


def bench_fixtures(fixtures: Path) -> dict[str, Tally]:
    ours, plain = Tally(), Tally()
    for meta_path in sorted(fixtures.glob("*/*.json")):
        meta = json.loads(meta_path.read_text("utf-8"))
        expected = meta.get("expected", {})
        html = meta_path.with_suffix(".html")
        if "rejected" in expected or not html.exists() or "url" not in meta:
            continue
        raw = html.read_bytes()
        slug = meta_path.parent.name
        results = ((ours, run_ours(raw, meta["url"], slug, ours)), (plain, run_plain(raw, meta["url"], plain)))
        for tally, result in results:
            text, title, authors, date = result
            tally.add(text, None)
            tally.title += norm(title) == norm(expected.get("title"))
            tally.authors += same_authors(authors, expected.get("authors", []))
            tally.date += same_time(date, expected.get("published_at"))
            left = [p for p in meta.get("must_not_contain", []) if p in text]
            tally.junk_left += len(left)
            tally.kept += sum(p in text for p in meta.get("must_contain", []))
            tally.must_contain += len(meta.get("must_contain", []))
            tally.notes += [f"junk left in {meta_path.parent.name}/{meta_path.stem}: {p!r}" for p in left] \
                if tally is ours else []
    return {"ours": ours, "plain trafilatura": plain}


def table(title: str, results: dict[str, Tally], extra: bool) -> str:
    cols = ["pages", "precision", "recall", "f1", "title", "authors", "date", "rejected", "ms_per_page"]
    if extra:
        cols = ["pages", "junk_left", "kept", "title", "authors", "date", "rejected", "ms_per_page"]
    lines = [f"### {title}", "", "| extractor | " + " | ".join(cols) + " |", "|---" * (len(cols) + 1) + "|"]
    for name, tally in results.items():
        row = {**tally.row(), "junk_left": tally.junk_left, "kept": f"{tally.kept}/{tally.must_contain}"}
        lines.append(f"| {name} | " + " | ".join(str(row[c]) for c in cols) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpus")
    parser.add_argument("--fixtures", type=Path, default=PAGES)
    parser.add_argument("--group", action="append", default=[], help="fundus country groups (default: all)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of Markdown tables")
    parser.add_argument("-v", "--verbose", action="store_true", help="list rejections and junk left")
    args = parser.parse_args(argv)
    fundus = bench_fundus(args.corpus, args.group)
    fixtures = bench_fixtures(args.fixtures)
    if args.json:
        print(json.dumps({"fundus": {k: v.row() for k, v in fundus.items()},
                          "fixtures": {k: {**v.row(), "junk_left": v.junk_left, "kept": v.kept,
                                           "must_contain": v.must_contain} for k, v in fixtures.items()}}, indent=2))
    else:
        print(table("fundus corpus (word 4-gram shingles vs expected body)", fundus, extra=False))
        print()
        print(table("outlet fixtures (junk phrases left, story phrases kept)", fixtures, extra=True))
    if args.verbose:
        for note in fundus["ours"].notes + fixtures["ours"].notes:
            print(note, file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
