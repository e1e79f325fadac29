"""robots: Protego-backed policies, RFC 9309 status rules and the 24 h cache in HostState."""

from __future__ import annotations

import pytest

from ingest.config import DEFAULT_USER_AGENT
from ingest.crawl.robots import (
    MAX_ROBOTS_BYTES,
    ROBOTS_ERROR_TTL,
    ROBOTS_TTL,
    Robots,
    cached_policy,
    product_token,
    remember_policy,
    robots_policy,
)
from ingest.models import HostState

UA = DEFAULT_USER_AGENT
NEWS_SITE = """
User-agent: *
Disallow: /*?print=1
Disallow: /*.pdf$
Disallow: /search
Allow: /search/about
Crawl-delay: 4

User-agent: ingest
Disallow: /private/
Crawl-delay: 2.5

User-agent: crawler
Disallow: /
"""


@pytest.mark.parametrize(("path", "allowed"), [
    ("/news/1", True),
    ("/x?print=1", False),  # urllib.robotparser allowed this
    ("/a/b?print=1&id=3", False),
    ("/a/b?id=3&print=1", True),  # the rule is the literal "?print=1" after any path
    ("/doc.pdf", False),  # and this
    ("/doc.pdf?x=1", True),  # `$` anchors the end
    ("/search?q=kyiv", False),
    ("/search/about", True),  # the longest match wins
    ("/robots.txt", True),
])
def test_wildcards_for_other_agents(path: str, allowed: bool) -> None:
    assert Robots.parse(NEWS_SITE).allowed(f"https://example.com{path}", "SomeBot/1.0") is allowed


def test_our_own_group_applies_by_product_token() -> None:
    robots = Robots.parse(NEWS_SITE)
    # Our group replaces the `*` group entirely (RFC 9309 2.2.1); "crawler" in our UA's comment is no match.
    assert robots.allowed("https://example.com/x?print=1", UA)
    assert not robots.allowed("https://example.com/private/a", UA)
    assert robots.crawl_delay(UA) == 2.5
    assert robots.crawl_delay("SomeBot/1.0") == 4.0


def test_a_word_in_our_user_agent_comment_is_not_our_name() -> None:
    # Protego matches substrings of whatever it is given: the whole UA would match "crawler" here.
    robots = Robots.parse("User-agent: crawler\nDisallow: /\n")
    assert robots.allowed("https://example.com/x", UA)


def test_product_token() -> None:
    assert product_token(UA) == "ingest"
    assert product_token("Mozilla/5.0 (compatible)") == "Mozilla"
    assert product_token("plain") == "plain"


def test_blanket_policies() -> None:
    assert Robots.allow_all().allowed("https://example.com/x", UA)
    assert not Robots.disallow_all().allowed("https://example.com/x", UA)
    assert Robots.allow_all().crawl_delay(UA) is None
    assert Robots.parse("").allowed("https://example.com/x", UA)


def test_body_is_capped_at_500_kib() -> None:
    text = "# padding\n" * (MAX_ROBOTS_BYTES // 10 + 10) + "User-agent: *\nDisallow: /\n"
    assert Robots.parse(text).allowed("https://example.com/x", UA)  # the rule came after the cap
    assert not Robots.parse("User-agent: *\nDisallow: /\n").allowed("https://example.com/x", UA)


@pytest.mark.parametrize(("status", "allowed"), [
    (200, False), (404, True), (410, True), (401, True), (403, True), (429, False),
    (500, False), (503, False), (None, False),
])
def test_rfc9309_status_rules(status: int | None, allowed: bool) -> None:
    policy = robots_policy(status, "User-agent: *\nDisallow: /\n")
    assert policy.allowed("https://example.com/x", UA) is allowed


def test_cache_in_host_state() -> None:
    state = HostState(host="example.com")
    assert cached_policy(state, 1000.0) is None  # never fetched
    policy = remember_policy(state, 200, NEWS_SITE, 1000.0)
    assert not policy.allowed("https://example.com/private/a", UA)
    assert (state.robots_status, state.robots_fetched_at, state.robots_txt) == (200, 1000.0, NEWS_SITE)
    cached = cached_policy(state, 1000.0 + ROBOTS_TTL - 1)
    assert cached is not None
    assert not cached.allowed("https://example.com/private/a", UA)
    assert cached_policy(state, 1000.0 + ROBOTS_TTL) is None  # at most 24 h


def test_cache_of_errors() -> None:
    state = HostState(host="example.com")
    assert not remember_policy(state, 503, "<html>busy</html>", 1000.0).allowed("https://example.com/", UA)
    assert (state.robots_status, state.robots_txt) == (503, "")
    cached = cached_policy(state, 1000.0 + ROBOTS_ERROR_TTL - 1)
    assert cached is not None
    assert not cached.allowed("https://example.com/", UA)
    assert cached_policy(state, 1000.0 + ROBOTS_ERROR_TTL) is None  # asked again soon

    assert remember_policy(state, 404, "<html>not found</html>", 2000.0).allowed("https://example.com/", UA)
    assert state.robots_txt == ""
    cached = cached_policy(state, 2000.0 + ROBOTS_TTL - 1)
    assert cached is not None
    assert cached.allowed("https://example.com/", UA)

    remember_policy(state, None, "", 3000.0)
    assert state.robots_status == 0
    cached = cached_policy(state, 3001.0)
    assert cached is not None
    assert not cached.allowed("https://example.com/", UA)
