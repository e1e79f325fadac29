"""Routing WARC records to sources, expanding paths and globs, and the dry run's count."""

from __future__ import annotations

import io
from datetime import date
from pathlib import Path

import pytest
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from ingest.archive.warc import WarcError
from ingest.config import Source
from ingest.models import Window
from ingest.run.warcplan import Router, expand, plan

ALPHA = Source("alpha", domains=("alpha.example",), exclude=(r"/live/",))
WIDE = Source("wide", domains=("example", "beta.example:8080"))
BETA = Source("beta", domains=("beta.example",))


def test_the_first_source_that_wants_the_url_takes_it() -> None:
    route = Router([ALPHA, WIDE, BETA])
    assert route("https://www.alpha.example/news/1") is ALPHA
    assert route("https://alpha.example/live/1") is WIDE  # alpha excludes it; the wider source is next in order
    assert route("https://beta.example/news/1") is WIDE  # first in sources.toml order, not the closest domain
    assert route("https://beta.example:8080/x") is WIDE
    assert route("https://beta.example:9999/x") is None  # another service on the host is another site
    assert route("https://foreign.test/news/1") is None
    assert route("not a url") is None
    assert Router([ALPHA], forced=BETA)("https://foreign.test/") is BETA


def test_expand_sorts_globs_drops_repeats_and_names_what_is_missing(tmp_path: Path) -> None:
    for name in ("b.warc.gz", "a.warc.gz", "c.warc"):
        (tmp_path / name).write_bytes(b"")
    found = expand([str(tmp_path / "*.warc.gz"), str(tmp_path / "a.warc.gz"), str(tmp_path / "c.warc")])
    assert [p.name for p in found] == ["a.warc.gz", "b.warc.gz", "c.warc"]
    with pytest.raises(WarcError, match=r"nothing-\*\.warc: no file matches"):
        expand([str(tmp_path / "nothing-*.warc")])
    with pytest.raises(WarcError, match="no such WARC file"):
        expand([str(tmp_path / "gone.warc")])
    with pytest.raises(WarcError, match="is a folder"):
        expand([str(tmp_path)])


def test_plan_counts_per_source_and_month_of_the_record(tmp_path: Path) -> None:
    out = io.BytesIO()
    writer = WARCWriter(out, gzip=True)
    for url, day, kind in [("https://alpha.example/1", "2024-01-05", "text/html"),
                           ("https://alpha.example/2", "2024-02-05", "text/html; charset=utf-8"),
                           ("https://alpha.example/3.png", "2024-02-06", "image/png"),
                           ("https://beta.example/1", "2024-02-07", "text/html"),
                           ("https://foreign.test/1", "2024-02-07", "text/html")]:
        http = StatusAndHeaders("200 OK", [("Content-Type", kind)], protocol="HTTP/1.1")
        writer.write_record(writer.create_warc_record(url, "response", payload=io.BytesIO(b"<p>x</p>"), length=8,
                                                      http_headers=http,
                                                      warc_headers_dict={"WARC-Date": f"{day}T10:00:00Z"}))
    path = tmp_path / "a.warc.gz"
    path.write_bytes(out.getvalue())
    counts, stats = plan([path], [ALPHA, BETA], window=Window(since=date(2024, 2, 1)))
    assert counts == {("alpha", "2024-02"): 1, ("beta", "2024-02"): 1}
    assert (stats.records, stats.foreign, stats.early, stats.broken) == (5, 1, 1, 0)
