"""The dedup stage: is an article new, a changed version of a stored one, or a copy of another?

text -> content_hash: exact duplicates under whitespace, case and punctuation noise; the near-duplicate
fingerprint is neardup.py's. Both are computed where the page is cleaned (run/parsing.py).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

_NOISE = re.compile(r"[\W_]+", re.UNICODE)


def content_hash(text: str) -> str:
    """Hash of the text with case, whitespace and punctuation normalised away."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return hashlib.sha256(_NOISE.sub(" ", folded).strip().encode("utf-8")).hexdigest()
