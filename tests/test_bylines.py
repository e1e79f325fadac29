"""Author names: the visible byline of real pages (wcxb-dev, fundus, our outlets) and byline texts in English,
Ukrainian and Russian, with the cases that must give no name (dates, roles, handles, "Share", the site)."""

from __future__ import annotations

import json

import pytest
from conftest import corpus_bytes, corpus_path
from selectolax.lexbor import LexborHTMLParser

from ingest.clean.adapters import adapter_for_url, get_adapter
from ingest.clean.adapters.bylines import clean_name, find_byline_names, parse_byline, split_names
from ingest.clean.parse import page_from_bytes
from ingest.decoding import page_text

STORY = "<p>" + "The council approved the new water plan on Tuesday after a long and heated debate. " * 4 + "</p>"


def wcxb_authors(page_id: str) -> list[str]:
    """Authors of a wcxb-dev page as `ingest extract` reads it (by URL: the generic adapter)."""
    url = json.loads(corpus_path(f"wcxb-dev/ground-truth/{page_id}.json").read_text("utf-8"))["url"]
    page = page_from_bytes(corpus_bytes(f"wcxb-dev/html/{page_id}.html.gz"), url)
    return adapter_for_url(url).parse(page, source="x").authors


def snippet_authors(body: str, head: str = "") -> list[str]:
    html = f"<html><head><title>Water plan</title>{head}</head><body><article><h1>Water plan</h1>{body}{STORY}"
    page = page_from_bytes(f"{html}</article></body></html>".encode(), "https://example.com/2025/05/03/water-plan")
    return get_adapter("generic").parse(page, source="x").authors


# --- real pages ------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("page_id", "authors"), [
    ("0059", ["Scott Pletcher"]),  # "By Scott Pletcher" in author markup
    ("0094", ["Sara Brown"]),  # <p>By</p> and the name in the next element
    ("0114", ["Reyan Perumal"]),  # "By Reyan Perumal Published on July 18, 2025"
    ("0184", ["Summer Swann"]),  # "By Summer Swann - June 12, 2025"; the bio below is no name
    ("0219", ["Podium Staff"]),  # a desk named in author markup
    ("0245", ["Emily Norwood"]),  # meta article:author is a Facebook URL
    ("0396", ["BeauHD"]),  # "Posted by BeauHD on Friday December 19, 2025 @08:00PM"
    ("0450", ["Colin Watson"]),  # "Posted by Colin Watson on 2025-12-18 in debusine", in the story's footer
    ("4184", ["Benjamin Preston"]),  # not "Updated by Jon Linkov Updated April 10, 2025"
    ("4674", ["Rasmus Barslund"]),  # not his role "Founder & Lead Reviewer" beside the name
    ("4864", ["Brett Cruz"]),  # not "Privacy and Digital Security Expert", nor the expert reviewer
    ("4601", ["Paul Frew"]),  # not "Home" or "Digital Security Expert"
])
def test_visible_byline_on_real_pages(page_id: str, authors: list[str]) -> None:
    assert wcxb_authors(page_id) == authors


@pytest.mark.parametrize(("page_id", "authors"), [
    ("0191", ["Nirmita Panchal"]),  # meta author is the CMS user "kffnirmitap"; the page says "Author: ..."
    ("0106", ["Brian Truitt"]),  # the JSON-LD "Person" is the site, USA TODAY
    ("0183", ["David Jackson"]),  # JSON-LD "David Jackson - FullStack Editorial Team"
    ("0366", ["Block Renovation"]),  # "Written by Block Renovation": the site itself, and nobody else named
])
def test_structured_names_checked_against_the_page(page_id: str, authors: list[str]) -> None:
    assert wcxb_authors(page_id) == authors


@pytest.mark.parametrize("page_id", [
    "0104",  # "Written By" with no name after it
    "0206",  # JSON-LD author "undefined"
    "0263",  # JSON-LD author "mdelatorreq6vkpg2ma0ci", a CMS user id
    "0392",  # "Webmaster"
    "0481",  # "Name", a template's placeholder
])
def test_no_name_invented_on_real_pages(page_id: str) -> None:
    assert wcxb_authors(page_id) == []


@pytest.mark.parametrize(("relative", "url", "names"), [
    # Ukrainian: Ekonomichna Pravda names its writer only on the page (no JSON-LD author, no meta).
    ("fundus/history/ua/Pravda_2025_10_24.html.gz",
     "https://epravda.com.ua/tehnologiji/yak-v-ukrajini-diyatimut-limiti-dlya-gravciv-azartnih-igor-813313/",
     ["Віктор Волокіта"]),
    # Russian: three writers in one byline; Kommersant's single writer.
    ("fundus/ua/Pravda_2026_01_08.html.gz", "https://www.pravda.com.ua/rus/articles/2026/01/08/8015225/",
     ["Ярослав Кузишин", "Антон Зелинский", "Карина Гасимова"]),
    ("fundus/ru/Kommersant_2025_05_14.html.gz", "https://www.kommersant.ru/doc/7715044", ["Андрей Колесников"]),
])
def test_visible_byline_on_ukrainian_and_russian_pages(relative: str, url: str, names: list[str]) -> None:
    page = page_from_bytes(corpus_bytes(relative), url)
    assert find_byline_names(LexborHTMLParser(page_text(page))) == names
    assert get_adapter("generic").parse(page, source="x").authors == names


def test_photo_credit_in_author_markup_is_no_name() -> None:
    # Ukrainska Pravda 2016 marks its photo credit <div class="...author">wikimedia.org</div>.
    url = "http://www.pravda.com.ua/news/2016/01/14/7095324/"
    page = page_from_bytes(corpus_bytes("outlets/pravda/pravda.com.ua_news_2016_01_14_7095324.html"), url)
    assert get_adapter("generic").parse(page, source="x").authors == []
    assert adapter_for_url(url).parse(page, source="pravda").authors == ["Українська правда"]  # the desk


# --- bylines written like the real ones ---------------------------------------------------------------------

@pytest.mark.parametrize(("body", "authors"), [
    ("<div class='byline'>By <a href='/author/jane-doe'>Jane Doe</a> and <a href='/author/john-smith'>John Smith"
     "</a> | May 3, 2025</div>", ["Jane Doe", "John Smith"]),
    ("<p class='meta'>Written by: Jane Doe, John Smith and Ann Lee</p>", ["Jane Doe", "John Smith", "Ann Lee"]),
    ("<div class='author-by-line'>BySummer Swann-June 12, 2025</div>", ["Summer Swann"]),
    ("<div class='authors'><span class='author-name'>Jane Doe</span><span class='author-name'>John Smith</span>"
     "</div>", ["Jane Doe", "John Smith"]),
    ("<div class='author-info'><a class='author-name' href='/a/k'>Keith Barry</a>"
     "<span class='author-title'>Senior Autos Reporter</span></div>", ["Keith Barry"]),
    ("<p>Автор: Іван Петренко</p>", ["Іван Петренко"]),
    ("<p>Авторка: Олена Іваненко</p>", ["Олена Іваненко"]),
    ("<p><strong>Автори:</strong> Олена Іваненко та Марія Коваль</p>", ["Олена Іваненко", "Марія Коваль"]),
    ("<p>Текст: Олена Іваненко, Марія Коваль і Петро Бондар</p>", ["Олена Іваненко", "Марія Коваль", "Петро Бондар"]),
    ("<div class='article-author'>Автор: Иван Петров и Анна Смирнова</div>", ["Иван Петров", "Анна Смирнова"]),
    ("<p>Автор материала: Анна Смирнова</p>", ["Анна Смирнова"]),
])
def test_bylines(body: str, authors: list[str]) -> None:
    assert snippet_authors(body) == authors


@pytest.mark.parametrize("body", [
    "<div class='author'>March 3, 2025</div>",  # a date in author markup
    "<div class='byline'>By Staff Writer</div>",  # a role
    "<span class='author'>Editor</span>",
    "<span class='author-name'>Digital Security Expert</span>",
    "<span class='author'>@janedoe</span>",  # a social handle
    "<div class='author'><a href='https://twitter.com/x'>Share</a></div>",
    "<div class='post-author'>Поділитися</div>",
    "<p>By clicking Subscribe, you agree to our terms.</p>",  # "By" opening a sentence
    "<div class='comments'><div class='comment'><span class='author'>Mark Jones</span> said</div></div>",
    "<div class='related-posts'><p>By Mark Jones</p></div>",  # another story's card
    "<blockquote>By Mark Jones</blockquote>",  # a quote
    "<div class='byline'>Reviewed by Mark Jones</div>",  # a reviewer, not the writer
    "<div class='author'>jane.doe@example.com</div>",
])
def test_no_name(body: str) -> None:
    assert snippet_authors(body) == []


def test_the_site_is_only_the_desk() -> None:
    site = "<meta property='og:site_name' content='Daily Planet'>"
    ld = ("<script type='application/ld+json'>{\"@type\": \"NewsArticle\", \"author\": "
          "{\"@type\": \"Person\", \"name\": \"Daily Planet\"}}</script>")
    assert snippet_authors("<span class='author'>Lois Lane</span>", site + ld) == ["Lois Lane"]
    assert snippet_authors("<span class='author'>By Daily Planet</span>", site) == ["Daily Planet"]
    assert snippet_authors("", site + ld) == ["Daily Planet"]  # nobody named: the desk


def test_a_cms_user_name_yields_to_the_byline() -> None:
    head = "<meta name='author' content='kffnirmitap'>"
    assert snippet_authors("<p>Author: Nirmita Panchal</p>", head) == ["Nirmita Panchal"]
    assert snippet_authors("<p>Author: Nirmita Panchal</p>", "<meta name='author' content='Jane Doe'>") == [
        "Jane Doe"]  # a person named in the page's own metadata stays


# --- one byline text ------------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "names"), [
    ("By Jane Doe and John Smith", ["Jane Doe", "John Smith"]),
    ("By Keith Barry Senior Autos Reporter Updated March 11, 2026", ["Keith Barry"]),
    ("Written by: Shivkumar M Head Product Launches", ["Shivkumar M"]),
    ("David Jackson - FullStack Editorial Team", ["David Jackson"]),
    ("Mayank Gupta, CEO of CaseBasix", ["Mayank Gupta"]),
    ("Posted by BeauHD on Friday December 19, 2025", ["BeauHD"]),
    ("By Haley Hoekstra • March 12, 2025", ["Haley Hoekstra"]),
    ("Автор: Іван Петренко", ["Іван Петренко"]),
    ("Автори: Олена Іваненко та Марія Коваль", ["Олена Іваненко", "Марія Коваль"]),
    ("Автор: Иван Петров и Анна Смирнова", ["Иван Петров", "Анна Смирнова"]),
    ("Updated by Jon Linkov Updated April 10", []),
    ("By Audience", []),  # a filter menu: a lone word after a bare "By" is no name
    ("Staff Writer", []),
    ("June 12, 2025", []),
    ("Share", []),
])
def test_parse_byline(text: str, names: list[str]) -> None:
    assert parse_byline(text) == names


@pytest.mark.parametrize(("text", "name"), [
    ("Jane Doe", "Jane Doe"), ("Dr Marna van der Merwe", "Dr Marna van der Merwe"), ("@janedoe", None),
    ("https://example.com/jane", None), ("Home", None), ("Share", None), ("Поділитися", None), ("Editor", None),
    ("Senior Editor", None), ("Webmaster", None), ("fullysecret1dbb6551f4", None), ("the way we work", None),
])
def test_clean_name(text: str, name: str | None) -> None:
    assert clean_name(text) == name


@pytest.mark.parametrize(("bylines", "names"), [
    (["Felix Schröder und Jörg Soldwisch, dpa"], ["Felix Schröder", "Jörg Soldwisch", "dpa"]),
    (["Elena Oberholzer (obe)", "Corina Gall (cog.)"], ["Elena Oberholzer", "Corina Gall"]),
    (["d.kuckelkorn@boersen-zeitung.de"], []),
    (["By Trine Juncher Jørgensen og Tôrtia Reimer-Johansen"], ["Trine Juncher Jørgensen", "Tôrtia Reimer-Johansen"]),
])
def test_split_names(bylines: list[str], names: list[str]) -> None:
    assert split_names(bylines) == names
