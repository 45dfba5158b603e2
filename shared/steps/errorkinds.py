"""Which errors are permanent: each outside system's adapter judges its own (shared/core/failures.py)."""

from __future__ import annotations

from collections.abc import Callable

from shared.adapters import bus, git, kube, store
from shared.core import messages
from shared.core.failures import Kind, Permanent


def _own(exc: BaseException) -> Kind | None:
    return Kind.PERMANENT if isinstance(exc, messages.BadMessage | Permanent) else None


# the first that recognises an error decides (Firestore and Pub/Sub share gRPC's errors and
# agree on every code they share)
CLASSIFIERS: tuple[Callable[[BaseException], Kind | None], ...] = (
    _own,
    store.classify,
    bus.classify,
    kube.classify_error,
    git.classify,
)


def classify(exc: BaseException) -> Kind:
    """Permanent when an adapter says so; anything unrecognised is transient (redelivered,
    within the subscription's bounded attempts, as before this split was explicit)."""
    for judge in CLASSIFIERS:
        kind = judge(exc)
        if kind is not None:
            return kind
    return Kind.TRANSIENT


def permanent(exc: BaseException) -> bool:
    return classify(exc) is Kind.PERMANENT
