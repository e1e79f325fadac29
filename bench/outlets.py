"""Generated news outlets with known boilerplate, served on 127.0.0.1: the learning bench's sites.

    outlets = build_outlets(pages=60)          # deterministic for a given (pages, seed)
    base_url, close = serve(outlets[0])        # robots.txt, RSS, sitemap, listing, article pages

Four outlets of different make (a WordPress local paper, a Ghost magazine, a Ukrainian regional site, a
Ukrainian site of bare <p> in windows-1251), each with header, nav, sidebar and footer chrome, and junk
*inside the article container* in wordings that are on no junk list (ingest/data/junk.toml): a reader-funding
box, a teaser line (a fixed lead-in and a linked title that changes), a messenger line, a newsletter plug, a
reprint notice. Each kind is on a fixed share of the pages (60-100%), at varying places.

Story text that must never be removed, on purpose: an arc of follow-ups repeating one or two background
paragraphs verbatim, one quote in two stories, one-paragraph stories, short paragraphs, and paragraphs that
open with the same common words ("The council said", "Нагадаємо, що"). No story paragraph is repeated on more
than ~15% of an outlet's pages; every junk kind is on at least 60% of them.

Ground truth: `Outlet.articles` (oldest first), each an `Article` with `.story` (its paragraphs, in order)
and `.junk` (the junk lines on its page, in order), `.blocks` (both, as on the page) and `.url(base_url)`.
Pure and seeded: no network, no clock.
"""

from __future__ import annotations

import html
import json
import random
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from email.utils import format_datetime
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

from ingest.demo.outlet import LoopbackSite

FIRST_DAY, LAST_DAY = date(2024, 12, 2), date(2025, 4, 25)  # "a few months", ending on a fixed day
FEED_ITEMS = 20
LISTING_SIZE = 10
SLOT = re.compile(r"\{(\w+)\}")


@dataclass(frozen=True)
class Block:
    """One paragraph-level block of an article page: story text (kind "story") or a kind of junk."""

    kind: str
    text: str  # as a reader sees it: whitespace collapsed, entities decoded
    html: str

    @property
    def is_story(self) -> bool:
        return self.kind == "story"


@dataclass(frozen=True)
class Article:
    """One generated article page and its ground truth."""

    outlet: str
    number: int
    path: str
    title: str
    published: datetime  # aware, in the outlet's zone
    author: str
    kind: str  # "news", "arc" (a follow-up repeating background paragraphs), "one-line", "quote" (shares a quote)
    blocks: tuple[Block, ...]

    @property
    def story(self) -> tuple[str, ...]:
        """The story paragraphs, in order: all must survive cleaning."""
        return tuple(b.text for b in self.blocks if b.is_story)

    @property
    def junk(self) -> tuple[str, ...]:
        """The junk lines inside the article container, in page order: none may survive cleaning."""
        return tuple(b.text for b in self.blocks if not b.is_story)

    def url(self, base_url: str) -> str:
        """The page's URL on a server at `base_url`."""
        return base_url.rstrip("/") + self.path


@dataclass(frozen=True)
class Junk:
    """A kind of in-article junk: on `share` of the pages, after story paragraph 1/2/3 or at the "end"."""

    kind: str
    share: float
    places: tuple[str, ...]
    wordings: tuple[str, ...]  # HTML; a teaser's takes {href} and {title}, a notice's {year}


@dataclass(frozen=True)
class Design:
    """How one outlet looks: names, zone, archive layout, its junk and its page template."""

    slug: str
    name: str
    language: str
    zone: str
    summary: str
    names: dict[str, str]  # filled into the prose templates: {town}, {mayor}, ...
    authors: tuple[str, ...]
    junk: tuple[Junk, ...]
    arc: tuple[tuple[str, ...], tuple[tuple[str, str], ...]]  # (background paragraphs, (title, lead) per follow-up)
    quote: str  # the quote paragraph two stories share
    feed: str
    sitemap: str
    listing: str  # path template with {page}
    layout: str  # sitemap layout: "yoast" (index of 50-URL parts), "single" (index of one), "monthly", "plain"
    page: Callable[[Outlet, Article], str]
    path: Callable[[Article], str]
    encoding: str = "utf-8"
    arc_burst: bool = False  # the follow-ups on consecutive pages (a crisis week), not spread out


@dataclass
class Outlet:
    """A generated outlet: its design and articles, oldest first; `respond` serves it."""

    design: Design
    articles: list[Article] = field(default_factory=list)

    @property
    def slug(self) -> str:
        return self.design.slug

    @property
    def language(self) -> str:
        return self.design.language

    def by_path(self, path: str) -> Article | None:
        """The article at `path`, if any."""
        return next((a for a in self.articles if a.path == path), None)

    def respond(self, raw_path: str, base_url: str) -> tuple[int, str, bytes]:
        """(status, content type, body) for a request path; `base_url` makes feed and sitemap URLs absolute."""
        parts, d = urlsplit(raw_path), self.design
        newest = sorted(self.articles, key=lambda a: a.published, reverse=True)
        xml = f"application/xml; charset={d.encoding}"
        if parts.path == "/robots.txt":
            return 200, "text/plain", f"User-agent: *\nAllow: /\n\nSitemap: {base_url}{d.sitemap}\n".encode()
        if parts.path == d.feed:
            return 200, f"application/rss+xml; charset={d.encoding}", self.encode(rss(self, newest, base_url))
        sitemaps = sitemap_files(self, base_url)
        if parts.path in sitemaps:
            return 200, xml, self.encode(sitemaps[parts.path])
        listing = d.listing.split("{page}")
        page_arg = parse_qs(parts.query).get("page", [""])[0]
        number = (page_arg if "?" in d.listing else parts.path.removeprefix(listing[0]).removesuffix(listing[1]))
        if (raw_path.startswith(listing[0]) and number.isdigit()) or parts.path == "/":
            return 200, f"text/html; charset={d.encoding}", self.encode(listing_page(self, newest, int(number or 1)))
        article = self.by_path(parts.path)
        if article is None:
            return 404, "text/plain", b"not found"
        return 200, f"text/html; charset={d.encoding}", self.encode(d.page(self, article))

    def encode(self, text: str) -> bytes:
        """Text in the outlet's charset."""
        return text.encode(self.design.encoding)

    def page_bytes(self, article: Article) -> bytes:
        """The article page exactly as served."""
        return self.encode(self.design.page(self, article))


class _Site(LoopbackSite):
    def __init__(self, outlet: Outlet) -> None:
        self.outlet, self.hits, self.server = outlet, [], None

    def respond(self, raw_path: str) -> tuple[int, str, bytes]:
        return self.outlet.respond(raw_path, self.base_url)


def serve(outlet: Outlet) -> tuple[str, Callable[[], None]]:
    """Serve `outlet` on 127.0.0.1 at a free port: (base URL, a function that stops the server)."""
    site = _Site(outlet).start()
    return site.base_url, site.close


# ----------------------------------------------------------------------------------------------- prose


def fill(template: str, rng: random.Random, pools: dict[str, list[str]], names: dict[str, str]) -> str:
    """Fill {slots} from the outlet's names, number makers and the language's pools, recursively."""
    def one(match: re.Match[str]) -> str:
        key = match[1]
        if key in names:  # "a|b|c": one of them
            return rng.choice(names[key].split("|"))
        if key in NUMBERS:
            return NUMBERS[key](rng)
        return fill(rng.choice(pools[key]), rng, pools, names)
    return SLOT.sub(one, template)


NUMBERS: dict[str, Callable[[random.Random], str]] = {
    "n": lambda r: str(r.choice([1.2, 2, 2.5, 3.4, 4, 6.8, 9, 11, 14.5, 21])),
    "pct": lambda r: str(r.randint(6, 41)),
    "k": lambda r: str(r.choice([300, 450, 800, 1200, 2100, 3500])),
    "votes": lambda r: f"{r.randint(5, 9)}-{r.randint(0, 4)}",
    "hour": lambda r: str(r.randint(5, 8)),
    "year": lambda r: str(r.randint(1998, 2019)),
    "months": lambda r: str(r.randint(3, 14)),
    "mln": lambda r: str(r.choice([3, 5.5, 8, 12, 17, 26, 40, 64])),
    "mln2": lambda r: str(r.choice([70, 85, 96, 110, 130])),
    "n2": lambda r: str(r.choice([0.8, 1.1, 1.5])),
    "tys": lambda r: str(r.choice([300, 500, 700, 1200, 2000, 4000])),
}

EN: dict[str, list[str]] = {
    "lead": ["{who} {did} {when}.", "{who} {did} {when}, {after}."],
    "who": ["The {town} city council", "Mayor {mayor}", "The county transport board", "The {town} school board",
            "The parks committee", "State inspectors", "The planning commission", "The water utility",
            "Volunteers at the {town} food bank", "Two council members", "The fire department", "Hospital managers",
            "Residents of the {district}", "Local shop owners"],
    "did": ["approved a {cur}{n} million plan to {goal}", "voted {votes} to {goal}",
            "asked the state for {cur}{n} million to {goal}",
            "postponed a decision on {thing} until {later}", "published a long-awaited report on {thing}",
            "opened bids from contractors for {thing}", "held a crowded public hearing on {thing}",
            "announced a new timetable for {thing}", "warned that {thing} would cost more than planned",
            "signed off on {thing}", "raised new questions about {thing}"],
    "goal": ["repave {street}", "reopen the {street} library branch", "replace lead pipes in the {district}",
             "hire six more bus drivers", "extend the bike lane along {street}", "fix the leaking roof of {school}",
             "build a splash pad in {park}", "buy two electric buses", "repair the seawall at {park}",
             "expand the night shelter on {street}", "add crossing guards near {school}"],
    "thing": ["the {street} repaving", "the new bus routes", "downtown parking fees", "the {school} roof",
              "summer pool hours", "the {park} playground", "the snow removal budget", "a ban on gas leaf blowers",
              "short-term rental rules", "next year's property tax rate", "the {district} flood barriers"],
    "later": ["next month", "the spring session", "after the summer recess", "late April", "its next meeting"],
    "when": ["on Monday", "on Tuesday night", "at a special session on Wednesday", "on Thursday", "this week",
             "late on Friday"],
    "after": ["after more than three hours of debate", "despite objections from neighbours",
              "a year later than promised", "with little discussion"],
    "more": ["Work is expected to begin in {season}.",
             "{person} said the cost had risen by {pct} percent since last year.",
             "A public hearing is set for {day} at {hour} p.m. in {venue}.",
             "Critics said the plan came years too late.", "The measure now goes to the county board for a final vote.",
             "About {k} residents signed a petition in support.",
             "Officials did not say how the work would be paid for.",
             "The last comparable project, in {year}, ran {months} months over schedule.",
             "Several speakers asked for more time to study the proposal.",
             "Staff will report back with cost estimates by {later}.",
             "The money would come from a fund set aside after the {year} floods.",
             "{person} called the timetable realistic but tight.",
             "The {district} has waited {months} months for an answer.", "A similar plan failed in {year} by {votes}.",
             "Contractors have until {day} to submit prices.", "Turnout at the hearing was the highest since {year}.",
             "The city will hold two more open meetings in the {district} before {later}.",
             "Traffic on {street} will be limited to one lane while crews work.",
             "Parents at {school} raised the issue at a meeting in {year2}.",
             "A consultant's report put the bill at {cur}{n} million, up from {cur}{n2} million."],
    "year2": ["January", "February", "the fall", "December"],
    "season": ["the spring", "early summer", "the fall", "September"],
    "day": ["Monday", "Tuesday", "Wednesday", "Thursday"],
    "venue": ["the council chambers", "the public library", "{school}'s gym"],
    "person": ["Mayor {mayor}", "Council member {member}", "{engineer}, the city engineer,", "Board chair {chair}"],
    "short": ["The vote was {votes}.", "No one was hurt.", "The meeting is open to the public.",
              "Both sides plan to appeal.", "That figure has not changed."],
    "quote": ["\"{said},\" {person} said."],
    "said": ["We owe people a straight answer on this", "I would rather do it right than do it twice",
             "This is what residents have asked us for since I was elected",
             "Nobody here wants to raise fees, but the pipes are older than most of us",
             "We will be back in this room next year if we only patch it"],
    "opener": ["{opening} {clause}."],
    "clause": ["it would publish the full list of contractors by {later}", "the work could not wait another winter",
               "it had received {k} comments during the consultation", "the figures would be checked again by {later}",
               "no decision had been made on {thing}"],
    "one": ["{who} {did} {when}, according to a statement posted on the city website on {day} evening.",
            "{who} {did} {when}, a spokesperson confirmed in a short email to the {paper}."],
}

UK: dict[str, list[str]] = {
    "lead": ["{clause} {when}.", "{when_cap} {clause}."],
    "clause": ["{council} {verb_f} {obj}", "міський голова {mayor} {verb_m} {obj}", "виконавчий комітет {verb_m} {obj}",
               "депутати міськради {verb_pl} {obj}", "управління освіти {verb_n} {obj}",
               "обласна військова адміністрація {verb_f} {obj}", "комунальне підприємство «{utility}» {verb_n} {obj}",
               "мешканці мікрорайону {district} {verb_pl} {obj}", "департамент ЖКГ {verb_m} {obj}",
               "постійна комісія з питань бюджету {verb_f} {obj}"],
    "obj": ["програму ремонту шкільних укриттів", "план реконструкції центральної набережної",
            "рішення про нові тарифи на воду", "тендер на закупівлю шкільних автобусів",
            "кошторис ремонту вулиці {street}", "проєкт нового скверу на вулиці {street}",
            "програму підтримки ветеранського бізнесу", "графік вивезення сміття в приватному секторі",
            "зміни до бюджету на {mln} млн гривень", "концепцію розвитку громадського транспорту",
            "план утеплення лікарні на вулиці {street}", "перелік вулиць для нічного освітлення"],
    "when": ["у вівторок", "на позачерговій сесії", "минулого тижня", "у понеділок", "на засіданні в четвер",
             "напередодні"],
    "when_cap": ["У вівторок", "На позачерговій сесії", "Минулого тижня", "У понеділок", "У четвер"],
    "more": ["Про це повідомили в пресслужбі міської ради.",
             "На ці цілі передбачено {mln} млн гривень з міського бюджету.",
             "Роботи планують завершити до кінця {month}.", "Громадські слухання призначили на {weekday}.",
             "Під петицією на підтримку рішення підписалися понад {tys} мешканців.",
             "Як пояснили в управлінні, ціна зросла через подорожчання матеріалів.",
             "Торік на подібні роботи витратили майже вдвічі менше.",
             "Кілька депутатів утрималися під час голосування.",
             "Підрядника обиратимуть через систему Prozorro.", "Остаточне рішення ухвалять на наступній сесії.",
             "Востаннє такі роботи тут проводили {year} року.", "Опалення в будинках цього мікрорайону не вимикали.",
             "Мешканці мікрорайону {district} чекали на це рішення понад пів року.",
             "Подібний проєкт провалили {year} року.", "Пропозиції від підрядників приймають до кінця місяця.",
             "Рух вулицею {street} на час робіт обмежать до однієї смуги.",
             "За попередніми розрахунками, вартість зросла з {mln} до {mln2} млн гривень.",
             "Ще дві зустрічі з мешканцями мікрорайону {district} проведуть до кінця {month}.",
             "Батьки учнів скаржилися на стан будівлі ще {year} року."],
    "month": ["травня", "червня", "літа", "року", "осені"],
    "weekday": ["наступний вівторок", "середу", "кінець місяця", "п’ятницю"],
    "short": ["Рішення ухвалили одноголосно.", "Ніхто не постраждав.", "Засідання відкрите для громадськості.",
              "Обидві сторони мають намір оскаржити рішення.", "Ця сума не змінилася."],
    "quote": ["«{said}», — {saidby}."],
    "said": ["Ми не можемо щороку латати ті самі ями", "Люди мають знати, куди йдуть їхні гроші",
             "Це рішення давно назріло", "Краще зробити один раз, але якісно",
             "Мешканці околиць мають отримувати такі ж послуги, як і центр"],
    "saidby": ["зазначив міський голова {mayor}", "сказала депутатка {member}", "пояснив інженер {engineer}",
               "наголосила голова комісії {chair}"],
    "opener": ["Нагадаємо, що {past} {clause}.", "Нагадаємо, що {past} у місті {incident}."],
    "past": ["у грудні", "торік", "минулої осені", "на початку року", "у січні"],
    "incident": ["через аварію на водогоні без води залишилися три мікрорайони",
                 "через негоду знеструмилися понад сорок будинків",
                 "сталася пожежа на складі біля залізничного вокзалу",
                 "на два тижні закривали пологове відділення"],
    "one": ["{when_cap} {clause} — про це повідомили в пресслужбі міської ради.",
            "{when_cap} {clause}, повідомили в комунальному підприємстві «{utility}»."],
}
for _stem in ("затверди", "оголоси", "схвали", "підтрима", "розгляну", "ухвали", "презентува", "погоди", "оприлюдни",
              "обговори"):
    for _form, _ending in (("verb_m", "в"), ("verb_f", "ла"), ("verb_n", "ло"), ("verb_pl", "ли")):
        UK.setdefault(_form, []).append(_stem + _ending)


# ----------------------------------------------------------------------------------------------- articles


def build_outlets(pages: int = 60, seed: int = 0) -> list[Outlet]:
    """Every outlet, `pages` articles each (at least 12), deterministic for (pages, seed)."""
    return [build(design, pages, seed) for design in DESIGNS]


def build(design: Design, pages: int = 60, seed: int = 0) -> Outlet:
    """One outlet's articles, oldest first, with their blocks and junk placed."""
    if pages < 12:
        raise ValueError("at least 12 pages: the first 10 and some more")
    rng = random.Random(f"{design.slug}/{pages}/{seed}")
    pools = EN if design.language == "en" else UK
    zone = ZoneInfo(design.zone)
    span = (LAST_DAY - FIRST_DAY).days
    minutes = sorted(rng.sample(range(span * 24 * 60), pages))
    stamps = [datetime.combine(FIRST_DAY, time(), zone) + timedelta(minutes=m) for m in minutes]
    stamps = [s.replace(hour=7 + s.hour % 14) for s in stamps]  # daytime, order within a day kept
    kinds = _plan(rng, pages, len(design.arc[1]), burst=design.arc_burst)
    used: set[str] = set()
    paths: set[str] = set()
    titles: list[str] = []
    stories: list[list[str]] = []
    arc_seen = 0
    for kind in kinds:
        if kind == "arc":
            title, lead = design.arc[1][arc_seen]
            story = _arc_story(rng, design, pools, lead, used, first=arc_seen == 0)
            arc_seen += 1
        else:
            template = "{who} {did}" if design.language == "en" else "{clause}"
            title = _unique(lambda t=template: _sentence(fill(t, rng, pools, design.names)), set(titles))
            story = _story(rng, design, pools, title, used, kind)
        titles.append(title)
        stories.append(story)
    placed = {j.kind: set(rng.sample(range(pages), round(j.share * pages))) for j in design.junk}
    outlet = Outlet(design)
    for i, (kind, title, story, stamp) in enumerate(zip(kinds, titles, stories, stamps, strict=True)):
        skeleton = Article(design.slug, i + 1, "", title, stamp, rng.choice(design.authors), kind, ())
        path = design.path(skeleton)
        while path in paths:  # two titles with the same first words: the CMS numbers the second slug
            path = path.rstrip("/").removesuffix(".html") + "-2" + ("/" if path.endswith("/") else ".html")
        paths.add(path)
        others = [j for j in range(pages) if j != i]
        blocks = _place(rng, design, story, placed, i, stamp, lambda o=others: o[rng.randrange(len(o))], titles)
        outlet.articles.append(Article(design.slug, i + 1, path, title, stamp, skeleton.author, kind, blocks))
    outlet.articles = [_relink(a, [a.path for a in outlet.articles]) for a in outlet.articles]
    return outlet


def _plan(rng: random.Random, pages: int, arc_size: int, *, burst: bool) -> list[str]:
    """Which article is what: an arc of follow-ups (spread out, or a burst of days), one-liners, a shared quote."""
    kinds = ["news"] * pages
    arc = min(arc_size, max(3, pages // 7))
    start = rng.randint(3, 6)
    step = 1 if burst else max(1, (pages - start - 1) // arc)
    if burst:
        start = rng.randint(pages // 4, pages // 2)
    for i in range(arc):
        kinds[start + i * step] = "arc"
    free = [i for i, k in enumerate(kinds) if k == "news"]
    for i in rng.sample(free, max(2, pages // 15)):
        kinds[i] = "one-line"
    free = [i for i, k in enumerate(kinds) if k == "news"]
    for i in rng.sample(free, 2):
        kinds[i] = "quote"
    return kinds


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def _unique(make: Callable[[], str], used: set[str]) -> str:
    for _ in range(200):
        text = make()
        if text not in used:
            used.add(text)
            return text
    raise RuntimeError("prose pools too small for this many pages")


def _paragraph(rng: random.Random, design: Design, pools: dict[str, list[str]], used: set[str]) -> str:
    def make() -> str:
        picked = rng.sample(pools["more"], rng.randint(2, 3))
        return " ".join(_sentence(fill(s, rng, pools, design.names)) for s in picked)
    return _unique(make, used)


def _story(rng: random.Random, design: Design, pools: dict[str, list[str]], title: str, used: set[str],
           kind: str) -> list[str]:
    names = design.names
    if kind == "one-line":  # one paragraph of 120-200 characters, and nothing else
        def one() -> str:
            text = ""
            while not 120 <= len(text) <= 200:
                text = _sentence(fill(rng.choice(pools["one"]), rng, pools, names))
            return text
        return [_unique(one, used)]
    when = fill("{when}", rng, pools, names)
    lead = f"{title} {when}."
    story = [_unique(lambda: lead + " " + _sentence(fill(rng.choice(pools["more"]), rng, pools, names)), used)]
    for _ in range(rng.randint(1, 6)):
        story.append(_paragraph(rng, design, pools, used))
    extras = []
    if rng.random() < 0.3:  # short paragraphs, some on several pages: story all the same
        extras.append(fill(rng.choice(pools["short"]), rng, pools, names))
    if rng.random() < 0.3:  # "The council said ..." / "Нагадаємо, що ...": common openers of story text
        extras.append(_unique(lambda: _sentence(fill(rng.choice(pools["opener"]), rng, pools, names)), used))
    if rng.random() < 0.25:
        extras.append(_unique(lambda: fill(rng.choice(pools["quote"]), rng, pools, names), used))
    if kind == "quote":
        extras.append(design.quote)
    for text in extras:
        story.insert(rng.randint(1, len(story)), text)
    return story


def _arc_story(rng: random.Random, design: Design, pools: dict[str, list[str]], lead: str, used: set[str], *,
               first: bool) -> list[str]:
    background = design.arc[0]
    story = [lead] + [_paragraph(rng, design, pools, used) for _ in range(rng.randint(2, 4))]
    repeated = list(background) if first or rng.random() < 0.5 else [background[0]]
    where = rng.choice([1, 2, len(story)])  # background after the lead, after the next paragraph, or last
    story[where:where] = repeated
    return story


def _place(rng: random.Random, design: Design, story: list[str], placed: dict[str, set[int]], i: int,
           stamp: datetime, other: Callable[[], int], titles: list[str]) -> tuple[Block, ...]:
    """Story blocks with this page's junk inserted after paragraph 1, 2, 3 or at the end."""
    keyed: list[tuple[int, int, Block]] = [(n, 0, Block("story", text, f"<p>{esc(text)}</p>"))
                                           for n, text in enumerate(story)]
    for order, junk in enumerate(design.junk, 1):
        if i not in placed[junk.kind]:
            continue
        place = rng.choice(junk.places)
        after = len(story) - 1 if place == "end" else min(int(place), len(story)) - 1
        target = other()
        markup = rng.choice(junk.wordings).format(href=f"#{target}", title=esc(titles[target]), year=stamp.year)
        keyed.append((after, order, Block(junk.kind, "\n".join(lines_of(markup)), markup)))
    return tuple(block for _, _, block in sorted(keyed, key=lambda k: (k[0], k[1])))


def _relink(article: Article, paths: list[str]) -> Article:
    """Teaser links were numbered while paths were unknown: point them at the articles' paths."""
    blocks = tuple(Block(b.kind, b.text, re.sub(r'href="#(\d+)"', lambda m: f'href="{paths[int(m[1])]}"', b.html))
                   for b in article.blocks)
    return Article(article.outlet, article.number, article.path, article.title, article.published,
                   article.author, article.kind, blocks)


def lines_of(markup: str) -> list[str]:
    """The lines a reader sees in a block of HTML: one per paragraph, heading or div; form controls left out."""
    markup = re.sub(r"<form\b.*?</form>", " ", markup, flags=re.S)
    parts = re.split(r"</?(?:p|div|h\d|li|ul|section|br)\b[^>]*>", markup)
    texts = (" ".join(html.unescape(re.sub(r"<[^>]+>", "", part)).split()) for part in parts)
    return [t for t in texts if t]


def esc(text: str) -> str:
    """HTML-escaped text, quotes included (it goes into attributes too)."""
    return html.escape(text, quote=True)


# ----------------------------------------------------------------------------------------------- archive


def rss(outlet: Outlet, newest: list[Article], base_url: str) -> str:
    """RSS 2.0 of the newest FEED_ITEMS articles."""
    d = outlet.design
    items = "".join(
        f"<item><title>{esc(a.title)}</title><link>{esc(a.url(base_url))}</link>"
        f'<guid isPermaLink="true">{esc(a.url(base_url))}</guid><pubDate>{format_datetime(a.published)}</pubDate>'
        f"<description>{esc(a.story[0][:160])}</description></item>\n" for a in newest[:FEED_ITEMS])
    return (f'<?xml version="1.0" encoding="{d.encoding}"?>\n<rss version="2.0"><channel><title>{esc(d.name)}</title>'
            f"<link>{base_url}/</link><language>{d.language}</language>\n{items}</channel></rss>\n")


def sitemap_files(outlet: Outlet, base_url: str) -> dict[str, str]:
    """Path -> XML of every sitemap file of the outlet's layout."""
    d, ns = outlet.design, 'xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"'

    def urlset(articles: list[Article]) -> str:
        urls = "".join(f"<url><loc>{esc(a.url(base_url))}</loc><lastmod>{a.published.isoformat()}</lastmod></url>\n"
                       for a in articles)
        return f'<?xml version="1.0" encoding="{d.encoding}"?>\n<urlset {ns}>\n{urls}</urlset>\n'

    if d.layout == "plain":
        return {d.sitemap: urlset(outlet.articles)}
    parts: dict[str, list[Article]] = {}
    for n, a in enumerate(outlet.articles):
        name = {"yoast": f"/post-sitemap{n // 50 + 1 if n >= 50 else ''}.xml", "single": "/sitemap-posts.xml",
                "monthly": f"/sitemap/{a.published:%Y-%m}.xml"}[d.layout]
        parts.setdefault(name, []).append(a)
    children = "".join(f"<sitemap><loc>{base_url}{name}</loc><lastmod>{arts[-1].published.isoformat()}</lastmod>"
                       f"</sitemap>\n" for name, arts in parts.items())
    index = f'<?xml version="1.0" encoding="{d.encoding}"?>\n<sitemapindex {ns}>\n{children}</sitemapindex>\n'
    return {d.sitemap: index} | {name: urlset(arts) for name, arts in parts.items()}


def listing_page(outlet: Outlet, newest: list[Article], number: int) -> str:
    """Page `number` of the newest-first listing; past the end, a page without articles."""
    d = outlet.design
    chunk = newest[(number - 1) * LISTING_SIZE: number * LISTING_SIZE]
    items = "".join(f'<li><a href="{a.path}">{esc(a.title)}</a> <span>{a.published:%d.%m.%Y}</span></li>\n'
                    for a in chunk)
    more = f'<a href="{d.listing.format(page=number + 1)}">&raquo;</a>' if chunk else "<p>Nothing here.</p>"
    charset = f'<meta charset="{d.encoding}">'
    # No link to "/": on 127.0.0.1 the generic adapter takes http://127.0.0.1:40123/ for an article (the port's digits).
    return (f'<!DOCTYPE html><html lang="{d.language}"><head>{charset}<title>{esc(d.name)}</title></head><body>'
            f"<header>{esc(d.name)}</header><main><ul>\n{items}</ul>{more}</main></body></html>")


def _most_read(outlet: Outlet, article: Article, count: int = 5) -> list[Article]:
    others = [a for a in outlet.articles if a.number != article.number]
    return [others[(article.number * 7 + k * 11) % len(others)] for k in range(count)]


def _ld(outlet: Outlet, a: Article, kind: str = "NewsArticle") -> str:
    data = {"@context": "https://schema.org", "@type": kind, "headline": a.title,
            "datePublished": a.published.isoformat(), "author": {"@type": "Person", "name": a.author},
            "publisher": {"@type": "Organization", "name": outlet.design.name}}
    return f'<script type="application/ld+json">{json.dumps(data, ensure_ascii=False)}</script>'


def _slug(text: str, words: int = 7) -> str:
    text = text.lower().translate(TRANSLIT)
    return "-".join(re.findall(r"[a-z0-9]+", text)[:words])


TRANSLIT = str.maketrans({**dict(zip("абвгґдеєжзиіїйклмнопрстуфхцчшщьюя’'",
                                     ["a", "b", "v", "h", "g", "d", "e", "ie", "zh", "z", "y", "i", "i", "i", "k", "l",
                                      "m", "n", "o", "p", "r", "s", "t", "u", "f", "kh", "ts", "ch", "sh", "shch", "",
                                      "iu", "ia", "", ""], strict=True))})


# ----------------------------------------------------------------------------------------------- pages


def _body(a: Article) -> str:
    return "\n".join(b.html for b in a.blocks)


def herald_page(o: Outlet, a: Article) -> str:
    """A WordPress local paper (Underscores-like theme, Yoast JSON-LD)."""
    side = "".join(f'<li><a href="{r.path}">{esc(r.title)}</a></li>' for r in _most_read(o, a))
    return f"""<!DOCTYPE html>
<html lang="en-US"><head><meta charset="UTF-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{esc(a.title)} &#8211; The Riverside Herald</title><link rel="canonical" href="{a.path}">
<meta property="og:type" content="article"><meta property="og:title" content="{esc(a.title)}">
<meta property="og:site_name" content="The Riverside Herald">
<meta property="article:published_time" content="{a.published.isoformat()}">{_ld(o, a)}
<link rel="alternate" type="application/rss+xml" title="The Riverside Herald &raquo; Feed" href="/feed/"></head>
<body class="post-template-default single single-post postid-{a.number} single-format-standard">
<div id="page" class="site"><a class="skip-link screen-reader-text" href="#primary">Skip to content</a>
<header id="masthead" class="site-header"><div class="site-branding"><p class="site-title"><a href="/" rel="home">The
Riverside Herald</a></p><p class="site-description">Riverside&#8217;s paper since 1921</p></div>
<nav id="site-navigation" class="main-navigation"><ul id="primary-menu" class="menu">
<li><a href="/category/city-hall/">City Hall</a></li><li><a href="/category/schools/">Schools</a></li>
<li><a href="/category/sports/">Sports</a></li><li><a href="/obituaries/">Obituaries</a></li></ul></nav></header>
<div id="content" class="site-content"><main id="primary" class="site-main">
<article id="post-{a.number}" class="post-{a.number} post type-post status-publish format-standard hentry
category-city-hall">
<header class="entry-header"><h1 class="entry-title">{esc(a.title)}</h1>
<div class="entry-meta"><span class="byline">By <span class="author vcard"><a class="url fn n"
href="/author/{_slug(a.author)}/">{esc(a.author)}</a></span></span> <span class="posted-on"><time
class="entry-date published" datetime="{a.published.isoformat()}">{a.published:%B %-d, %Y}</time></span></div>
</header>
<div class="entry-content">
{_body(a)}
</div>
<footer class="entry-footer"><span class="cat-links">Posted in <a href="/category/city-hall/" rel="category tag">City
Hall</a></span></footer></article></main>
<aside id="secondary" class="widget-area"><section id="recent-posts-2" class="widget widget_recent_entries">
<h2 class="widget-title">Most Read</h2><ul>{side}</ul></section></aside></div>
<footer id="colophon" class="site-footer"><div class="site-info">&copy; 2025 Riverside Herald Media LLC &middot;
114 Front Street, Riverside &middot; <a href="/contact/">Contact us</a></div></footer></div></body></html>
"""


def lantern_page(o: Outlet, a: Article) -> str:
    """A Ghost magazine (Casper theme: gh-content, kg-cards)."""
    cards = "".join(f'<article class="post-card"><a class="post-card-content-link" href="{r.path}"><h2 '
                    f'class="post-card-title">{esc(r.title)}</h2></a></article>' for r in _most_read(o, a, 3))
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{esc(a.title)}</title><link rel="canonical" href="{a.path}">
<meta property="og:site_name" content="The Lantern"><meta property="og:type" content="article">
<meta property="og:title" content="{esc(a.title)}"><meta name="generator" content="Ghost 5.82">
{_ld(o, a, "Article")}</head>
<body class="post-template tag-city"><div class="viewport">
<header id="gh-head" class="gh-head outer"><div class="gh-head-inner inner"><div class="gh-head-brand"><a
class="gh-head-logo" href="/">The Lantern</a></div><nav class="gh-head-menu"><ul class="nav"><li class="nav-home"><a
href="/">Home</a></li><li class="nav-housing"><a href="/tag/housing/">Housing</a></li><li class="nav-culture"><a
href="/tag/culture/">Culture</a></li><li class="nav-about"><a href="/about/">About</a></li></ul></nav>
<div class="gh-head-actions"><a class="gh-head-button" href="#/portal/signup">Become a member</a></div></div></header>
<div class="site-content"><main id="site-main" class="site-main"><article class="article post tag-city">
<header class="article-header gh-canvas"><section class="article-tag"><a href="/tag/city/">City</a></section>
<h1 class="article-title">{esc(a.title)}</h1>
<div class="article-byline"><div class="article-byline-content"><div class="article-byline-meta"><h4
class="author-name"><a href="/author/{_slug(a.author)}/">{esc(a.author)}</a></h4><div class="byline-meta-content"><time
class="byline-meta-date" datetime="{a.published:%Y-%m-%d}">{a.published:%-d %b %Y}</time><span
class="byline-reading-time"><span class="bull">&bull;</span> 4 min read</span></div></div></div></div></header>
<section class="gh-content gh-canvas">
{_body(a)}
</section></article></main>
<section class="footer-cta outer"><div class="inner"><h2 class="footer-cta-title">Sign up for more like this.</h2><a
class="footer-cta-button" href="#/portal">Enter your email</a></div></section>
<aside class="read-more-wrap outer"><div class="read-more inner">{cards}</div></aside></div>
<footer class="site-footer outer"><div class="inner"><section class="copyright"><a href="/">The Lantern</a> &copy;
2025</section><div class="gh-powered-by"><a href="https://ghost.org/">Powered by Ghost</a></div></div></footer>
</div></body></html>
"""


def pivden_page(o: Outlet, a: Article) -> str:
    """A Ukrainian regional news site (BEM classes, a news-feed sidebar)."""
    feed = "".join(f'<li><time>{r.published:%H:%M}</time> <a href="{r.path}">{esc(r.title)}</a></li>'
                   for r in _most_read(o, a, 6))
    return f"""<!DOCTYPE html>
<html lang="uk"><head><meta charset="utf-8"><title>{esc(a.title)} | Південні вісті</title>
<link rel="canonical" href="{a.path}"><meta property="og:type" content="article">
<meta property="og:title" content="{esc(a.title)}"><meta property="og:site_name" content="Південні вісті">
{_ld(o, a)}</head>
<body><div class="page">
<header class="header"><div class="header__top"><a class="logo" href="/">Південні вісті</a><span class="header__city">
Миколаїв</span></div><nav class="menu"><a class="menu__item" href="/novyny/">Новини</a><a class="menu__item"
href="/polityka/">Політика</a><a class="menu__item" href="/ekonomika/">Економіка</a><a class="menu__item"
href="/sport/">Спорт</a></nav></header>
<div class="layout"><main class="layout__main"><div class="breadcrumbs"><a href="/">Головна</a> / <a
href="/novyny/">Новини</a></div>
<article class="article"><h1 class="article__title">{esc(a.title)}</h1>
<div class="article__info"><span class="article__author">{esc(a.author)}</span> <time class="article__date"
datetime="{a.published.isoformat()}">{a.published:%d.%m.%Y, %H:%M}</time></div>
<div class="article__text">
{_body(a)}
</div>
<div class="article__tags"><a href="/tag/miskrada/">міськрада</a> <a href="/tag/mykolaiv/">Миколаїв</a></div>
</article></main>
<aside class="layout__aside"><div class="news-feed"><div class="news-feed__title">Стрічка новин</div><ul>{feed}</ul>
</div></aside></div>
<footer class="footer"><p>&copy; 2008&ndash;2025 &laquo;Південні вісті&raquo;. Усі права захищено.</p><p>Миколаїв,
вул. Адміральська, 1</p></footer></div></body></html>
"""


def volyn_page(o: Outlet, a: Article) -> str:
    """An old Ukrainian paper's site: tables, <font>, windows-1251, bare <p> with no class in the story.

    The story's <p>s sit in a <div class="text">: in a bare <td> neither ingest's generic path nor plain
    trafilatura finds them at all (they return the chrome), which would measure extraction, not junk.
    """
    left = "".join(f'<a href="{r.path}">{esc(r.title)}</a><br><br>' for r in _most_read(o, a, 4))
    return f"""<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.01 Transitional//EN">
<html><head><meta http-equiv="Content-Type" content="text/html; charset=windows-1251">
<title>{esc(a.title)} - Волинський час</title><meta name="keywords" content="Луцьк, Волинь, новини"></head>
<body bgcolor="#FFFFFF" leftmargin="0" topmargin="0">
<table width="980" align="center" cellpadding="0" cellspacing="0" border="0">
<tr><td colspan="2"><a href="/"><img src="/img/logo.gif" alt="Волинський час" border="0"></a>
<font size="2">Газета для всієї родини. Виходить з 1994 року</font></td></tr>
<tr><td colspan="2" bgcolor="#003366"><a href="/news.php"><font color="#FFFFFF">Новини</font></a> |
<a href="/politics.php"><font color="#FFFFFF">Політика</font></a> | <a href="/sport.php"><font
color="#FFFFFF">Спорт</font></a> | <a href="/contacts.php"><font color="#FFFFFF">Контакти</font></a></td></tr>
<tr><td width="220" valign="top"><b>Найчитаніше</b><br><br>{left}</td>
<td valign="top"><h1>{esc(a.title)}</h1>
<font size="2" color="#666666">{a.published:%d.%m.%Y %H:%M} | {esc(a.author)}</font><br>
<div class="text">
{_body(a)}
</div>
</td></tr>
<tr><td colspan="2" align="center"><font size="1">&copy; 1994-2025 Волинський час. Всі права застережено.<br>
Адреса редакції: м. Луцьк, вул. Винниченка, 12</font></td></tr></table></body></html>
"""


# ----------------------------------------------------------------------------------------------- designs

HERALD = Design(
    slug="riverside_herald", name="The Riverside Herald", language="en", zone="America/Chicago",
    summary="English WordPress local paper: entry-content <p>s; support box in a wp-block-group div, "
            "'MORE FROM RIVERSIDE:' teasers, a newsletter plug in <em>, a dated reprint notice on every page",
    names={"town": "Riverside", "mayor": "Ellen Whitfield", "member": "Dan Okafor|Rita Salas|Paul Brennan",
           "engineer": "Marcus Lee", "chair": "Joan Petty", "district": "North End|Eastbrook|Mill Flats",
           "street": "Harbor Road|Elm Street|Cedar Avenue|Front Street",
           "school": "Lincoln Middle School|Riverside High",
           "park": "Lakeside Park|Gantry Park", "paper": "Herald", "opening": "The council said", "cur": "$"},
    authors=("Maria Delgado", "Tom Hart", "Keisha Brown", "Herald Staff"),
    junk=(
        Junk("funding", 0.75, ("2", "3"), (
            '<div class="wp-block-group is-style-support-box"><div class="wp-block-group__inner-container"><p>'
            "<strong>Local news needs local readers.</strong> The Herald is funded by people like you &#8212; "
            "chip in $5 a month at riversideherald.example/give.</p></div></div>",)),
        Junk("teaser", 0.7, ("1", "2", "3"), (
            '<p><strong>MORE FROM RIVERSIDE:</strong> <a href="{href}">{title}</a></p>',)),
        Junk("newsletter", 0.65, ("end",), (
            "<p><em>Get the Morning Memo, our free weekday briefing, in your inbox by 6 a.m.: "
            '<a href="/memo/">riversideherald.example/memo</a></em></p>',)),
        Junk("notice", 1.0, ("end",), (
            '<p class="has-small-font-size">&copy; {year} Riverside Herald Media LLC. This article may not be '
            "reprinted without written permission.</p>",)),
    ),
    arc=((
        "The Millbrook Street bridge, built in 1962, carries about 14,000 vehicles a day between the North End and "
        "downtown. It was closed in late November after inspectors found cracks in two of its steel girders.",
        "The council said in December that a full replacement could cost up to $38 million, far more than the "
        "$6 million set aside for road repairs this year.",
    ), (
        ("Millbrook Street bridge closed after inspectors find cracked girders", "Riverside closed the Millbrook "
         "Street bridge to all traffic on Thursday morning, hours after a routine inspection turned up damage that "
         "engineers called serious."),
        ("Bridge detour adds 20 minutes to school bus runs", "School buses serving the North End are running up to 20 "
         "minutes late since the Millbrook Street bridge closed, the school district said on Monday."),
        ("Engineers begin second inspection of Millbrook bridge", "A team of state engineers began a second, more "
         "detailed inspection of the Millbrook Street bridge on Tuesday, lowering cameras into the river."),
        ("Council weighs ferry shuttle while Millbrook bridge stays shut", "Council members on Wednesday asked staff "
         "to price a temporary passenger ferry across the river until the Millbrook Street bridge reopens."),
        ("State offers $12 million toward Millbrook bridge replacement", "The state transportation department has "
         "offered Riverside $12 million toward a new Millbrook Street bridge, the mayor's office said on Friday."),
        ("North End shops report falling sales since bridge closure", "Owners of a dozen shops on the North End side "
         "of the river told the council on Monday that sales had fallen by as much as a third since the closure."),
        ("Temporary footbridge approved for Millbrook crossing", "The council voted 6-1 on Tuesday to put up a "
         "temporary footbridge beside the closed Millbrook Street bridge by the end of May."),
        ("Contract awarded to demolish old Millbrook bridge", "A contractor from Fairview will demolish the old "
         "Millbrook Street bridge this summer under a contract the council approved on Thursday night."),
    )),
    quote="\"We cannot keep patching roads that were built for a town half this size,\" Mayor Ellen Whitfield said.",
    feed="/feed/", sitemap="/sitemap_index.xml", listing="/page/{page}/", layout="yoast", page=herald_page,
    path=lambda a: f"/{a.published:%Y/%m/%d}/{_slug(a.title)}/",
)

LANTERN = Design(
    slug="hallam_lantern", name="The Lantern", language="en", zone="Europe/London",
    summary="English Ghost magazine: gh-content; a members callout in a kg-callout-card (two wordings), "
            "'Worth your time:' teasers, a WhatsApp line, a kg-signup-card (heading + subheading), a republish note",
    names={"town": "Hallam", "mayor": "Priya Raman", "member": "Tom Ashby|Grace Obi", "engineer": "Sam Whitlock",
           "chair": "Ruth Kellaway", "district": "Canal Ward|Old Market|Hollins", "street": "Station Road|Wharf Lane|"
           "Kings Row", "school": "St Anne's Primary|Hallam Academy", "park": "Victoria Park|the Rec",
           "paper": "Lantern", "opening": "The report said", "cur": "£"},
    authors=("Hannah Cole", "Femi Adeyemi", "Liam Carter"),
    junk=(
        Junk("funding", 0.7, ("2", "3"), tuple(
            '<div class="kg-card kg-callout-card kg-callout-card-accent"><div class="kg-callout-text">'
            f"{text}</div></div>" for text in (
                "The Lantern is owned by its readers. Join the 12,000 members who keep it free for everyone.",
                "No billionaire owns The Lantern. Our members do &#8212; add your name for &pound;4 a month."))),
        Junk("teaser", 0.6, ("1", "2", "3", "end"), (
            '<p><strong>Worth your time:</strong> <a href="{href}">{title}</a></p>',)),
        Junk("follow", 0.6, ("end",), (
            "<p>We&#8217;re on WhatsApp now: get the three stories worth knowing each morning at "
            '<a href="/whatsapp/">lantern.example/wa</a>.</p>',)),
        Junk("newsletter", 0.7, ("end",), (
            '<div class="kg-card kg-signup-card kg-width-regular" data-lexical-signup-form=""><div '
            'class="kg-signup-card-content"><div class="kg-signup-card-text"><h2 class="kg-signup-card-heading">The '
            'Sunday Lantern</h2><p class="kg-signup-card-subheading">One long read and one short list, every Sunday '
            'morning.</p><form class="kg-signup-card-form" data-members-form="signup"><input type="email" '
            'placeholder="Your email"><button class="kg-signup-card-button" type="submit">Count me in</button></form>'
            "</div></div></div>",)),
        Junk("notice", 0.6, ("end",), (
            "<p><em>You can republish this article for free under our Creative Commons licence: "
            "lantern.example/republish</em></p>",)),
    ),
    arc=((
        "Hollins Yard, a former bus depot beside the canal, was sold to the developer Arden Living in 2022 on the "
        "promise of 400 homes, 35 percent of them affordable.",
        "The report said contamination in the depot’s soil had been underestimated by a factor of three, adding at "
        "least £9 million to the cost of clearing the site.",
    ), (
        ("Hollins Yard: what went wrong at the canal-side depot", "When the last buses left Hollins Yard, the depot "
         "beside the canal looked like the easiest housing site in the borough."),
        ("Arden Living asks to cut affordable homes at Hollins Yard", "The developer of Hollins Yard has asked the "
         "council to let it cut the share of affordable homes on the site from 35 to 20 percent."),
        ("Residents pack hall over Hollins Yard changes", "More than 300 people crowded into the Old Market hall on "
         "Wednesday evening to oppose changes to the Hollins Yard scheme."),
        ("Council hires its own experts to check Hollins Yard soil", "The council has hired an independent firm to "
         "test the soil at Hollins Yard before it decides on the developer's request."),
        ("Hollins Yard decision delayed until autumn", "A decision on the future of Hollins Yard will not be made "
         "before the autumn, the council's planning chair said on Monday."),
        ("Housing association bids to take over part of Hollins Yard", "A local housing association has offered to "
         "build 120 of the Hollins Yard homes itself if Arden Living hands over the northern half of the site."),
        ("Independent tests confirm Hollins Yard contamination", "Tests commissioned by the council have confirmed "
         "that the soil at Hollins Yard is far more contaminated than the developer first declared."),
        ("Arden Living drops Hollins Yard appeal", "Arden Living has withdrawn its appeal over Hollins Yard, leaving "
         "the original plan for 400 homes in place for now."),
    )),
    quote="\"A promise made to this borough should not be rewritten in a spreadsheet,\" councillor Grace Obi said.",
    feed="/rss/", sitemap="/sitemap.xml", listing="/page/{page}/", layout="single", page=lantern_page,
    path=lambda a: f"/{_slug(a.title, 8)}/",
)

PIVDEN = Design(
    slug="pivden_visti", name="Південні вісті", language="uk", zone="Europe/Kyiv",
    summary="Ukrainian regional site: article__text <p>s; 'Раніше ми писали:' teasers, a donate-block div "
            "(appeal + link), a Viber line, a reprint notice on every page; its arc is a burst of 8 follow-ups",
    names={"council": "Миколаївська міська рада", "mayor": "Олег Кравець", "member": "Ірина Бондар|Світлана Гук",
           "engineer": "Віктор Шульга", "chair": "Наталія Мороз", "district": "Соляні|Ліски|Матвіївка",
           "street": "Шевченка|Лесі Українки|Григорія Сковороди|Миколи Аркаса", "utility": "Миколаївводоканал"},
    authors=("Анна Коваленко", "Дмитро Савчук", "Олена Ткач"),
    junk=(
        Junk("teaser", 0.75, ("1", "2", "3"), (
            '<p><strong>Раніше ми писали:</strong> <a href="{href}">{title}</a></p>',)),
        Junk("funding", 0.7, ("2", "3", "end"), (
            '<div class="donate-block"><p>«Південні вісті» — незалежне видання, яке тримається на читачах. Навіть 50 '
            "гривень на місяць допомагають нам писати про Миколаївщину.</p><p><a href=\"/pidtrymka/\">Підтримати "
            "редакцію</a></p></div>",)),
        Junk("follow", 0.8, ("end",), (
            '<p>Оперативні новини Миколаєва — у нашому <a href="https://invite.viber.example/pv">Viber-каналі</a>.</p>',)),
        Junk("notice", 1.0, ("end",), (
            '<p class="article__copy">Використання матеріалів сайту дозволяється лише з активним гіперпосиланням на '
            "«Південні вісті».</p>",)),
    ),
    arc=((
        "Нагадаємо, що Інгульський міст закрили для руху транспорту після того, як під час планового огляду інженери "
        "виявили тріщини в одній з опор. Щодня ним користувалися близько 30 тисяч автомобілів.",
        "Ремонт мосту оцінюють у 240 млн гривень. Міська рада звернулася по допомогу до уряду та міжнародних "
        "партнерів.",
    ), (
        ("Інгульський міст закрили для транспорту через тріщини в опорі", "Зранку рух транспорту Інгульським мостом "
         "повністю зупинили: під час огляду фахівці виявили пошкодження однієї з опор."),
        ("Через закриття Інгульського мосту змінили маршрути тролейбусів", "З понеділка тролейбуси №2 і №4 курсують в "
         "об’їзд через Варварівський міст, повідомили в «Миколаївелектротрансі»."),
        ("На Інгульському мосту почали детальне обстеження опор", "Фахівці інституту будівельних конструкцій "
         "розпочали детальне обстеження опор Інгульського мосту."),
        ("Для пішоходів на Інгульському мосту облаштують окремий прохід", "Уже цього тижня пішоходи знову зможуть "
         "переходити Інгульський міст окремим огородженим проходом."),
        ("Підприємці біля Інгульського мосту скаржаться на падіння виторгу", "Власники магазинів і кав’ярень біля "
         "мосту кажуть, що за тиждень кількість відвідувачів зменшилася майже вдвічі."),
        ("Уряд виділить частину коштів на ремонт Інгульського мосту", "Кабінет міністрів погодив виділення 90 млн "
         "гривень на першочергові роботи на Інгульському мосту."),
        ("Визначено підрядника ремонту Інгульського мосту", "За результатами тендеру в системі Prozorro ремонтуватиме "
         "міст підрядник з Одеси."),
        ("Інгульський міст частково відкриють для легковиків у травні", "Міська влада розраховує частково відновити "
         "рух легкових автомобілів мостом уже в травні."),
    )),
    quote="«Жоден міст у місті не ремонтували як слід із дев’яностих, і тепер ми за це платимо», — зазначив міський "
          "голова Олег Кравець.",
    feed="/rss.xml", sitemap="/sitemap.xml", listing="/novyny/?page={page}", layout="monthly", page=pivden_page,
    path=lambda a: f"/novyny/{240000 + a.number * 37}-{_slug(a.title, 5)}.html", arc_burst=True,
)

VOLYN = Design(
    slug="volyn_chas", name="Волинський час", language="uk", zone="Europe/Kyiv",
    summary="Ukrainian old paper's site in windows-1251: tables, bare <p> with no class; the print-subscription "
            "appeal, 'Ще на цю тему:' teasers, a Telegram line and a reprint notice are bare <p> too",
    names={"council": "Луцька міська рада", "mayor": "Андрій Мельничук", "member": "Оксана Левчук|Галина Сидорук",
           "engineer": "Петро Гаврилюк", "chair": "Людмила Костюк", "district": "Гнідава|Вересневе|Теремно",
           "street": "Винниченка|Лесі Українки|Івана Франка|Кривоноса", "utility": "Луцькводоканал"},
    authors=("Іван Петрук", "Марія Данилюк", "Василь Ковальчук"),
    junk=(
        Junk("funding", 0.7, ("2", "3"), (
            "<p><b>«Волинський час» можна передплатити в усіх відділеннях «Укрпошти».</b> Передплатний індекс — "
            "61234, ціна на місяць — 45 гривень.</p>",)),
        Junk("teaser", 0.65, ("1", "2", "3", "end"), ('<p>Ще на цю тему: <a href="{href}">{title}</a></p>',)),
        Junk("follow", 0.6, ("end",), ("<p>Новини Волині щодня — у Telegram-каналі «Волинського часу».</p>",)),
        Junk("notice", 0.9, ("end",), ("<p>При передруці матеріалів посилання на «Волинський час» обов’язкове.</p>",)),
    ),
    arc=((
        "Нагадаємо, що аварія на магістральному водогоні на вулиці Гнідавській сталася наприкінці листопада. Тоді "
        "без води на дві доби залишилися понад 20 тисяч мешканців трьох мікрорайонів.",
        "Водогін проклали ще 1974 року, і, за даними «Луцькводоканалу», він зношений на 85 відсотків.",
    ), (
        ("На Гнідавській знову прорвало водогін", "Уранці працівники «Луцькводоканалу» знову перекрили подачу води в "
         "мікрорайоні Гнідава через пошкодження труби."),
        ("«Луцькводоканал» просить гроші на заміну аварійного водогону", "Підприємство звернулося до міської ради з "
         "проханням виділити кошти на заміну найбільш зношеної ділянки водогону."),
        ("Депутати виділили 18 мільйонів на водогін", "На сесії міської ради депутати погодили виділення 18 млн "
         "гривень на заміну аварійної ділянки водогону."),
        ("Заміну водогону на Гнідавській почнуть навесні", "Роботи з заміни труб розпочнуть, щойно земля відтане, "
         "повідомили у водоканалі."),
        ("Мешканців Гнідави попередили про нічні відключення води", "Упродовж двох тижнів у нічні години в "
         "мікрорайоні Гнідава не буде води через підготовчі роботи."),
        ("На Гнідавській розкопали півкілометра труби", "Підрядник уже розкопав майже п’ятсот метрів старого "
         "водогону і почав укладати нові труби."),
        ("Новий водогін на Гнідавській запрацював", "Нову ділянку магістрального водогону на вулиці Гнідавській "
         "під’єднали до мережі."),
    )),
    quote="«Ми двадцять років чуємо, що ця труба от-от лусне, а гроші знаходять тільки після аварії», — сказала "
          "депутатка Оксана Левчук.",
    feed="/rss.php", sitemap="/sitemap.xml", listing="/news.php?page={page}", layout="plain", page=volyn_page,
    path=lambda a: f"/news/{51000 + a.number}.html", encoding="windows-1251",
)

DESIGNS = (HERALD, LANTERN, PIVDEN, VOLYN)
