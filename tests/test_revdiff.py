"""What changed between two versions of a story (ingest/archive/revdiff.py): headline, paragraphs added, removed and
changed word by word; a counter, spacing or punctuation alone is no revision."""

from __future__ import annotations

import pytest

from ingest.archive.revdiff import Change, Diff, diff, is_revision, paragraphs, significant, word_diff

TITLE = "Explosions heard in Kyiv"
TEXT = ("Air defence was active over the capital overnight, the city administration said.\n\n"
        "12 people were injured, officials said on Tuesday morning.\n\n"
        "Residents were urged to stay in shelters until the all-clear.\n\n"
        "1,204 views")


@pytest.mark.parametrize("after", [
    TEXT.replace("1,204 views", "1,980 views"),
    TEXT.replace("1,204 views", "Views: 2 311"),
    TEXT.replace("1,204 views", "") + "\n\n",
    TEXT.replace("\n\n", "\n\n\n").replace("the capital", "the  capital"),
    TEXT.replace("overnight,", "overnight ,"),
])
def test_a_counter_whitespace_or_punctuation_is_no_revision(after: str) -> None:
    assert not is_revision(TITLE, TEXT, TITLE, after)
    assert diff(TITLE, TEXT, TITLE, after).changes == ()


@pytest.mark.parametrize("counter", ["Переглядів: 57", "57 переглядів", "1,2 тис. переглядів", "閲覧数 1204",
                                     "3 comments", "Просмотров: 1 024"])
def test_counters_of_several_languages_are_not_text(counter: str) -> None:
    assert significant(f"Верховна Рада ухвалила закон. {counter}") == significant("Верховна Рада ухвалила закон.")
    assert paragraphs(f"Текст статті.\n\n{counter}") == ["Текст статті."]


def test_numbers_in_the_story_are_text() -> None:
    """A casualty figure is not a counter: changing it is a revision."""
    assert is_revision(TITLE, TEXT, TITLE, TEXT.replace("12 people", "15 people"))
    assert is_revision(TITLE, "Shelling killed 3.", TITLE, "Shelling killed 4.")


def test_the_diff_says_headline_figure_and_update_paragraph() -> None:
    after = (TEXT.replace("12 people", "15 people").replace("1,204 views", "2,040 views")
             + "\n\nUPDATE: Rescue work continued into the afternoon, the emergency service said.")
    found = diff(TITLE, TEXT, "Explosions in Kyiv: 15 injured", after)
    assert found.headline_changed
    assert (found.title_before, found.title_after) == (TITLE, "Explosions in Kyiv: 15 injured")
    assert [c.kind for c in found.changes] == ["changed", "added"]
    changed = found.changes[0]
    assert changed.words == (("-", "12"), ("+", "15"), ("=", "people were injured, officials said on Tuesday morning."))
    assert found.changes[1].after == "UPDATE: Rescue work continued into the afternoon, the emergency service said."
    assert Diff.from_json(found.to_json()) == found


def test_a_paragraph_rewritten_beyond_recognition_is_removed_and_added() -> None:
    after = TEXT.replace("Residents were urged to stay in shelters until the all-clear.",
                         "The mayor announced new generator points in every district.")
    found = diff(TITLE, TEXT, TITLE, after)
    assert [(c.kind, c.before or c.after) for c in found.changes] == [
        ("removed", "Residents were urged to stay in shelters until the all-clear."),
        ("added", "The mayor announced new generator points in every district.")]
    assert not found.headline_changed


def test_a_removed_paragraph_between_kept_ones() -> None:
    after = TEXT.replace("12 people were injured, officials said on Tuesday morning.\n\n", "")
    assert diff(TITLE, TEXT, TITLE, after).changes == (
        Change("removed", before="12 people were injured, officials said on Tuesday morning."),)


def test_word_diff_runs() -> None:
    assert word_diff("a b c d", "a x c d e") == (("=", "a"), ("-", "b"), ("+", "x"), ("=", "c d"), ("+", "e"))
