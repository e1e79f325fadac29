"""Bylines -> author names.

Contract: `split_names(bylines)` turns byline texts into person names. Pure: no I/O.
"""

from __future__ import annotations

import re

_NAME_SPLIT = re.compile(r"\s*(?:,|;|&|\b(?:and|und|og|och|et|en|і|и|та)\b)\s*", re.IGNORECASE)
_NAME_CODE = re.compile(r"\s*\([^()]{1,12}\)$")  # "Elena Oberholzer (obe)": the desk's initials
_NAME_PREFIX = re.compile(r"^(?:by|автор(?:ка)?|author|текст)\s*:?\s+", re.IGNORECASE)


def split_names(texts: list[str]) -> list[str]:
    """Byline texts -> person names: "By A and B / Staff Writers" -> ["A", "B"]."""
    names: list[str] = []
    for text in texts:
        text = _NAME_PREFIX.sub("", " ".join(text.split())).split(" / ")[0].strip(" ,.—-")
        names += [_NAME_CODE.sub("", n).strip(" .,") for n in _NAME_SPLIT.split(text)]
    # An e-mail address or a URL is where to reach someone, not a name.
    return list(dict.fromkeys(n for n in names if n and not n.isdigit() and "@" not in n and "://" not in n))
