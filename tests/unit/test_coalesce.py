"""Group commit: concurrent calls made as one, without ever holding a late item or an answer."""

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from shared.adapters.coalesce import Coalescer


class Recorder:
    """A call that records its batches; the first call waits until `release` is set."""

    def __init__(self, hold_first: bool = True) -> None:
        self.batches: list[list[int]] = []
        self.started = threading.Event()
        self.release = threading.Event()
        if not hold_first:
            self.release.set()

    def __call__(self, items, timeout):
        self.batches.append(list(items))
        self.started.set()
        self.release.wait(5)
        return [i * 10 for i in items]


def _wait_for(predicate):
    deadline = time.monotonic() + 5
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.001)


def test_an_idle_coalescer_calls_at_once_with_the_one_item():
    call = Recorder(hold_first=False)
    assert Coalescer(call, max_items=10).submit(4, timeout=1) == 40
    assert call.batches == [[4]]


def test_items_arriving_during_a_call_go_together_in_the_next_one():
    call = Recorder()
    coalescer = Coalescer(call, max_items=10)
    with ThreadPoolExecutor(8) as pool:
        first = pool.submit(coalescer.submit, 0, 5)
        call.started.wait(5)
        later = [pool.submit(coalescer.submit, i, 5) for i in range(1, 6)]
        _wait_for(lambda: len(coalescer._waiting) == 5)
        call.release.set()
        assert first.result() == 0
        assert [f.result() for f in later] == [10, 20, 30, 40, 50]
    # the first call never held an item that arrived after it started
    assert call.batches[0] == [0]
    assert sorted(call.batches[1]) == [1, 2, 3, 4, 5] and len(call.batches) == 2


def test_a_call_takes_at_most_max_items_and_the_rest_follow_oldest_first():
    call = Recorder()
    coalescer = Coalescer(call, max_items=2)
    with ThreadPoolExecutor(8) as pool:
        pool.submit(coalescer.submit, 0, 5)
        call.started.wait(5)
        futures = []
        for i in range(1, 6):
            futures.append(pool.submit(coalescer.submit, i, 5))
            _wait_for(lambda i=i: len(coalescer._waiting) == i)
        call.release.set()
        assert [f.result() for f in futures] == [10, 20, 30, 40, 50]
    assert call.batches == [[0], [1, 2], [3, 4], [5]]


def test_a_failed_call_fails_each_of_its_items_and_an_exception_result_fails_only_its_own():
    def call(items, timeout):
        if 13 in items:
            raise ConnectionError("down")
        return [ValueError(f"refused {i}") if i % 2 else i for i in items]

    coalescer = Coalescer(call, max_items=10)
    assert coalescer.submit(2, timeout=1) == 2
    with pytest.raises(ValueError, match="refused 3"):
        coalescer.submit(3, timeout=1)
    with pytest.raises(ConnectionError):
        coalescer.submit(13, timeout=1)
    assert coalescer.submit(4, timeout=1) == 4  # not stuck after a failure


def test_a_call_gets_the_shortest_time_left_of_its_items():
    seen = []
    coalescer = Coalescer(lambda items, timeout: seen.append(timeout) or list(items), max_items=10)
    coalescer.submit(1, timeout=2.0)
    assert 1.5 < seen[0] <= 2.0


def test_many_threads_each_get_their_own_answer():
    calls = []

    def call(items, timeout):
        calls.append(len(items))
        time.sleep(0.002)
        return [i * 10 for i in items]

    coalescer = Coalescer(call, max_items=7)
    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(lambda i: coalescer.submit(i, 5), range(400)))
    assert results == [i * 10 for i in range(400)]
    assert sum(calls) == 400 and max(calls) <= 7 and len(calls) < 400
