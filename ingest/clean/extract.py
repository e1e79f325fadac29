"""Main-text extraction stage: HTML (a whole page or an adapter's body container) -> plain text.

Contract: `extract_text(html, url=...)` returns the article's paragraphs, subheadings, list items, table
rows and quotes, one per block, separated by one blank line ("\\n\\n"); "" when nothing is found.
`extract_story(html, url=...)` yields, best first, the texts a whole page as served may hold its story in
when its cleaned extraction found none: trafilatura on the raw page, then the HTML stories its script data
and <noscript> blocks carry (JSON-LD articleBody, an app's hydration state). This is the only module that
imports trafilatura: every option we pass lives here.
"""

from __future__ import annotations

import html as htmlmod
import json
import re
import threading
import unicodedata
from collections.abc import Iterator
from copy import copy
from typing import Any, Final

import trafilatura
import trafilatura.core
import trafilatura.external
import trafilatura.htmlprocessing
import trafilatura.meta
import trafilatura.utils
from lxml import etree

from ingest.clean.adapters.checks import SENTENCE_CHARS, is_sentence

# Blocks that become one paragraph each in our output. `item` and `row` are handled on their own so
# that a list or a table gives one paragraph per entry, not one run-on line.
_TEXT_BLOCKS = frozenset({"p", "head", "quote", "code"})
_SPACES = re.compile(r"[ \t\u00a0\u2000-\u200a\u202f\u205f\u3000]+")
_DOCUMENT = re.compile(r"<(?:html|body)[\s>]", re.IGNORECASE)
_HEAD_CHARS: Final = 4096  # a document's <html> or <body> tag comes within its first few kB; a fragment has none
_ZERO_WIDTH = re.compile(r"[\u00ad\u200b-\u200d\u2060\ufeff]")  # and soft hyphens
# Blocks a browser does not show as text, whose contents may still be the story (script data, <noscript>), and
# the JSON/JS string literals in scripts (an articleBody value marked), unrolled: a 1 MB blob is one pass.
_SCRIPTED = re.compile(r"<(script|noscript|style|template)\b[^>]*>(.*?)</\1\s*>", re.IGNORECASE | re.DOTALL)
_STRING = re.compile(r'("articleBody"\s*:\s*)?"([^"\\]*(?:\\.[^"\\]*)*)"')
_PARAGRAPH = re.compile(r"<p[\s>]", re.IGNORECASE)
_TAG = re.compile(r"<[^>]+>")
_MIN_STORY_CHARS = 200  # characters of text: less is no story kept in data, but a notice or a teaser
_MAX_CANDIDATES = 3
# The app fills these slots when it renders the story (ads, embeds): "$$ARTICLEAD$$", "{{ad}}", "%%EMBED%%".
_PLACEHOLDER = re.compile(r"(?:\$\$|\{\{|%%|\[\[)[\w.:\- ]{1,40}(?:\$\$|\}\}|%%|\]\])")
# Readability's text is a part of the page's text. Ours covering this share of it, readability's cannot be
# twice as long, and trafilatura keeps ours (1.0 would do: the margin is for whitespace the two count apart).
_DECISIVE_SHARE = 0.55
# A paragraph of a sentence this long is a story (checks.is_sentence): a brief, see _keep_brief.
_BRIEF_CHARS = SENTENCE_CHARS
_SPACES_ALL = re.compile(r"\s+")
# A pick this long came from a main pass that found plenty (the row of a brief's layout table is a few hundred
# characters): not worth comparing its paragraphs pairwise.
_GLUED_PICK_CHARS = 3000
# Set while extract_text runs trafilatura in this thread: the stage below is ours only then.
_OURS = threading.local()


def extract_text(html: str, *, url: str | None = None) -> str:
    """Main text of `html` as paragraphs separated by a blank line; "" when none is found."""
    if not html or not html.strip():
        return ""
    fragment = not _DOCUMENT.search(html[:_HEAD_CHARS])
    if fragment:
        # An adapter's body container: trafilatura drops subheadings of a bare fragment (measured on
        # The Japan News and Pravda), but keeps them inside an <article>.
        html = f"<html><body><article>{html}</article></body></html>"
    # An adapter's container: favor_recall kept the same paragraphs as the default and precision modes
    # (7 corpus pages with gold text, tests/test_extract.py) and was the fastest. A whole page (the
    # generic path): favor_recall skips trafilatura's readability/justext cross-check once its own pick
    # passes 2,500 characters, and that pick is sometimes one block of a split story (a Politico page
    # kept 1 paragraph of 22); the default mode scored higher F1 on the fundus corpus (bench/quality.py).
    # bare_extraction, not extract(output_format="xml"): the same tree without the XML output's content
    # hash and serialise/parse round trip (3 ms of 25 per page on the fundus corpus; same text on all 258
    # pages and our fixtures). What that output also did is done in _add: soft hyphens out, NFC.
    _OURS.active = True  # our stage for this call only: other callers of trafilatura get trafilatura as written
    try:
        document = trafilatura.bare_extraction(
            html,
            url=url,
            include_comments=False,  # reader comments are not the story
            deduplicate=False,  # process-global cache: the same page returns nothing after a few calls
            include_tables=True,
            include_images=False,
            include_links=False,
            include_formatting=False,
            favor_recall=fragment,
            with_metadata=False,
        )
    finally:
        _OURS.active = False
    body = getattr(document, "body", None)
    if body is None:
        return ""
    blocks: list[str] = []
    _walk(body, blocks)
    return "\n\n".join(blocks)


def _extract_and_compare(cleaned_tree: Any, cleaned_tree_backup: Any, tree: Any, options: Any) -> tuple[Any, str]:
    """trafilatura's stages 1-2 (`trafilatura.core._extract_and_compare`), less the readability run when its
    result could not be taken.

    trafilatura runs readability on a copy of the page and prefers it only when its own text is empty, is
    less than half of readability's, or has no paragraphs (or more tables than paragraphs); it runs jusText
    when its pick holds "unclean" elements or is short (trafilatura/external.py, compare_extraction). When its
    own text already covers more than half of the page's, none of that can happen: we keep its pick without
    copying the page and running readability, which was a fifth of the cleaning time (2.4 ms of a fundus page;
    in that case on 85% of the fundus pages and 90% of wcxb-dev's, with the same text on every one). In recall
    mode (an adapter's container) trafilatura's rules differ: it runs as written. Either way a brief is kept
    (`_keep_brief`). All of this only inside extract_text (`_OURS`): anyone else calling trafilatura in the
    process, a benchmark's plain run included, gets trafilatura as written.
    """
    if not getattr(_OURS, "active", False):  # someone else's trafilatura call (a benchmark's plain run)
        return _ORIGINAL_STAGE(cleaned_tree, cleaned_tree_backup, tree, options)
    if options.fast or options.focus == "recall":
        body, text = _ORIGINAL_STAGE(cleaned_tree, cleaned_tree_backup, tree, options)
        _keep_brief(body, text, options)
        return body, text
    body, text = getattr(trafilatura.core, "extract_content")(cleaned_tree, options)  # noqa: B009 (not re-exported)
    body, text = _unglued(body, text, cleaned_tree_backup, options)
    structured = bool(body.xpath(".//p//text()")) and len(body.findall(".//table")) <= len(body.findall(".//p"))
    if structured and len(text) >= options.min_extracted_size and not body.xpath(trafilatura.external.SANITIZED_XPATH):
        page_text = trafilatura.utils.trim(etree.tostring(tree, method="text", encoding="unicode"))
        if len(text) >= _DECISIVE_SHARE * len(page_text):
            return body, text
    body, text = trafilatura.external.compare_extraction(cleaned_tree_backup, copy(tree), body, text, options)
    _keep_brief(body, text, options)
    return body, text


def _unglued(body: Any, text: str, pristine: Any, options: Any) -> tuple[Any, str]:
    """trafilatura's pick, or for a brief whose pick repeats it run together with the page around it, the brief.

    When its main pass finds less than MIN_EXTRACTED_SIZE, trafilatura adds divs and "wild" text to its pick; on a
    layout table that is the whole row, the most-read list, the byline and the story's sentence run together, next
    to the sentence itself. Seen that way (a paragraph of the pick whole inside another), the main pass runs
    again on the cleaned page as it was before (trafilatura's backup, converted as it converts it) with the bar at
    one sentence; its pick stands if it holds a sentence.
    """
    if len(text) > _GLUED_PICK_CHARS:  # a main pass that found a story of its own: nothing was added around it
        return body, text
    paragraphs = [_SPACES_ALL.sub("", " ".join(element.itertext())) for element in body]
    inner = [p for p in paragraphs if len(p) >= _BRIEF_CHARS]
    if not any(a != b and a in b for a in inner for b in paragraphs):
        return body, text
    brief = copy(options)
    brief.min_extracted_size = _BRIEF_CHARS
    converted = trafilatura.htmlprocessing.convert_tags(copy(pristine), brief, options.url)
    body2, text2 = getattr(trafilatura.core, "extract_content")(converted, brief)  # noqa: B009
    if not any(map(_is_sentence, body2.iter("p"))):
        return body, text
    options.min_extracted_size = min(options.min_extracted_size, max(_BRIEF_CHARS, len(text2)))
    return body2, text2


def _is_sentence(paragraph: Any) -> bool:
    """A <p> that is a sentence (checks.is_sentence): a story, however short."""
    return is_sentence(trafilatura.utils.trim(" ".join(paragraph.itertext())))


def _keep_brief(body: Any, text: str, options: Any) -> None:
    """Keep a one-sentence story that trafilatura would throw away for a dump of the page.

    Under MIN_EXTRACTED_SIZE (250 characters) trafilatura's next stage counts its pick as failed and takes the
    text of the whole page instead when longer, as one run-on line: a brief came out glued to its section
    kicker, the most-read list and the footer. A pick holding a paragraph that is a sentence is a story: the
    bar drops to its length for the rest of this page's extraction (`options` is this call's own).
    """
    if _BRIEF_CHARS <= len(text) < options.min_extracted_size and any(map(_is_sentence, body.iter("p"))):
        options.min_extracted_size = len(text)


def _install_shortcut() -> bool:
    """Put `_extract_and_compare` in trafilatura's cascade, if this trafilatura has the stage it replaces."""
    needed = [(trafilatura.core, "_extract_and_compare"), (trafilatura.core, "extract_content"),
              (trafilatura.external, "compare_extraction"), (trafilatura.external, "SANITIZED_XPATH"),
              (trafilatura.utils, "trim")]
    if not all(hasattr(module, name) for module, name in needed):
        return False
    trafilatura.core._extract_and_compare = _extract_and_compare
    return True


# trafilatura's own stage, also when this module is imported again (its stage is then already ours)
_ORIGINAL_STAGE = getattr(trafilatura.core._extract_and_compare, "__wrapped__", trafilatura.core._extract_and_compare)
_extract_and_compare.__wrapped__ = _ORIGINAL_STAGE  # type: ignore[attr-defined]
SHORTCUT = _install_shortcut()  # tests/test_extract.py checks it is in place and changes no text


def extract_story(html: str, *, url: str | None = None) -> Iterator[str]:
    """Texts of a whole page as served that may hold its story, best first, for when the cleaned page gave none.

    First trafilatura on the page as served, less its scripts and <noscript> notices: our pre-cleaning can
    take what it steers by (it keeps the infinite-scroll block holding the <h1>). Then the longest stories the
    page's script data and <noscript> blocks carry: an app that renders in the browser ships its story as HTML
    in a JSON string, a lazy-loading page in <noscript>, schema.org in JSON-LD articleBody. Lazy: each is
    extracted when asked for.
    """
    yield extract_text(_SCRIPTED.sub(" ", html), url=url)
    stories = sorted(_scripted_stories(html), key=lambda found: -found[0])
    for _, story in stories[:_MAX_CANDIDATES]:
        paragraphs = extract_text(story, url=url).split("\n\n")
        yield "\n\n".join(p for p in paragraphs if not _PLACEHOLDER.fullmatch(p))


def _scripted_stories(html: str) -> Iterator[tuple[int, str]]:
    """(characters of text, HTML) of the stories kept in <script> and <noscript> blocks."""
    for match in _SCRIPTED.finditer(html):
        kind, content = match.group(1).lower(), match.group(2)
        if kind == "script":
            found = list(_stories_in_code(content, depth=2))
        elif kind == "noscript" and _PARAGRAPH.search(content):
            found = [(content, False)]
        else:
            continue
        for story, declared in found:
            size = len(_TAG.sub("", story).strip())
            # A notice ("please enable JavaScript") or a teaser is shorter than a story; an articleBody says what it is.
            if declared or size >= _MIN_STORY_CHARS:
                yield size, story


def _stories_in_code(code: str, depth: int) -> Iterator[tuple[str, bool]]:
    """HTML with paragraphs in the string literals of `code`, and whether it is a declared articleBody."""
    for literal in _STRING.finditer(code):
        declared = bool(literal.group(1))
        if len(literal.group(2)) < _MIN_STORY_CHARS and not declared:
            continue
        try:
            value = json.loads(f'"{literal.group(2)}"', strict=False)
        except ValueError:  # a JS-only escape (\x41, \'): not data
            continue
        if not _PARAGRAPH.search(value):
            if declared:  # plain text, a paragraph a line
                yield "".join(f"<p>{htmlmod.escape(line)}</p>" for line in value.splitlines() if line.strip()), True
        elif value.lstrip().startswith("<") or depth <= 1:
            yield value, declared
        else:  # JSON inside a JS string (Next.js, Nuxt payloads): its own literals hold the HTML
            nested = list(_stories_in_code(value, depth - 1))
            yield from nested or [(value, declared)]


def reset_caches() -> None:
    """Free trafilatura's (and its helpers') process-wide caches; the daemon calls this now and then."""
    trafilatura.meta.reset_caches()


def _walk(element: etree._Element, out: list[str]) -> None:
    for child in element:
        tag = child.tag if isinstance(child.tag, str) else ""
        if tag == "list":
            for item in child.iter("item"):
                _add(_inline_text(item, skip=("list",)), out)
        elif tag == "table":
            for row in child.iter("row"):
                cells = [_inline_text(cell) for cell in row.iter("cell")]
                _add(" | ".join(c.replace("\n", " ") for c in cells if c), out)
        elif tag in _TEXT_BLOCKS and not _has_blocks(child):
            _add(_inline_text(child), out)
        elif tag:
            # A quote or div holding paragraphs: keep its inner structure.
            if child.text and child.text.strip():
                _add(_flat(child.text), out)
            _walk(child, out)
        if child.tail and child.tail.strip() and element.tag not in ("list", "table", "row"):
            _add(_flat(child.tail), out)


def _has_blocks(element: etree._Element) -> bool:
    return any(isinstance(c.tag, str) and c.tag in ("p", "list", "table", "quote", "head") for c in element)


def _inline_text(element: etree._Element, skip: tuple[str, ...] = ()) -> str:
    """Text of an inline run; <lb/> becomes a newline so it can split paragraphs later."""
    parts: list[str] = [_flat(element.text)]
    for child in element:
        if isinstance(child.tag, str) and child.tag in skip:
            parts.append(_flat(child.tail))
            continue
        if child.tag == "lb":
            parts.append("\n")
        else:
            parts.append(_inline_text(child, skip))
        parts.append(_flat(child.tail))
    return "".join(parts)


def _flat(text: str | None) -> str:
    """A text node with the page's source line breaks as spaces: only <lb/> breaks a paragraph."""
    return text.replace("\n", " ") if text else ""


def _add(text: str, out: list[str]) -> None:
    # A <br><br> inside one <p> separates what readers see as two paragraphs.
    # NFC: "ä" as one code point, whichever way the page wrote it (search and dedup compare strings).
    for line in unicodedata.normalize("NFC", _ZERO_WIDTH.sub("", text)).split("\n"):
        line = _SPACES.sub(" ", line).strip()
        if line:
            out.append(line)
