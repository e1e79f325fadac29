"""URL keys and content hashes: the identity of an article.

url -> url_key: every variant that leads to one article (tracking parameters, AMP and mobile hosts,
fragments, trailing slashes, http/https, www) maps to one key, so known URLs are skipped before
fetching. text -> content_hash: exact duplicates under whitespace, case and punctuation noise.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

# Query parameters that never change what page is served.
_TRACKING = re.compile(
    r"^(utm_\w+|fbclid|gclid|dclid|gbraid|wbraid|msclkid|yclid|mc_cid|mc_eid|igshid|_ga|_gl|"
    r"ref|ref_src|ref_url|cmpid|ito|at_medium|at_campaign|spm|share|from|amp|output)$",
    re.IGNORECASE,
)
_HOST_PREFIXES = ("www.", "m.", "mobile.", "amp.")
_AMP_PATH = re.compile(r"(/amp/?$|/amp\.html$|\.amp\.html$|\.amp$)", re.IGNORECASE)


def normalize_url(url: str) -> str:
    """A clean URL to store: fragment and tracking parameters dropped, host lower-cased."""
    parts = urlsplit(url.strip())
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _TRACKING.match(k)]
    host = (parts.hostname or "").lower()
    netloc = f"{host}:{parts.port}" if parts.port and parts.port not in (80, 443) else host
    return urlunsplit((parts.scheme.lower(), netloc, parts.path or "/", urlencode(query), ""))


def without_userinfo(url: str) -> str:
    """`url` without the "user:password@" a link may carry: credentials are never stored nor sent."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


def url_key(url: str) -> str:
    """The identity of a URL: scheme, www/m/amp host prefixes, AMP suffixes and trailing slash ignored."""
    parts = urlsplit(normalize_url(url))
    host = parts.netloc
    for prefix in _HOST_PREFIXES:
        if host.startswith(prefix) and host.count(".") >= 2:
            host = host[len(prefix):]
            break
    path = _AMP_PATH.sub("", parts.path)
    path = path.rstrip("/") or "/"
    query = urlencode(sorted(parse_qsl(parts.query, keep_blank_values=True)))
    return f"{host}{path}" + (f"?{query}" if query else "")


_NOISE = re.compile(r"[\W_]+", re.UNICODE)


def content_hash(text: str) -> str:
    """Hash of the text with case, whitespace and punctuation normalised away."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return hashlib.sha256(_NOISE.sub(" ", folded).strip().encode("utf-8")).hexdigest()
