"""Both stores answer alike: every test runs on SqliteStore (a file) and PostgresStore (tests/pg.py's server).

What each test checks goes through the Store's methods; what got stored (revisions, aliases, band rows, runs,
the fetch log) is read with SQL through `rows`, the one place that knows each store's connection.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from ingest.archive import dedup, learn, neardup
from ingest.archive.db import iso_utc
from ingest.archive.retention import PRUNE_BATCH
from ingest.archive.sqlite import SqliteStore, open_store
from ingest.config import Topic
from ingest.models import Article, BlockKey, HostState, Link, WarcRef, holder_name
from ingest.storage import Listing, Recleaning, Saved, StoredPage, Verdict
from ingest.urls import url_key

AnyStore = Any  # SqliteStore or PostgresStore (which is not yet all of storage.Store)
Opener = Callable[[], AnyStore]

WORDS = " ".join(f"w{i}" for i in range(300))  # 296 distinct shingles: well above neardup.MIN_SHINGLES


@pytest.fixture(params=["sqlite", "postgres"])
def opener(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Opener]:
    """Opens another store (another connection) on the test's one archive; all are closed at the end."""
    opened: list[AnyStore] = []
    if request.param == "sqlite":
        def make() -> AnyStore:
            return open_store(tmp_path / "archive.db")
    else:
        from ingest.archive.postgres import open_postgres_store

        dsn = request.getfixturevalue("pg_dsn")

        def make() -> AnyStore:
            return open_postgres_store(dsn)

    def tracked() -> AnyStore:
        opened.append(make())
        return opened[-1]

    yield tracked
    for each in opened:
        each.close()


@pytest.fixture
def archive(opener: Opener) -> AnyStore:
    return opener()


def rows(archive: AnyStore, query: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """A query (with ? placeholders) on the store's own connection."""
    if isinstance(archive, SqliteStore):
        return [tuple(row) for row in archive.db.execute(query, list(params)).fetchall()]
    return [tuple(row) for row in archive.conn.execute(query.replace("?", "%s"), list(params)).fetchall()]


def band_rows(archive: AnyStore, article_id: int) -> int:
    tables = neardup.LEVELS if isinstance(archive, SqliteStore) else ("article_bands",)
    return sum(rows(archive, f"SELECT count(*) FROM {table} WHERE article_id = ?", (article_id,))[0][0]
               for table in tables)


def article(url: str, text: str, **kw: Any) -> Article:
    kw.setdefault("fetched_at", datetime(2025, 3, 1, 10, 0, tzinfo=UTC))
    return Article(url=url, source=kw.pop("source", "s"), title=kw.pop("title", "A title"), text=text, **kw)


def save(archive: AnyStore, item: Article) -> tuple[Verdict, Saved]:
    """The dedup stage as the pipeline runs it: judge and save in one batch."""
    with archive.batch():
        verdict = dedup.judge(archive, item)
        return verdict, archive.save_article(item, verdict)


def test_dedup_verdicts_and_what_each_stores(archive: AnyStore) -> None:
    first = article("https://a.example/1", WORDS, fetched_url="https://a.example/1?utm_source=x")
    verdict, saved = save(archive, first)
    assert (verdict.kind, saved) == ("new", Saved("new", 1, None))
    assert band_rows(archive, 1) == neardup.BANDS
    stored = archive.stored_at(url_key(first.url))
    assert (stored.article_id, stored.text, stored.duplicate_of) == (1, WORDS, None)
    assert stored.fetched_at == "2025-03-01T10:00:00+00:00"
    assert archive.exact_copy(dedup.content_hash(WORDS)) == 1
    assert archive.is_known("https://a.example/1?utm_source=x")  # the alias of the URL it was fetched at

    assert save(archive, first)[1] == Saved("unchanged", 1, None)

    copy = article("https://b.example/copy", WORDS.upper() + "!")  # the same text under case and punctuation
    verdict, saved = save(archive, copy)
    assert (verdict.kind, saved) == ("exact", Saved("duplicate", 2, 1))
    assert band_rows(archive, 2) == 0  # copies point at originals: not indexed

    near = article("https://c.example/near", "Breaking from our wire: " + WORDS.replace("w150", "changed"))
    verdict, saved = save(archive, near)
    assert (verdict.kind, saved) == ("near", Saved("duplicate", 3, 1))

    rewritten = " ".join(f"x{i}" for i in range(300))
    verdict, saved = save(archive, article(first.url, rewritten, title="New title"))
    assert (verdict.kind, saved) == ("changed", Saved("updated", 1, None))
    assert archive.stored_at(url_key(first.url)).text == rewritten
    assert rows(archive, "SELECT article_id, title, text FROM revisions") == [(1, "A title", WORDS)]
    assert rows(archive, "SELECT title_after, headline_changed, paragraphs_added, paragraphs_removed,"
                         " paragraphs_changed, said_updated FROM revisions") == [("New title", 1, 1, 1, 0, 0)]
    diff = json.loads(rows(archive, "SELECT diff FROM revisions")[0][0])
    assert (diff["title_before"], diff["title_after"]) == ("A title", "New title")
    assert [p["kind"] for p in diff["paragraphs"]] == ["removed", "added"]
    assert band_rows(archive, 1) == neardup.BANDS  # the old text's bands went, the new text's came
    assert archive.near_copy(neardup.fingerprint(rewritten + " extra")) == 1
    assert archive.near_copy(neardup.fingerprint(WORDS + " extra")) is None
    assert rows(archive, "SELECT count(*) FROM articles") == [(3,)]


def test_one_of_two_writers_storing_one_text_stores_the_original(opener: Opener) -> None:
    """The batch's write lock: two connections saving the same text at once make one original, one copy."""
    stores = [opener(), opener()]
    start = threading.Barrier(2)
    kinds: list[str] = []

    def write(index: int) -> None:
        start.wait()
        kinds.append(save(stores[index], article(f"https://x.example/{index}", WORDS))[0].kind)

    threads = [threading.Thread(target=write, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(kinds) == ["exact", "new"]


def link(n: int, hint: datetime | None = None) -> Link:
    return Link(url=f"https://a.example/{n}", source="s", via="feed", published_at=hint)


def test_frontier_pending_claims_and_settling(opener: Opener) -> None:
    archive, other = opener(), opener()
    day = datetime(2025, 3, 1, tzinfo=UTC)
    links = [link(1, day), link(2, day + timedelta(days=2)), link(3), link(4, day + timedelta(days=1))]
    assert archive.add_links(links) == 4
    assert archive.add_links([link(1), link(5)]) == 1  # known ones stay as they are
    pending = archive.pending_links("s")
    assert [x.url[-1] for x in pending[:3]] == ["2", "4", "1"]  # newest hint first, undated last
    assert {x.url[-1] for x in pending[3:]} == {"3", "5"}
    assert pending[0].published_at == day + timedelta(days=2)
    window = archive.pending_links("s", start=day, end=day + timedelta(days=2), limit=10)
    assert {x.url[-1] for x in window} == {"1", "3", "4", "5"}
    assert len(archive.pending_links("s", limit=2)) == 2

    me, them = holder_name(), holder_name()
    assert archive.claim_links(links[:2], me) == links[:2]
    assert other.claim_links(links, them) == links[2:]  # not the two claimed by another process
    assert other.pending_links("s") == [link(5)]
    assert archive.claim_links(links[:1], me) == links[:1]  # a holder may claim its own again
    archive.release_claims(me)
    assert other.claim_links(links[:2], them) == links[:2]

    other.settle_link(links[0].url, "done")
    assert archive.is_known(links[0].url)
    assert not archive.is_known(links[1].url)
    for _ in range(3):
        other.settle_link(links[1].url, "failed", "timeout")
    other.settle_link(links[2].url, "failed", "backed off", attempted=False)
    for _ in range(3):
        other.settle_link(links[3].url, "failed", "backed off", attempted=False)
    other.release_claims(them)
    assert {x.url[-1] for x in archive.pending_links("s")} == {"3", "4", "5"}  # 2 used up its attempts
    assert rows(archive, "SELECT attempts, reason FROM frontier WHERE url_key = ?", (url_key(links[1].url),)) == [
        (3, "timeout")]


def test_a_dead_holders_claims_are_released(archive: AnyStore) -> None:
    archive.add_links([link(1), link(2)])
    archive.claim_links([link(1)], "nowhere-host:1:dead")  # another machine's: alive as far as we can tell
    gone = f"{socket.gethostname()}:999999999:beef"  # no such pid here
    archive.claim_links([link(2)], gone)
    assert archive.release_dead_claims() == 1
    assert archive.pending_links("s") == [link(2)]


def test_renewed_and_lapsed_claims(archive: AnyStore) -> None:
    archive.add_links([link(1)])
    me = holder_name()
    archive.claim_links([link(1)], me)
    archive.renew_claims(me)
    until = rows(archive, "SELECT claimed_until FROM frontier")[0][0]
    assert until > datetime.now(UTC).timestamp() + 500
    lapse = "UPDATE frontier SET claimed_until = 0"  # lapsed long ago: free for anyone
    if isinstance(archive, SqliteStore):
        archive.db.execute(lapse)
    else:
        archive.conn.execute(lapse)
    assert archive.claim_links([link(1)], holder_name()) == [link(1)]


def test_no_link_is_claimed_twice_by_two_processes_at_once(opener: Opener) -> None:
    stores = [opener(), opener()]
    links = [link(n) for n in range(300)]
    stores[0].add_links(links)
    start = threading.Barrier(2)
    claimed: list[list[Link]] = [[], []]

    def claim(index: int) -> None:
        holder = holder_name()
        start.wait()
        order = links if index == 0 else links[::-1]
        for first in range(0, len(order), 10):
            claimed[index] += stores[index].claim_links(order[first:first + 10], holder)

    threads = [threading.Thread(target=claim, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not {x.url for x in claimed[0]} & {x.url for x in claimed[1]}
    assert len(claimed[0]) + len(claimed[1]) == len(links)


def test_runs(archive: AnyStore) -> None:
    assert archive.start_run("s", "run") == 1
    assert archive.start_run("t", "backfill") == 2
    archive.finish_run(1, {"discovered": 5, "new": 3, "failed": 1}, "ok")
    found = rows(archive, "SELECT source, kind, discovered, new, duplicate, failed, status, finished_at IS NOT NULL"
                          " FROM runs ORDER BY id")
    assert [tuple(row[:7]) for row in found] == [("s", "run", 5, 3, None, 1, "ok"),
                                                   ("t", "backfill", None, None, None, None, "running")]
    assert [bool(row[7]) for row in found] == [True, False]


def test_cursors(archive: AnyStore) -> None:
    assert archive.read_cursor("s", "2025-01", "sitemap") is None
    archive.save_cursor("s", "2025-01", "sitemap", "page-3")
    archive.save_cursor("s", "2025-01", "sitemap", "page-4")
    archive.save_cursor("s", "2025-01", "archive", "7")
    archive.save_cursor("s", "2025-02", "sitemap", "1")
    assert archive.read_cursor("s", "2025-01", "sitemap") == "page-4"
    archive.clear_cursors("s", "2025-01", "sitemap")
    assert archive.read_cursor("s", "2025-01", "sitemap") is None
    assert archive.read_cursor("s", "2025-01", "archive") == "7"
    archive.clear_cursors("s", "2025-01")
    assert archive.read_cursor("s", "2025-01", "archive") is None
    assert archive.read_cursor("s", "2025-02", "sitemap") == "1"

    assert archive.read_reclean_cursor("s", "stale") == 0
    archive.save_reclean_cursor("s", "stale", 40)
    archive.save_reclean_cursor("s", "stale", 41)
    assert archive.read_reclean_cursor("s", "stale") == 41
    archive.clear_reclean_cursor("s", "stale")
    assert archive.read_reclean_cursor("s", "stale") == 0


def test_a_cursor_moves_with_the_batch_it_was_written_in(archive: AnyStore) -> None:
    def crash_mid_page() -> None:
        with archive.batch():
            archive.save_cursor("s", "w", "sitemap", "page-9")
            save(archive, article("https://a.example/1", WORDS))
            raise RuntimeError("crash mid-page")

    with pytest.raises(RuntimeError):
        crash_mid_page()
    assert archive.read_cursor("s", "w", "sitemap") is None
    assert archive.stored_at(url_key("https://a.example/1")) is None


def test_fetch_log_and_validators(archive: AnyStore) -> None:
    archive.log_fetch(url="https://a.example/1", source="s", outcome="new", status=200, article_id=1)
    archive.log_fetch(url="https://a.example/2", source="s", outcome="failed", status=503, reason="http",
                      detail="x" * 900)
    archive.log_fetch(url="https://a.example/3", source="s", outcome="rejected", reason="junk", detail="")
    logged = rows(archive, "SELECT url, status, outcome, reason, length(detail), article_id FROM fetches ORDER BY id")
    assert logged == [("https://a.example/1", 200, "new", None, None, 1),
                      ("https://a.example/2", 503, "failed", "http", 500, None),
                      ("https://a.example/3", None, "rejected", "junk", None, None)]

    feed = "https://a.example/feed"
    assert archive.validators(feed) == (None, None)
    archive.save_validators(feed, source="s", kind="feed", status=200, etag='"v1"', last_modified=None)
    archive.save_validators(feed, source="s", kind="feed", status=200, etag='"v2"', last_modified="Mon, 01 Jan")
    assert archive.validators(feed) == ('"v2"', "Mon, 01 Jan")


def test_stored_after(archive: AnyStore) -> None:
    fetched = datetime(2025, 3, 1, 10, 0, tzinfo=UTC)
    save(archive, article("https://a.example/1", WORDS, fetched_url="https://a.example/1?ref=x"))
    assert archive.stored_after("https://a.example/1?ref=x", fetched - timedelta(seconds=1))
    assert not archive.stored_after("https://a.example/1", fetched)
    assert not archive.stored_after("https://a.example/other", fetched - timedelta(days=1))
    assert iso_utc(fetched) == archive.stored_at(url_key("https://a.example/1")).fetched_at


# --- host state: robots/backoff and each host's lease (models.Turn), on connections of their own ---------------

@pytest.fixture
def hosts_of(opener: Opener) -> Iterator[Callable[[], Any]]:
    """Opens another HostStateStore (another connection) on the test's archive; all are closed at the end."""
    archive = opener()
    opened: list[Any] = []

    def make() -> Any:
        opened.append(archive.host_states())
        return opened[-1]

    yield make
    for each in opened:
        each.close()


def test_host_state_round_trip_beside_the_lease(hosts_of: Callable[[], Any]) -> None:
    hosts, again = hosts_of(), hosts_of()
    assert hosts.load_host("a.com") is None
    state = HostState("a.com", robots_txt="User-agent: *\nDisallow: /x", robots_fetched_at=1.5, robots_status=200,
                      backoff_until=99.0, failures=3)
    hosts.save_host(state)
    assert again.load_host("a.com") == state
    hosts.save_host(HostState("a.com", robots_txt="", robots_status=404))
    assert again.load_host("a.com") == HostState("a.com", "", 0.0, 404, 0.0, 0)

    me = holder_name()
    assert hosts.take_turn("b.com", me, hold=60)[0]  # a lease makes the host's row: its state is still unknown
    assert again.load_host("b.com") == HostState("b.com")
    hosts.save_host(HostState("b.com", robots_txt="", failures=1))  # state saved under a lease keeps the lease
    assert not again.take_turn("b.com", holder_name(), hold=60)[0]
    assert hosts.renew_turn("b.com", me, hold=60)


def test_a_backed_off_host_gives_no_turn(hosts_of: Callable[[], Any]) -> None:
    hosts = hosts_of()
    until = time.time() + 300
    hosts.save_host(HostState("a.com", backoff_until=until, failures=5))
    assert hosts.take_turn("a.com", holder_name(), hold=60) == (False, 0.0, until)
    hosts.save_host(HostState("a.com", backoff_until=time.time() - 1))
    assert hosts.take_turn("a.com", holder_name(), hold=60)[0]


def test_a_lease_is_one_holders_and_is_handed_to_its_waiter(hosts_of: Callable[[], Any]) -> None:
    """Store.HostStore's rules on two connections: a live holder's lease is its own until it gives it back; a
    process that asked meanwhile is waiting, and gets it next (not the giver, not a third)."""
    first, second = hosts_of(), hosts_of()
    a, b, c = holder_name(), holder_name(), holder_name()
    assert first.take_turn("h", a, hold=3600) == (True, 0.0, 0.0)
    assert not first.turn_wanted("h", a)
    assert second.take_turn("h", b, hold=3600) == (False, 0.0, 0.0)  # a's: b leaves word that it waits
    assert second.take_turn("h", b, hold=3600)[0] is False  # still a's
    assert first.turn_wanted("h", a)
    assert not second.turn_wanted("h", b)  # b waits itself
    assert not second.renew_turn("h", b, hold=60)  # not b's to renew
    assert first.renew_turn("h", a, hold=3600)
    later = time.time() + 5
    first.end_turn("h", b, 0.0)  # not b's to give back: nothing changes
    assert not first.take_turn("h", c, hold=3600)[0]  # c now waits instead of b
    assert second.take_turn("h", b, hold=3600)[0] is False
    first.end_turn("h", a, later)  # handed to b, who asked last
    taken, next_at, _ = second.take_turn("h", b, hold=3600)
    assert (taken, next_at) == (True, pytest.approx(later))
    assert not first.take_turn("h", a, hold=3600)[0]  # the giver waits its turn
    assert not first.take_turn("h", c, hold=3600)[0]
    second.end_turn("h", b, 0.0)  # next_request_at never goes back
    assert first.take_turn("h", c, hold=3600) == (True, pytest.approx(later), 0.0)
    first.end_turn("h", c, 0.0)  # nobody waits: free for anyone
    assert second.take_turn("h", a, hold=3600)[0]


def test_a_lapsed_or_dead_holders_lease_is_free(hosts_of: Callable[[], Any]) -> None:
    first, second = hosts_of(), hosts_of()
    elsewhere = "nowhere-host:1:abc"  # another machine's: alive as far as we can tell
    me = holder_name()
    assert first.take_turn("h", elsewhere, hold=0.2)[0]
    assert not second.take_turn("h", me, hold=60)[0]  # me waits
    time.sleep(0.3)
    assert second.take_turn("h", me, hold=60)[0]  # lapsed: the waiter takes it, and waits no more
    assert not first.renew_turn("h", elsewhere, hold=60)  # the lapsed holder renews nothing it lost
    assert not first.turn_wanted("h", me)
    second.end_turn("h", me, 0.0)
    gone = f"{socket.gethostname()}:999999999:beef"  # no such pid here
    assert first.take_turn("h", gone, hold=3600)[0]
    assert second.take_turn("h", me, hold=3600)[0]  # the dead holder's lease is void at once
    assert not first.turn_wanted("h", me)  # nor does a dead waiter want it
    first.take_turn("h", gone, hold=3600)
    assert not second.turn_wanted("h", me)


def test_one_request_in_flight_per_host_however_hard_two_processes_ask(hosts_of: Callable[[], Any]) -> None:
    """Two connections taking and giving back one host's lease as fast as they can: never two holders at once."""
    stores = [hosts_of(), hosts_of()]
    start = threading.Barrier(2)
    in_flight, most, turns = [0], [0], [0, 0]
    guard = threading.Lock()

    def fetch(index: int) -> None:
        holder = holder_name()
        start.wait()
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline:
            if not stores[index].take_turn("h", holder, hold=3600)[0]:
                continue
            with guard:
                in_flight[0] += 1
                most[0] = max(most[0], in_flight[0])
            time.sleep(0.001)  # the request
            with guard:
                in_flight[0] -= 1
            turns[index] += 1
            stores[index].end_turn("h", holder, 0.0)

    threads = [threading.Thread(target=fetch, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert most[0] == 1
    assert min(turns) > 10  # both had turns: the lease went back and forth


def test_two_processes_asking_for_a_free_host_at_the_same_moment_get_one_lease(hosts_of: Callable[[], Any]) -> None:
    """The take_turn race itself: round after round the lease is free and both connections ask at once; each
    round exactly one gets it, and the other gets it handed over next."""
    stores = [hosts_of(), hosts_of()]
    rounds = 150
    meet = threading.Barrier(2, timeout=60)
    won: list[list[bool]] = [[], []]

    def ask(index: int) -> None:
        holder = holder_name()
        for _ in range(rounds):
            meet.wait()
            taken = stores[index].take_turn("h", holder, hold=3600)[0]
            won[index].append(taken)
            meet.wait()
            if taken:
                stores[index].end_turn("h", holder, 0.0)  # handed to the other, waiting
            meet.wait()
            if not taken:
                assert stores[index].take_turn("h", holder, hold=3600)[0]
                stores[index].end_turn("h", holder, 0.0)  # nobody waits: free again

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [a + b for a, b in zip(*won, strict=True)] == [1] * rounds


# --- learned boilerplate: the same pages learn the same keys at the same page --------------------------------

def page_blocks(n: int) -> list[BlockKey]:
    """Page n's blocks: site chrome on every page, a block on every other, a box saying two things (the site's)
    and one saying a new thing on every page (not the site's), a burst on the first three, and the page's own."""
    blocks = [BlockKey("t:nav", "text", "Home News Sport"), BlockKey("b:appeal", "box", "Support us", f"v{n % 2}"),
              BlockKey("b:ad", "box", f"Advert {n}", f"ad{n}"), BlockKey(f"t:own{n}", "text", f"Story {n}")]
    if n % 2:
        blocks.append(BlockKey("l:read", "lead", "Read also"))
    if n <= 3:
        blocks.append(BlockKey("t:burst", "text", "A paragraph the follow-ups reuse"))
    return blocks


def test_the_same_pages_learn_the_same_keys_at_the_same_page(archive: AnyStore,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(learn, "PRUNE_EVERY", 10)  # both stores read the rules at each call
    monkeypatch.setattr(learn, "PRUNE_AFTER", 20)
    learned_at: dict[str, int] = {}
    raised = []
    for n in range(1, 61):
        with archive.batch():
            if archive.observe_blocks("s", f"k{n}", page_blocks(n)):
                raised.append(n)
        for key in archive.learned_keys("s") - learned_at.keys():
            learned_at[key] = n
        if n == 25:  # a page cleaned again counts once; only a block it did not show before is new
            assert not archive.observe_blocks("s", "k3", page_blocks(3))
            assert archive.boilerplate_listing("s", candidates=True).pages == 25
            assert not archive.observe_blocks("s", "k4", [*page_blocks(4), BlockKey("t:late", "text", "Late")])
    # on every page from the first: 20 of max(40, 20) pages; every other page: 20 of 39
    assert learned_at == {"t:nav": 20, "b:appeal": 20, "l:read": 39}
    assert raised == [20, 39]
    assert archive.learned_revision("s") == 2
    assert archive.learned_revision("other") == 0
    assert archive.learned_keys("other") == frozenset()

    listing = archive.boilerplate_listing("s")
    assert (listing.source, listing.pages, listing.revision) == ("s", 60, 2)
    assert sorted((b["block"], b["kind"], b["pages"]) for b in listing.blocks) == [
        ("Home News Sport", "text", 60), ("Read also", "lead", 30), ("Support us", "box", 60)]
    assert listing.blocks[-1]["block"] == "Read also"  # most seen first
    assert all(b["learned_at"] and b["first_seen"] <= b["learned_at"] <= b["last_seen"] for b in listing.blocks)
    candidates = {b["block"]: b["pages"] for b in archive.boilerplate_listing("s", candidates=True).blocks}
    # the ad box (60 pages, 60 things said) is a candidate, never learned; the burst (3 pages, not seen for
    # PRUNE_AFTER pages) was pruned; a page's own block is no candidate
    assert candidates == {"Home News Sport": 60, "Read also": 30, "Support us": 60, "Advert 1": 60}
    assert archive.boilerplate_listing("none") == Listing("none", 0, 0, [])


# --- re-cleaning, topics, retention ------------------------------------------------------------------------

def execute(archive: AnyStore, query: str, params: tuple[Any, ...] = ()) -> None:
    """A write (with ? placeholders) on the store's own connection, committed."""
    if isinstance(archive, SqliteStore):
        with archive.batch():
            archive.db.execute(query, list(params))
    else:
        archive.conn.execute(query.replace("?", "%s"), list(params))


def saved_with_page(archive: AnyStore, item: Article, n: int) -> int:
    with archive.batch():
        verdict = dedup.judge(archive, item)
        return int(archive.save_article(item, verdict, raw=WarcRef("s.warc.gz", 100 * n, 50 + n)).article_id)


def test_a_page_cleaned_again_replaces_the_cleaning_in_place(archive: AnyStore) -> None:
    published = datetime(2025, 3, 1, 22, 30, tzinfo=timezone(timedelta(hours=2)))
    first = article("https://a.example/1", WORDS, published_at=published, authors=["Ann"], adapter_version=1)
    original = saved_with_page(archive, first, 1)
    copy = saved_with_page(archive, article("https://b.example/1", WORDS), 2)
    assert (original, copy) == (1, 2)
    assert not archive.replace_cleaning(original, first)  # the same cleaning (published_at read back alike)
    assert not archive.replace_cleaning(99, first)  # no such article
    assert not archive.replace_cleaning(original, replace(first, adapter_version=2, learned_rev=3))  # unseen
    assert rows(archive, "SELECT adapter_version, learned_rev FROM articles WHERE id = 1") == [(2, 3)]  # but kept
    assert archive.replace_cleaning(original, replace(first, title="Better title", adapter_version=2))
    assert archive.stored_at(url_key(first.url)).title == "Better title"

    rewritten = " ".join(f"x{i}" for i in range(300))
    assert archive.replace_cleaning(original, replace(first, text=rewritten, title="Better title"))
    stored = archive.stored_at(url_key(first.url))
    assert (stored.article_id, stored.text, stored.content_hash) == (1, rewritten, dedup.content_hash(rewritten))
    assert band_rows(archive, 1) == neardup.BANDS  # an original's bands follow its new text
    assert archive.near_copy(neardup.fingerprint(rewritten + " extra")) == 1
    assert archive.near_copy(neardup.fingerprint(WORDS + " extra")) is None
    assert archive.replace_cleaning(copy, article("https://b.example/1", rewritten))
    assert band_rows(archive, 2) == 0  # a copy is not indexed
    assert rows(archive, "SELECT count(*) FROM revisions") == [(0,)]  # the same page: no revision
    assert rows(archive, "SELECT id, url, duplicate_of, warc_offset FROM articles ORDER BY id") == [
        (1, "https://a.example/1", None, 100), (2, "https://b.example/1", 1, 200)]


def topic_rows(archive: AnyStore) -> list[tuple[Any, ...]]:
    return sorted(rows(archive, "SELECT article_id, topic FROM article_topics"))


def test_topics_saved_and_retagged(archive: AnyStore) -> None:
    for n, text in enumerate(["Japan and China talk trade. " + WORDS, "Ishiba in Nishibashi: " + WORDS[:200],
                              "Japanese exports rise, Tokyo says. " + WORDS[:300]], start=1):
        saved_with_page(archive, article(f"https://a.example/{n}", text), n)
    archive.save_topics(1, ["b", "a", "a"])
    assert topic_rows(archive) == [(1, "a"), (1, "b")]
    archive.save_topics(1, ["c", "b"])
    assert topic_rows(archive) == [(1, "b"), (1, "c")]
    archive.save_topics(2, ["z"])
    archive.save_topics(1, [])
    assert topic_rows(archive) == [(2, "z")]

    rules = {"japan": Topic("japan", ("Japan",)), "trade": Topic("trade", ("trade", "exports"), require=("Japan",)),
             "ishiba": Topic("ishiba", ("Ishiba",))}
    assert archive.retag(rules) == 3
    assert topic_rows(archive) == [(1, "japan"), (1, "trade"), (2, "ishiba"), (3, "japan"), (3, "trade")]
    assert archive.retag({"tokyo": Topic("tokyo", ("Tokyo",))}) == 3  # topics no longer configured go
    assert topic_rows(archive) == [(3, "tokyo")]


def test_which_pages_re_cleaning_reads(archive: AnyStore) -> None:
    kyiv = timezone(timedelta(hours=2))
    made = [  # (published_at, adapter_version, learned_rev)
        (datetime(2025, 3, 2, 1, 0, tzinfo=kyiv), 1, 0),  # 1 March 23:00 UTC
        (datetime(2025, 3, 2, 2, 0, tzinfo=kyiv), 2, 0),  # 2 March 00:00 UTC
        (None, 1, 5),
        (datetime(2025, 3, 5, tzinfo=UTC), 2, 5),
    ]
    for n, (published, version, rev) in enumerate(made, start=1):
        saved_with_page(archive, article(f"https://a.example/{n}", f"{n} " + WORDS[:50 * n], published_at=published,
                                         adapter_version=version, learned_rev=rev), n)
    with archive.batch():
        bare = article("https://a.example/bare", "No page kept " + WORDS[:40])
        archive.save_article(bare, dedup.judge(archive, bare))  # stored before pages were archived
    saved_with_page(archive, article("https://o.example/1", "other " + WORDS[:30], source="o"), 9)

    stale = Recleaning("s", adapter_version=2, learned_rev=5)
    assert archive.count_pages(stale) == 3
    assert archive.count_pages(stale, after=1) == 2
    assert archive.stored_pages(stale, 0, 2) == [StoredPage(1, "https://a.example/1", WarcRef("s.warc.gz", 100, 51)),
                                                 StoredPage(2, "https://a.example/2", WarcRef("s.warc.gz", 200, 52))]
    assert [page.article_id for page in archive.stored_pages(stale, 2, 10)] == [3]
    since = Recleaning("s", since=date(2025, 3, 2), adapter_version=9)  # a day: the stored UTC one; undated: not
    assert [page.article_id for page in archive.stored_pages(since, 0, 10)] == [2, 4]
    assert archive.count_pages(since) == 2
    everything = Recleaning("s", everything=True)
    assert [page.article_id for page in archive.stored_pages(everything, 0, 10)] == [1, 2, 3, 4]
    assert archive.count_pages(Recleaning("s")) == 0  # nothing is older than version 0
    assert archive.count_without_raw_page("s") == 1
    assert archive.count_without_raw_page("o") == 0


def test_old_fetch_log_rows_are_pruned_in_batches(archive: AnyStore) -> None:
    old = PRUNE_BATCH * 2 + 7  # three short transactions
    for n in range(old):
        archive.log_fetch(url=f"https://a.example/{n}", source="s", outcome="new")
    execute(archive, "UPDATE fetches SET time = ?", (iso_utc(datetime.now(UTC) - timedelta(days=40)),))
    archive.log_fetch(url="https://a.example/recent", source="s", outcome="new")
    archive.log_fetch(url="https://t.example/old", source="t", outcome="failed")
    execute(archive, "UPDATE fetches SET time = ? WHERE source = 't'", (iso_utc(datetime(2020, 1, 1)),))
    assert archive.prune_fetches("s", 0) == 0  # 0: keep all
    assert archive.prune_fetches("s", 50) == 0  # none that old
    stop = threading.Event()
    stop.set()
    assert archive.prune_fetches("s", 30, stop=stop) == 0  # asked to stop before the first batch
    assert archive.prune_fetches("s", 30) == old
    assert rows(archive, "SELECT source, url FROM fetches ORDER BY id") == [("s", "https://a.example/recent"),
                                                                          ("t", "https://t.example/old")]


def test_the_revisit_schedule(archive: AnyStore) -> None:
    """Candidates (recent, not yet placed, not removed), placing, what is due and in what order, finishing a
    revisit with its validators, and a removed article leaving the schedule: the same on both stores."""
    published = [datetime(2026, 12, 1, h, tzinfo=UTC) for h in (8, 9, 10)]
    ids = [save(archive, article(f"https://a.example/{i}", WORDS.replace("w1 ", f"v{i} ") + f" extra{i}" * 40,
                                 published_at=when))[1].article_id for i, when in enumerate(published)]
    old = save(archive, article("https://a.example/old", "old " + WORDS, published_at=datetime(2026, 1, 1,
                                                                                                 tzinfo=UTC)))[1]
    since = datetime(2026, 11, 30, tzinfo=UTC)
    candidates = sorted(archive.revisit_candidates("s", since))
    assert [(c[0], c[1], c[2]) for c in candidates] == [
        (ids[i], url_key(f"https://a.example/{i}"), published[i]) for i in range(3)]
    assert old.article_id not in {c[0] for c in candidates}
    base = [p.timestamp() for p in published]
    archive.schedule_revisits([(url_key(f"https://a.example/{i}"), ids[i], "s", base[i], 0, base[i] + 3600)
                               for i in range(3)])
    assert archive.revisit_candidates("s", since) == []  # placed once
    due = archive.due_revisits("s", base[1] + 3600, 10)
    assert [(d.article_id, d.step, d.base_at, d.etag) for d in due] == [(ids[0], 0, base[0], None),
                                                                        (ids[1], 0, base[1], None)]
    assert archive.due_revisits("s", base[2] + 3600, 1)[0].url == "https://a.example/0"  # soonest first, limited
    archive.finish_revisit(due[0].url_key, 1, base[0] + 6 * 3600, '"abc"', "Mon, 01 Dec 2026 09:00:00 GMT")
    with archive.batch():
        archive.mark_removed(ids[1], 410)
        archive.finish_revisit(due[1].url_key, 5, None)
    later = archive.due_revisits("s", base[0] + 7 * 3600, 10)
    assert [(d.article_id, d.step, d.etag, d.last_modified) for d in later] == [
        (ids[2], 0, None, None), (ids[0], 1, '"abc"', "Mon, 01 Dec 2026 09:00:00 GMT")]
    assert rows(archive, "SELECT id, removed_status FROM articles WHERE removed_at IS NOT NULL") == [(ids[1], 410)]
    assert archive.due_revisits("other", base[2] + 10**6, 10) == []
