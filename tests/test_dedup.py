"""URL keys collapse every variant of one article URL; content hashes ignore formatting noise."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from conftest import Site, article_html, query, rss, send

from ingest.archive import store
from ingest.archive.dedup import content_hash
from ingest.archive.sqlite import open_store
from ingest.config import Settings, Source
from ingest.crawl.fetch import Fetcher
from ingest.run.pipeline import run_source
from ingest.urls import ascii_host, normalize_url, url_key

BASE = "https://www.ukrinform.net/rubric-polytics/3951234-ukraine-japan-talks.html"


@pytest.mark.parametrize("variant", [
    BASE,
    "http://www.ukrinform.net/rubric-polytics/3951234-ukraine-japan-talks.html",
    "https://ukrinform.net/rubric-polytics/3951234-ukraine-japan-talks.html",
    "https://m.ukrinform.net/rubric-polytics/3951234-ukraine-japan-talks.html",
    BASE + "?utm_source=facebook&utm_medium=social&fbclid=IwAR0abc",
    BASE + "?gclid=xyz#comments",
    BASE + "/",
    "https://WWW.UKRINFORM.NET/rubric-polytics/3951234-ukraine-japan-talks.html",
    "https://amp.ukrinform.net/rubric-polytics/3951234-ukraine-japan-talks.html",
    "https://www.ukrinform.net/rubric-polytics/3951234-ukraine-japan-talks.html/amp",
])
def test_url_variants_share_a_key(variant: str) -> None:
    assert url_key(variant) == url_key(BASE)


def test_different_articles_and_meaningful_queries_differ() -> None:
    assert url_key(BASE) != url_key(BASE.replace("3951234", "3951235"))
    assert url_key("https://unn.ua/news?id=1") != url_key("https://unn.ua/news?id=2")
    assert url_key("https://unn.ua/news?b=2&a=1") == url_key("https://unn.ua/news?a=1&b=2")


def test_normalize_url_keeps_the_page_but_drops_tracking() -> None:
    assert normalize_url(BASE + "?utm_campaign=x&id=5#top") == BASE + "?id=5"
    assert normalize_url("https://Example.com:443/a") == "https://example.com/a"


# київ.укр/новини/н: one article, spelled four ways (percent-escapes in upper and lower case, raw Cyrillic, punycode)
CYRILLIC = "https://київ.укр/новини/н"
ESCAPED = "/%D0%BD%D0%BE%D0%B2%D0%B8%D0%BD%D0%B8/%D0%BD"


@pytest.mark.parametrize("variant", [
    "https://київ.укр" + ESCAPED,
    "https://київ.укр" + ESCAPED.lower(),
    "https://київ.укр/новини/%d0%bd",
    "https://xn--b1alf1j.xn--j1amh/новини/н",
    "https://xn--b1alf1j.xn--j1amh" + ESCAPED.lower(),
    "http://XN--B1ALF1J.XN--J1AMH" + ESCAPED,
    "https://КИЇВ.УКР/новини/н/",
    "https://www.київ.укр/новини/н?utm_source=tg#top",
    "https://київ.укр/новини/./інше/../н",
])
def test_spellings_of_an_idn_url_share_a_key(variant: str) -> None:
    assert url_key(variant) == url_key(CYRILLIC) == "xn--b1alf1j.xn--j1amh" + ESCAPED


def test_mixed_case_hosts_and_query_escapes_share_a_key() -> None:
    assert url_key("https://UkrInform.NET/a") == url_key("https://ukrinform.net/a")
    assert url_key("https://unn.ua/search?q=%d0%bd") == url_key("https://unn.ua/search?q=н") \
        == url_key("https://unn.ua/search?q=%D0%BD")


def test_what_changes_the_page_changes_the_key() -> None:
    assert url_key("https://a.com/x%2Fy") != url_key("https://a.com/x/y")  # an escaped slash is not a separator
    assert url_key("https://a.com/x%2fy") == url_key("https://a.com/x%2Fy")
    assert url_key("https://a.com/x%3Fy") != url_key("https://a.com/x?y")
    assert url_key("https://a.com/News") != url_key("https://a.com/news")  # paths are case-sensitive
    assert url_key("https://a.com/%D0%9D") != url_key("https://a.com/%D0%BD")  # Н is not н
    assert url_key("https://unn.ua/news?id=%D0%BD") != url_key("https://unn.ua/news?id=%D0%9D")
    assert url_key("https://a.com/%E9") != url_key("https://a.com/é")  # Latin-1 byte vs UTF-8: other bytes
    assert url_key("https://a.com/a?q=%E9") != url_key("https://a.com/a?q=%E8")  # undecodable bytes stay apart
    assert url_key("https://київ.укр/н") != url_key("https://київ.com/н")
    assert url_key("https://a.com:8080/x") != url_key("https://a.com/x")


def test_a_key_is_its_own_key() -> None:
    """The migration re-keys url_aliases from the stored keys: a key read as a URL must give itself back."""
    for url in (BASE, CYRILLIC, "https://unn.ua/news?b=2&a=%d0%bd", "https://a.com/x%2fy/", "https://[::1]:8080/x"):
        assert url_key("http://" + url_key(url)) == url_key(url)


def test_ascii_host_is_what_httpx_puts_on_the_wire() -> None:
    for host in ("київ.укр", "КИЇВ.укр", "xn--b1alf1j.xn--j1amh", "Example.COM"):
        assert ascii_host(host) == httpx.URL(f"https://{host}/").raw_host.decode("ascii")


def test_normalize_url_is_one_spelling_to_fetch() -> None:
    assert normalize_url("https://КИЇВ.укр/новини/%d0%bd?b=1&utm_medium=x&a=#top") \
        == "https://xn--b1alf1j.xn--j1amh" + ESCAPED + "?a=&b=1"


def test_content_hash_ignores_case_space_and_punctuation() -> None:
    a = "Зеленський зустрівся з прем'єром Японії.\n\nДругий абзац."
    b = "зеленський   зустрівся з прем’єром японії\n\nдругий абзац!"
    assert content_hash(a) == content_hash(b)
    assert content_hash(a) != content_hash(a + " Третій абзац.")


def test_one_page_listed_in_three_spellings_is_fetched_and_stored_once(tmp_path: Path) -> None:
    """End to end: a feed lists one story with its Cyrillic path escaped in lower case, in upper case and raw."""
    body = article_html("Генератори для Києва", [f"Японія передала Києву генератори, партія {i}. " * 4
                                                  for i in range(3)]).encode()
    site = Site({"/robots.txt": lambda h: send(h, 200, b"User-agent: *\nAllow: /\n", "text/plain")})
    for path in ("/%D0%BD%D0%BE%D0%B2%D0%B8%D0%BD%D0%B8/%d0%bd", ESCAPED):  # what httpx sends for each spelling
        site.routes[path] = lambda h: send(h, 200, body)
    spellings = [site.url("/новини/%d0%bd"), site.url("/%D0%BD%D0%BE%D0%B2%D0%B8%D0%BD%D0%B8/%D0%BD"),
                 site.url("/новини/н")]
    site.routes["/feed.xml"] = lambda h: send(h, 200, rss(spellings), "application/rss+xml")
    db_path = tmp_path / "news.db"
    source = Source(slug="kyiv", feeds=(site.url("/feed.xml"),), domains=("127.0.0.1",))
    settings = Settings(user_agent="ingest-test/1.0 (+https://example.org/contact)", per_host_delay=0.0,
                        max_retries=0)
    try:
        for _ in range(2):  # the second pass finds the story known under every spelling
            db, hosts = open_store(db_path), store.HostStore(db_path)
            try:
                with Fetcher(settings, hosts) as fetcher:
                    run_source(db, fetcher, source, kind="backfill", workers=2)
            finally:
                hosts.close()
                db.close()
        article_hits = [p for p in site.paths() if p not in ("/robots.txt", "/feed.xml")]
    finally:
        site.close()
    assert len(article_hits) == 1
    fetched = [tuple(r) for r in query(db_path, "SELECT outcome, reason, detail FROM fetches")]
    assert fetched == [("new", None, None)]
    assert query(db_path, "SELECT count(*) FROM articles")[0][0] == 1
    assert query(db_path, "SELECT count(*) FROM frontier")[0][0] == 1


def test_the_dedup_stage_names_what_an_article_is_and_the_store_records_it(tmp_path: Path) -> None:
    """dedup.judge asks the Store (storage.DedupLookups) and returns a Verdict; save_article records exactly it."""
    from ingest.archive.dedup import judge
    from ingest.models import Article

    story = " ".join(f"word{n} of the story told at length" for n in range(40))
    st = open_store(tmp_path / "news.db")
    try:
        def save(url: str, text: str) -> tuple[str, int | None, str]:
            with st.batch():
                article = Article(url=url, source="a", title="T", text=text)
                verdict = judge(st, article)
                saved = st.save_article(article, verdict)
            return verdict.kind, verdict.original, saved.outcome

        assert save("https://a.example/1", story) == ("new", None, "new")
        assert save("https://a.example/1?utm_source=x", story) == ("same", None, "unchanged")
        assert save("https://a.example/1", story + " An update.") == ("changed", None, "updated")
        assert save("https://b.example/1", story + " An update.") == ("exact", 1, "duplicate")
        assert save("https://c.example/1", "Republished. " + story) == ("near", 1, "duplicate")
        assert st.db.execute("SELECT count(*) FROM revisions").fetchone() == (1,)
    finally:
        st.close()
