"""Learned boilerplate: per source, the text blocks its pages repeat, counted by distinct page.

Contract: the rules, as pure functions over counts; the counts are the archive's (Store.observe_blocks counts
the block keys of one cleaned page, ingest/archive/boilerplate.py in SQLite; a page counts once however often
it is cleaned again, and a key that has just become boilerplate raises the source's revision). `learned(store,
source)` is the snapshot the parse workers clean with.

A key is boilerplate once it was seen on at least MIN_PAGES distinct pages of the source and on at least
MIN_SHARE of the source's pages since it first appeared, counted over no fewer than MIN_SPAN pages (see
docs/cleaning.md, "Learned boilerplate", for how these were measured). Learned keys stay learned. Keys seen on few
pages that have not come back for PRUNE_AFTER pages (story paragraphs, which are not repeated) are pruned, so
the tables grow with what repeats, not with the archive. All state is in tables, so it survives restarts and
every process writing the database learns from every other. The thresholds are read at each call (bench/
thresholds.py changes them).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Final

from ingest.models import Learned
from ingest.storage import Listing as Listing  # re-exported: what `ingest boilerplate` shows
from ingest.storage import Reports

# Measured with bench/thresholds.py (docs/cleaning.md, "Learned boilerplate"): MIN_SHARE x MIN_SPAN = 20 repeats is the
# least that tells a site's block from a burst of follow-ups reusing a paragraph (16 in a row were learned at
# 0.6 x 20 and 0.75 x 20, none at 0.6 x 30 and above); every junk block of the generated outlets is learned.
MIN_PAGES = 5
MIN_SHARE = 0.5
MIN_SPAN = 40
MAX_VARIANTS = 4  # different texts a box may show over its pages and still be the site's (an appeal's wordings)
PRUNE_AFTER = 1000  # pages of the source after which a key seen fewer than MIN_PAGES times is dropped
PRUNE_EVERY = 250  # pages of the source between two prunes
_HASH_SIZE: Final = 8  # bytes of a key's hash in a page's record (a page holds ~100 keys)


def is_boilerplate(pages: int, first_serial: int, serial: int, variants: int = 0) -> bool:
    """Seen on MIN_PAGES pages, and on MIN_SHARE of the source's pages since it first appeared (at least
    MIN_SPAN of them: five follow-ups in a row that reuse a background paragraph are not the site's chrome);
    a box, also saying at most MAX_VARIANTS different things (`variants` is 0 for other kinds)."""
    span = max(MIN_SPAN, serial - first_serial + 1)
    return pages >= MIN_PAGES and pages >= MIN_SHARE * span and variants <= MAX_VARIANTS


def learned(store: Reports, source: str, *, keep: Iterable[str] = (), junk: Iterable[str] = ()) -> Learned:
    """What cleaning `source`'s pages removes besides the adapter's rules: its learned keys and its pins."""
    return Learned(store.learned_keys(source), tuple(k.casefold() for k in keep), tuple(j.casefold() for j in junk),
                   store.learned_revision(source))


def page_hash(key: str) -> bytes:
    """8 bytes standing for a block key in a page's record of the keys it counted (a page holds ~100)."""
    return hashlib.blake2b(key.encode(), digest_size=_HASH_SIZE).digest()


def page_hashes(blob: bytes | None) -> set[bytes]:
    """The key hashes in a page's record (page_hash each)."""
    blob = blob or b""
    return {blob[i:i + _HASH_SIZE] for i in range(0, len(blob), _HASH_SIZE)}
