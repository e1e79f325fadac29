"""sources.toml -> frozen dataclasses, validated at start-up.

Where to look and how often lives here; how to read a page lives in the adapter. Any wrong key or
value raises ConfigError naming the file, the key and the reason, before any work starts.
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
import tomllib
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field, fields
from functools import cached_property
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ingest.urls import ascii_host, on_domain

DEFAULT_PORTS = {"http": 80, "https": 443}  # what a URL without a port means
MAX_CONFIG_BYTES = 1_000_000  # a sources.toml with a thousand sources is 200 kB
DEFAULT_USER_AGENT = "ingest/0.1 (+https://github.com/ingest-news/ingest; news research crawler)"


class ConfigError(ValueError):
    """A bad configuration: `str()` names file, key and reason."""

    def __init__(self, file: str, key: str, reason: str) -> None:
        super().__init__(f"{file}: {key}: {reason}")
        self.file = file
        self.key = key
        self.reason = reason


@dataclass(frozen=True)
class Settings:
    """The [settings] table: politeness and limits shared by every source."""

    user_agent: str = DEFAULT_USER_AGENT
    per_host_delay: float = 2.0  # seconds between two requests to one host
    concurrency: int = 4  # fetches in flight across all hosts (one per host at a time)
    respect_robots: bool = True
    timeout: float = 30.0  # total seconds for one request, connect to last byte
    max_bytes: int = 10 * 1024 * 1024  # decoded body cap
    max_redirects: int = 5
    max_retries: int = 2  # extra attempts on connection errors, 5xx, 429
    max_backoff: float = 600.0  # longest wait honoured from Retry-After, in seconds
    # Keep the raw bytes of every fetched page in WARC files under db/warc/ (ingest/archive/warc.py), so pages can be
    # cleaned again later and read by any WARC tool; false: keep only the cleaned articles.
    warc: bool = True
    # How many of the most recent calendar months of WARC files to keep (this month included); older files
    # may be deleted by WarcArchive.prune. 0: keep them forever.
    warc_keep_months: int = 0
    # The folder of those WARC files; "" (default): warc/ beside a SQLite database, ./warc for a PostgreSQL one
    # (workers on several machines mount one shared folder there, so `ingest reclean` finds every page).
    warc_dir: str = ""
    # Days of `fetches` rows (the fetch log) the daemon keeps; older ones are deleted after each pass, a source at
    # a time, in small batches. 0: keep them all.
    keep_fetches_days: int = 0
    # Workers on PostgreSQL: a worker silent (no heartbeat) this many seconds is taken for dead, and its jobs are
    # queued again (ingest/run/sweep.py); every worker beats a sixth of it. Every process must read the same value.
    stalled_after: float = 60.0


DEFAULT_REVISIT: Final = (3600.0, 6 * 3600.0, 24 * 3600.0, 3 * 86400.0, 7 * 86400.0)  # 1h, 6h, 1d, 3d, 7d
MIN_REVISIT: Final = 60.0  # seconds: a revisit sooner than a minute after publication is a unit forgotten


@dataclass(frozen=True)
class Source:
    """One [sources.<slug>] table: an outlet (or one edition of it)."""

    slug: str
    adapter: str = "generic"
    feeds: tuple[str, ...] = ()
    sitemaps: tuple[str, ...] = ()
    listings: tuple[str, ...] = ()  # URL templates with {page}
    interval: float = 900.0  # seconds
    enabled: bool = True
    language: str | None = None
    domains: tuple[str, ...] = ()  # hosts we may fetch for this source; default: hosts of its URLs
    max_pages: int = 5  # listing pages walked per run
    exclude: tuple[str, ...] = ()  # regular expressions: discovered URLs matching one are skipped
    # IANA name; the page's times without an offset are read in it. Loaded from sources.toml it is always set
    # (the key, else the adapter's own zone, else by language); None here: the adapter decides.
    timezone: str | None = None
    keep: tuple[str, ...] = ()  # phrases: a text block holding one is never removed as learned boilerplate
    junk: tuple[str, ...] = ()  # phrases: a text block holding one is always removed
    # Seconds after publication at which a stored article is fetched again, to see whether it was edited
    # (run/revisit.py); () never. Each later than the one before.
    revisit: tuple[float, ...] = DEFAULT_REVISIT

    def allows(self, url: str) -> bool:
        """True when url is http(s) without credentials, its host is one of the source's domains or a subdomain
        of one, and its port is one the source may use: another service on the same host is another site. Hosts are
        compared in IDNA form: `київ.укр` and `xn--b1alf1j.xn--j1amh` are one host."""
        parts = urlsplit(url)
        if parts.scheme.lower() not in ("http", "https") or "@" in parts.netloc:
            return False
        host = parts.hostname or ""
        try:
            port = parts.port or DEFAULT_PORTS[parts.scheme.lower()]
        except ValueError:  # a port out of range
            return False
        for domain in self.domains:
            name, _, fixed = domain.partition(":")
            if not on_domain(host, name):  # a Source made in code may spell a domain in Unicode
                continue
            # "host:port" allows that port; a bare host the default ports and those the source's URLs name.
            if (port == int(fixed)) if fixed else (port in DEFAULT_PORTS.values() or port in self.ports):
                return True
        return False

    @cached_property  # allows() asks for every link and redirect: the URLs are read once per Source
    def ports(self) -> frozenset[int]:
        """Ports besides 80 and 443 this source may fetch: those its feeds, sitemaps and listings name."""
        found = set()
        for url in (*self.feeds, *self.sitemaps, *self.listings):
            with contextlib.suppress(ValueError):
                if (port := urlsplit(url.replace("{page}", "1")).port) is not None:
                    found.add(port)
        return frozenset(found)

    @property
    def zone(self) -> str:
        """The IANA zone of the outlet's calendar days (backfill windows, months in reports)."""
        return self.timezone or default_timezone(self.language)

    def wants(self, url: str) -> bool:
        """True for a discovered URL this source should fetch: on its domains and not excluded."""
        return self.allows(url) and not any(re.search(pattern, url) for pattern in self.exclude)


@dataclass(frozen=True)
class Topic:
    """One [topics.<name>] table: keywords that tag an article with this topic (see ingest/archive/topics.py)."""

    name: str
    keywords: tuple[str, ...]  # each matches case-insensitively at a word start; CJK ones anywhere
    require: tuple[str, ...] = ()  # when given, one of these must occur too (same matching)


@dataclass(frozen=True)
class Config:
    settings: Settings
    sources: dict[str, Source] = field(default_factory=dict)
    path: str = "sources.toml"
    topics: dict[str, Topic] = field(default_factory=dict)


# Where an outlet writing in a language most likely keeps its clocks, when the source doesn't say.
LANGUAGE_TIMEZONES = {"uk": "Europe/Kyiv", "ja": "Asia/Tokyo"}


def default_timezone(language: str | None) -> str:
    """The timezone assumed for a source or page in `language` ("uk-UA" counts as "uk"): UTC if unknown."""
    base = re.split(r"[-_]", language.strip().lower())[0] if language else ""
    return LANGUAGE_TIMEZONES.get(base, "UTC")


def check_timezone(value: object) -> str:
    """An IANA timezone name ('Europe/Kyiv'); ValueError naming the problem otherwise."""
    if not isinstance(value, str) or not value.strip() or value != value.strip():
        raise ValueError("must be an IANA timezone name like 'Europe/Kyiv', 'Asia/Tokyo' or 'UTC'")
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{value!r} is not an IANA timezone name like 'Europe/Kyiv', 'Asia/Tokyo' or 'UTC'") from None
    return value


_INTERVAL = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
_SLUG = re.compile(r"^[a-z][a-z0-9_]*$")


def parse_duration(value: object) -> float:
    """'15m' -> 900.0, '6h', '2d', '30s'; a bare number is seconds. Raises ValueError."""
    if isinstance(value, bool):
        raise ValueError("expected a duration like '15m', '1h' or '30s'")
    if isinstance(value, int | float):
        return float(value)
    match = _INTERVAL.match(str(value))
    if not match:
        raise ValueError(f"{value!r} is not a duration like '15m', '1h' or '30s'")
    return float(match[1]) * _UNITS[match[2]]


def parse_interval(value: object) -> float:
    """A source's `interval`: a duration (parse_duration) of at least a minute. Raises ValueError."""
    seconds = parse_duration(value)
    if seconds < 60:
        raise ValueError("must be at least 60 seconds: an outlet is not polled more often")
    return seconds


def load_config(path: str | Path, *, adapters: Collection[str] | None = None,
                adapter_timezones: Mapping[str, str] | None = None) -> Config:
    """Read and validate sources.toml; `adapters` is the set of known adapter slugs, `adapter_timezones` the
    timezone each adapter's outlet keeps (a source without `timezone` takes its adapter's, else its language's)."""
    file = str(path)
    try:
        raw = tomllib.loads(_read_config(file).decode("utf-8"))
    except FileNotFoundError:
        raise ConfigError(file, "-", "file not found") from None
    except OSError as exc:
        raise ConfigError(file, "-", f"cannot be read: {exc.strerror or exc}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(file, "-", f"not valid TOML: {exc}") from None
    return parse_config(raw, file=file, adapters=adapters, adapter_timezones=adapter_timezones)


def _read_config(file: str) -> bytes:
    """The config file's bytes: a regular file of at most MAX_CONFIG_BYTES, else ConfigError.

    Opened without blocking and checked before reading: /dev/urandom would be read forever and a FIFO would wait
    for a writer, where a typo in --config deserves one line."""
    fd = os.open(file, os.O_RDONLY | os.O_NONBLOCK)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ConfigError(file, "-", "not a regular file")
        os.set_blocking(fd, True)
        with os.fdopen(os.dup(fd), "rb") as stream:
            data = stream.read(MAX_CONFIG_BYTES + 1)
    finally:
        os.close(fd)
    if len(data) > MAX_CONFIG_BYTES:
        raise ConfigError(file, "-", f"larger than {MAX_CONFIG_BYTES // 1_000_000} MB: not a sources.toml")
    return data


def parse_config(raw: dict[str, Any], *, file: str = "sources.toml", adapters: Collection[str] | None = None,
                 adapter_timezones: Mapping[str, str] | None = None) -> Config:
    """Validate an already-parsed TOML document."""
    unknown = set(raw) - {"settings", "sources", "topics"}
    if unknown:
        raise ConfigError(file, sorted(unknown)[0], "unknown top-level table (expected settings, sources, topics)")
    settings = _parse_settings(raw.get("settings", {}), file)
    sources_raw = raw.get("sources", {})
    if not isinstance(sources_raw, dict):
        raise ConfigError(file, "sources", "must be a table of [sources.<slug>] tables")
    sources = {slug: _parse_source(slug, body, file, adapters, adapter_timezones or {})
               for slug, body in sources_raw.items()}
    return Config(settings=settings, sources=sources, path=file, topics=_parse_topics(raw.get("topics", {}), file))


# whole-number settings for which 0 means "none"
_ZERO_ALLOWED = frozenset({"max_retries", "warc_keep_months", "keep_fetches_days"})


def _parse_settings(raw: object, file: str) -> Settings:
    if not isinstance(raw, dict):
        raise ConfigError(file, "settings", "must be a table")
    known = {f.name: f for f in fields(Settings)}
    values: dict[str, Any] = {}
    for key, value in raw.items():
        where = f"settings.{key}"
        if key not in known:
            raise ConfigError(file, where, f"unknown key (known: {', '.join(sorted(known))})")
        default = getattr(Settings(), key)
        if isinstance(default, bool):
            if not isinstance(value, bool):
                raise ConfigError(file, where, "must be true or false")
        elif isinstance(default, int) and not isinstance(default, bool):
            least = 0 if key in _ZERO_ALLOWED else 1
            if isinstance(value, bool) or not isinstance(value, int) or value < least:
                raise ConfigError(file, where, f"must be a whole number of at least {least}")
        elif isinstance(default, float):
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise ConfigError(file, where, "must be a number of seconds, 0 or more")
            value = float(value)
        elif not isinstance(value, str) or not value.strip():
            raise ConfigError(file, where, "must be a non-empty string")
        values[key] = value
    agent = values.get("user_agent")
    if agent and "+" not in agent and "@" not in agent and "http" not in agent:
        raise ConfigError(file, "settings.user_agent", "must carry a contact (a URL or an e-mail address)")
    if values.get("timeout", 1.0) <= 0:
        raise ConfigError(file, "settings.timeout", "must be more than 0 seconds")
    if values.get("stalled_after", 1.0) <= 0:
        raise ConfigError(file, "settings.stalled_after", "must be more than 0 seconds")
    return Settings(**values)


_LIST_KEYS = ("feeds", "sitemaps", "listings", "domains")


def _revisit(value: object, file: str, where: str) -> tuple[float, ...]:
    """`revisit`: false (or []) for never, else durations after publication, each later than the one before."""
    if value is False:
        return ()
    if not isinstance(value, list):
        raise ConfigError(file, where, "must be a list of durations after publication, like [\"1h\", \"1d\"], "
                                       "or false")
    steps: list[float] = []
    for item in value:
        try:
            seconds = parse_duration(item)
        except ValueError as exc:
            raise ConfigError(file, where, str(exc)) from None
        if seconds < MIN_REVISIT:
            raise ConfigError(file, where, f"{item!r} is under a minute: give a unit, like '1h'")
        if steps and seconds <= steps[-1]:
            raise ConfigError(file, where, f"{item!r} is not later than the revisit before it")
        steps.append(seconds)
    return tuple(steps)


def _parse_source(slug: str, raw: object, file: str, adapters: Collection[str] | None,
                  adapter_timezones: Mapping[str, str]) -> Source:
    prefix = f"sources.{slug}"
    if not _SLUG.match(slug):
        raise ConfigError(file, prefix, "a slug is lower-case letters, digits and '_', starting with a letter")
    if not isinstance(raw, dict):
        raise ConfigError(file, prefix, "must be a table")
    known = {f.name for f in fields(Source)} - {"slug"}
    values: dict[str, Any] = {"slug": slug}
    for key, value in raw.items():
        where = f"{prefix}.{key}"
        if key not in known:
            raise ConfigError(file, where, f"unknown key (known: {', '.join(sorted(known))})")
        if key in _LIST_KEYS:
            values[key] = _url_list(value, file, where, template=(key == "listings"), hosts=(key == "domains"))
        elif key == "interval":
            try:
                values[key] = parse_interval(value)
            except ValueError as exc:
                raise ConfigError(file, where, str(exc)) from None
        elif key == "enabled":
            if not isinstance(value, bool):
                raise ConfigError(file, where, "must be true or false")
            values[key] = value
        elif key == "exclude":
            values[key] = _patterns(value, file, where)
        elif key == "max_pages":
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(file, where, "must be a whole number of at least 1")
            values[key] = value
        elif key == "adapter":
            if not isinstance(value, str) or (adapters is not None and value not in adapters):
                known_adapters = ", ".join(sorted(adapters or ()))
                raise ConfigError(file, where, f"unknown adapter {value!r} (known: {known_adapters})")
            values[key] = value
        elif key == "language":
            if not isinstance(value, str) or not re.fullmatch(r"[a-z]{2,3}(-[A-Za-z0-9]+)?", value):
                raise ConfigError(file, where, "must be a language code like 'uk', 'en' or 'ja'")
            values[key] = value
        elif key in ("keep", "junk"):
            values[key] = _phrases(value, file, where)
        elif key == "revisit":
            values[key] = _revisit(value, file, where)
        elif key == "timezone":
            try:
                values[key] = check_timezone(value)
            except ValueError as exc:
                raise ConfigError(file, where, str(exc)) from None
    if "timezone" not in values:
        adapter = values.get("adapter", "generic")
        values["timezone"] = adapter_timezones.get(adapter) or default_timezone(values.get("language"))
    source = Source(**values)
    if not (source.feeds or source.sitemaps or source.listings):
        raise ConfigError(file, prefix, "needs at least one of feeds, sitemaps or listings")
    if not source.domains:
        urls = (*source.feeds, *source.sitemaps, *(u.replace("{page}", "1") for u in source.listings))
        hosts = {ascii_host(urlsplit(u).hostname or "") for u in urls}
        bare = tuple(sorted(h.removeprefix("www.") for h in hosts if h))
        source = Source(**{**values, "domains": bare})
    return source


def _phrases(value: object, file: str, where: str) -> tuple[str, ...]:
    """`keep` / `junk`: a list of phrases, each a few words of a block (matched case-insensitively)."""
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(file, where, "must be a list of phrases (strings)")
    phrases = tuple(" ".join(v.split()) for v in value)
    short = next((p for p in phrases if len(p) < 4), None)
    if short is not None:
        raise ConfigError(file, where, f"{short!r} is too short: a phrase of at least 4 characters, so that it "
                                       "names one block and not every paragraph that holds a common word")
    return phrases


def _patterns(value: object, file: str, where: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(file, where, "must be a list of regular expressions")
    for pattern in value:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ConfigError(file, where, f"{pattern!r} is not a regular expression: {exc}") from None
    return tuple(value)


def _url_list(value: object, file: str, where: str, *, template: bool, hosts: bool) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(file, where, "must be a list of strings")
    if hosts:  # an IDN in Unicode or punycode, kept in IDNA form (Source.allows compares that)
        value = [ascii_host(name) + colon + port for name, colon, port in (item.partition(":") for item in value)]
    for item in value:
        if hosts:
            if not re.fullmatch(r"[a-z0-9.-]+(:\d+)?", item):
                raise ConfigError(file, where, f"{item!r} is not a host name")
            continue
        parts = urlsplit(item.replace("{page}", "1"))
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(file, where, f"{item!r} is not an http(s) URL")
        if template and "{page}" not in item:
            raise ConfigError(file, where, f"{item!r} has no {{page}} placeholder")
    return tuple(value)


_TOPIC_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")


def _parse_topics(raw: object, file: str) -> dict[str, Topic]:
    """The optional [topics.<name>] tables: `keywords`, a non-empty list of non-empty strings."""
    if not isinstance(raw, dict):
        raise ConfigError(file, "topics", "must be a table of [topics.<name>] tables")
    topics: dict[str, Topic] = {}
    for name, body in raw.items():
        prefix = f"topics.{name}"
        if not _TOPIC_NAME.match(name):
            raise ConfigError(file, prefix, "a topic name is lower-case letters, digits, '-' and '_'")
        if not isinstance(body, dict):
            raise ConfigError(file, prefix, "must be a table")
        for key in body:
            if key not in ("keywords", "require"):
                raise ConfigError(file, f"{prefix}.{key}", "unknown key (known: keywords, require)")
        if "keywords" not in body:
            raise ConfigError(file, prefix, "needs keywords, a list of words or word starts")
        lists = {key: _word_list(body[key], file, f"{prefix}.{key}") for key in body}
        topics[name] = Topic(name=name, **lists)
    return topics


def _word_list(value: object, file: str, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not value or not all(isinstance(k, str) and k.strip() for k in value):
        raise ConfigError(file, where, "must be a non-empty list of non-empty strings")
    return tuple(k.strip() for k in value)
