"""The render cache's uses, tallied in memory and written together (shared/render/cache.py)."""

from __future__ import annotations

from shared.render import cache


def test_uses_are_tallied_per_digest_and_taken_at_once():
    tally = cache.Tally()
    firsts = [tally.add(d) for d in ("a", "b", "a", "a")]
    assert firsts == [True, False, False, False]  # one flush scheduled for all of them
    assert tally.take() == {"a": 3, "b": 1}
    assert tally.take() == {}
    assert tally.add("b") is True  # a use after a flush schedules the next one
