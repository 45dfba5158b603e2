"""The Firestore client, the collections at the top, and the checks every write passes."""

from __future__ import annotations

import copy
import datetime as dt
import functools
from typing import Any

from google.cloud import firestore

from shared.core import docsize
from shared.platform import config, metering

APPS = "applications"
DELIVERIES = "webhookDeliveries"
REPOSITORIES = "repositories"
# sub-collections of an application kept in parts (shared/adapters/store/parts.py)
INVENTORY = "inventory"
RESULTS = "results"

# (collection, field filters, order by) of every query the store makes (tests/unit/test_infra.py
# checks each has an index)
QUERIES: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...] = (
    (APPS, ("parent",), ()),
    ("history", (), ("sequence",)),
    # trim_history: the entries falling off (sequence <=) and the kept ones (sequence >); a
    # range on one field is served by the automatic single-field index
    ("history", ("sequence",), ()),
    ("history", ("sequence",), ()),
    ("drift", (), ("detectedAt",)),
    ("audit", (), ("time",)),
)


def bounds() -> docsize.Bounds:
    """Firestore's limits; GITOPS_FIRESTORE_MAX_BYTES lowers the document size (a fault test)."""
    limit = config.firestore_max_bytes()
    return docsize.Bounds(document_bytes=limit) if limit is not None else docsize.Bounds()


def checked(ref: firestore.DocumentReference, data: dict[str, Any]) -> dict[str, Any]:
    """`data` if Firestore would store it as the document `ref`; else DocumentTooLarge."""
    docsize.check(ref._document_path.split("/documents/", 1)[-1], data, bounds())
    return data


def merged(doc: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    """What a document becomes after an update with dotted field paths (for `checked`)."""
    out = copy.deepcopy(doc)
    for path, value in update.items():
        *parents, last = path.split(".")
        node = out
        for key in parents:
            child = node.get(key)
            node[key] = child = child if isinstance(child, dict) else {}
            node = child
        if value is firestore.DELETE_FIELD:
            node.pop(last, None)
        else:
            node[last] = value
    return out


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@functools.cache
def client() -> firestore.Client:
    return metering.observe(firestore.Client(project=config.project()))


def app_ref(name: str) -> firestore.DocumentReference:
    return client().collection(APPS).document(name)
