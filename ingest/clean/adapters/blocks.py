"""Boilerplate learned per source: a page's text blocks -> their keys, and the blocks a source repeats -> gone.

Contract: `segment(root)` cuts the part of a page that holds the story into leaf text blocks (paragraphs,
list items, headings, quotes, text-only divs), each with up to three keys by which the same block is known
on the source's other pages:
  text  `t:<hash>`   its words (lower-cased), for blocks of up to 80 words;
  lead  `l:<words>`  a short repeated lead-in before ":" / "|" / "—" followed by a linked or title-like rest
                     ("ALSO ON THE HERALD: <a>title</a>", "Нагадаємо: <a>title</a>"), whose text varies;
  path  `p:<path>`   the tag and classes of it and two ancestors, for a mostly-linked block that is one of at
                     most two on its path on the page (a teaser box whose title varies);
  box   `b:<path>`   the same for a block of prose: learned only when it says few different things across
                     pages (an appeal in two wordings; not a standfirst, new on every page).
`junk_blocks(blocks, learned)` names the blocks whose key the source has learned (ingest/archive/learn.py counts
them across pages) or that hold a `junk` phrase of the source, never one holding a `keep` phrase, and by
lead-in or box never more than half of the page's words; `drop_junk(text, junk, learned)` takes their text
out of the extracted text (the page itself is extracted as it is).
`observe(blocks)` lists the keys of the page's blocks for the store to count. Pure: no I/O.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from typing import Final

from selectolax.lexbor import LexborNode

from ingest.models import BlockKey, Learned

_LEAVES = "p, li, h2, h3, h4, h5, h6, blockquote, dd, dt, figcaption, pre, div, section, aside, td"
_BLOCK_TAGS = frozenset({"p", "li", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "dd", "dt", "figcaption",
                         "pre", "div", "section", "aside", "article", "ul", "ol", "dl", "table", "tr", "td",
                         "header", "footer", "nav", "main", "form", "figure"})
_WORD = re.compile(r"\w+")
_DIGITS = re.compile(r"\d+")
_LEAD = re.compile(r"^(?P<lead>[^:|—–.!?]{2,60}?)\s*(?::|\||—|–)\s+(?P<rest>\S.*)$", re.DOTALL)
_LEAD_MARKS = (":", "|", "—", "–")
_LEAD_REACH = 62  # a block's text has single spaces: its separator, if any, is within 60 + 1 + 1 characters
MAX_TEXT_WORDS = 80  # longer blocks are story paragraphs; a notice or an appeal is shorter
MAX_LEAD_WORDS = 6
# A junk block this long is also removed where it is glued into other text; a shorter one is too common.
_PIECE_WORDS: Final = 3
_SAMPLE_CHARS: Final = 300  # of a block's text kept with its key, to show what was learned
TITLE_WORDS = 15  # a lead-in's rest that is this short and ends without a full stop reads as a title
LINKED = 0.5  # share of a block's characters inside links from which it is a teaser, not prose
PATH_BLOCKS = 2  # blocks on one path on a page, at most, for the path to name a box (not the story's <p>s)
MAX_REMOVED = 0.5  # share of the page's block words that learned keys may remove


class Block:
    """One leaf text block of the page and the keys it is known by (slots: a page makes a hundred)."""

    __slots__ = ("_norm", "keys", "node", "path", "text", "words")

    def __init__(self, node: LexborNode, text: str, words: int, keys: dict[str, str], path: str = "") -> None:
        self.node, self.text, self.words, self.keys, self.path = node, text, words, keys, path  # keys: kind -> key
        self._norm: str | None = None

    def __repr__(self) -> str:
        return f"Block({self.text[:40]!r}, words={self.words}, keys={self.keys})"

    @property
    def norm(self) -> str:
        """Its words, normalised (computed when asked: a long story paragraph never needs them)."""
        if self._norm is None:
            self._norm = normalise(self.text)
        return self._norm


def normalise(text: str) -> str:
    """Words lower-cased, punctuation and spacing dropped: "Join 12,000 readers!" -> "join 12 000 readers".

    Numbers stay: a daily report that differs from yesterday's only in its figures is a new story. (No Unicode
    normalisation: a site writes its own blocks the same way on every page, and it cost a third of the time.)"""
    return " ".join(_WORD.findall(text.casefold()))


def text_key(norm: str) -> str:
    """The key of a block's words (normalised)."""
    return "t:" + hashlib.blake2b(norm.encode("utf-8"), digest_size=8).hexdigest()


def segment(root: LexborNode) -> list[Block]:
    """The leaf text blocks under `root`, in document order, with their keys."""
    blocks: list[Block] = []
    prefixes: dict[int, str] = {}  # a parent's "grandparent>parent" path, once per parent
    parts: dict[tuple[str, str], str] = {}  # tag.classes of a tag and class attribute, once per page
    for node in root.css(_LEAVES):
        if any(child.tag in _BLOCK_TAGS for child in node.iter()):
            continue  # not a leaf: its children are the blocks
        words = node.text(separator=" ").split()
        if not words:
            continue
        text = " ".join(words)
        block = Block(node, text, len(words), {}, _path(node, prefixes, parts))
        if block.words <= MAX_TEXT_WORDS:
            if not block.norm:
                continue  # punctuation only
            block.keys["text"] = text_key(block.norm)
        blocks.append(block)
    crowded = {path for path, n in Counter(b.path for b in blocks).items() if n > PATH_BLOCKS}
    for block in blocks:
        # A lead-in is at most 60 characters: most blocks have no separator that early (no regex for them).
        head = block.text[:_LEAD_REACH]
        lead_in = _LEAD.match(block.text) if any(mark in head for mark in _LEAD_MARKS) else None
        alone = block.path not in crowded
        if not (lead_in or alone):
            continue  # a story paragraph, a list's item: its words are its only key (most blocks stop here)
        linked = _linked_share(block.node, block.text)
        lead = _lead(lead_in, linked) if lead_in else None
        if lead:
            block.keys["lead"] = "l:" + lead
        if alone:  # a box of its own on the page: known by its place (linked: a teaser; prose: an appeal)
            block.keys["path" if linked >= LINKED else "box"] = ("p:" if linked >= LINKED else "b:") + block.path
    return blocks


def junk_blocks(blocks: list[Block], learned: Learned) -> list[Block]:
    """The blocks the source has learned or pinned as junk.

    A block whose very words were learned (or that holds a junk pin) is junk. One known only by its lead-in
    or its box is junk unless those would take more than half of the page's words: a page that would lose
    that much by a resemblance is not what was learned. None is when all would be.
    """
    if not learned.keys and not learned.junk:
        return []
    doomed = [b for b in blocks if _is_junk(b, learned)]
    by_resemblance = [b for b in doomed if not _exactly_junk(b, learned)]
    if sum(b.words for b in by_resemblance) > MAX_REMOVED * sum(b.words for b in blocks):
        doomed = [b for b in doomed if _exactly_junk(b, learned)]
    return [] if len(doomed) == len(blocks) else doomed


def drop_junk(text: str, junk: list[Block], learned: Learned, blocks: list[Block] | None = None) -> str:
    """The extracted text without the junk blocks' text, and without paragraphs whose words the source has
    learned or that hold a junk pin (for text the page holds outside leaf blocks).

    Junk is taken out of the text, not the page: extraction then reads the page as it always did (a short
    story left alone in its container is read differently: glued to its dateline). A paragraph that is a
    junk block, or a line of one, goes; a junk block's text inside a paragraph is cut out of it. `blocks`,
    the page's, spare normalising and hashing again the paragraphs that are one of them (most are).
    """
    if not junk and not learned.keys and not learned.junk:
        return text
    norms = [b.norm for b in junk]
    pieces = sorted({b.text for b in junk if b.words >= _PIECE_WORDS}, key=len, reverse=True)
    known = {b.text: b for b in blocks or () if "text" in b.keys}
    kept = []
    for paragraph in text.split("\n\n"):
        if _pinned(paragraph, learned.keep):
            kept.append(paragraph)
            continue
        block = known.get(paragraph)
        if block is not None:
            norm, learned_text = block.norm, block.keys["text"] in learned.keys
        else:
            norm = normalise(paragraph)
            learned_text = bool(norm) and norm.count(" ") < MAX_TEXT_WORDS and text_key(norm) in learned.keys
        part_of_junk = bool(norm) and any(norm == n or (" " in norm and f" {norm} " in f" {n} ") for n in norms)
        if learned_text or part_of_junk:
            continue
        for piece in pieces:
            paragraph = paragraph.replace(piece, " ")
        paragraph = " ".join(paragraph.split())
        if paragraph and not _pinned(paragraph, learned.junk):
            kept.append(paragraph)
    return "\n\n".join(kept)


def drop_paragraphs(text: str, learned: Learned) -> str:
    """`drop_junk` with no blocks: for text found elsewhere than in the page's blocks (script data)."""
    return drop_junk(text, [], learned)


def observe(blocks: list[Block]) -> tuple[BlockKey, ...]:
    """The keys of the page's blocks, each once, to count across the source's pages: also of blocks the
    extraction left out (a teaser box it drops on a long page it keeps on a short one, glued to the story).
    A box key carries the block's words, so that the store can tell a box that says a few things over and
    over (an appeal in two wordings) from one that says something new on each page (a standfirst)."""
    seen: dict[str, BlockKey] = {}
    for block in blocks:
        for kind, key in block.keys.items():
            variant = text_key(block.norm) if kind == "box" else ""
            seen.setdefault(key, BlockKey(key, kind, block.text[:_SAMPLE_CHARS], variant))
    return tuple(seen.values())


def _exactly_junk(block: Block, learned: Learned) -> bool:
    return block.keys.get("text") in learned.keys or _pinned(block.text, learned.junk)


def _is_junk(block: Block, learned: Learned) -> bool:
    if _pinned(block.text, learned.keep):
        return False
    return any(key in learned.keys for key in block.keys.values()) or _pinned(block.text, learned.junk)


def _pinned(text: str, phrases: tuple[str, ...]) -> bool:
    """True when `text` holds one of the (case-folded) pinned phrases; most sources pin none."""
    if not phrases:
        return False
    folded = text.casefold()
    return any(phrase in folded for phrase in phrases)


def _linked_share(node: LexborNode, text: str) -> float:
    if not text:
        return 0.0
    linked = sum(len(" ".join(a.text(separator=" ").split())) for a in node.css("a"))
    return min(1.0, linked / len(text))


def _lead(match: re.Match[str], linked: float) -> str | None:
    """The normalised lead-in of "LEAD: rest" when the rest is a link or a title, else None."""
    lead, rest = normalise(match.group("lead")), match.group("rest").strip()
    if not lead or lead.count(" ") >= MAX_LEAD_WORDS:
        return None
    title_like = len(rest.split()) <= TITLE_WORDS and not rest.endswith((".", "!", "?", "…"))
    return lead if linked >= LINKED or title_like else None


def _path(node: LexborNode, prefixes: dict[int, str], parts: dict[tuple[str, str], str]) -> str:
    """tag.classes>tag.classes>tag.classes of the node and two ancestors, classes without digits, sorted."""
    parent = node.parent
    if parent is None or parent.tag in ("body", "html"):
        return _part(node, parts)
    prefix = prefixes.get(parent.mem_id)
    if prefix is None:
        grand = parent.parent
        prefix = _part(parent, parts)
        if grand is not None and grand.tag not in ("body", "html"):
            prefix = f"{_part(grand, parts)}>{prefix}"
        prefixes[parent.mem_id] = prefix
    return f"{prefix}>{_part(node, parts)}"


def _part(node: LexborNode, parts: dict[tuple[str, str], str]) -> str:
    tag, classes = node.tag or "", node.attributes.get("class") or ""
    part = parts.get((tag, classes))
    if part is None:
        names = sorted({_DIGITS.sub("", c) for c in classes.split()} - {""})
        part = parts[(tag, classes)] = ".".join([tag, *names[:3]])
    return part
