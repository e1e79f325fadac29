"""The CLI beyond backfill/run: extract, sources, stats, demo, and the README documenting all of it."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from conftest import corpus_path

from ingest.archive import store
from ingest.cli import cli
from ingest.demo.outlet import PAGES, serve_folder
from ingest.run.parsing import PARSE_TIMEOUT

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = PAGES  # the golden outlet pages ship with the package (ingest/demo_site)


def first_fixture(slug: str) -> tuple[Path, dict[str, object]]:
    for meta_path in sorted((FIXTURES / slug).glob("*.json")):
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        if "rejected" not in meta.get("expected", {}):
            return meta_path.with_suffix(".html"), meta
    raise AssertionError(f"no article fixture for {slug}")


def test_extract_file_prints_the_json_contract(tmp_path: Path) -> None:
    html, meta = first_fixture("ukrinform")
    result = CliRunner().invoke(cli, ["--config", str(tmp_path / "absent.toml"), "extract", str(html),
                                      "--url", str(meta["url"])])
    assert result.exit_code == 2  # an explicitly named config that does not exist is an error
    result = CliRunner().invoke(cli, ["extract", str(html), "--url", str(meta["url"])],
                                env={"INGEST_CONFIG": None})
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    expected = meta["expected"]
    assert isinstance(expected, dict)
    assert out["source"] == "ukrinform_uk" or out["source"].startswith("ukrinform")
    assert out["title"] == expected["title"]
    assert out["authors"] == expected["authors"]
    assert out["published_at"] == expected["published_at"]
    assert re.search(r"[+-]\d\d:\d\d$", out["published_at"])
    assert out["language"] == expected["language"]
    assert "\n\n" in out["text"]
    for key in ("url", "source", "title", "authors", "published_at", "language", "text"):
        assert key in out


def test_extract_picks_adapter_by_source_option_and_by_domain(tmp_path: Path) -> None:
    html, meta = first_fixture("japan_news")
    by_source = CliRunner().invoke(cli, ["--config", str(ROOT / "sources.toml"), "extract", str(html),
                                         "--source", "japan_news"])
    assert by_source.exit_code == 0, by_source.output
    assert json.loads(by_source.output)["adapter"] == "japan_news"
    by_domain = CliRunner().invoke(cli, ["--config", str(ROOT / "sources.toml"), "extract", str(html),
                                         "--url", str(meta["url"])])
    assert json.loads(by_domain.output)["adapter"] == "japan_news"
    unknown = CliRunner().invoke(cli, ["extract", str(html), "--source", "nope"])
    assert unknown.exit_code == 2
    assert "unknown source 'nope'" in unknown.output


def test_extract_decodes_a_windows_1251_file_like_a_browser() -> None:
    page = corpus_path("outlets/pravda/pravda.com.ua_news_2016_01_14_7095324.html")
    result = CliRunner().invoke(cli, ["--config", str(ROOT / "sources.toml"), "extract", str(page),
                                      "--url", "http://www.pravda.com.ua/news/2016/01/14/7095324/"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert "\ufffd" not in out["text"]
    assert "\ufffd" not in out["title"]
    assert re.search(r"[а-яіїєґ]{4}", out["text"])
    assert out["adapter"] == "pravda"


def extract_in(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`python -m ingest extract ARGS` in `folder` (no sources.toml there: the adapters alone)."""
    return subprocess.run([sys.executable, "-m", "ingest", "extract", *args], cwd=folder, capture_output=True,
                          text=True, timeout=120)


def test_extract_file_picks_the_adapter_by_the_pages_own_canonical_url(tmp_path: Path) -> None:
    """A saved Ukrinform page, no option: its <link rel=canonical> names the outlet, so its adapter reads the lead
    and tags the generic path loses; with only og:url the same; with neither, generic; --source still wins."""
    page = corpus_path("outlets/ukrinform/ukrinform-ua-2026-4119314.html")
    canonical = ("https://www.ukrinform.ua/rubric-polytics/4119314-britania-ta-es-rozpocnut-peregovori-sodo-"
                 "priednanna-londona-do-kreditu-dla-ukraini-ft.html")
    html = page.read_text("utf-8")
    assert f'<link rel="canonical" href="{canonical}">' in html
    og_only = tmp_path / "og.html"
    og_only.write_text(html.replace(f'<link rel="canonical" href="{canonical}">', ""), encoding="utf-8")
    neither = tmp_path / "neither.html"
    neither.write_text(og_only.read_text("utf-8").replace(f'content="{canonical}"', 'content=""'), encoding="utf-8")
    for saved in (page, og_only):
        done = extract_in(tmp_path, str(saved))
        assert done.returncode == 0, done.stderr
        out = json.loads(done.stdout)
        assert (out["adapter"], out["source"], out["url"]) == ("ukrinform", "ukrinform", canonical), saved
        assert (out["lead"] or "").startswith("Велика Британія розпочне офіційні переговори")
        assert out["tags"] == ["Британія", "Євросоюз", "Кредит", "Україна"]
    done = extract_in(tmp_path, str(neither))
    out = json.loads(done.stdout)
    assert (out["adapter"], out["lead"], out["tags"]) == ("generic", None, [])
    assert out["url"] == neither.resolve().as_uri()
    forced = json.loads(extract_in(tmp_path, str(page), "--source", "generic").stdout)
    assert (forced["adapter"], forced["lead"], forced["url"]) == ("generic", None, canonical)
    by_url = json.loads(extract_in(tmp_path, str(page), "--url", "https://example.com/2026/05/04/a-story").stdout)
    # --url chose the adapter, and the page may not claim another site's address as its own
    assert (by_url["adapter"], by_url["url"]) == ("generic", "https://example.com/2026/05/04/a-story")


def test_extract_url_from_a_live_loopback_site(tmp_path: Path) -> None:
    sites = serve_folder(FIXTURES, slugs=["kyiv_independent"])
    try:
        site = sites["kyiv_independent"]
        page = site.pages[0]
        base = site.base_url
        result = CliRunner().invoke(cli, ["extract", base + page.path, "--source", "kyiv_independent"],
                                    env={"INGEST_CONFIG": None})
    finally:
        for s in sites.values():
            s.close()
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["title"] == page.title
    assert out["url"].startswith(base)
    assert "/robots.txt" in site.hits
    assert page.path in site.hits


def test_extract_rejected_page_exits_1_with_reason(tmp_path: Path) -> None:
    page = tmp_path / "challenge.html"
    page.write_text("<html><head><title>Just a moment...</title></head><body>"
                    "<div id='cf-chl-widget'>Checking your browser</div></body></html>", encoding="utf-8")
    result = CliRunner().invoke(cli, ["extract", str(page)], env={"INGEST_CONFIG": None})
    assert result.exit_code == 1
    assert json.loads(result.output)["rejected"] == "bot-challenge"


def test_extract_of_a_page_that_cleans_for_ever_ends_as_parse_timeout(tmp_path: Path) -> None:
    """One 6.8 MB paragraph of inline tags kept trafilatura busy for over 11 minutes in `extract`; cleaned in a parse
    worker under the daemon's deadline, it is rejected like a fetched one (exit 1) within seconds of it."""
    page = tmp_path / "inline.html"
    page.write_text("<html><head><title>Inline</title></head><body><article><p>" + "word <b>bold</b> " * 400_000
                    + "</p></article></body></html>", encoding="utf-8")
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "ingest", "--config", str(ROOT / "sources.toml"),
                           "--db", str(tmp_path / "none.db"), "extract", str(page)],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    assert json.loads(done.stdout)["rejected"] == "parse-timeout"
    assert time.monotonic() - started < PARSE_TIMEOUT + 20
    assert "Traceback" not in done.stderr


def test_demo_ingests_bundled_pages(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["--config", str(ROOT / "sources.toml"), "--db", str(tmp_path / "db" / "news.db"),
                                      "demo"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "db" / "demo.db").exists()
    assert "serve" in result.output
    assert re.search(r"[1-9]\d* new", result.output)


def test_sources_and_stats(tmp_path: Path) -> None:
    db = tmp_path / "news.db"
    store.open_db(db).close()  # a new archive, nothing fetched yet (a missing one is refused: test_readonly.py)
    config = str(ROOT / "sources.toml")
    listing = CliRunner().invoke(cli, ["--config", config, "--db", str(db), "sources", "--json"])
    assert listing.exit_code == 0, listing.output
    rows = json.loads(listing.output)
    assert {r["adapter"] for r in rows} >= {"ukrinform", "unn", "japan_news", "pravda", "kyiv_independent"}
    stats = CliRunner().invoke(cli, ["--config", config, "--db", str(db), "stats", "--json"])
    assert stats.exit_code == 0, stats.output
    assert json.loads(stats.output)["articles"] == 0
    table = CliRunner().invoke(cli, ["--config", config, "--db", str(db), "stats"])
    assert table.exit_code == 0
    assert "0 articles" in table.output


def long_options(params: list[click.Parameter]) -> list[str]:
    """The --options of a command (or of the group), --help aside."""
    return [opt for param in params for opt in getattr(param, "opts", []) if opt.startswith("--") and opt != "--help"]


def test_readme_documents_every_command_and_option() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert isinstance(cli, click.Group)
    for opt in long_options(cli.params):
        assert opt in readme, f"global option {opt} is not in the README"
    for name, command in cli.commands.items():
        assert f"ingest {name}" in readme, f"command {name} is not in the README"
        for opt in long_options(command.params):
            assert opt in readme, f"{name} {opt} is not in the README"


def test_docs_commands_describes_every_command_and_option() -> None:
    """docs/commands.md, where the README's command list links, has a section per command naming its options."""
    page = (ROOT / "docs" / "commands.md").read_text(encoding="utf-8")
    assert isinstance(cli, click.Group)
    for opt in long_options(cli.params):
        assert opt in page, f"global option {opt} is not in docs/commands.md"
    for name, command in cli.commands.items():
        assert f"\n## `ingest {name}" in page, f"command {name} has no section in docs/commands.md"
        section = page.split(f"\n## `ingest {name}", 1)[1].split("\n## ", 1)[0]
        for opt in long_options(command.params):
            assert opt in section, f"{name} {opt} is not in its section of docs/commands.md"


def test_ci_runs_the_readme_test_command() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    block = re.search(r"## Quick start.*?```(?:sh|bash)?\n(.*?)```", readme, re.S)
    assert block, "README has no quick start code block"
    commands = [ln.strip() for ln in block.group(1).splitlines() if ln.strip() and not ln.startswith("#")]
    assert len(commands) == 2, commands
    assert commands[1] in ci


def test_capture_writes_a_fixture_the_adapter_tests_can_use(tmp_path: Path) -> None:
    html, meta = first_fixture("unn")
    result = CliRunner().invoke(cli, ["extract", str(html), "--url", str(meta["url"])], env={"INGEST_CONFIG": None})
    extracted = json.loads(result.output)
    result = CliRunner().invoke(cli, ["capture", str(html), "--url", str(meta["url"]), "--name", "new-page",
                                      "--fixtures", str(tmp_path)], env={"INGEST_CONFIG": None})
    assert result.exit_code == 0, result.output
    assert (tmp_path / "unn" / "new-page.html").read_bytes() == html.read_bytes()
    captured = json.loads((tmp_path / "unn" / "new-page.json").read_text(encoding="utf-8"))
    assert captured["url"] == meta["url"]
    assert captured["expected"]["title"] == extracted["title"]
    assert captured["expected"]["published_at"] == extracted["published_at"]
    assert captured["must_contain"]
    assert all(phrase in extracted["text"] for phrase in captured["must_contain"])


@pytest.mark.parametrize("name", ["../../escaped", "<absolute>", "a/b", "..", ".hidden", "x" * 101, ""])
def test_capture_writes_only_inside_fixtures(name: str, tmp_path: Path) -> None:
    html, meta = first_fixture("unn")
    name = str(tmp_path / "outside" / "escaped") if name == "<absolute>" else name  # an absolute path
    fixtures = tmp_path / "deep" / "fixtures"
    before = sorted(tmp_path.rglob("*"))
    result = CliRunner().invoke(cli, ["capture", str(html), "--url", str(meta["url"]), "--name", name,
                                      "--fixtures", str(fixtures)], env={"INGEST_CONFIG": None})
    assert result.exit_code == 2, result.output
    assert "not a plain file name" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert sorted(tmp_path.rglob("*")) == before  # nothing written anywhere, the absolute path's folder included


def test_extract_reads_times_without_offset_in_the_timezone_given(tmp_path: Path) -> None:
    page = tmp_path / "budget.html"
    story = "<p>" + "Верховна Рада ухвалила бюджет на наступний рік після довгого обговорення. " * 4 + "</p>"
    page.write_text('<!doctype html><html lang="uk"><head><title>Рада ухвалила бюджет</title>'
                    '<script type="application/ld+json">{"@type": "NewsArticle", "headline": "Рада ухвалила бюджет",'
                    ' "datePublished": "2024-09-10T00:30:00"}</script></head><body><article><h1>Рада ухвалила'
                    f" бюджет</h1>{story}</article></body></html>", encoding="utf-8")

    def extract(*extra: str) -> dict[str, object]:
        result = CliRunner().invoke(cli, ["extract", str(page), "--url", "https://news.example.ua/budget", *extra],
                                    env={"INGEST_CONFIG": None})
        assert result.exit_code == 0, result.output
        out: dict[str, object] = json.loads(result.output)
        return out

    assert extract()["published_at"] == "2024-09-10T00:30:00+03:00"  # a Ukrainian page: Kyiv time
    assert extract()["date_source"] == "json-ld"
    assert extract("--timezone", "Asia/Tokyo")["published_at"] == "2024-09-10T00:30:00+09:00"
    assert extract("--timezone", "UTC")["published_at"] == "2024-09-10T00:30:00+00:00"
    bad = CliRunner().invoke(cli, ["extract", str(page), "--timezone", "Kyiv"], env={"INGEST_CONFIG": None})
    assert bad.exit_code == 2
    assert "'Kyiv' is not an IANA timezone name" in bad.output
    assert "Traceback" not in bad.output


def _damaged_database(tmp_path: Path, where: str) -> Path:
    """A database whose header (`where` = "header") or middle pages are garbage."""
    import random

    from ingest.archive import store
    path = tmp_path / "db" / "news.db"
    db = store.open_db(path)
    db.execute("CREATE TABLE filler (x TEXT)")
    db.conn.executemany("INSERT INTO filler VALUES (?)", [("x" * 500,) for _ in range(400)])
    db.conn.commit()
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    data = bytearray(path.read_bytes())
    noise = random.Random(5).randbytes(8192)
    start = 0 if where == "header" else len(data) // 2 // 4096 * 4096
    data[start:start + len(noise)] = noise
    path.write_bytes(bytes(data))
    return path


@pytest.mark.parametrize("where", ["header", "middle"])
@pytest.mark.parametrize("command", ["backfill", "run"])
def test_a_damaged_database_stops_a_writer_with_one_line_and_stays_untouched(where: str, command: str,
                                                                             tmp_path: Path) -> None:
    path = _damaged_database(tmp_path, where)
    before = path.read_bytes()
    config = tmp_path / "sources.toml"
    config.write_text('[settings]\nper_host_delay = 0\n\n[sources.x]\nfeeds = ["http://127.0.0.1:9/feed.xml"]\n',
                      encoding="utf-8")
    # A subprocess with a timeout: the daemon used to start on such a file and write into it, forever.
    done = subprocess.run([sys.executable, "-m", "ingest", "--config", str(config), "--db", str(path), command],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done.stderr
    assert "damaged" in done.stderr
    assert "Traceback" not in done.stderr
    assert path.read_bytes() == before
