"""Learning bench (issue 15): does ingest learn a new outlet's boilerplate, and how soon?

    python bench/learning.py [--pages N] [--seed S] [--json] [--keep DIR]

Serves the generated outlets of `bench/outlets.py` on 127.0.0.1 (English and Ukrainian, junk inside the article
container in wordings on no junk list), writes a sources.toml with one generic-adapter source per outlet, and
runs the real commands as subprocesses, scoring the archive after each:
1. `ingest --config T --db D backfill --since <first day> --no-reclean`: the pages as cleaned while the outlet
   was being learned (before re-cleaning);
2. `ingest --config T --db D reclean` on that database (after re-cleaning);
3. `ingest --config T --db D2 backfill --since <first day>` into a fresh database: what the one command gives,
   as it re-cleans its sources' early pages by itself when it ends.

Each article page is scored against its ground truth, the first 10 pages fetched apart from the rest (a learner
cannot know a site's boilerplate from its first pages; a backfill fetches newest first):
- perfect: every story paragraph is a whole paragraph of `articles.text` (whitespace collapsed), no line of the
  page's junk is left, whole or in part, and no other line either: the text is the story and nothing else;
- story paragraphs lost (false removals) and junk lines left (of the in-article junk), over the stored pages;
- other lines: paragraphs that are neither story nor that junk: chrome let through (a tagline, nav, footer, a
  byline glued to the story); they make a page imperfect too;
- missing (never stored, no rejection) and rejected (the `fetches` table's reason).
Plain `trafilatura.extract` on the same page bytes is scored the same way, for comparison.

--keep DIR keeps sources.toml, news.db (runs 1-2), backfill/news.db (run 3), the served pages (pages/<slug>/...)
and truth.json (the ground truth) in DIR; databases already there are replaced.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import trafilatura
from outlets import Article, Outlet, build_outlets, serve

FIRST = 10  # "the first 10 pages" of an outlet, by publication
FRAGMENT = 12  # a piece of a junk line this long, left on a line of its own, counts as junk left
CLI_TIMEOUT = 900


@dataclass
class Score:
    """One run's result on one outlet's pages."""

    pages: int = 0
    stored: int = 0
    perfect_first: int = 0
    first: int = 0
    perfect_rest: int = 0
    rest: int = 0
    story: int = 0  # story paragraphs on stored pages
    lost: int = 0
    junk: int = 0  # junk lines on stored pages
    junk_left: int = 0
    other: int = 0
    missing: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    junk_left_by_kind: Counter[str] = field(default_factory=Counter)
    lost_by_kind: Counter[str] = field(default_factory=Counter)  # by article kind: news, arc, one-line, quote
    examples: list[dict[str, object]] = field(default_factory=list)

    def row(self) -> dict[str, object]:
        """The table's columns."""
        return {
            "pages": self.pages, "stored": self.stored,
            "perfect_first": f"{self.perfect_first}/{self.first}", "perfect_rest": f"{self.perfect_rest}/{self.rest}",
            "story_lost": f"{self.lost}/{self.story}", "junk_left": f"{self.junk_left}/{self.junk}",
            "junk_per_page": round(self.junk_left / self.stored, 2) if self.stored else None,
            "other_lines": self.other, "missing": self.missing, "rejected": sum(self.rejected.values()),
        }


    def as_json(self) -> dict[str, object]:
        """The columns, the counts by kind and a few imperfect pages."""
        # not dataclasses.asdict: it rebuilds a Counter from (key, count) pairs, counting the pairs
        return self.row() | {"by_kind": {"junk_left": dict(self.junk_left_by_kind), "lost": dict(self.lost_by_kind),
                                         "rejected": dict(self.rejected)}, "examples": self.examples}


def collapse(text: str) -> str:
    """Whitespace runs as one space, no space at the ends."""
    return " ".join(text.split())


def judge(article: Article, text: str, score: Score, position: int) -> None:
    """Add one stored page's result to `score`."""
    paragraphs = [collapse(p) for p in text.splitlines() if p.strip()]
    story = {collapse(s) for s in article.story}
    rest = [p for p in paragraphs if p not in story]
    present = set(paragraphs)
    lost = [s for s in article.story if collapse(s) not in present]
    junk = [(b.kind, collapse(line)) for b in article.blocks if not b.is_story for line in b.text.split("\n")]

    def overlaps(line: str, p: str) -> bool:
        return line in p or (len(p) >= FRAGMENT and p in line)

    left = [(kind, line) for kind, line in junk if any(overlaps(line, p) for p in rest)]
    other = [p for p in rest if not any(overlaps(line, p) for _, line in junk)]
    score.stored += 1
    score.story += len(article.story)
    score.lost += len(lost)
    score.junk += len(junk)
    score.junk_left += len(left)
    score.other += len(other)
    score.junk_left_by_kind.update(kind for kind, _ in left)
    score.lost_by_kind.update([article.kind] * len(lost))
    if not lost and not left and not other:
        if position < FIRST:
            score.perfect_first += 1
        else:
            score.perfect_rest += 1
    elif len(score.examples) < 5:
        score.examples.append({"path": article.path, "kind": article.kind, "lost": lost[:3],
                               "junk_left": [line for _, line in left][:3], "other": other[:3]})


def score_pages(outlet: Outlet, texts: Callable[[Article], str | None],
                rejected: Callable[[Article], str | None], fetched: list[str] | None = None) -> Score:
    """Score every article of `outlet` by the text some run gave it (None: not stored). "First" are the first
    FIRST pages fetched (`fetched`: URL paths in fetch order; a backfill goes newest first), else the oldest."""
    score = Score(pages=len(outlet.articles))
    rank = {path: n for n, path in enumerate(dict.fromkeys(fetched or ()))}
    in_order = sorted(outlet.articles, key=lambda a: rank.get(a.path, len(rank)))  # stable: then oldest first
    for position, article in enumerate(in_order):
        if position < FIRST:
            score.first += 1
        else:
            score.rest += 1
        text = texts(article)
        if text is not None:
            judge(article, text, score, position)
        elif reason := rejected(article):
            score.rejected[reason] += 1
        else:
            score.missing += 1
    return score


def score_archive(db_path: Path, outlet: Outlet) -> Score:
    """Score what the archive holds for `outlet`, read through a read-only connection."""
    conn = sqlite3.connect(f"{db_path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        stored = {urlsplit(url).path: text for url, text in conn.execute(
            "SELECT url, text FROM articles WHERE source = ?", [outlet.slug])}
        fetches = conn.execute("SELECT url, outcome, reason FROM fetches WHERE source = ? ORDER BY id",
                               [outlet.slug]).fetchall()
    finally:
        conn.close()
    outcomes = {urlsplit(url).path: (outcome, reason) for url, outcome, reason in fetches}

    def rejected(article: Article) -> str | None:
        outcome, reason = outcomes.get(article.path, (None, None))
        return (reason or outcome) if outcome in ("rejected", "failed") else None

    return score_pages(outlet, lambda a: stored.get(a.path), rejected, [urlsplit(url).path for url, _, _ in fetches])


def score_plain(outlet: Outlet) -> Score:
    """Plain trafilatura.extract on the very bytes served, decoded with the outlet's charset."""
    def text(article: Article) -> str:
        return trafilatura.extract(outlet.page_bytes(article).decode(outlet.design.encoding)) or ""
    return score_pages(outlet, text, lambda a: None)


def write_config(path: Path, outlets: list[Outlet], bases: dict[str, str]) -> None:
    """sources.toml: one generic-adapter source per served outlet, no delay between requests."""
    lines = ["[settings]", "per_host_delay = 0", "timeout = 10", ""]
    for outlet in outlets:
        d, base = outlet.design, bases[outlet.slug]
        lines += [f"[sources.{outlet.slug}]", 'adapter = "generic"', f'language = "{d.language}"',
                  f'feeds = ["{base}{d.feed}"]', f'sitemaps = ["{base}{d.sitemap}"]',
                  f'listings = ["{base}{d.listing}"]', ""]
    path.write_text("\n".join(lines), encoding="utf-8")


def ingest(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run the real `ingest` command (this interpreter's) in `folder` and capture its output.

    Not in the checkout: `python -m` puts the working directory first on sys.path, which would hide a PYTHONPATH
    pointing at another copy of ingest (say, `git archive HEAD`, to measure the last commit).
    """
    return subprocess.run([sys.executable, "-m", "ingest", *args], cwd=folder, capture_output=True, text=True,
                          timeout=CLI_TIMEOUT, check=False)


def checked(result: subprocess.CompletedProcess[str], what: str) -> str:
    """The command's stdout; its exit code and output's tail, and exit, when it failed."""
    if result.returncode != 0:
        sys.exit(f"{what} exited {result.returncode}:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return result.stdout


def keep_files(folder: Path, outlets: list[Outlet], bases: dict[str, str]) -> None:
    """The served pages and the ground truth, for reading beside the archive."""
    truth = {}
    for outlet in outlets:
        for article in outlet.articles:
            name = article.path.strip("/").replace("/", "_") or "index"
            page = folder / "pages" / outlet.slug / (name if name.endswith(".html") else name + ".html")
            page.parent.mkdir(parents=True, exist_ok=True)
            page.write_bytes(outlet.page_bytes(article))
        truth[outlet.slug] = [{"url": a.url(bases[outlet.slug]), "title": a.title, "published": a.published.isoformat(),
                               "kind": a.kind, "story": list(a.story), "junk": list(a.junk)} for a in outlet.articles]
    (folder / "truth.json").write_text(json.dumps(truth, ensure_ascii=False, indent=1), encoding="utf-8")


COLUMNS = ("pages", "perfect_first", "perfect_rest", "story_lost", "junk_left", "junk_per_page", "other_lines",
           "missing", "rejected")
HEADERS = ("pages", "perfect, first 10", "perfect, rest", "story paragraphs lost", "junk lines left",
           "junk left per page", "other lines", "missing", "rejected")


def counts(counter: Counter[str]) -> str:
    """'a 3, b 1': a Counter, most common first."""
    return ", ".join(f"{key} {n}" for key, n in counter.most_common())


def table(outlet: Outlet, runs: dict[str, Score | None]) -> str:
    """A Markdown table of the runs on one outlet, and what was left or lost, by kind."""
    d = outlet.design
    lines = [f"### {outlet.slug} ({d.language}): {d.summary}", "", "| run | " + " | ".join(HEADERS) + " |",
             "|---" * (len(HEADERS) + 1) + "|"]
    for name, score in runs.items():
        if score is None:
            lines.append(f"| {name} | reclean: not available |" + " |" * (len(HEADERS) - 1))
            continue
        row = score.row()
        lines.append(f"| {name} | " + " | ".join(str(row[c]) for c in COLUMNS) + " |")
    for name, score in runs.items():
        if score is None:
            continue
        notes = []
        if score.junk_left_by_kind:
            notes.append("junk left by kind: " + counts(score.junk_left_by_kind))
        if score.lost_by_kind:
            notes.append("lost by article kind: " + counts(score.lost_by_kind))
        if score.rejected:
            notes.append("rejected: " + counts(score.rejected))
        if notes:
            lines.append(f"\n- {name}: " + "; ".join(notes))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pages", type=int, default=60, help="articles per outlet (default 60, at least 12)")
    parser.add_argument("--seed", type=int, default=0, help="generator seed (default 0)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of Markdown tables")
    parser.add_argument("--keep", type=Path, metavar="DIR", help="keep sources.toml, news.db, pages and truth here")
    args = parser.parse_args(argv)
    if args.pages < 12:
        parser.error("--pages: at least 12 (the first 10 and some more)")
    started = time.perf_counter()
    wall: dict[str, float] = {}
    outlets = build_outlets(args.pages, args.seed)
    folder = args.keep or Path(tempfile.mkdtemp(prefix="learning-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    db = folder / "news.db"
    for stale in (db, folder / "news.db-wal", folder / "news.db-shm"):
        stale.unlink(missing_ok=True)
    config = folder / "sources.toml"
    servers = {o.slug: serve(o) for o in outlets}
    bases = {slug: base for slug, (base, _) in servers.items()}
    wall["generate"] = time.perf_counter() - started
    try:
        write_config(config, outlets, bases)
        if args.keep:
            keep_files(folder, outlets, bases)
        # The day before the oldest article (UTC): a windowed backfill walks every child sitemap and listing page.
        since = min(a.published for o in outlets for a in o.articles).astimezone(UTC).date() - timedelta(days=1)
        mark = time.perf_counter()
        cli = ("--config", str(config), "--db", str(db))
        summary = checked(ingest(folder, *cli, "backfill", "--since", since.isoformat(), "--no-reclean"),
                          "ingest backfill --no-reclean")
        wall["backfill"] = time.perf_counter() - mark
        before = {o.slug: score_archive(db, o) for o in outlets}
        mark = time.perf_counter()
        summary += checked(ingest(folder, *cli, "reclean"), "ingest reclean")
        wall["reclean"] = time.perf_counter() - mark
        after = {o.slug: score_archive(db, o) for o in outlets}
        # What a user gets from the one command: the backfill re-cleans its sources' early pages by itself.
        alone = folder / "backfill" / "news.db"
        for stale in (alone, alone.with_name("news.db-wal"), alone.with_name("news.db-shm")):
            stale.unlink(missing_ok=True)
        mark = time.perf_counter()
        summary += checked(ingest(folder, "--config", str(config), "--db", str(alone), "backfill", "--since",
                                  since.isoformat()), "ingest backfill")
        wall["backfill_with_reclean"] = time.perf_counter() - mark
        itself = {o.slug: score_archive(alone, o) for o in outlets}
        mark = time.perf_counter()
        plain = {o.slug: score_plain(o) for o in outlets}
        wall["plain_trafilatura"] = time.perf_counter() - mark
    finally:
        for _, close in servers.values():
            close()
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
    wall["total"] = time.perf_counter() - started
    runs = {o.slug: {"backfill --no-reclean": before[o.slug], "then ingest reclean": after[o.slug],
                     "ingest backfill": itself[o.slug], "plain trafilatura": plain[o.slug]} for o in outlets}
    if args.json:
        print(json.dumps({
            "pages_per_outlet": args.pages, "seed": args.seed,
            "outlets": {slug: {"language": o.language, "design": o.design.summary,
                               **{name: s.as_json() if s else None for name, s in runs[slug].items()}}
                        for slug, o in ((o.slug, o) for o in outlets)},
            "cli_output": summary, "wall_seconds": {k: round(v, 1) for k, v in wall.items()},
        }, ensure_ascii=False, indent=2))
        return 0
    print(f"## Learning bench: {len(outlets)} outlets x {args.pages} pages, `ingest backfill`, generic adapter\n")
    print("Rows: `ingest backfill --no-reclean` (pages as cleaned while the outlet was being learned), then "
          "`ingest reclean` on that database, and a plain `ingest backfill` into a fresh one (it re-cleans by "
          "itself when it ends).\n")
    print("\n\n".join(table(o, runs[o.slug]) for o in outlets))
    print("\nWall time: " + ", ".join(f"{k.replace('_', ' ')} {v:.1f} s" for k, v in wall.items()))
    print("\n" + summary.strip(), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
