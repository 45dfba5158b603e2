"""Group commit: the calls that request threads make at the same moment, made as one.

A function instance serves many requests at once (threads). When each of them makes the
same kind of RPC (the webhook's delivery create, routing read, and Publish), a busy
instance spends most of its CPU, and the emulator or service most of its own, on the
per-call overhead rather than on the work. A `Coalescer` makes one call at a time: the
first thread to arrive makes it at once with its own item, and every item that arrives
while that call is in flight waits for it to end and then goes in the next call, made by
one of their threads. An idle instance so adds no delay; a busy one makes fewer, bigger
calls. A batch never holds an item that arrived after its call started, so what a call
reads was read after each of its items arrived.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


def _held_lock() -> threading.Lock:
    lock = threading.Lock()
    lock.acquire()
    return lock


@dataclass(eq=False)
class _Slot(Generic[T, R]):
    item: T
    deadline: float
    done: bool = False
    result: R | Exception | None = None
    error: Exception | None = None
    # held until a call's thread wakes this item's thread: with its result, or to make the
    # next call (a lock per item: the cheapest wake-up CPython has, and no thundering herd)
    wake: threading.Lock = field(default_factory=_held_lock)


class Coalescer(Generic[T, R]):
    """`submit(item)` returns `call(items, timeout)[i]` for its item, made together with the
    items other threads submit meanwhile (at most `max_items` per call). A result that is
    an exception is raised in its item's thread; if the call raises, every item of it gets
    the exception."""

    def __init__(self, call: Callable[[Sequence[T], float], Sequence[R | Exception]], max_items: int) -> None:
        self._call = call
        self._max = max_items
        self._lock = threading.Lock()
        self._waiting: list[_Slot[T, R]] = []
        self._busy = False  # a call is in flight (or its successor is being handed over)

    def submit(self, item: T, timeout: float) -> R:
        slot: _Slot[T, R] = _Slot(item, time.monotonic() + timeout)
        with self._lock:
            lead = not self._busy
            if lead:
                self._busy = True
            else:
                self._waiting.append(slot)
        if not lead:
            slot.wake.acquire()
        if not slot.done:  # this thread makes the next call, with the oldest waiting items
            with self._lock:
                batch = [slot, *self._waiting[: self._max - 1]]
                del self._waiting[: self._max - 1]
            self._run(batch)
        if slot.error is not None:
            raise slot.error
        if isinstance(slot.result, Exception):
            raise slot.result
        return slot.result  # type: ignore[return-value]

    def _run(self, batch: list[_Slot[T, R]]) -> None:
        try:
            remaining = min(s.deadline for s in batch) - time.monotonic()
            results = self._call([s.item for s in batch], remaining)
            if len(results) != len(batch):
                raise RuntimeError(f"coalesced call returned {len(results)} results for {len(batch)} items")
            for s, r in zip(batch, results, strict=True):
                s.result = r
        except Exception as exc:  # every item's thread sees its call's failure
            for s in batch:
                s.error = exc
        for s in batch:
            s.done = True
        for s in batch[1:]:  # batch[0] is this thread's own
            s.wake.release()
        with self._lock:
            successor = self._waiting.pop(0) if self._waiting else None
            self._busy = successor is not None
        if successor is not None:
            successor.wake.release()
