"""Boilerplate learned per source, in the store (archive/learn.py's rules, archive/boilerplate.py's tables),
on a real SQLite file and real pages.

The pages are an outlet of our own: a story container holding story paragraphs and, as ordinary blocks, a
reader appeal, a "MORE FROM THE GAZETTE: <title>" line and a linked teaser box whose titles vary. The story
text includes what must never be removed: a background paragraph an arc of ten follow-ups reuses, a quote
two stories share, a one-line story, and background opening with "Нагадаємо, що".
"""

from __future__ import annotations

import random
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from ingest.archive import learn
from ingest.archive.sqlite import open_store
from ingest.clean.adapters import get_adapter
from ingest.clean.parse import page_from_bytes
from ingest.models import Rejected
from ingest.urls import url_key

APPEAL = "Readers like you keep the Gazette going: chip in from one euro a month."
BACKGROUND = ("The district's water network was built in 1962 and has not been renewed since, according to the "
              "utility's own survey published last year.")
QUOTE = "\u201cWe cannot keep patching pipes that are older than most of the people who pay for them,\u201d she said."
REMINDER = "Нагадаємо, що міська рада ухвалила бюджет на наступний рік ще в грудні після тривалого обговорення."
ONE_LINER = "The northern bridge reopens to cars at six tomorrow morning, the city's roads department said."
WORDS = ("council", "residents", "budget", "bridge", "water", "school", "river", "market", "tram", "library",
         "plan", "street", "repairs", "mayor", "district", "funding", "report", "survey", "contract", "tender",
         "park", "winter", "heating")


@dataclass(frozen=True)
class Made:
    """One generated article page and what is true about it."""

    url: str
    html: str
    story: list[str]
    junk: list[str]


def outlet(pages: int = 40, seed: int = 7) -> list[Made]:
    """The Gazette's article pages, oldest first."""
    rng = random.Random(seed)
    made: list[Made] = []
    for n in range(pages):
        title = f"{rng.choice(WORDS).title()} {rng.choice(WORDS)} story number {n}"
        story = [" ".join(rng.choice(WORDS) for _ in range(rng.randint(25, 45))).capitalize() + "."
                 for _ in range(rng.randint(2, 5))]
        if 5 <= n < 15:  # an arc of ten follow-ups reusing one background paragraph
            story.insert(1, BACKGROUND)
        if n in (20, 30):  # a quote two stories share
            story.append(QUOTE)
        if 31 <= n < 37:
            story.append(REMINDER)
        if n == 25:
            story = [ONE_LINER]
        junk = [APPEAL]
        blocks = [f"<p>{p}</p>" for p in story]
        blocks.insert(min(2, len(blocks)), f"<p>{APPEAL}</p>")
        if rng.random() < 0.8:
            line = f"MORE FROM THE GAZETTE: {made[-1].html.split('<h1>')[1].split('</h1>')[0] if made else title}"
            junk.append(line)
            lead, _, linked = line.partition(": ")
            blocks.append(f"<p>{lead}: <a href='/more/{n}'>{linked}</a></p>")
        if rng.random() < 0.7:
            teaser = f"Opinion: why the {rng.choice(WORDS)} {rng.choice(WORDS)} matters"
            junk.append(teaser)
            blocks.insert(1, f"<div class='inline-teaser'><a href='/op/{n}'>{teaser}</a></div>")
        html = (f"<!doctype html><html lang='en'><head><title>{title} | The Gazette</title></head><body>"
                "<nav><a href='/'>Home</a><a href='/news'>News</a></nav>"
                f"<article><h1>{title}</h1><p class='byline'>By Jane Doe</p><div class='story'>{''.join(blocks)}"
                "</div></article><footer>© The Gazette</footer></body></html>")
        made.append(Made(f"https://gazette.example/2025/03/{1 + n % 28:02d}/story-{n}", html, story, junk))
    return made


def learn_pages(db_path: Path, start: int, stop: int, step: int = 1) -> None:
    """Clean pages start..stop of the outlet as the pipeline does: with what the source has learned so far,
    counting each page's blocks in the same database (what a worker process of the daemon does)."""
    db = open_store(db_path)
    adapter = get_adapter("generic")
    for made in outlet()[start:stop:step]:
        try:
            cleaned = adapter.clean(page_from_bytes(made.html.encode(), made.url), source="gazette",
                                    learned=learn.learned(db, "gazette"))
        except Rejected:
            continue
        with db.batch():
            db.observe_blocks("gazette", url_key(made.url), cleaned.blocks)
    db.close()


def in_another_process(db_path: Path, start: int, stop: int, step: int = 1) -> subprocess.Popen[bytes]:
    code = (f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); import test_learn; "
            f"test_learn.learn_pages(__import__('pathlib').Path({str(db_path)!r}), {start}, {stop}, {step})")
    return subprocess.Popen([sys.executable, "-c", code])


def clean_all(db_path: Path) -> list[tuple[Made, str]]:
    db = open_store(db_path)
    learned = learn.learned(db, "gazette")
    db.close()
    adapter = get_adapter("generic")
    return [(m, adapter.clean(page_from_bytes(m.html.encode(), m.url), source="gazette", learned=learned).article.text)
            for m in outlet()]


def paragraphs(text: str) -> set[str]:
    return {" ".join(p.split()) for p in text.split("\n\n")}


def test_what_one_process_learned_another_removes_and_no_story_text_is_lost(tmp_path: Path) -> None:
    db_path = tmp_path / "news.db"
    assert in_another_process(db_path, 0, 40).wait(60) == 0
    for made, text in clean_all(db_path):  # a new process, reading what the old one learned
        shown = paragraphs(text)
        assert not [p for p in made.story if p not in shown], made.url  # every story paragraph kept
        assert not [j for j in made.junk if j in text], made.url  # no junk left
    db = open_store(db_path)
    listing = db.boilerplate_listing("gazette")
    db.close()
    assert listing.pages == 40
    kinds = {b["kind"] for b in listing.blocks}
    assert {"text", "lead", "path"} <= kinds
    learned_text = " ".join(b["block"] for b in listing.blocks)
    assert BACKGROUND not in learned_text
    assert QUOTE not in learned_text
    assert REMINDER not in learned_text


def test_nothing_is_learned_before_enough_pages(tmp_path: Path) -> None:
    db_path = tmp_path / "news.db"
    learn_pages(db_path, 0, learn.MIN_PAGES - 1)
    db = open_store(db_path)
    assert learn.learned(db, "gazette").keys == frozenset()
    assert db.learned_revision("gazette") == 0
    db.close()


def test_two_processes_learning_at_once(tmp_path: Path) -> None:
    db_path = tmp_path / "news.db"
    open_store(db_path).close()
    workers = [in_another_process(db_path, 0, 40, 2), in_another_process(db_path, 1, 40, 2)]
    assert [w.wait(90) for w in workers] == [0, 0]
    db = open_store(db_path)
    assert db.db.execute("SELECT pages FROM boilerplate_sources WHERE source = 'gazette'").fetchone() == (40,)
    assert db.db.execute("SELECT count(*) FROM boilerplate_pages").fetchone() == (40,)
    appeal = db.db.execute("SELECT pages, learned_at FROM boilerplate WHERE sample = ?", [APPEAL]).fetchone()
    assert appeal[0] == 40
    assert appeal[1] is not None
    db.close()


def test_a_page_cleaned_again_counts_once(tmp_path: Path) -> None:
    db_path = tmp_path / "news.db"
    learn_pages(db_path, 0, 3)
    learn_pages(db_path, 0, 3)  # the same three pages again (a revisit, a reclean)
    db = open_store(db_path)
    assert db.db.execute("SELECT pages FROM boilerplate_sources").fetchone() == (3,)
    assert db.db.execute("SELECT pages FROM boilerplate WHERE sample = ?", [APPEAL]).fetchone() == (3,)
    db.close()


def test_pins_keep_and_junk(tmp_path: Path) -> None:
    db_path = tmp_path / "news.db"
    learn_pages(db_path, 0, 40)
    db = open_store(db_path)
    pinned = learn.learned(db, "gazette", keep=["keep the Gazette going"], junk=["Jane Doe"])
    db.close()
    adapter = get_adapter("generic")
    made = outlet()[25]  # the one-line story
    text = adapter.clean(page_from_bytes(made.html.encode(), made.url), source="gazette", learned=pinned).article.text
    assert APPEAL in text  # learned, but pinned to keep
    assert ONE_LINER in text
    made = outlet()[3]
    text = adapter.clean(page_from_bytes(made.html.encode(), made.url), source="gazette", learned=pinned).article.text
    assert "Jane Doe" not in text


def test_stale_keys_of_single_pages_are_pruned(tmp_path: Path) -> None:
    db = open_store(tmp_path / "news.db")
    from ingest.models import BlockKey

    with db.batch():
        for n in range(learn.PRUNE_AFTER + learn.PRUNE_EVERY):
            keys = [BlockKey(f"t:story{n}", "text", f"story {n}"), BlockKey("t:appeal", "text", APPEAL)]
            db.observe_blocks("gazette", f"https://gazette.example/{n}", keys)
    # The prune at page 1250 dropped the single-page keys not seen since page 250; the rest stay for now.
    left = db.db.execute("SELECT count(*) FROM boilerplate WHERE key LIKE 't:story%'").fetchone()[0]
    assert left == learn.PRUNE_AFTER + 1
    assert db.db.execute("SELECT 1 FROM boilerplate WHERE key = 't:story0'").fetchone() is None
    assert db.db.execute("SELECT pages FROM boilerplate WHERE key = 't:appeal'").fetchone() == (
        learn.PRUNE_AFTER + learn.PRUNE_EVERY,)
    # A page keeps a record of the keys it counted: counting it again adds nothing, pruned keys included.
    with db.batch():
        db.observe_blocks("gazette", "https://gazette.example/0", [BlockKey("t:story0", "text", "story 0")])
    assert db.db.execute("SELECT 1 FROM boilerplate WHERE key = 't:story0'").fetchone() is None
    db.close()
