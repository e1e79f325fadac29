"""Make docs/headline-changes.png: the Datasette page of the `headline_changes` view on a small archive with a few
edits, stored as a revisit stores them (store.save_article of a changed version), served by a real `ingest serve`
and shot by Debian's headless Chromium. The stories are invented for the picture.

    python docs/headline_changes.py [OUT.png]
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from ingest.archive import store
from ingest.models import Article

ROOT = Path(__file__).resolve().parent.parent
# (source, language, URL, published, [(headline, text, hours after publication the version was found), ...])
STORIES: list[tuple[str, str, str, datetime, list[tuple[str, str, float]]]] = [
    ("kyiv_independent", "en", "https://kyivindependent.com/power-restored-kharkiv/", datetime(2024, 11, 18, 5, 40),
     [("Power restored in parts of Kharkiv after overnight outage",
       "Electricity returned to parts of Kharkiv on the morning of Nov. 18.", 0),
      ("Power restored to most of Kharkiv after overnight outage",
       "Electricity returned to most of Kharkiv on the morning of Nov. 18.\n\nRepairs continue in two districts.", 3),
      ("Power fully restored in Kharkiv after overnight outage",
       "Electricity returned to all of Kharkiv on Nov. 18.\n\nRepairs continue in two districts.", 9)]),
    ("ukrinform_en", "en", "https://www.ukrinform.net/rubric-polytics/japan-ukraine-reconstruction.html",
     datetime(2024, 11, 18, 9, 15),
     [("Japan, Ukraine discuss reconstruction cooperation",
       "Delegations of Japan and Ukraine met in Kyiv to discuss reconstruction projects.", 0),
      ("Japan, Ukraine agree on reconstruction roadmap",
       "Delegations of Japan and Ukraine met in Kyiv and agreed on a reconstruction roadmap.", 5)]),
    ("unn_uk", "uk", "https://unn.ua/news/kabmin-novi-pravyla", datetime(2024, 11, 18, 11, 2),
     [("Кабмін ухвалив нові правила", "Уряд ухвалив постанову про нові правила.", 0),
      ("Кабмін ухвалив нові правила бронювання працівників",
       "Уряд ухвалив постанову про нові правила бронювання працівників.", 2)]),
    ("japan_news", "en", "https://japannews.yomiuri.co.jp/business/markets/tokyo-stocks/", datetime(2024, 11, 19, 0, 5),
     [("Tokyo stocks open higher", "Tokyo stocks opened higher on Tuesday morning.", 0),
      ("Tokyo stocks close higher on chip rally", "Tokyo stocks closed higher on Tuesday, led by chipmakers.", 6.5)]),
    ("pravda_en", "en", "https://www.pravda.com.ua/eng/news/kyiv-budget/", datetime(2024, 11, 19, 8, 30),
     [("Kyiv City Council approves budget", "The Kyiv City Council approved the city's budget.", 0),
      ("Kyiv City Council approves 2025 budget after long debate",
       "The Kyiv City Council approved the city's 2025 budget after a debate that lasted into the evening.", 4)]),
]


def make_archive(path: Path) -> None:
    """Each story stored, then each later version stored over it; the revisions' times set to when it was found."""
    db = store.open_db(path)
    try:
        for source, language, url, published, versions in STORIES:
            start = published.replace(tzinfo=UTC)
            for number, (title, text, hours) in enumerate(versions):
                saved = store.save_article(db, Article(url=url, source=source, title=title, text=text,
                                                       published_at=start, language=language))
                if number:
                    found = (start + timedelta(hours=hours)).isoformat(timespec="seconds")
                    with store.transaction(db):
                        db.execute("UPDATE revisions SET replaced_at = ? WHERE id = (SELECT max(id) FROM revisions"
                                   " WHERE article_id = ?)", [found, saved.article_id])
    finally:
        db.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main(out: Path) -> None:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        sys.exit("chromium not found: apt-get install chromium")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "demo.db"
        make_archive(path)
        port = free_port()
        server = subprocess.Popen([sys.executable, "-m", "ingest", "--db", str(path), "serve", "--port", str(port)],
                                  cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                  env={**os.environ, "INGEST_CONFIG": ""})
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if httpx.get(f"{base}/-/versions.json", timeout=2).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline or server.poll() is not None:
                    sys.exit("ingest serve did not answer")
                time.sleep(0.2)
            url = f"{base}/demo/headline_changes?_nocol=url&_nocol=revision"
            subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                            "--disable-background-networking", "--disable-component-update", "--no-first-run",
                            "--window-size=1280,1110", f"--screenshot={out.resolve()}", url],
                           check=True, capture_output=True, timeout=120)
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=20)
    print(out)


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "headline-changes.png")
