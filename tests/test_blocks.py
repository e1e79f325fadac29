"""A page's text blocks and their keys, and removing what a source learned (ingest/clean/adapters/blocks.py)."""

from __future__ import annotations

from selectolax.lexbor import LexborHTMLParser

from ingest.clean.adapters import get_adapter
from ingest.clean.adapters.blocks import Block, drop_junk, junk_blocks, normalise, observe, segment, text_key
from ingest.clean.parse import page_from_bytes
from ingest.models import Learned

STORY = ("The city council approved the new water plan on Tuesday after a debate that lasted most of the "
         "afternoon, and the first pipes will be replaced in the spring.")


def blocks_of(body: str) -> dict[str, dict[str, str]]:
    tree = LexborHTMLParser(f"<html><body><article>{body}</article></body></html>")
    assert tree.body is not None
    return {b.text: b.keys for b in segment(tree.body)}


def test_keys_of_the_kinds_of_junk_inside_a_story() -> None:
    found = blocks_of(
        f"<p>{STORY}</p>"
        "<p>Readers like you keep the Gazette going. Chip in from $1 today.</p>"  # a bare <p> appeal
        "<p>ALSO IN THE GAZETTE: <a href='/x'>Bridge repairs start next week</a></p>"  # lead-in + linked title
        "<div class='inline-teaser'><a href='/y'>Mayor answers readers' questions</a></div>"  # linked box
        "<p>Нагадаємо, що міська рада ухвалила бюджет ще в грудні, після тривалого обговорення.</p>"
        "<p>Update: the ministry later said the talks would resume on Monday.</p>")
    assert set(found[STORY]) == {"text"}
    assert set(found["Readers like you keep the Gazette going. Chip in from $1 today."]) == {"text"}
    assert found["ALSO IN THE GAZETTE: Bridge repairs start next week"]["lead"] == "l:also in the gazette"
    assert found["Mayor answers readers' questions"]["path"] == "p:article>div.inline-teaser"
    # Background after "Нагадаємо," and an update line are sentences of the story: no lead-in key.
    assert set(found["Нагадаємо, що міська рада ухвалила бюджет ще в грудні, після тривалого обговорення."]) == {"text"}
    assert set(found["Update: the ministry later said the talks would resume on Monday."]) == {"text"}


def test_text_keys_ignore_case_and_spacing_but_not_numbers() -> None:
    assert normalise("Join  12,000 readers!") == "join 12 000 readers"
    assert text_key(normalise("Follow us on Signal")) == text_key(normalise("FOLLOW US ON SIGNAL."))
    # A daily report that differs only in its figures is a new story, not a repeated block.
    assert text_key(normalise("Russia lost 1,230 soldiers in the past day.")) != text_key(
        normalise("Russia lost 1,180 soldiers in the past day."))


def test_long_paragraphs_and_crowded_paths_get_no_keys() -> None:
    long = " ".join(["word"] * 90)
    links = "".join(f"<li><a href='/{i}'>Another headline {i}</a></li>" for i in range(5))
    found = blocks_of(f"<p>{long}</p><ul class='more'>{links}</ul>")
    assert "text" not in found[long]  # a long story paragraph is not counted by its words
    assert all("path" not in found[f"Another headline {i}"] for i in range(5))  # a list is not a box


def test_junk_is_what_was_learned_or_pinned_but_never_a_kept_block_or_most_of_the_page() -> None:
    appeal = "Readers like you keep the Gazette going. Chip in from $1 today."
    notice = "Reproduction needs the editors' written consent."
    body = f"<p>{STORY}</p><p>{appeal}</p><p>{notice}</p><p>{STORY} Again.</p>"
    blocks = blocks_list(body)
    learned = Learned(keys=frozenset({text_key(normalise(appeal))}), junk=("written consent",))
    junk = junk_blocks(blocks, learned)
    assert [b.text for b in junk] == [appeal, notice]
    text = f"{STORY}\n\n{appeal}\n\n{STORY} Again. {notice}"  # trafilatura glued the notice to a paragraph
    assert drop_junk(text, junk, learned) == f"{STORY}\n\n{STORY} Again."
    # A keep pin wins over what was learned.
    assert junk_blocks(blocks, Learned(keys=learned.keys, keep=("the gazette going",))) == []
    # Nothing is junk when everything would be: a page of nothing but boilerplate is not understood.
    assert junk_blocks(blocks_list(f"<p>{STORY}</p>"), Learned(keys=frozenset({text_key(normalise(STORY))}))) == []
    # A lead-in or a box that would take most of the page is a resemblance too far.
    teasers = "".join(f"<p>MORE FROM US: <a href='/{i}'>Headline {i} of another story</a></p>" for i in range(2))
    assert junk_blocks(blocks_list(f"{teasers}<p>Short story.</p>"), Learned(keys=frozenset({"l:more from us"}))) == []


def blocks_list(body: str) -> list[Block]:
    tree = LexborHTMLParser(f"<html><body><article>{body}</article></body></html>")
    assert tree.body is not None
    return segment(tree.body)


def test_cleaning_a_page_removes_what_was_learned_and_reports_the_keys_it_saw() -> None:
    appeal = "Readers like you keep the Gazette going. Chip in from $1 today."
    html = (f"<html><head><title>Water plan</title></head><body><article><h1>Water plan approved</h1>"
            f"<p>{STORY}</p><p>{appeal}</p><p>{STORY.replace('spring', 'summer')}</p></article></body></html>")
    page = page_from_bytes(html.encode(), "https://gazette.example/2025/03/04/water-plan-approved")
    adapter = get_adapter("generic")
    cold = adapter.clean(page, source="gazette")
    assert appeal in cold.article.text
    appeal_key = text_key(normalise(appeal))
    assert appeal_key in {b.key for b in cold.blocks}
    warm = adapter.clean(page, source="gazette", learned=Learned(keys=frozenset({appeal_key}), revision=3))
    assert appeal not in warm.article.text
    assert STORY in warm.article.text
    assert warm.article.learned_rev == 3
    assert appeal_key in {b.key for b in warm.blocks}  # taken out, and still counted


def test_observe_counts_every_block_once_and_boxes_with_their_words() -> None:
    story = f"<p>{STORY}</p>" * 3  # three blocks on one path: the story, not a box
    html = f"<html><body><article>{story}<div class='callout'>Members keep us free.</div></article></body></html>"
    tree = LexborHTMLParser(html)
    assert tree.body is not None
    keys = observe(segment(tree.body))
    assert [(k.kind, k.sample) for k in keys] == [("text", STORY), ("text", "Members keep us free."),
                                                  ("box", "Members keep us free.")]
    box = keys[-1]
    assert box.key == "b:article>div.callout"
    assert box.variant == text_key(normalise("Members keep us free."))
