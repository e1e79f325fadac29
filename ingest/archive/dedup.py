"""The dedup stage: is an article new, a changed version of a stored one, or a copy of another?

text -> content_hash: exact duplicates under whitespace, case and punctuation noise; the near-duplicate
fingerprint is neardup.py's. Both are computed where the page is cleaned (run/parsing.py).

article -> Verdict (`judge`): asked of the archive through storage.DedupLookups, inside the write batch that
then saves the article (Store.save_article records what the verdict says), so no other process can store the
same URL or text between the lookup and the save. One row per canonical URL key: a stored URL's unchanged text is
"same", a new text "changed" (the old one becomes a revision); a new URL whose text is an exact (content hash) or
near (neardup.py) copy of a stored original is "exact" or "near", stored with duplicate_of -> that original, never
dropped; anything else is "new", an original, whose band hashes go in the near-duplicate index.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

from ingest.archive import neardup, revdiff
from ingest.models import Article, Fingerprint
from ingest.storage import DedupLookups, Verdict
from ingest.urls import url_key

_NOISE = re.compile(r"[\W_]+", re.UNICODE)


def content_hash(text: str) -> str:
    """Hash of the text with case, whitespace and punctuation normalised away."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return hashlib.sha256(_NOISE.sub(" ", folded).strip().encode("utf-8")).hexdigest()


def judge(lookups: DedupLookups, article: Article, fingerprint: Fingerprint | None = None,
          digest: str | None = None) -> Verdict:
    """What `article` is against the archive; call inside the batch that saves it. `fingerprint` and `digest`
    are the text's, when a parse worker computed them already."""
    key = url_key(article.url)
    digest = digest or content_hash(article.text)
    stored = lookups.stored_at(key)
    if stored is not None:
        if not revdiff.is_revision(stored.title, stored.text, article.title, article.text):
            # the same story, or one whose view counter, spacing or punctuation moved: no revision, nothing written
            return Verdict("same", key, digest, stored)
        if stored.duplicate_of is not None:  # a copy is not in the band index: nothing to move there
            return Verdict("changed", key, digest, stored)
        # an original stays findable by its current text
        new = (fingerprint or neardup.fingerprint(article.text)).bands
        return Verdict("changed", key, digest, stored, bands=new, unindex=neardup.fingerprint(stored.text).bands)
    exact = lookups.exact_copy(digest)
    if exact is not None:
        return Verdict("exact", key, digest, original=exact)
    fingerprint = fingerprint or neardup.fingerprint(article.text)
    near = lookups.near_copy(fingerprint)
    if near is not None:
        return Verdict("near", key, digest, original=near)
    return Verdict("new", key, digest, bands=fingerprint.bands)
