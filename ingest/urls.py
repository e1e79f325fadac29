"""URL keys: the identity of an article's address.

url -> url_key: every variant that leads to one article (tracking parameters, AMP and mobile hosts,
fragments, trailing slashes, http/https, www, an IDN host in Unicode or punycode, a path's escapes in
upper or lower case or its characters unescaped, dot segments) maps to one key, so known URLs are skipped
before fetching.

The spelling of a URL is w3lib's canonicalize_url (Scrapy fingerprints requests with it) on a host
already in its IDNA form: we add only what identity needs on top (tracking parameters, www/m/amp hosts,
AMP suffixes, trailing slash, scheme). A change to what url_key returns is a schema migration
(archive/rekey.py re-keys every stored key), which is why w3lib is pinned to one minor version.
"""

from __future__ import annotations

import re
from typing import Final
from urllib.parse import unquote_plus, urlsplit, urlunsplit

import idna
from w3lib.url import canonicalize_url

# Query parameters that never change what page is served.
_TRACKING = re.compile(
    r"^(utm_\w+|fbclid|gclid|dclid|gbraid|wbraid|msclkid|yclid|mc_cid|mc_eid|igshid|_ga|_gl|"
    r"ref|ref_src|ref_url|cmpid|ito|at_medium|at_campaign|spm|share|from|amp|output)$",
    re.IGNORECASE,
)
_HOST_PREFIXES = ("www.", "m.", "mobile.", "amp.")
_AMP_PATH = re.compile(r"(/amp/?$|/amp\.html$|\.amp\.html$|\.amp$)", re.IGNORECASE)


def ascii_host(host: str) -> str:
    """A host name as it goes on the wire: lower-cased, an IDN in its IDNA (punycode) form, as httpx encodes it
    (`київ.укр` -> `xn--b1alf1j.xn--j1amh`). A name IDNA refuses (httpx could not fetch it) stays, lower-cased."""
    host = host.lower()
    if host.isascii():
        return host
    try:
        return idna.encode(host, uts46=True).decode("ascii")
    except idna.IDNAError:
        return host


def on_domain(host: str, domain: str) -> bool:
    """True when `host` is `domain` or a subdomain of it (`m.unn.ua` of `unn.ua`, never `notunn.ua`), compared in
    IDNA form, case and a trailing dot ignored: `київ.укр` and `xn--b1alf1j.xn--j1amh.` are one host."""
    host, domain = ascii_host(host.rstrip(".")), ascii_host(domain.rstrip("."))
    return bool(domain) and (host == domain or host.endswith("." + domain))


def normalize_url(url: str) -> str:
    """One spelling of `url`: fragment, credentials, default port and tracking parameters dropped, scheme and host
    lower-cased, host in IDNA form, path escapes in upper case (characters that need none unescaped, %2F %3F %3B
    %25 kept escaped: unescaped they would change the path), dot segments resolved, query sorted."""
    parts = urlsplit(url.strip())
    # Filtered before decoding anything: a value in another charset than UTF-8 keeps its bytes.
    query = "&".join(p for p in parts.query.split("&") if p and not _TRACKING.match(unquote_plus(p.split("=")[0])))
    host = ascii_host(parts.hostname or "")
    if ":" in host:  # an IPv6 address
        host = f"[{host}]"
    netloc = f"{host}:{parts.port}" if parts.port and parts.port not in (80, 443) else host
    return canonicalize_url(urlunsplit((parts.scheme.lower(), netloc, parts.path or "/", query, "")))


def without_userinfo(url: str) -> str:
    """`url` without the "user:password@" a link may carry: credentials are never stored nor sent."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


def url_key(url: str) -> str:
    """The identity of a URL: normalize_url's spelling with scheme, www/m/amp host prefixes, AMP suffixes and
    trailing slash ignored; ASCII, e.g. `xn--b1alf1j.xn--j1amh/%D0%BD%D0%BE%D0%B2%D0%B8%D0%BD%D0%B8?id=5`."""
    parts = urlsplit(normalize_url(url))
    host = parts.netloc
    for prefix in _HOST_PREFIXES:
        if host.startswith(prefix) and host.count(".") >= 2:
            host = host[len(prefix):]
            break
    path = _AMP_PATH.sub("", parts.path)
    path = path.rstrip("/") or "/"
    return f"{host}{path}" + (f"?{parts.query}" if parts.query else "")


MAX_ID: Final = 2**63 - 1  # both stores' ids are 64-bit: a longer number names no article


def article_ref(ref: str) -> int | str | None:
    """What `ingest history URL_OR_ID` names: an article id (ASCII digits), else the URL's key (urls.url_key, the
    spelling every store keys articles and aliases by); None for a number no id can be."""
    ref = ref.strip()
    if ref.isascii() and ref.isdigit():
        return int(ref) if int(ref) <= MAX_ID else None
    return url_key(ref)
