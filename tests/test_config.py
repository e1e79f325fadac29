"""sources.toml validation: good files load, every bad key or value names file, key and reason."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from ingest.clean.adapters import ADAPTERS
from ingest.config import ConfigError, load_config, parse_interval

ROOT = Path(__file__).resolve().parent.parent


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "sources.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_shipped_config_is_valid_and_covers_the_outlets() -> None:
    config = load_config(ROOT / "sources.toml", adapters=set(ADAPTERS))
    adapters = {s.adapter for s in config.sources.values()}
    assert {"ukrinform", "kyiv_independent", "unn", "japan_news", "pravda"} <= adapters
    for source in config.sources.values():
        assert source.feeds or source.sitemaps or source.listings
        urls = (*source.feeds, *source.sitemaps, *(u.replace("{page}", "1") for u in source.listings))
        assert all(source.allows(u) for u in urls), source.slug
    assert config.settings.respect_robots
    assert "http" in config.settings.user_agent


def test_minimal_source_gets_defaults(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, '[sources.x]\nfeeds = ["https://www.example.com/rss"]\n'))
    source = config.sources["x"]
    assert source.adapter == "generic"
    assert source.interval == 900
    assert source.enabled
    assert source.domains == ("example.com",)
    assert source.allows("https://news.example.com/a")
    assert not source.allows("https://example.org/a")


@pytest.mark.parametrize("domain", ["київ.укр", "КИЇВ.УКР", "xn--b1alf1j.xn--j1amh"])
def test_an_idn_domain_is_one_host_in_unicode_or_punycode(tmp_path: Path, domain: str) -> None:
    config = load_config(write(tmp_path, f'[sources.x]\nfeeds = ["https://київ.укр/rss"]\ndomains = ["{domain}"]\n'))
    source = config.sources["x"]
    assert source.domains == ("xn--b1alf1j.xn--j1amh",)
    for link in ("https://київ.укр/новини/н", "https://xn--b1alf1j.xn--j1amh/новини/%D0%BD",
                 "https://news.КИЇВ.укр/a", "https://київ.укр/rss"):
        assert source.allows(link), link
    assert not source.allows("https://київ.com/a")
    unset = load_config(write(tmp_path, '[sources.y]\nfeeds = ["https://www.київ.укр/rss"]\n')).sources["y"]
    assert unset.domains == ("xn--b1alf1j.xn--j1amh",)  # the default, from its URLs
    assert unset.allows("https://xn--b1alf1j.xn--j1amh/a")


@pytest.mark.parametrize(("text", "key", "reason"), [
    ('[settings]\nper_host_dely = 3\n', "settings.per_host_dely", "unknown key"),
    ('[settings]\nper_host_delay = "fast"\n', "settings.per_host_delay", "number of seconds"),
    ('[settings]\nconcurrency = 0\n', "settings.concurrency", "at least 1"),
    ('[settings]\nrespect_robots = "yes"\n', "settings.respect_robots", "true or false"),
    ('[settings]\nuser_agent = "bot"\n', "settings.user_agent", "contact"),
    ('[sources.x]\nfeeds = ["ftp://x.com/rss"]\n', "sources.x.feeds", "http(s) URL"),
    ('[sources.x]\nfeeds = "https://x.com/rss"\ninterval = "15 minutes"\n', "sources.x.interval", "duration"),
    ('[sources.x]\nfeeds = ["https://x.com/rss"]\ninterval = "10s"\n', "sources.x.interval", "at least 60"),
    ('[sources.x]\nfeeds = ["https://x.com/rss"]\nadapter = "nope"\n', "sources.x.adapter", "unknown adapter"),
    ('[sources.x]\nlistings = ["https://x.com/news"]\n', "sources.x.listings", "{page}"),
    ('[sources.x]\nfeeds = ["https://x.com/rss"]\ndomains = ["x.com/news"]\n', "sources.x.domains", "not a host"),
    ('[sources.x]\nfeeds = ["https://x.com/rss"]\ndomains = ["ки ев.укр"]\n', "sources.x.domains", "not a host"),
    ('[sources.x]\nfeeds = ["https://x.com/rss"]\nlanguage = "Ukrainian"\n', "sources.x.language", "language code"),
    ('[sources.x]\nfeeds = ["https://x.com/rss"]\nenabled = 1\n', "sources.x.enabled", "true or false"),
    ('[sources.x]\nfeeds = ["https://x.com/rss"]\ntimezone = "Kyiv"\n', "sources.x.timezone", "IANA timezone"),
    ('[sources.x]\nfeeds = ["https://x.com/rss"]\ntimezone = "Europe/Kiyv"\n', "sources.x.timezone", "IANA timezone"),
    ('[sources.x]\nfeeds = ["https://x.com/rss"]\ntimezone = 3\n', "sources.x.timezone", "IANA timezone"),
    ('[sources.x]\nfeeds = ["https://x.com/rss"]\ntimezone = "../../etc/passwd"\n', "sources.x.timezone", "IANA"),
    ('[sources.x]\nfeeds = ["https://x.com/rss"]\nfeed = []\n', "sources.x.feed", "unknown key"),
    ('[sources.x]\nenabled = true\n', "sources.x", "at least one of"),
    ('[sources.X-1]\nfeeds = ["https://x.com/rss"]\n', "sources.X-1", "slug"),
    ('[source.x]\n', "source", "unknown top-level table"),
    ('[sources.x\n', "-", "not valid TOML"),
])
def test_bad_config_names_file_key_and_reason(tmp_path: Path, text: str, key: str, reason: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path, adapters=set(ADAPTERS))
    assert info.value.file == str(path)
    assert info.value.key == key
    assert reason in info.value.reason
    assert str(path) in str(info.value)
    assert key in str(info.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load_config(tmp_path / "nope.toml")


@pytest.mark.parametrize(("value", "seconds"), [("15m", 900), ("1h", 3600), ("90s", 90), ("2d", 172800), (120, 120)])
def test_parse_interval(value: object, seconds: float) -> None:
    assert parse_interval(value) == seconds


def test_exclude_patterns(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, '[sources.x]\nsitemaps = ["https://www.x.com/sitemap.xml"]\n'
                                         'exclude = ["/(eng|rus)/"]\n'))
    source = config.sources["x"]
    assert source.wants("https://www.x.com/news/1/")
    assert not source.wants("https://www.x.com/eng/news/1/")
    assert not source.wants("https://other.com/news/1/")
    with pytest.raises(ConfigError, match=r"sources\.x\.exclude: '\(' is not a regular expression"):
        load_config(write(tmp_path, '[sources.x]\nfeeds = ["https://x.com/rss"]\nexclude = ["("]\n'))


def test_timezone_is_the_key_else_the_adapters_else_by_language(tmp_path: Path) -> None:
    zones = {slug: cls.timezone for slug, cls in ADAPTERS.items() if cls.timezone}
    config = load_config(write(tmp_path, """
[sources.a]
feeds = ["https://a.ua/rss"]
language = "uk"
[sources.b]
feeds = ["https://b.jp/rss"]
language = "ja"
[sources.c]
feeds = ["https://c.com/rss"]
language = "en"
[sources.d]
feeds = ["https://d.com/rss"]
[sources.e]
feeds = ["https://www.ukrinform.net/rss"]
adapter = "ukrinform"
language = "en"
[sources.f]
feeds = ["https://f.ua/rss"]
language = "uk-UA"
timezone = "America/New_York"
"""), adapters=set(ADAPTERS), adapter_timezones=zones)
    got = {slug: source.timezone for slug, source in config.sources.items()}
    assert got == {"a": "Europe/Kyiv", "b": "Asia/Tokyo", "c": "UTC", "d": "UTC", "e": "Europe/Kyiv",
                   "f": "America/New_York"}


def test_shipped_sources_read_their_outlets_clocks() -> None:
    zones = {slug: cls.timezone for slug, cls in ADAPTERS.items() if cls.timezone}
    config = load_config(ROOT / "sources.toml", adapters=set(ADAPTERS), adapter_timezones=zones)
    assert {s.slug: s.timezone for s in config.sources.values()} == {
        slug: "Asia/Tokyo" if slug == "japan_news" else "Europe/Kyiv" for slug in config.sources}


@pytest.mark.parametrize("kind", ["device", "fifo", "too-large"])
def test_a_config_that_is_no_file_or_too_large_is_refused_at_once(kind: str, tmp_path: Path) -> None:
    # /dev/urandom used to be read forever and a FIFO to wait for a writer: a subprocess, so a hang fails the test.
    if kind == "device":
        path, reason = Path("/dev/urandom"), "not a regular file"
    elif kind == "fifo":
        path, reason = tmp_path / "sources.toml", "not a regular file"
        os.mkfifo(path)
    else:
        path, reason = tmp_path / "sources.toml", "larger than 1 MB"
        path.write_text("# " + "x" * 1_000_000 + "\n", encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "ingest", "--config", str(path), "sources"], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 2
    assert f"{path}: -: {reason}" in done.stderr
    assert "Traceback" not in done.stderr
