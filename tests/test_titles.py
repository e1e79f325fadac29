"""The headline (ingest/clean/adapters/titles.py) on real pages of the shared corpus and on snippets of real markup."""

from __future__ import annotations

import json

import pytest
from conftest import corpus_bytes, corpus_path
from selectolax.lexbor import LexborHTMLParser

from ingest.clean.adapters import get_adapter
from ingest.clean.adapters.page import read_page
from ingest.clean.adapters.preclean import remove_nodes
from ingest.clean.adapters.titles import Headline, read_headline, strip_site_name
from ingest.clean.parse import page_from_bytes
from ingest.decoding import page_text


def headline(html: str, *, selector: str | None = None, site_names: tuple[str, ...] = ()) -> Headline:
    """What the adapter's parse reads: metadata first, then the tree without scripts."""
    tree = LexborHTMLParser(html)
    info = read_page(tree)
    remove_nodes(tree.css("script, style, noscript, template"))
    return read_headline(tree, info, selector=selector, site_names=site_names)


def page(head: str, body: str = "") -> str:
    return f"<!doctype html><html><head>{head}</head><body>{body}</body></html>"


def shown(result: Headline) -> str:
    """The text of the element returned as the headline's."""
    assert result.node is not None
    return " ".join(result.node.text(separator=" ").split())


def node_class(result: Headline) -> str | None:
    return result.node.attributes.get("class") if result.node is not None else None


# --- real pages -------------------------------------------------------------------------------------------

def wcxb(number: str) -> tuple[str, str]:
    """A wcxb-dev page decoded as the fetcher would, and its URL."""
    record = json.loads(corpus_path(f"wcxb-dev/ground-truth/{number}.json").read_text("utf-8"))
    body = corpus_bytes(f"wcxb-dev/html/{number}.html.gz")
    return page_text(page_from_bytes(body, record["url"])), record["url"]


# Each title is the page's hand-reviewed gold; "h1": the visible headline element is returned with it.
WCXB = [
    # Every metadata field carries the SEO title "Health And Nutrition Trends For 2026 - Tastewise".
    ("0002", "Top 10 Health and Nutrition Trends to Watch", "h1"),
    # og:title "And finally&#8230; trouble brewing": an entity escaped twice.
    ("0457", "And finally… trouble brewing", "h1"),
    # og:title "Leadfeeder | State of SEO in 2026: ...": the site's name as a prefix.
    ("0171", "State of SEO in 2026: Trends and Predictions", "h1"),
    # Six <h1>s, four of them vote counts ("94", "Ω 48"); <title> ends " — LessWrong".
    ("0384", "Scalable End-to-End Interpretability", "h1"),
    # The only <h1> is the blog's name linked home; <title> is "davidbau.com Vibe Coding".
    ("0452", "Vibe Coding", None),
    # <h1>Blog</h1> (the section) before <h1>Packing Tips Guide</h1>.
    ("0072", "Packing Tips Guide", "h1"),
    # "Planning <span class='hand'>C</span>ycle": inline pieces run together.
    ("0468", "How AI Can Cut Your Planning Cycle From Two Weeks to Two Days", "h1"),
    # The page's UTF-8 decoded as Latin-1: "Investorâ\x80\x99s".
    ("4656", "A DIY Investor’s Guide to Retirement Calculators in 2025", "h1"),
    # Slashdot's <h1> also holds the source link "(latimes.com)" and the comment count.
    ("0396", "Stanford Computer Science Grads Find Their Degrees No Longer Guarantee Jobs", "h1"),
    # No <h1> and no canonical URL: "| GDevelop" is known as the site by the page's own <link>s.
    ("1806", "How to Make a Good Game: 5 Mistakes and Tips to Avoid", None),
    # "Healthy Eating Plate • The Nutrition Source".
    ("0073", "Healthy Eating Plate", "h1"),
    # <h1> "abdz—do" is the logo; the story's <h1> follows.
    ("0459", "Academy of Art University Earns 19 Honors at the 2026 GDUSA Design Awards", "h1"),
    # "... | Opinion" ends the <h1>, og:title and a differently worded <title>: a label, not the headline.
    ("0120", "How meditation rewires brains and improves physical health", "h1"),
]


@pytest.mark.parametrize(("number", "title", "node"), WCXB)
def test_wcxb_pages(number: str, title: str, node: str | None) -> None:
    html, _ = wcxb(number)
    result = headline(html)
    assert result.text == title
    assert (result.node.tag if result.node is not None else None) == node


FUNDUS = [
    # <h1><span class="article-title__overline">Minderheit in Syrien</span> - <span>Drusen ...</span></h1>
    ("ch/SRF_2025_01_05.html.gz", "Drusen fordern Teilhabe statt Schutzgarantien von neuer Regierung"),
    # <span class="seitenkopf__topline">Premier League</span> kicker inside the <h1>.
    ("de/SportSchau_2024_04_25.html.gz", "Rückschlag im Titelkampf - Liverpool verliert bei Everton"),
    # JSON-LD "Bubi-Bomber ... | Sport": the breadcrumbs name the section.
    ("de/Bild_2023_05_15.html.gz", "Bubi-Bomber wieder da: Thioune fordert Geduld mit Niemiec"),
    # A NewsArticle headline of its own, worded unlike the <h1> ("Hamas-Geisel schildert unter Tränen ...").
    ("de/HamburgerAbendblatt_2025_11_06.html.gz",
     "„Dem Teufel begegnet“: Deutsche Hamas-Geisel erlebte sexuellen Missbrauch"),
]


@pytest.mark.parametrize(("relative", "title"), FUNDUS)
def test_fundus_pages(relative: str, title: str) -> None:
    body = corpus_bytes(f"fundus/{relative}")
    result = headline(page_text(page_from_bytes(body, "https://example.org/story")))
    assert result.text == title
    assert result.node is not None  # the date is looked for next to it
    assert result.node.tag == "h1"


def test_fundus_node_is_the_visible_headline_even_when_worded_otherwise() -> None:
    body = corpus_bytes("fundus/de/HamburgerAbendblatt_2025_11_06.html.gz")
    result = headline(page_text(page_from_bytes(body, "https://example.org/story")))
    assert shown(result).startswith("Hamas-Geisel schildert unter Tränen sexuellen Missbrauch")


def test_generic_adapter_end_to_end() -> None:
    html, url = wcxb("0002")
    article = get_adapter("generic").parse(page_from_bytes(html.encode("utf-8"), url), source="x")
    assert article.title == "Top 10 Health and Nutrition Trends to Watch"


# --- snippets of real markup ------------------------------------------------------------------------------

@pytest.mark.parametrize(("head", "title"), [
    # " | Site", the site known by its domain (home.tarkett.co.uk).
    ('<title>10 Easy Steps for a Great Interior Design | Tarkett</title>'
     '<link rel="canonical" href="https://home.tarkett.co.uk/en_GB/node/10-easy-steps">',
     "10 Easy Steps for a Great Interior Design"),
    # " — Site", by og:site_name.
    ('<meta property="og:site_name" content="LessWrong">'
     "<title>Scalable End-to-End Interpretability — LessWrong</title>", "Scalable End-to-End Interpretability"),
    # " - Site", also "Site.tld".
    ('<meta property="og:url" content="https://www.golem.de/news/akkutechnik-2509.html">'
     "<title>Akkutechnik: Hat Quantumscape genug Akkus für ein Motorrad gebaut? - Golem.de</title>",
     "Akkutechnik: Hat Quantumscape genug Akkus für ein Motorrad gebaut?"),
    # "Site | ": a prefix.
    ('<meta property="og:url" content="https://www.leadfeeder.com/blog/state-of-seo/">'
     '<meta property="og:title" content="Leadfeeder | State of SEO in 2026: Trends and Predictions">',
     "State of SEO in 2026: Trends and Predictions"),
    # "Headline — Site | Tagline", the tagline part of og:site_name too.
    ('<meta property="og:site_name" content="Healthy For Life Meals | Fresh &amp; Healthy Meal Plan Delivery">'
     '<title>Outdated Nutrition "Facts" Debunked — Healthy For Life Meals | Fresh &amp; Healthy Meal Plan Delivery'
     "</title>", 'Outdated Nutrition "Facts" Debunked'),
    # "Site | Section - Headline": the longer side is the headline.
    ("<title>SoundStage! Xperience | SoundStageXperience.com - The Five Best Noise-Canceling Headphones</title>"
     '<link rel="stylesheet" href="https://www.soundstagexperience.com/style.css">',
     "The Five Best Noise-Canceling Headphones"),
    # A source named after a dash is part of the headline, not the site.
    ('<meta property="og:site_name" content="Ukrinform">'
     "<title>Британія та ЄС розпочнуть переговори щодо кредиту для України - FT</title>",
     "Британія та ЄС розпочнуть переговори щодо кредиту для України - FT"),
])
def test_site_names_are_stripped_from_metadata(head: str, title: str) -> None:
    result = headline(page(head))
    assert result == Headline(title, None)


def test_visible_h1_beats_seo_metadata_and_is_the_node() -> None:
    seo = "Health And Nutrition Trends For 2026 - Tastewise"
    html = page(f'<title>{seo}</title><meta property="og:title" content="{seo}">'
                f'<meta property="og:site_name" content="tastewise">',
                '<article class="post"><h1 class="hero-title">Top 10 Health and Nutrition Trends to Watch</h1>'
                "<h2>Key takeaways</h2></article>")
    result = headline(html)
    assert result.text == "Top 10 Health and Nutrition Trends to Watch"
    assert node_class(result) == "hero-title"


def test_h1_that_is_the_logo_is_passed_over() -> None:
    html = page("<title>Budget Traveler’s Guide To Travel Insurance – Budget Travel With Gabby</title>",
                '<header><h1 class="site-title"><a href="https://budgettravelwithgabby.com/" rel="home">'
                "Budget Travel With Gabby</a></h1></header>"
                '<article><h1 class="entry-title">Budget Traveler’s Guide To Travel Insurance</h1></article>'
                '<aside><h1 class="widget-title">Follow Me</h1></aside>')
    result = headline(html)
    assert result.text == "Budget Traveler’s Guide To Travel Insurance"
    assert node_class(result) == "entry-title"


def test_logo_h1_only_gives_the_title_without_the_logo() -> None:
    html = page("<title>davidbau.com Vibe Coding</title>",
                '<div><h1><a href="https://davidbau.com/" accesskey="1">davidbau.com</a></h1></div>'
                "<h2>December 16, 2025</h2><p>Story.</p>")
    assert headline(html) == Headline("Vibe Coding", None)


def test_two_h1s_the_one_the_metadata_agrees_with() -> None:
    html = page('<meta property="og:title" content="Packing Tips Guide">',
                '<section class="hero"><h1><span style="color: #ffffff;">Blog</span></h1></section>'
                '<header class="post-header"><h1 class="post__title"><span>Packing Tips Guide</span></h1></header>')
    result = headline(html)
    assert result.text == "Packing Tips Guide"
    assert shown(result) == "Packing Tips Guide"


def test_no_h1_takes_the_metadata_the_others_agree_with() -> None:
    html = page('<script type="application/ld+json">{"@type": "BlogPosting", "headline": "What do people love '
                'about Rust?"}</script><meta property="og:title" content="What do people love about Rust? | Rust Blog">'
                "<title>What do people love about Rust? | Rust Blog</title>", "<p>Text.</p>")
    assert headline(html) == Headline("What do people love about Rust?", None)


def test_entities_escaped_twice_are_decoded() -> None:
    html = page('<meta property="og:title" content="And finally&amp;#8230; trouble brewing">'
                "<title>And finally&#8230; trouble brewing | Scottish Construction Now</title>")
    assert headline(html).text == "And finally… trouble brewing"


def test_the_adapters_selector_wins() -> None:
    html = page('<meta property="og:title" content="Зеленський: дрони можуть пролетіти на параді">',
                "<h1>Укрінформ</h1><article class='news'><h1 class='newsTitle'>"
                "Зеленський: Українські дрони можуть пролетіти на параді у Москві 9 травня | Укрінформ</h1></article>")
    result = headline(html, selector="h1.newsTitle", site_names=("Ukrinform", "Укрінформ"))
    assert result.text == "Зеленський: Українські дрони можуть пролетіти на параді у Москві 9 травня"
    assert node_class(result) == "newsTitle"


def test_kicker_inside_the_h1_is_left_out_when_the_metadata_names_the_rest() -> None:
    html = page('<meta property="og:title" content="Rückschlag im Titelkampf - Liverpool verliert bei Everton">',
                '<h1 class="seitenkopf__headline"><span class="seitenkopf__topline">Premier League</span>'
                '<span class="seitenkopf__headline--text">Rückschlag im Titelkampf - Liverpool verliert bei Everton'
                "</span></h1>")
    assert headline(html).text == "Rückschlag im Titelkampf - Liverpool verliert bei Everton"


def test_date_and_screen_reader_text_in_the_h1_are_not_the_headline() -> None:
    html = page("<title>Preparing a transition in Debusine</title>",
                '<h1><a href="/blog/debusine-transitions.html" rel="bookmark"><time datetime="2025-12-18">'
                "Dec <span>18</span> 2025</time> Preparing a transition in&nbsp;Debusine</a>"
                '<span class="sr-only">(permalink)</span></h1>')
    assert headline(html).text == "Preparing a transition in Debusine"


def test_truncated_jsonld_headline_yields_to_the_full_title() -> None:
    full = ("How AI is changing the way small newsrooms verify images, video and documents before they publish "
            "a single word")
    ld = json.dumps({"@type": "Article", "headline": full[:110]})
    html = page(f'<script type="application/ld+json">{ld}</script><meta property="og:title" content="{full}">')
    assert headline(html).text == full


def test_news_publishers_own_jsonld_headline_with_the_h1_as_node() -> None:
    story = "Baerbock zur UN: Nur eine Etappe zum nächsten Karriereschritt?"
    ld = json.dumps({"@type": "NewsArticle", "headline": story})
    html = page(f'<script type="application/ld+json">{ld}</script>'
                '<meta property="og:title" content="Annalena Baerbock: Jetzt Top-Job in New York">'
                "<title>Annalena Baerbock: Jetzt Top-Job in New York - Hamburger Abendblatt</title>",
                "<article><h1>Annalena Baerbock: Jetzt Top-Job in New York</h1></article>")
    result = headline(html)
    assert result.text == story
    assert shown(result) == "Annalena Baerbock: Jetzt Top-Job in New York"


def test_section_at_the_end_of_the_title_goes() -> None:
    story = "Bubi-Bomber wieder da: Thioune fordert Geduld mit Niemiec"
    crumbs = {"@type": "BreadcrumbList", "itemListElement": [
        {"@type": "ListItem", "position": i, "name": n} for i, n in enumerate(["BILD", "Sport", story], 1)]}
    html = page(f'<script type="application/ld+json">{json.dumps(crumbs)}</script>'
                f'<meta property="og:site_name" content="bild.de"><title>{story} | Sport | BILD.de</title>')
    assert headline(html).text == story


def test_mojibake_is_undone() -> None:
    html = page("<title>A DIY Investor\u00e2\u0080\u0099s Guide to Retirement Calculators | White Coat Investor</title>"
                '<meta property="og:site_name" content="The White Coat Investor">')
    assert headline(html).text == "A DIY Investor’s Guide to Retirement Calculators"


def test_og_site_name_holding_the_title_is_no_site_name() -> None:
    title = "How to Design a Website: a Complete Guide for 2026 | Clay"
    html = page(f'<meta property="og:site_name" content="{title}"><title>{title}</title>',
                "<main><h1>How to Design a Website: a Complete Guide for 2026</h1></main>")
    assert headline(html).text == "How to Design a Website: a Complete Guide for 2026"


@pytest.mark.parametrize(("title", "names", "stripped"), [
    ("Steigende US-Zinsen setzen Dax zu | Börsen-Zeitung", ["Börsen-Zeitung"], "Steigende US-Zinsen setzen Dax zu"),
    ("Los vecinos exigen cambios | Público", ["publico"], "Los vecinos exigen cambios"),
    ("Golem: Akkus im Test", ["golem.de"], "Akkus im Test"),
    ("How to help babies sleep | Patient Education | UC Davis Children's Hospital", ["ucdavis"],
     "How to help babies sleep | Patient Education"),
    ("The Golem returns: a review", ["golem"], "The Golem returns: a review"),
    ("Alone", ["Site"], "Alone"),
])
def test_strip_site_name(title: str, names: list[str], stripped: str) -> None:
    assert strip_site_name(title, names) == stripped
