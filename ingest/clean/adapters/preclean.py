"""Pre-clean: a parsed page -> the same tree without blocks that are never the story.

Contract: `preclean(tree, keep, selectors, guard=...)` removes every node matching `selectors` except
`keep` and its ancestors. With `guard` (the generic path, where `keep` is only a guess) it also spares
whatever holds the story: a node holding at least half of the page's running text is a wrapper, and a
selector whose matches together hold half of it describes the story. Class-substring selectors cannot
tell "related-posts" from "post-paywall", "cs-sidebar-enabled", "article widget" or `<p class=paywall>`
(measured on the fundus corpus: 31 of 258 pages lost their whole story to them). Pure: no I/O.
"""

from __future__ import annotations

from selectolax.lexbor import LexborHTMLParser, LexborNode

# Blocks that are never the story, whatever they hold: reader comments can outweigh a short story.
# "commentary" is a news genre (an opinion piece), not reader comments.
NEVER_STORY: tuple[str, ...] = (
    "script", "style", "noscript", "template", "iframe", "svg", "form", "button", "input", "select",
    "textarea", "nav", "[role=navigation]", "[role=banner]", "[role=contentinfo]", "[hidden]",
    "[style*='display:none' i]", "[style*='display: none' i]", "[class*=cookie i]", "[class*=consent i]",
    "[class*=gdpr i]", "[class*=comment i]:not([class*=commentary i])", "[id*=comment i]:not([id*=commentary i])",
)
# Blocks that are usually not the story. Tags and class substrings also match story wrappers
# ("post-paywall", "cs-sidebar-enabled", "article widget", <p class="paywall">, an <aside> lead), so on
# the generic path these are checked against the running text left after NEVER_STORY is gone.
USUALLY_JUNK: tuple[str, ...] = (
    "header", "footer", "aside", "figcaption", "ins", "[role=complementary]", "[class*=share i]",
    "[class*=social i]", "[class*=related i]", "[class*=popular i]", "[class*=ranking i]",
    "[class*=most-read i]", "[class*=mostread i]", "[class*=newsletter i]", "[class*=subscri i]",
    "[class*=read-also i]", "[class*=readalso i]", "[class*=read_also i]", "[class*=also-read i]",
    "[class*=audio i]", "[class*=banner i]", "[class*=advert i]", "[id*=banner i]", "[class*=breadcrumb i]",
    "[class*=sidebar i]", "[class*=widget i]", "[class*=promo i]", "[class*=byline i]", "[class*=caption i]",
    "[class*=tags i]", "[class*=news-feed i]", "[class*=newsfeed i]", "[class*=more-news i]",
    "[class*=read-more i]", "[class*=recommend i]", "[class*=paywall i]", "[class*=skip-link i]",
    "[class*=post-edit i]",
)
# The generic path also drops the headline: it is read as the title before pre-cleaning, and a whole
# page's <h1> repeats it, often in other words than og:title.
GENERIC_ONLY: tuple[str, ...] = ("h1",)
STORY_SHARE = 0.5  # "most of the running text"
_ROOTS = ("html", "body")
# Paragraphs x their depth, summed: real pages stay under 2,500 (fundus corpus); 20,000 <p> under 400
# nested <div>s took 1.4 s to count.
MAX_STEPS = 100_000


class StoryText:
    """Words of running text (<p>) held by each node, kept current as nodes are removed."""

    def __init__(self, tree: LexborHTMLParser) -> None:
        self.words: dict[int, int] = {}
        self.total = 0
        steps = 0
        for paragraph in tree.css("p"):
            count = len(paragraph.text().split())
            self.total += count
            node: LexborNode | None = paragraph
            while node is not None:
                self.words[node.mem_id] = self.words.get(node.mem_id, 0) + count
                node = node.parent
                steps += 1
            if steps > MAX_STEPS:  # paragraphs x depth: nothing is spared, as before the guard existed
                self.words, self.total = {}, 0
                return

    def held(self, node: LexborNode) -> int:
        """Running-text words inside `node` (a paragraph's own included)."""
        return self.words.get(node.mem_id, 0)

    def is_story(self, words: int) -> bool:
        """True when `words` are most of the page's running text."""
        return self.total > 0 and words >= STORY_SHARE * self.total

    def forget(self, node: LexborNode) -> None:
        """Account for `node` being removed: its words leave its ancestors and the total."""
        count = self.held(node)
        if not count:
            return
        self.total -= count
        parent = node.parent
        while parent is not None:
            self.words[parent.mem_id] = self.words.get(parent.mem_id, 0) - count
            parent = parent.parent


def preclean(tree: LexborHTMLParser, keep: LexborNode | None, selectors: tuple[str, ...], *, guard: bool) -> None:
    """Remove `selectors` from `tree`, sparing `keep` and its ancestors, and with `guard` the story.

    With `guard` (the generic path) a node holding most of the running text stays (its junk children
    still go), a selector not in NEVER_STORY whose matches together hold most of it is skipped, and a
    <header> inside an <article> or `keep` stays: it is the story's own (headline, standfirst, byline),
    and the standfirst is story text. GENERIC_ONLY selectors are added.
    """
    spared: set[int] = set()
    node = keep
    while node is not None:
        spared.add(node.mem_id)
        node = node.parent
    if not guard:
        remove_nodes([n for s in selectors for n in tree.css(s) if n.mem_id not in spared and n.tag not in _ROOTS])
        return
    story = StoryText(tree)
    for selector in (*selectors, *GENERIC_ONLY):
        found = [n for n in tree.css(selector) if n.mem_id not in spared and n.tag not in _ROOTS]
        if selector == "header":
            found = [n for n in found if not _in_story(n, keep)]
        found = outermost([n for n in found if not story.is_story(story.held(n))])
        if selector not in NEVER_STORY and story.is_story(sum(story.held(n) for n in found)):
            continue  # `<p class="paywall">` x 40: the selector matches the story itself
        for found_node in found:
            story.forget(found_node)
        for found_node in found:
            found_node.decompose()


def outermost(nodes: list[LexborNode]) -> list[LexborNode]:
    """`nodes` without those inside another one (a destroyed parent frees its children)."""
    ids = {n.mem_id for n in nodes}
    kept = []
    for node in nodes:
        parent = node.parent
        while parent is not None and parent.mem_id not in ids:
            parent = parent.parent
        if parent is None:
            kept.append(node)
    return kept


def remove_nodes(nodes: list[LexborNode]) -> None:
    """Decompose `nodes`, skipping those inside another one."""
    for node in outermost(nodes):
        node.decompose()


def guess_container(tree: LexborHTMLParser) -> LexborNode | None:
    """The node the generic path must not remove: articleBody, main, or the only <article>."""
    node = tree.css_first("[itemprop=articleBody], main, [role=main]")
    if node is None:
        articles = tree.css("article")
        node = articles[0] if len(articles) == 1 else None
    return node


def _in_story(node: LexborNode, keep: LexborNode | None) -> bool:
    parent = node.parent
    while parent is not None:
        if parent.tag == "article" or (keep is not None and parent.mem_id == keep.mem_id):
            return True
        parent = parent.parent
    return False
