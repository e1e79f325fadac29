"""Datasette in a real browser: headless Chromium (Debian's `chromium`, driven by Playwright) through a real
`ingest serve` subprocess on a database made by a real `ingest demo` run: the articles table, a full-text search,
a canned query, a facet, and the dashboard, whose charts must draw with every request on the loopback server.

Screenshots go to $INGEST_ARTIFACTS (default: the test's tmp folder). Without Chromium or Playwright the test is
skipped on a developer's machine and fails under CI (`CI` set): `.ci/run` installs Debian's chromium.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

ROOT = Path(__file__).resolve().parent.parent
# What the machine's closed network needs: no background requests to Google's hosts, no sandbox as root.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]


def chromium() -> str:
    """The Chromium binary ($INGEST_CHROMIUM, else `chromium` on PATH); missing: skip, or fail under CI."""
    found = os.environ.get("INGEST_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        message = "Chromium not found: apt-get install chromium (`.ci/run` does)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`ingest serve` on db/demo.db from `ingest demo`, both real subprocesses; yields the base URL."""
    folder = tmp_path_factory.mktemp("browser") / "db"
    command = [sys.executable, "-m", "ingest", "--config", str(ROOT / "sources.toml")]
    demo = subprocess.run([*command, "--db", str(folder / "news.db"), "demo"], capture_output=True, text=True,
                          timeout=300, check=False)
    assert demo.returncode == 0, demo.stderr
    port = free_port()
    log = (folder / "serve.log").open("w+")
    proc = subprocess.Popen([*command, "--db", str(folder / "demo.db"), "serve", "--port", str(port)],
                            stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, (folder / "serve.log").read_text()
            try:
                if httpx.get(f"{base}/-/versions.json", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "ingest serve did not answer"
            time.sleep(0.2)
        yield base
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=20)
        log.close()


@pytest.fixture
def artifacts(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("INGEST_ARTIFACTS") or tmp_path / "artifacts")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def browser() -> Iterator[Any]:
    executable = chromium()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        if os.environ.get("CI"):
            pytest.fail("playwright is not installed: pip install -e '.[test]'")
        pytest.skip("playwright is not installed")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


def test_datasette_and_dashboard_in_chromium(server: str, browser: Any, artifacts: Path) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    failed: list[str] = []
    page.on("requestfailed", lambda request: failed.append(request.url))
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.set_default_timeout(20_000)

    # The articles table: every demo article, newest first.
    page.goto(f"{server}/demo/articles")
    assert page.locator("h1").first.inner_text().strip() == "Articles"
    assert page.locator("table.rows-and-columns tbody tr").count() == 11
    page.screenshot(path=str(artifacts / "1-articles.png"), full_page=True)

    # Full-text search through the search box.
    page.fill("input[name=_search]", "Ishiba")
    page.press("input[name=_search]", "Enter")
    page.wait_for_url("**_search=Ishiba**")
    titles = page.locator("table.rows-and-columns tbody td.col-title").all_inner_texts()
    assert len(titles) == 3  # Ukrinform's story, UNN's copy of it, and The Japan News on Iwaya's visit
    assert "Zelensky and Ishiba discuss Russia's cooperation with North Korea and Iran" in titles
    page.screenshot(path=str(artifacts / "2-search.png"), full_page=True)

    # A canned query, opened from the database page.
    page.goto(f"{server}/demo")
    page.get_by_role("link", name="Duplicates with their originals").click()
    page.wait_for_url("**/demo/duplicates_with_originals")
    cells = page.locator("table.rows-and-columns tbody tr").first.inner_text()
    assert "unn_en" in cells
    assert "ukrinform_en" in cells
    page.screenshot(path=str(artifacts / "3-canned-query.png"), full_page=True)

    # A facet: source = japan_news.
    page.goto(f"{server}/demo/articles")
    page.locator(".facet-info[data-column=source] a", has_text="japan_news").first.click()
    page.wait_for_url("**source=japan_news**")
    sources = page.locator("table.rows-and-columns tbody td.col-source").all_inner_texts()
    assert sources == ["japan_news", "japan_news"]
    page.screenshot(path=str(artifacts / "4-facet.png"), full_page=True)

    # The dashboard: three charts drawn by the vendored Vega-Lite from the canned queries' JSON.
    page.goto(f"{server}/dashboard?days=36500")
    page.wait_for_selector("#ingest-dashboard[data-ready]")
    charts = page.locator("#ingest-dashboard .chart")
    assert charts.count() == 3
    for i in range(3):
        chart = charts.nth(i)
        assert chart.get_attribute("data-error") is None, chart.get_attribute("data-error")
        assert int(chart.get_attribute("data-rows") or 0) > 0
        assert chart.locator("svg g.mark-rect path").count() > 0, f"chart {i} drew no bars"
    page.screenshot(path=str(artifacts / "5-dashboard.png"), full_page=True)
    context.close()

    assert not errors, errors
    assert not failed, failed
    assert any(url.endswith("/ingest-static/vega-lite.min.js") for url in requested)
    off_loopback = [url for url in requested if not url.startswith(server + "/") and not url.startswith("data:")]
    assert not off_loopback, off_loopback  # no CDN, no font service, nothing outside the server
