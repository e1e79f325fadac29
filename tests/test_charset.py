"""charset.decode_html on real and outlet-like bytes; charset.decompress on real compressed streams."""

from __future__ import annotations

import codecs
import gzip
import zlib

import brotli
import pytest
import zstandard
from conftest import corpus_bytes

from ingest.crawl.decompress import BadEncoding, TooLarge, decompress
from ingest.decoding import decode_html, normalize_label, prescan

PRAVDA = "outlets/pravda/pravda.com.ua_news_2016_01_14_7095324.html"

UKRAINIAN = ("Президент України провів зустріч з прем'єр-міністром. Учасники обговорили питання "
             "енергетичної безпеки, відбудови мостів і підтримки громад на сході країни. Ґудзик, їжак, єнот.")
JAPANESE = ("政府は２２日の臨時閣議で、物価高対策を柱とする総合経済対策を決定した。"
            "財政支出は２１兆円を超える規模となり、低所得世帯への給付金や電気・ガス料金の補助が盛り込まれた。"
            "首相は記者団に対し「国民の皆様の暮らしを守るため、あらゆる手段を講じる」と述べた。")


def page(text: str, meta: str = "") -> str:
    return f"<!DOCTYPE html><html><head>{meta}<title>Новини</title></head><body><p>{text}</p></body></html>"


# --- Ukrainian single-byte encodings -------------------------------------------------------------

@pytest.mark.parametrize(("codec", "name"), [("cp1251", "windows-1251"), ("koi8_u", "koi8-u")])
@pytest.mark.parametrize("where", ["header", "meta", "http-equiv", "nowhere"])
def test_ukrainian_single_byte(codec: str, name: str, where: str) -> None:
    meta = {"meta": f'<meta charset="{name}">',
            "http-equiv": f'<meta http-equiv="Content-Type" content="text/html; charset={name}">',
            }.get(where, "")
    html = page(UKRAINIAN, meta)
    header = f"text/html; charset={name}" if where == "header" else "text/html"
    text, encoding = decode_html(html.encode(codec), header)
    assert (text, encoding) == (html, name)


def test_real_pravda_page_in_windows_1251() -> None:
    body = corpus_bytes(PRAVDA)
    for content_type in (None, "text/html", "text/html; charset=windows-1251"):
        text, encoding = decode_html(body, content_type)
        assert encoding == "windows-1251"
        assert "У США пояснили, що Обама мав на увазі" in text
        assert "\ufffd" not in text


# --- Japanese multi-byte encodings ---------------------------------------------------------------

@pytest.mark.parametrize(("codec", "label", "name"), [
    ("shift_jis", "Shift_JIS", "shift_jis"),
    ("shift_jis", "x-sjis", "shift_jis"),
    ("euc_jp", "EUC-JP", "euc-jp"),
])
def test_japanese_declared(codec: str, label: str, name: str) -> None:
    html = page(JAPANESE, f'<meta charset="{label}">')
    assert decode_html(html.encode(codec)) == (html, name)
    assert decode_html(page(JAPANESE).encode(codec), f"text/html; charset={label}") == (page(JAPANESE), name)


@pytest.mark.parametrize(("codec", "name"), [("shift_jis", "shift_jis"), ("euc_jp", "euc-jp")])
def test_japanese_sniffed_without_declaration(codec: str, name: str) -> None:
    html = page(JAPANESE)
    assert decode_html(html.encode(codec), "text/html") == (html, name)


def test_shift_jis_is_decoded_as_cp932() -> None:
    # NEC and IBM extension characters are common on Japanese sites and missing from strict Shift_JIS.
    html = page("① 髙橋さん ～ 第２回")
    assert decode_html(html.encode("cp932"), "text/html; charset=shift_jis") == (html, "shift_jis")


# --- declarations that lie -----------------------------------------------------------------------

def test_utf8_header_over_cp1251_bytes_falls_back_to_meta() -> None:
    text, encoding = decode_html(corpus_bytes(PRAVDA), "text/html; charset=utf-8")
    assert encoding == "windows-1251"
    assert "Обама мав на увазі" in text


@pytest.mark.parametrize("codec", ["cp1251", "koi8_u"])
def test_utf8_header_over_single_byte_without_meta_is_sniffed(codec: str) -> None:
    html = page(UKRAINIAN)
    text, encoding = decode_html(html.encode(codec), "text/html; charset=utf-8")
    assert text == html
    assert encoding == {"cp1251": "windows-1251", "koi8_u": "koi8-u"}[codec]


def test_utf8_meta_over_cp1251_bytes_is_sniffed() -> None:
    html = page(UKRAINIAN, '<meta charset="utf-8">')
    assert decode_html(html.encode("cp1251")) == (html, "windows-1251")


def test_cp1251_header_over_utf8_bytes_is_sniffed() -> None:
    html = page(UKRAINIAN, '<meta charset="windows-1251">')
    assert decode_html(html.encode("utf-8"), "text/html; charset=windows-1251") == (html, "utf-8")


def test_short_cp1251_that_happens_to_be_valid_utf8_keeps_its_label() -> None:
    # "Ні" in cp1251 is CD B3, which is also valid UTF-8 (U+0373): the label must win here.
    html = page("Ні", '<meta charset="windows-1251">')
    assert decode_html(html.encode("cp1251")) == (html, "windows-1251")


def test_invalid_bytes_in_a_utf8_page_are_replaced() -> None:
    good = page(UKRAINIAN, '<meta charset="utf-8">').encode()
    cut = good.index("енергетичної".encode())
    body = good[:cut] + b"\xff\xc3" + good[cut:]
    text, encoding = decode_html(body, "text/html; charset=utf-8")
    assert encoding == "utf-8"
    assert text.count("\ufffd") == 2
    assert text.replace("\ufffd", "") == good.decode()


# --- byte order marks ----------------------------------------------------------------------------

@pytest.mark.parametrize(("bom", "codec", "name"), [
    (codecs.BOM_UTF8, "utf-8", "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le", "utf-16le"),
    (codecs.BOM_UTF16_BE, "utf-16-be", "utf-16be"),
])
def test_bom_beats_header_and_meta(bom: bytes, codec: str, name: str) -> None:
    html = page(UKRAINIAN, '<meta charset="koi8-u">')
    assert decode_html(bom + html.encode(codec), "text/html; charset=windows-1251") == (html, name)


# --- prescan and labels --------------------------------------------------------------------------

def test_header_beats_meta() -> None:
    html = page(UKRAINIAN, '<meta charset="koi8-u">')
    assert decode_html(html.encode("cp1251"), "text/html; charset=windows-1251")[1] == "windows-1251"


def test_prescan_skips_comments_and_reads_http_equiv() -> None:
    head = (b'<!-- <meta charset="koi8-u"> --><meta name="x" content="charset=utf-8">'
            b"<META HTTP-EQUIV='content-type' CONTENT='text/html; charset=KOI8-U'>")
    assert prescan(head) == "koi8-u"
    assert prescan(b'<meta charset="utf-16le">') == "utf-8"  # ASCII markup cannot be UTF-16
    assert prescan(b"<p>no declaration</p>") is None
    assert prescan(b" " * 5000 + b'<meta charset="koi8-u">') is None  # only the first 4 KiB count


def test_xml_declaration() -> None:
    xml = f'<?xml version="1.0" encoding="windows-1251"?>\n<rss><title>{UKRAINIAN}</title></rss>'
    assert decode_html(xml.encode("cp1251"), "application/rss+xml") == (xml, "windows-1251")


@pytest.mark.parametrize(("label", "name"), [
    ("latin1", "windows-1252"), ("ISO-8859-1", "windows-1252"), ("us-ascii", "windows-1252"),
    ("x-sjis", "shift_jis"), ("Shift-JIS", "shift_jis"), ("euc-jp", "euc-jp"), ("koi8-u", "koi8-u"),
    ("cp1251", "windows-1251"), ("UTF8", "utf-8"), ("gb2312", "gbk"), (" 'windows-1251' ", "windows-1251"),
    ("no-such-charset", None),
])
def test_normalize_label(label: str, name: str | None) -> None:
    assert normalize_label(label) == name


def test_unknown_declared_label_falls_through_to_sniffing() -> None:
    html = page(UKRAINIAN)
    assert decode_html(html.encode("cp1251"), "text/html; charset=bogus") == (html, "windows-1251")


def test_empty_and_binary_bodies_do_not_raise() -> None:
    assert decode_html(b"") == ("", "utf-8")
    text, _ = decode_html(bytes(range(256)) * 4, "text/html; charset=utf-8")
    assert isinstance(text, str)


# --- decompress ----------------------------------------------------------------------------------

BODY = page(UKRAINIAN * 20).encode()


def chunks(data: bytes, size: int = 7) -> list[bytes]:
    return [data[i:i + size] for i in range(0, len(data), size)]


@pytest.mark.parametrize(("coding", "data"), [
    ("gzip", gzip.compress(BODY)),
    ("x-gzip", gzip.compress(BODY)),
    ("gzip", gzip.compress(BODY[:100]) + gzip.compress(BODY[100:])),  # two gzip members
    ("deflate", zlib.compress(BODY)),
    ("deflate", zlib.compress(BODY)[2:-4]),  # raw deflate
    ("br", brotli.compress(BODY)),
    ("zstd", zstandard.ZstdCompressor().compress(BODY)),
    ("identity", BODY),
    ("", BODY),
    ("compress-unknown", BODY),  # passed through, as httpx does
    ("deflate, gzip", gzip.compress(zlib.compress(BODY))),  # applied in the order listed
])
def test_decompress(coding: str, data: bytes) -> None:
    assert decompress(chunks(data), coding, cap=len(BODY)) == BODY
    assert decompress([data], coding, cap=len(BODY)) == BODY


@pytest.mark.parametrize("coding", ["gzip", "br", "zstd"])
def test_decompress_cap(coding: str) -> None:
    data = {"gzip": gzip.compress, "br": brotli.compress,
            "zstd": zstandard.ZstdCompressor().compress}[coding](bytes(10 << 20))
    with pytest.raises(TooLarge):
        decompress([data], coding, cap=1 << 20)
    assert decompress([data], coding, cap=1000, truncate=True) == bytes(1000)


def test_decompress_corrupt_body() -> None:
    with pytest.raises(BadEncoding):
        decompress([b"this is not gzip at all"], "gzip", cap=1000)
    with pytest.raises(BadEncoding):
        decompress([b"\x28\xb5\x2f\xfd garbage"], "zstd", cap=1000)


def test_long_space_free_runs_do_not_hang_the_label_check() -> None:
    """A hostile page of one huge token: the UTF-8-vs-label check must stay linear (it runs in fetch threads).

    The earlier pattern backtracked quadratically here (minutes); the bound is a hang guard, not a benchmark.
    """
    import time

    story = "<p>" + "Київ сьогодні ухвалив рішення про енергетику. " * 40 + "</p>"
    body = b"<p>" + b"a" * 300_000 + b"</p>" + story.encode()  # UTF-8 bytes mislabelled below
    started = time.monotonic()
    text, encoding = decode_html(body, "text/html; charset=windows-1251")
    assert time.monotonic() - started < 5
    assert encoding == "utf-8"
    assert text.endswith(story)
