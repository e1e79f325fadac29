"""Body bytes -> text, as a browser decodes them: byte order mark; charset in the HTTP Content-Type; a prescan
of the first 4 KiB for `<meta charset>`, `<meta http-equiv=Content-Type>` or an XML declaration; then sniffing
with charset_normalizer.

Declarations are checked against the bytes, because news sites mislabel pages (utf-8 declared over
cp1251 bytes and the reverse). Never raises on bad bytes: the last resort is errors="replace". Used by every
stage that reads a page (discovery reads feeds, cleaning reads articles), so it sits below all of them.
"""

from __future__ import annotations

import codecs
import itertools
import re
from typing import Final

import charset_normalizer
from charset_normalizer.md import mess_ratio

from ingest.models import Page

# WHATWG encoding name -> (Python codec used to decode, the labels that name it). Python codecs are
# chosen to match the WHATWG decoders: windows-1252 for latin1/ascii, cp932 for Shift_JIS (the
# Microsoft extensions are what real pages use), gb18030 for gbk, cp949 for euc-kr.
_ENCODINGS: Final[dict[str, tuple[str, str]]] = {
    "utf-8": ("utf-8", "unicode-1-1-utf-8 unicode11utf8 unicode20utf8 utf-8 utf8 x-unicode20utf8"),
    "ibm866": ("cp866", "866 cp866 csibm866 ibm866"),
    "iso-8859-2": ("iso8859_2", "csisolatin2 iso-8859-2 iso-ir-101 iso8859-2 iso88592 iso_8859-2 l2 latin2"),
    "iso-8859-3": ("iso8859_3", "csisolatin3 iso-8859-3 iso-ir-109 iso8859-3 iso88593 iso_8859-3 l3 latin3"),
    "iso-8859-4": ("iso8859_4", "csisolatin4 iso-8859-4 iso-ir-110 iso8859-4 iso88594 iso_8859-4 l4 latin4"),
    "iso-8859-5": ("iso8859_5", "csisolatincyrillic cyrillic iso-8859-5 iso-ir-144 iso8859-5 iso88595 "
                                "iso_8859-5"),
    "iso-8859-6": ("iso8859_6", "arabic asmo-708 csiso88596e csiso88596i csisolatinarabic ecma-114 "
                                "iso-8859-6 iso-8859-6-e iso-8859-6-i iso-ir-127 iso8859-6 iso88596 "
                                "iso_8859-6"),
    "iso-8859-7": ("iso8859_7", "csisolatingreek ecma-118 elot_928 greek greek8 iso-8859-7 iso-ir-126 "
                                "iso8859-7 iso88597 iso_8859-7 sun_eu_greek"),
    "iso-8859-8": ("iso8859_8", "csiso88598e csisolatinhebrew hebrew iso-8859-8 iso-8859-8-e iso-ir-138 "
                                "iso8859-8 iso88598 iso_8859-8 visual"),
    "iso-8859-8-i": ("iso8859_8", "csiso88598i iso-8859-8-i logical"),
    "iso-8859-10": ("iso8859_10", "csisolatin6 iso-8859-10 iso-ir-157 iso8859-10 iso885910 l6 latin6"),
    "iso-8859-13": ("iso8859_13", "iso-8859-13 iso8859-13 iso885913"),
    "iso-8859-14": ("iso8859_14", "iso-8859-14 iso8859-14 iso885914"),
    "iso-8859-15": ("iso8859_15", "csisolatin9 iso-8859-15 iso8859-15 iso885915 iso_8859-15 l9"),
    "iso-8859-16": ("iso8859_16", "iso-8859-16"),
    "koi8-r": ("koi8_r", "cskoi8r koi koi8 koi8-r koi8_r"),
    "koi8-u": ("koi8_u", "koi8-ru koi8-u"),
    "macintosh": ("mac_roman", "csmacintosh mac macintosh x-mac-roman"),
    "windows-874": ("cp874", "dos-874 iso-8859-11 iso8859-11 iso885911 tis-620 windows-874"),
    "windows-1250": ("cp1250", "cp1250 windows-1250 x-cp1250"),
    "windows-1251": ("cp1251", "cp1251 windows-1251 x-cp1251"),
    "windows-1252": ("cp1252", "ansi_x3.4-1968 ascii cp1252 cp819 csisolatin1 ibm819 iso-8859-1 iso-ir-100 "
                               "iso8859-1 iso88591 iso_8859-1 iso_8859-1:1987 l1 latin1 us-ascii "
                               "windows-1252 x-cp1252"),
    "windows-1253": ("cp1253", "cp1253 windows-1253 x-cp1253"),
    "windows-1254": ("cp1254", "cp1254 csisolatin5 iso-8859-9 iso-ir-148 iso8859-9 iso88599 iso_8859-9 l5 "
                               "latin5 windows-1254 x-cp1254"),
    "windows-1255": ("cp1255", "cp1255 windows-1255 x-cp1255"),
    "windows-1256": ("cp1256", "cp1256 windows-1256 x-cp1256"),
    "windows-1257": ("cp1257", "cp1257 windows-1257 x-cp1257"),
    "windows-1258": ("cp1258", "cp1258 windows-1258 x-cp1258"),
    "x-mac-cyrillic": ("mac_cyrillic", "x-mac-cyrillic x-mac-ukrainian"),
    "gbk": ("gb18030", "chinese csgb2312 csiso58gb231280 gb2312 gb_2312 gb_2312-80 gbk iso-ir-58 x-gbk"),
    "gb18030": ("gb18030", "gb18030"),
    "big5": ("big5hkscs", "big5 big5-hkscs cn-big5 csbig5 x-x-big5"),
    "euc-jp": ("euc_jp", "cseucpkdfmtjapanese euc-jp x-euc-jp"),
    "iso-2022-jp": ("iso2022_jp", "csiso2022jp iso-2022-jp"),
    "shift_jis": ("cp932", "csshiftjis ms932 ms_kanji shift-jis shift_jis sjis windows-31j x-sjis"),
    "euc-kr": ("cp949", "cseuckr csksc56011987 euc-kr iso-ir-149 korean ks_c_5601-1987 ks_c_5601-1989 "
                        "ksc5601 ksc_5601 windows-949"),
    "utf-16be": ("utf-16-be", "unicodefffe utf-16be"),
    "utf-16le": ("utf-16-le", "csunicode iso-10646-ucs-2 ucs-2 unicode unicodefeff utf-16 utf-16le"),
}
_LABELS: Final[dict[str, str]] = {
    label: name for name, (_, labels) in _ENCODINGS.items() for label in labels.split()
}
# Python codec names charset_normalizer may answer with that have no WHATWG label of their own.
_SNIFFED: Final[dict[str, str]] = {
    "euc_jis_2004": "euc-jp", "euc_jisx0213": "euc-jp", "shift_jis_2004": "shift_jis",
    "shift_jisx0213": "shift_jis", "latin_1": "windows-1252", "ascii": "windows-1252",
}
# Sniff only among encodings a browser can decode: unrestricted, charset_normalizer read short
# cp1252 text as cp1006 (Urdu).
_SNIFF_CODECS: Final[tuple[str, ...]] = tuple(sorted({codec for codec, _ in _ENCODINGS.values()}))
_BOMS: Final = (
    (codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_BE, "utf-16be"), (codecs.BOM_UTF16_LE, "utf-16le"),
)
_PRESCAN_BYTES: Final = 4096
_HEADER_CHARSET: Final = re.compile(r"""charset\s*=\s*["']?([^\s;"',]+)""", re.IGNORECASE)
_COMMENT: Final = re.compile(r"<!--.*?(?:-->|$)", re.DOTALL)
_META: Final = re.compile(r"<meta[\s/]([^>]*)>?", re.IGNORECASE)
_ATTR: Final = re.compile(r"""([^\s=/>]+)(?:\s*=\s*("[^"]*"|'[^']*'|[^\s>]+))?""")
_XML_DECL: Final = re.compile(r"""^\s*<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._:-]+)["']""")
_WORD: Final = re.compile(rb"[^\s<>]+")


def decode_html(body: bytes, content_type: str | None = None) -> tuple[str, str]:
    """Decode an HTML/XML body as a browser would; returns (text, WHATWG encoding name)."""
    for bom, name in _BOMS:
        if body.startswith(bom):
            # A BOM beats every declaration, the HTTP header included (WHATWG "BOM sniff").
            return body[len(bom):].decode(_codec(name), errors="replace"), name
    header = charset_from_content_type(content_type)
    if header is not None and (checked := _check_declared(body, header)) is not None:
        return checked
    # The header is missing or was caught lying: the page's own declaration is the next best witness.
    meta = prescan(body)
    if meta is not None and meta != header and (checked := _check_declared(body, meta)) is not None:
        return checked
    return _sniff(body)


def normalize_label(label: str) -> str | None:
    """A charset label as found in the wild -> its WHATWG encoding name, or None when unknown."""
    key = label.strip().strip("\"'").lower()
    if key in _LABELS:
        return _LABELS[key]
    try:
        python_name = codecs.lookup(key).name
    except LookupError:
        return None
    return _python_to_whatwg(python_name)


def charset_from_content_type(content_type: str | None) -> str | None:
    """The charset parameter of a Content-Type header value, normalised, or None."""
    if not content_type:
        return None
    match = _HEADER_CHARSET.search(content_type)
    return normalize_label(match[1]) if match else None


def prescan(body: bytes) -> str | None:
    """Encoding named by an XML declaration or a `<meta>` tag in the first 4 KiB, or None."""
    # latin-1 maps bytes 1:1, so ASCII markup is found whatever the real encoding is.
    head = body[:_PRESCAN_BYTES].decode("latin-1")
    xml = _XML_DECL.match(head)
    if xml:
        name = normalize_label(xml[1])
        if name is not None:
            return _meta_override(name)
    for meta in _META.finditer(_COMMENT.sub("", head)):
        attrs = {key.lower(): value.strip("\"'") for key, value in _ATTR.findall(meta[1])}
        label = attrs.get("charset")
        if label is None and attrs.get("http-equiv", "").lower() == "content-type":
            found = _HEADER_CHARSET.search(attrs.get("content", ""))
            label = found[1] if found else None
        name = normalize_label(label) if label else None
        if name is not None:
            return _meta_override(name)
    return None


def _meta_override(name: str) -> str:
    # Bytes that can be read as ASCII markup are not UTF-16, whatever they say (WHATWG prescan).
    return "utf-8" if name.startswith("utf-16") else name


def _codec(name: str) -> str:
    return _ENCODINGS[name][0] if name in _ENCODINGS else name


def _python_to_whatwg(python_name: str) -> str:
    normal = codecs.lookup(python_name).name
    if normal in _SNIFFED:
        return _SNIFFED[normal]
    for name, (codec, _) in _ENCODINGS.items():
        if codecs.lookup(codec).name == normal:
            return name
    return normal


def _check_declared(body: bytes, name: str) -> tuple[str, str] | None:
    """Decode with the declared encoding unless the bytes say it is a lie; None means: sniff."""
    if name != "utf-8" and not name.startswith("utf-16") and _looks_utf8(body, name):
        return body.decode("utf-8"), "utf-8"
    if name == "utf-8":
        try:  # the common case, valid as declared: no replacement characters to count
            return body.decode("utf-8"), name
        except UnicodeDecodeError:
            pass
    text = body.decode(_codec(name), errors="replace")
    bad = text.count("\ufffd") - (body.count(b"\xef\xbf\xbd") if name == "utf-8" else 0)
    if bad <= 0:
        return text, name
    # A few broken bytes in a real UTF-8 page (a truncated CMS excerpt) keep the label; a page where
    # broken sequences are common next to good ones was written in some other encoding.
    good = len(text) - len(text.encode("ascii", errors="ignore")) - text.count("\ufffd")
    return (text, name) if good >= 4 * bad else None


def _looks_utf8(body: bytes, declared: str) -> bool:
    """True when bytes declared as `declared` are valid UTF-8 that reads better as UTF-8."""
    if body.isascii():
        return False
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    # Valid multi-byte UTF-8 is rare by chance, but short runs happen (cp1251 "Ні" is valid UTF-8),
    # so compare how garbled the non-ASCII words look both ways before overruling the label.
    # Whole tokens, then the non-ASCII ones: a pattern that looks for the high byte inside the token
    # backtracks quadratically on long space-free runs (one real page took 1.2 s in the fetch thread).
    tokens = (m.group() for m in _WORD.finditer(body, 0, 1 << 20))
    words = b" ".join(itertools.islice((t for t in tokens if not t.isascii()), 2000))
    as_declared = mess_ratio(words.decode(_codec(declared), errors="replace"), 1.0)
    as_utf8 = mess_ratio(words.decode("utf-8", errors="replace"), 1.0)
    return bool(as_declared > as_utf8 + 0.05)


def _sniff(body: bytes) -> tuple[str, str]:
    """No usable declaration: UTF-8 when the bytes are valid UTF-8, else ask charset_normalizer."""
    try:
        return body.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    best = charset_normalizer.from_bytes(body, cp_isolation=list(_SNIFF_CODECS)).best()
    if best is not None and best.encoding:
        name = _python_to_whatwg(best.encoding)
        try:
            return body.decode(_codec(name), errors="replace"), name
        except LookupError:
            pass
    return body.decode("utf-8", errors="replace"), "utf-8"


def page_text(page: Page) -> str:
    """The page's body decoded (BOM, Content-Type charset, <meta> prescan, then sniffing); "" when not text."""
    return _decoded(page)[0]


def page_encoding(page: Page) -> str:
    """WHATWG name of the encoding page_text decoded the page with; "" when not text."""
    return _decoded(page)[1]


def _decoded(page: Page) -> tuple[str, str]:
    # Cached on the page (Page.DECODED): the adapter and the checks before it read the text more than once.
    decoded: tuple[str, str] | None = page.__dict__.get(Page.DECODED)
    if decoded is None:
        textual = page.status != 304 and page.textual
        decoded = decode_html(page.body, page.headers.get("content-type")) if textual else ("", "")
        page.__dict__[Page.DECODED] = decoded  # the dataclass is frozen; this is a cache, not a field
    return decoded
