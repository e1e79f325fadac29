"""The documentation's relative links lead somewhere: README.md, bench/README.md and docs/*.md link only to files
that exist, and each `#anchor` (in the same file or `file.md#anchor`) names a heading of its target."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FENCE = re.compile(r"^(```|~~~).*?^\1[^\n]*$", re.MULTILINE | re.DOTALL)
LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
HEADING = re.compile(r"^#{1,6}[ \t]+(.+?)[ \t]*#*[ \t]*$", re.MULTILINE)


def documents() -> list[Path]:
    return [ROOT / "README.md", ROOT / "bench" / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped but for hyphens and spaces (and `_`, a word
    character), each space a hyphen; so backticks and links' brackets are dropped and their text kept."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link in a heading: its text
    text = re.sub(r"[^\w\- ]", "", text.lower())
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    found: set[str] = set()
    seen: dict[str, int] = {}
    for heading in HEADING.findall(FENCE.sub("", path.read_text(encoding="utf-8"))):
        base = slug(heading)
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")  # GitHub numbers a repeated heading's anchor
    return found


def links(path: Path) -> list[str]:
    text = FENCE.sub("", path.read_text(encoding="utf-8"))
    return [target for target in LINK.findall(text) if not re.match(r"[a-z][a-z0-9+.-]*:", target, re.IGNORECASE)]


def broken(path: Path) -> list[str]:
    """The relative links of one Markdown file that lead nowhere, each with why."""
    problems = []
    for target in links(path):
        file_part, _, anchor = target.partition("#")
        dest = (path.parent / file_part).resolve() if file_part else path
        if not dest.exists():
            problems.append(f"{target}: no file {dest}")
        elif anchor and (dest.suffix != ".md" or anchor not in anchors(dest)):
            problems.append(f"{target}: no heading with the anchor #{anchor} in {dest}")
    return problems


@pytest.mark.parametrize("path", documents(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_leads_to_a_file_and_heading(path: Path) -> None:
    assert links(path) or path.name != "README.md" or path.parent != ROOT, "the README links to nothing"
    assert not broken(path), f"{path.relative_to(ROOT)}: broken links:\n" + "\n".join(broken(path))


def test_the_docs_folder_is_linked_from_the_readme() -> None:
    """Each page under docs/ (but the progress notes) is reachable from the README."""
    readme_links = {target.partition("#")[0] for target in links(ROOT / "README.md")}
    pages = {f"docs/{p.name}" for p in (ROOT / "docs").glob("*.md") if not p.name.endswith("-progress.md")}
    assert pages, "no docs/*.md pages"
    assert not pages - readme_links, f"docs pages the README does not link: {sorted(pages - readme_links)}"


def test_a_broken_link_or_anchor_is_caught(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    (tmp_path / "other.md").write_text("# Other page\n\n## `ingest run` [--x N]\n", encoding="utf-8")
    page.write_text("# Page\n\n## Running in production\n\n[a](#running-in-production) "
                    "[b](other.md#ingest-run---x-n) [c](other.md)\n\n```sh\n[not](a-link.md)\n```\n",
                    encoding="utf-8")
    assert broken(page) == []
    page.write_text(page.read_text(encoding="utf-8") + "[d](#running) [e](missing.md) [f](other.md#nowhere)\n",
                    encoding="utf-8")
    assert [problem.split(":")[0] for problem in broken(page)] == ["#running", "missing.md", "other.md#nowhere"]
