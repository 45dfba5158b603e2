"""The store's errors, and how the steps classify Firestore's (shared/core/failures.py)."""

from __future__ import annotations

from google.api_core import exceptions as gexc

from shared.core.docsize import DocumentTooLarge
from shared.core.failures import Kind


class NotFound(LookupError):
    """A named document does not exist."""


class LeaseBusy(RuntimeError):
    """Another operation holds the application's lease (retry later)."""


# Firestore's answers that no retry can change: an invalid argument (a document over 1 MiB
# in production: "maximum entity size is 1048576 bytes", too many index entries), a failed
# precondition (an index or a schema the database lacks), a value out of range
PERMANENT = (gexc.InvalidArgument, gexc.FailedPrecondition, gexc.OutOfRange)
# unavailable, a deadline, contention (Aborted), a quota (ResourceExhausted), and credentials
# or a role not granted yet (an operator can fix those; the bounded deliveries end in the
# dead-letter topic otherwise)
TRANSIENT = (
    gexc.ServiceUnavailable,
    gexc.DeadlineExceeded,
    gexc.Aborted,
    gexc.ResourceExhausted,
    gexc.InternalServerError,
    gexc.Unknown,
    gexc.Cancelled,
    gexc.PermissionDenied,
    gexc.Unauthenticated,
    gexc.RetryError,
)
PERMANENT_MESSAGES = (
    "maximum entity size",
    "too many index entries",
    "exceeds the maximum",
    "exceeds maximum size",
    "Transaction too big",
)


def classify(exc: BaseException) -> Kind | None:
    """A Firestore error's kind (see shared/core/failures.py); None when it is not one. A request
    the client library gave up retrying is judged by its last error (a request too big for
    the server is answered ResourceExhausted, which the library retries to its deadline)."""
    if isinstance(exc, gexc.RetryError):
        cause = classify(exc.cause) if exc.cause is not None else None
        return cause or Kind.TRANSIENT
    if isinstance(exc, DocumentTooLarge | NotFound):
        return Kind.PERMANENT
    if isinstance(exc, gexc.GoogleAPICallError) and any(text in str(exc) for text in PERMANENT_MESSAGES):
        return Kind.PERMANENT
    if isinstance(exc, PERMANENT):
        return Kind.PERMANENT
    if isinstance(exc, TRANSIENT):
        return Kind.TRANSIENT
    return None


class LeaseLost(RuntimeError):
    """Our lease expired and another delivery took over: write nothing (retry later)."""
