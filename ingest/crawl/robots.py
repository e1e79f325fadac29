"""robots.txt answer (HTTP status + text) -> Robots policy: may this user agent fetch this URL, how slowly.

A thin layer over Protego, which handles the `*` and `$` wildcards that urllib.robotparser ignores.
The RFC 9309 status rules live here too: 2xx parse, 4xx allow all, 5xx or unreachable disallow
for now. The answer is cached in HostState (robots_txt / robots_status / robots_fetched_at) for at
most 24 h; fetching it is fetch.py's job.
"""

from __future__ import annotations

from typing import Final

from protego import Protego

from ingest.models import HostState

MAX_ROBOTS_BYTES: Final = 500 * 1024  # RFC 9309 2.5: parse at least 500 KiB; we stop there
ROBOTS_TTL: Final = 24 * 3600.0  # RFC 9309 2.4: cache no longer than 24 h
# A 5xx answer means "disallow for now": ask again soon rather than shut the host out for a day.
ROBOTS_ERROR_TTL: Final = 600.0


class Robots:
    """A parsed robots.txt, or one of the two blanket policies."""

    def __init__(self, parser: Protego | None, *, allow: bool = True, unreachable: bool = False) -> None:
        self._parser = parser
        self._allow = allow
        # Disallowed only because robots.txt could not be read: the host did not answer, which is a failure to
        # retry (and to count against the pass), not the site's word.
        self.unreachable = unreachable

    @classmethod
    def parse(cls, text: str) -> Robots:
        """Parse robots.txt text (capped at 500 KiB)."""
        return cls(Protego.parse(text[:MAX_ROBOTS_BYTES]))

    @classmethod
    def allow_all(cls) -> Robots:
        """The policy for a missing robots.txt (4xx)."""
        return cls(None, allow=True)

    @classmethod
    def disallow_all(cls) -> Robots:
        """The policy for an unreachable robots.txt (5xx, network error)."""
        return cls(None, allow=False, unreachable=True)

    def allowed(self, url: str, user_agent: str) -> bool:
        """True when `user_agent` may fetch `url`."""
        if self._parser is None:
            return self._allow
        return bool(self._parser.can_fetch(url, product_token(user_agent)))

    def crawl_delay(self, user_agent: str) -> float | None:
        """The Crawl-delay (seconds) of the group that applies to `user_agent`, or None."""
        if self._parser is None:
            return None
        delay = self._parser.crawl_delay(product_token(user_agent))
        return float(delay) if delay is not None else None


def product_token(user_agent: str) -> str:
    """'ingest/0.1 (+https://...; news research crawler)' -> 'ingest' (RFC 9309 2.2.1)."""
    # Matching the whole string would let a group for "crawler" apply because of our comment.
    head = user_agent.strip().split("/", 1)[0].split(None, 1)
    return head[0] if head else user_agent


def robots_policy(status: int | None, text: str) -> Robots:
    """RFC 9309 2.3.1: 2xx parse; 4xx allow all; 429, 5xx or unreachable (None) disallow for now."""
    if status is None or status >= 500 or status == 429:
        # 429 is overload, not absence: Google treats it like 5xx, and so do we.
        return Robots.disallow_all()
    if 200 <= status < 300:
        return Robots.parse(text)
    # 4xx, and redirects that never arrived (RFC 9309 2.3.1.2: may be treated as unavailable).
    return Robots.allow_all()


def robots_ttl(status: int | None) -> float:
    """Seconds a robots.txt answer with this status may be reused."""
    if status is None or status >= 500 or status == 429:
        return ROBOTS_ERROR_TTL
    return ROBOTS_TTL


def cached_policy(state: HostState, now: float) -> Robots | None:
    """The policy cached in `state`, or None when there is none or it is stale (`now`: epoch s)."""
    if state.robots_txt is None:
        return None
    status = state.robots_status or None  # 0 is stored for "unreachable"
    if now - state.robots_fetched_at >= robots_ttl(status) or now < state.robots_fetched_at:
        return None
    return robots_policy(status, state.robots_txt)


def remember_policy(state: HostState, status: int | None, text: str, now: float) -> Robots:
    """Store a robots.txt answer in `state` and return its policy."""
    state.robots_txt = text[:MAX_ROBOTS_BYTES] if status is not None and 200 <= status < 300 else ""
    state.robots_status = status or 0
    state.robots_fetched_at = now
    return robots_policy(status, state.robots_txt)
