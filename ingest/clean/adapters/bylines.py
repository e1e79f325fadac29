"""Bylines -> author names.

Contract: `find_byline_names(tree)` reads a page's visible byline (author markup, "By ...", "Автор: ..."
lines) and returns the names in it; `parse_byline(text)` turns one byline text into names, `clean_name`
checks one name, `split_names` splits structured values (JSON-LD, meta), and `choose_authors` picks
between those and the visible byline. Pure: no I/O. A name is never a date, a role, a handle, a URL or
"Share"; the site's own name is only the desk. When in doubt, no name.
"""

from __future__ import annotations

import re
from typing import Final

from selectolax.lexbor import LexborHTMLParser, LexborNode

# --- one byline text -> names ---------------------------------------------------------------------

_PREFIX = re.compile(
    r"^(?:(?:(?:written|posted|words|story|article|text|reporting|compiled|published)\s+)?by|authors?|"
    r"autor(?:in|en|innen)?(?:/autor(?:in)?)?|"
    r"(?:ein\s+)?(?:kommentar|gastbeitrag|analyse|kolumne|interview)\s+von|"
    r"автор(?:ка|и|ы)?(?:\s+(?:матеріалу|материала|статті|статьи|публікації|публикации|тексту|текста))?|"
    r"текст|підготува(?:в|ла|ли)|подготови(?:л|ла|ли))\b\s*[:：]?\s*"
    r"|^(?:von|par|por|door|av|af)\s+(?-i:(?=[A-ZÀ-ÞА-ЯІЇЄ]))"  # ordinary words too: only before a capital
    r"|^(?-i:By)(?=[A-Z][a-z])",  # glued: "BySummer Swann"
    re.IGNORECASE)
_INNER_PREFIX = re.compile(r"\b(?:written|posted|authored)\s+by\b\s*:?\s*", re.IGNORECASE)
# Credits for someone else than the writer: a reviewer, an editor, a photographer, a source.
_CREDITS = (r"(?:(?:medically\s+|fact[- ]?)?(?:reviewed|checked|verified)|edited|updated|photos?|photographs?|"
            r"images?|illustrations?|videos?|graphics?|sources?|quelle|фото|джерело|источник)")
_NOT_WRITER = re.compile(r"^" + _CREDITS + r"\s*(?:by\b|:)", re.IGNORECASE)
_CREDIT = re.compile(r"\b" + _CREDITS + r"\s+by\b", re.IGNORECASE)
_MONTH = (r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|"
          r"oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?")
# Where the names end: a date, a separator, an update line, a sentence, a preposition, a button.
_TAIL = re.compile(
    r"\s*(?:[|•·/]|\S*[!?]|\s[-–—]\s|[-–—]\s*(?=\d|" + _MONTH + r"\s*\d)|\b" + _MONTH + r"\s*\d|\d"
    r"|\b(?:(?:last\s+)?updated|published|posted|reviewed|fact[- ]?checked|edited|read\s+(?:time|more)|"
    r"min(?:ute)?s?\s+read|view|follow|share|email|e-mail|contact|more\s+from|see\s+(?:all|more)|"
    r"monday|tuesday|wednesday|thursday|friday|saturday|sunday|today|yesterday|"
    r"опубліковано|оновлено|опубликовано|обновлено)\b"
    r"|\s(?:for|from|with|via|(?-i:on|in|at))\s)", re.IGNORECASE)
_SPLIT = re.compile(r"\s*(?:,|;|&|\+|\b(?:and|und|og|och|et|en|і|и|та|й)\b)\s*", re.IGNORECASE)
_CODE = re.compile(r"\s*\([^()]{1,12}\)$")  # "Elena Oberholzer (obe)": the desk's initials
# Jobs and roles: never a name on their own; after a name they end it ("Keith Barry Senior Autos Reporter").
_ROLE = frozenset({
    "writer", "writers", "editor", "editors", "reporter", "reporters", "correspondent", "contributor",
    "contributors", "columnist", "expert", "specialist", "analyst", "manager", "director", "founder",
    "co-founder", "cofounder", "ceo", "cto", "cfo", "coo", "president", "officer", "head", "lead", "chief",
    "journalist", "photographer", "producer", "reviewer", "coordinator", "strategist", "consultant",
    "educator", "educators", "professor", "intern", "author", "guest", "staff", "desk", "team", "редактор",
    "редакторка", "журналіст", "журналістка", "кореспондент", "кореспондентка", "оглядач", "оглядачка",
    "журналист", "журналистка", "корреспондент", "обозреватель"})
# Words that open a role only when a role follows ("Tech Writer", but "Top Growth Marketing").
_ROLE_OPENERS = frozenset({
    "senior", "junior", "associate", "assistant", "contributing", "managing", "executive", "deputy",
    "editorial", "freelance", "staff", "marketing", "content", "tech", "technology", "science", "sports",
    "health", "news", "digital", "political"})
# Group words that may open or end a name ("Team SimplyThrilled", "Podium Staff", "The Currency editors").
_GROUP = frozenset({"team", "staff", "desk", "newsdesk", "newsroom", "editors"})
# Placeholders and CMS defaults that author markup and meta tags hold instead of a name.
_NOT_NAME = frozenset({
    "admin", "administrator", "webmaster", "undefined", "null", "none", "name", "author", "authors", "by",
    "anonymous", "unknown", "guest", "user", "editor", "root", "test", "default", "the", "von", "autor",
    "autoren", "автор", "автори", "mon", "tue", "wed", "thu", "fri", "sat", "sun"})
# Words of buttons, menus and headings next to bylines: "About the Author", "Learn More", "Share".
_UI_WORDS = frozenset({
    "about", "learn", "more", "view", "posts", "articles", "profile", "bio", "menu", "search", "subscribe",
    "share", "follow", "filter", "sort", "category", "categories", "topic", "topics", "tags", "home", "login",
    "sign", "register", "newsletter", "privacy", "cookies", "terms", "contact", "page", "click", "here",
    "trending", "print", "comments", "twitter", "facebook", "linkedin", "instagram", "whatsapp", "telegram",
    "youtube", "rss", "поділитися", "поделиться"})
_PARTICLE = frozenset(
    {"van", "von", "der", "den", "de", "da", "di", "du", "del", "della", "la", "le", "bin", "ibn", "al", "el", "zu"})
# A lone word in author markup: "Newsdesk", "MixmasterFred", an agency's initials ("SID", "AFP").
_CAPITALISED = re.compile(r"[A-ZÀ-ÞА-ЯІЇЄ][a-zà-ÿа-яіїєґ]{2,}(?:[A-Z][a-z]+)*|[A-Z]{2,5}")
_MAX_WORDS = 5  # "Dr Marna van der Merwe"; more are names run together or a sentence
_MAX_NAME_CHARS: Final = 60  # a byline longer than this is a sentence or several names run together
_MIN_SITE_CHARS: Final = 4  # shorter names ("ap", "bbc") match inside too many others to tell a site by


def clean_name(text: str, *, single: int = 0, first: bool = True) -> str | None:
    """One visible name, trimmed of punctuation and a trailing role; None when it is no person's name.

    `single`: 2 accepts a one-word name ("Posted by jsteinhardt"), 1 a capitalised one in author markup
    ("Newsdesk"), 0 none: a lone word is a menu item or a label more often than a name.
    `first`: the byline's first name; a later part that holds a role is the role ("..., Security Expert").
    """
    words = _CODE.sub("", " ".join(text.split())).strip(" .,:;-–—·•|*\"'()[]").split()
    # "Steve Kamb Steve Kamb": the name twice or more, as link text and as image text.
    words = next((words[:k] for k in range(1, len(words) // 2 + 1) if words == words[:k] * (len(words) // k)), words)
    lows = [w.casefold().strip(".,") for w in words]
    if not words or len(" ".join(words)) > _MAX_NAME_CHARS or any(
            c.isdigit() or c in "@#:/\\=<>{}" for c in text) or any(low in _UI_WORDS for low in lows):
        return None
    keep = next((i for i, low in enumerate(lows) if (
        (low in _ROLE and not (low in _GROUP and i in (0, len(words) - 1) and len(words) > 1))
        or (low in _ROLE_OPENERS and any(later in _ROLE for later in lows[i + 1:])))), len(words))
    if keep < len(words) and not first:
        return None
    words, lows = words[:keep], lows[:keep]
    if not words or len(words) > _MAX_WORDS or " ".join(lows) in _NOT_NAME:
        return None
    if len(words) == 1:
        return words[0] if single == 2 or (single == 1 and _CAPITALISED.fullmatch(words[0])) else None
    # Names are capitalised but for particles ("van der"), "the" and a group word ("The Currency editors").
    lower = [i for i, (w, low) in enumerate(zip(words, lows, strict=True)) if not w.lstrip("(\"'“‘«")[:1].isupper()
             and low not in _PARTICLE and not (i == 0 and low == "the") and not (i == len(words) - 1 and low in _GROUP)]
    return None if lower else " ".join(words)


def parse_byline(text: str, *, marked: bool = False) -> list[str]:
    """A byline text -> the names it gives: "By A and B | May 3, 2025" -> ["A", "B"]; [] when none.

    `marked`: the text is in author markup, so a lone word ("Newsdesk", "By Kev") may be a name.
    """
    text = " ".join(text.split())
    if _NOT_WRITER.match(text):
        return []
    prefixed = _PREFIX.match(text)
    if prefixed is None and marked:  # "Updated May 2, 2025 Written by A", "This post was written by A"
        prefixed = _INNER_PREFIX.search(text)
    rest = text[prefixed.end():] if prefixed else text
    tail = _TAIL.search(rest)
    parts = [p for p in _SPLIT.split(rest[:tail.start()] if tail else rest) if p.strip()]
    # "By Audience" in a filter menu is no name; "Posted by BeauHD" and marked-up "By Kev" are.
    strong = prefixed is not None and (marked or prefixed.group().strip(" :").casefold() != "by")
    single = (2 if strong else 1 if marked else 0) if len(parts) == 1 else 0
    names: list[str] = []
    for i, part in enumerate(parts):  # a byline opens with a name (else it is a sentence or a menu); a role ends it
        if (name := clean_name(part, single=single, first=i == 0)) is None:
            break
        names += [name] if name not in names else []
    return names


def split_names(texts: list[str]) -> list[str]:
    """Byline texts from JSON-LD or meta -> names: "By A and B / Staff Writers" -> ["A", "B"]."""
    names: list[str] = []
    for text in texts:
        text = _PREFIX.sub("", " ".join(text.split())).split(" / ")[0].strip(" ,.—-")
        names += [_CODE.sub("", n).strip(" .,") for n in _SPLIT.split(text)]
    # An e-mail address or a URL is where to reach someone, not a name.
    return list(dict.fromkeys(n for n in names if n and not n.isdigit() and "@" not in n and "://" not in n))


# --- finding the byline on the page ----------------------------------------------------------------

# Author markup (WordPress, hCard, microdata, Ghost, Webflow themes) and author-page links; then, only when
# those name nobody, elements whose own text opens like a byline (matching text costs as much again).
_MARKUP = ("[rel~=author], [itemprop~=author], [class*=author i], [id*=author i], [class*=byline i], "
           "a[href*='/author' i], a[href*='/autor' i]")
_TEXTS = ", ".join(f'*:lexbor-contains("{word}" i)' for word in ("by", "author", "autor", "втор", "Текст"))
_AUTHOR_MARK = re.compile(r"author(?!i[sz])|byline|writer|posted-by", re.IGNORECASE)  # not "authorization"
_AUTHOR_LINK = re.compile(r"/(?:author|autor|avtor)(?!i[sz])", re.IGNORECASE)
# Where a byline is someone else's: reader comments, other stories' cards, quotes, menus, footers.
_ELSEWHERE = re.compile(
    r"(?<![a-z])(?:comment|related|recommend|popular|trending|more-|read-?next|next-|prev(?!iew)|teaser|"
    r"testimonial|review(?!ed)|quote|card|carousel|slider|swiper|widget|menu|breadcrumb|promo|sponsor|listing|"
    r"feed|archive|sidebar|footer)")
_TOPIC = re.compile(r"(?<![\w-])(?:tag|category|categories|topic|section|format|type)-\S*")
_ELSEWHERE_TAGS = frozenset({"nav", "blockquote", "figure", "figcaption", "form", "select"})
_SKIP_TAGS = frozenset({"title", "meta", "link", "head", "html", "body"})  # markup that is not shown
# Parts of an author box that hold something else than the name ("author-bio", "bylineDate").
_NOT_NAME_MARK = re.compile(
    r"(?:(?<![A-Za-z])|(?<=[a-z])(?=[A-Z]))(?i:bio|biography|desc|description|role|position|job|date|time|avatar|"
    r"image|img|photo|picture|caption|social|share|follow)s?(?![a-z])")
_MAX_BYLINE = 300  # characters: a longer block is a bio or a story, not a byline


def find_byline_names(tree: LexborHTMLParser) -> list[str]:
    """Names in the page's first byline that is not in a comment, a card, a quote or the site's footer."""
    markup = tree.css(_MARKUP)
    # A sidebar holds the byline on some layouts, other stories' bylines on more: looked at last.
    return _scan(markup, 0) or _scan(texts := tree.css(_TEXTS), 0) or _scan(markup, 1) or _scan(texts, 1)


def _scan(nodes: list[LexborNode], level: int) -> list[str]:
    """Names of the first byline block among `nodes` (document order) at most `level` elsewhere."""
    group: list[tuple[LexborNode, list[str]]] = []  # a byline block, then the candidates inside it
    credits: list[LexborNode] = []  # "Reviewed by ...", "Updated by ...": nothing inside names the writer
    span, seen, elsewhere = "", set[int](), dict[int, int]()  # span: the block's text before any credit
    for node in nodes:
        if node.mem_id in seen or node.tag in _SKIP_TAGS:
            continue
        seen.add(node.mem_id)
        if group and not _inside(node, group[0][0]):
            if names := _group_names(group):
                return names
            group = []  # author markup that named nobody (an avatar, a bio): look further
        marked = _marked(node)
        if not marked and not _PREFIX.match((node.text(deep=False) or "").lstrip()):
            continue  # neither author markup nor text that opens like a byline
        text = _text(node, climb=not group)
        if not text or len(text) > _MAX_BYLINE or not (marked or _PREFIX.match(text)):
            continue  # "A Spell for Change <i>by</i> Nicole Jarvis" is a title
        if _NOT_NAME_MARK.search(node.attributes.get("class") or "") and not _PREFIX.match(text):
            continue
        names = parse_byline(text, marked=marked)
        if not (names or marked or group) or _elsewhere(node, elsewhere) > level or any(
                _inside(node, c) for c in credits):
            continue
        if _NOT_WRITER.match(text):
            credits.append(node)
        elif not group:
            group, span = [(node, names)], _CREDIT.split(text, maxsplit=1)[0].casefold()
        else:  # a name inside the block, unless credited after the writer ("... Reviewed by B")
            group.append((node, [n for n in names if n.casefold() in span]))
    return _group_names(group) if group else []


def _group_names(group: list[tuple[LexborNode, list[str]]]) -> list[str]:
    # The innermost elements that give names hold one person each where the block ran two together
    # ("A B" of two spans) or kept a role ("Cara Dumaplin RN").
    inner: list[str] = []
    for i, (node, names) in enumerate(group[1:], 1):
        if names and not any(more and _inside(other, node) for other, more in group[i + 1:]):
            inner += [n for n in names if n not in inner]
    return inner if inner and not set(inner) <= set(group[0][1]) else group[0][1]


def _marked(node: LexborNode) -> bool:
    attrs = node.attributes
    marks = " ".join(attrs.get(k) or "" for k in ("class", "id", "rel", "itemprop", "data-testid"))
    return bool(_AUTHOR_MARK.search(marks) or _AUTHOR_LINK.search(attrs.get("href") or ""))


def _text(node: LexborNode, *, climb: bool) -> str:
    text = " ".join(node.text(separator=" ").split())
    # "By" alone: the name is in the next element ("<p>By</p><span>Sara Brown</span>").
    if climb and _PREFIX.fullmatch(text + " ") and node.parent is not None:
        return " ".join(node.parent.text(separator=" ").split())
    return text


def _inside(node: LexborNode, root: LexborNode | None = None, tags: tuple[str, ...] = ()) -> bool:
    """True when `root` (or an element with one of `tags`) is an ancestor of `node`."""
    parent = node.parent
    while parent is not None and not (parent.mem_id == root.mem_id if root is not None else parent.tag in tags):
        parent = parent.parent
    return parent is not None


def _elsewhere(node: LexborNode, known: dict[int, int]) -> int:
    """2 in a comment, card, menu, quote or the site's footer; 1 in a sidebar or a story's footer; else 0."""
    if node.tag in ("body", "html"):
        return 0
    if node.mem_id not in known:
        attrs = node.attributes
        marks = f"{attrs.get('class') or ''} {attrs.get('id') or ''}".lower()
        found = _ELSEWHERE.search(marks)
        if found and _TOPIC.search(marks):  # "category-reviews" on a WordPress <article> is its topic
            found = _ELSEWHERE.search(_TOPIC.sub("", marks))
        kind = found.group() if found else node.tag
        level = 1 if kind in ("sidebar", "aside") else 2 if found or kind in _ELSEWHERE_TAGS else 0
        if kind == "footer":
            level = 1 if _inside(node, tags=("article", "main")) else 2
        known[node.mem_id] = max(level, _elsewhere(node.parent, known) if node.parent is not None else 0)
    return known[node.mem_id]


# --- choosing between the page's own lists and its visible byline -----------------------------------

_LABEL = re.compile(r"^[\w-]+:\s")  # "content: MarketingSherpa": a credit list, not a name
_USER_ID = re.compile(r"[^\W\d_]+\d|\d+[^\W\d_]")  # "mdelatorreq6vkpg2ma0ci"
_ROLE_TAIL = re.compile(r"\s+[-–—|]\s+.*$")  # "David Jackson - FullStack Editorial Team"


def clean_listed(name: str) -> str | None:
    """A name from JSON-LD or meta without a role tail; None for placeholders, labels and user ids."""
    name = _ROLE_TAIL.sub("", " ".join(name.split())).strip(" ,;")
    low = name.casefold()
    if not name or low in _NOT_NAME or _LABEL.match(name) or _USER_ID.search(name) or "admin" in low.split():
        return None
    return name


def is_site(name: str, sites: set[str]) -> bool:
    """True when `name` is the site's or the publisher's name, or one holds the other ("Everfit Blog")."""
    key = " ".join(re.findall(r"\w+", name.casefold()))
    for site in sites:
        other = " ".join(re.findall(r"\w+", site.casefold()))
        # "Derek Seaman's Tech Blog" is a person's blog, not a site named like him.
        held = f" {key} " in f" {other} " and f"{key} s " not in f"{other} "
        if key == other or (min(len(key), len(other)) >= _MIN_SITE_CHARS and (held or f" {other} " in f" {key} ")):
            return True
    return False


def choose_authors(listed: list[list[str]], tree: LexborHTMLParser, sites: set[str]) -> tuple[list[str], list[str]]:
    """(persons, desks): persons from the page's author lists (JSON-LD, meta; in order) or its visible byline.

    The first list that names a person wins, unless it gives only one-word names (CMS users: "kffnirmitap",
    "KatieS") and the byline names someone. Names of the site itself are desks, for when nobody is named.
    """
    persons: list[str] = []
    desks: list[str] = []
    for values in listed:
        names = [n for v in values if (n := clean_listed(v))]
        desks += [n for n in names if is_site(n, sites) and n not in desks]
        persons = [n for n in names if not is_site(n, sites)]
        if persons:
            break
    if any(" " in n for n in persons):
        return persons, desks  # the byline is not read: it would not change the answer
    visible = find_byline_names(tree)
    seen = [n for n in visible if not is_site(n, sites)]
    desks += [n for n in visible if is_site(n, sites) and n not in desks]
    return (seen or persons), desks
