"""The render-once cache (shared/render/cache.py): renders/{digest}."""

from __future__ import annotations

import contextlib
from typing import Any

from google.api_core import exceptions as gexc
from google.cloud import firestore

from shared.adapters.store.common import client, now
from shared.adapters.store.parts import get_packed, put_packed

RENDERS = "renders"


def get_render(digest: str) -> dict[str, Any] | None:
    """A cached render (renderer output files, errors, counters) by its digest, or None."""
    return get_packed(client().collection(RENDERS).document(digest), f"render {digest[:12]}")


def put_render(digest: str, doc: dict[str, Any]) -> None:
    """Record one render (counted in `renders`, and its first use in `uses`)."""
    put_packed(
        client().collection(RENDERS).document(digest),
        doc | {"renders": firestore.Increment(1), "uses": firestore.Increment(1)},
        packed_fields=("files", "errors"),
        merge=True,
    )


def count_render_use(digest: str, count: int = 1) -> None:
    """`count` more applications took this render from the cache."""
    with contextlib.suppress(gexc.NotFound):
        client().collection(RENDERS).document(digest).update(
            {"uses": firestore.Increment(count), "usedAt": now()}
        )
