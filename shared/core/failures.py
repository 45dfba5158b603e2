"""Transient or permanent: whether retrying an outside system's error can help.

Every adapter (store: Firestore, bus: Pub/Sub, kube: Kubernetes, git: git) classifies
its own errors with one small pure function over a table (each has a table test). A
transient error (unavailable, a deadline, contention, a quota) propagates: the function
answers 500 and Pub/Sub redelivers with backoff, within the subscription's bounded
attempts. A permanent one (an invalid argument, a size limit, a schema violation, a commit
that does not exist) would fail the same way on every attempt: the step records it where
an operator sees it and the message is acknowledged, never redelivered.
"""

from __future__ import annotations

import enum


class Kind(enum.Enum):
    TRANSIENT = "transient"
    PERMANENT = "permanent"


class Permanent(RuntimeError):
    """An error an adapter already judged permanent (its message names the system)."""


def describe(exc: BaseException, limit: int = 500) -> str:
    """One line for a status, a history entry or an event: type and message, bounded."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"
