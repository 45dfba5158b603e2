"""Firestore's document limits, checked before a write (shared/core/docsize.py), and the parts
lists are split into (shared/adapters/store/parts.py chunk)."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from shared.adapters import store
from shared.core import docsize, findings
from shared.core.docsize import Bounds, DocumentTooLarge


@pytest.mark.parametrize(
    ("value", "size"),
    [
        ("", 1),
        ("abc", 4),
        ("é", 3),  # UTF-8 bytes + 1
        (b"\x00" * 10, 10),
        (None, 1),
        (True, 1),
        (7, 8),
        (1.5, 8),
        (dt.datetime(2026, 1, 1, tzinfo=dt.UTC), 8),
        ([1, "ab"], 8 + 3),
        ({"a": 1, "bc": "d"}, 2 + 8 + 3 + 2),
        ({"m": {"n": [None]}}, 2 + 2 + 1),
    ],
)
def test_value_sizes_follow_firestores_rules(value, size):
    assert docsize.value_size(value) == size


def test_document_size_counts_its_name_fields_and_32():
    # the name: "applications" (13) + "a" (2) + 16; the field "x" (2) and 8
    assert docsize.document_size("applications/a", {"x": 1}) == 13 + 2 + 16 + 2 + 8 + 32


@pytest.mark.parametrize(
    ("data", "bounds", "problem"),
    [
        ({"x": "y" * 2_000_000}, Bounds(), "over the 1,048,576-byte document limit"),
        ({"x": "y" * 5_000}, Bounds(document_bytes=4_096), "over the 4,096-byte document limit"),
        ({"deep": json.loads("[" * 21 + "]" * 21)}, Bounds(), "levels of maps and arrays"),
        ({"k" * 1_600: 1}, Bounds(), "a field path of 1,600 bytes"),
        ({f"f{i}": i for i in range(20_001)}, Bounds(), "index entries"),
    ],
)
def test_what_firestore_would_refuse(data, bounds, problem):
    found = docsize.problems("applications/a", data, bounds)
    assert len(found) == 1 and problem in found[0], found
    with pytest.raises(DocumentTooLarge, match="Firestore would refuse it"):
        docsize.check("applications/a", data, bounds)


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"x": "y" * 1_000_000},
        {"deep": json.loads("[" * 20 + "]" * 20)},
        {"status": {"inventory": {"generation": "000001-abcd", "parts": 12, "count": 20_000}}},
        {"resources": [{"kind": "ConfigMap", "name": f"cm-{i}"} for i in range(5_000)]},
    ],
)
def test_what_firestore_stores(data):
    assert docsize.problems("applications/a", data) == []
    assert docsize.check("applications/a", data) == docsize.document_size("applications/a", data)


def test_an_inventory_of_5000_objects_inline_is_refused():
    """The issue's case: the application document with its inventory inline is over 1 MiB."""
    entries = [
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "namespace": "big-apps",
            "name": f"settings-{i:05d}",
            "digest": "a" * 64,
            "liveDigest": "b" * 64,
        }
        for i in range(5_000)
    ]
    with pytest.raises(DocumentTooLarge, match="document limit"):
        docsize.check("applications/big", {"status": {"inventory": entries}})


@pytest.mark.parametrize(("count", "part_bytes"), [(0, 100), (1, 100), (50, 100), (20_000, 512 * 1024)])
def test_chunks_keep_every_item_in_order_within_the_part_size(count, part_bytes):
    items = [{"name": f"cm-{i:05d}", "digest": f"{i:064x}"} for i in range(count)]
    texts = store.chunk(items, part_bytes)
    assert [i for t in texts for i in json.loads(t)] == items
    longest = max((len(json.dumps(i, separators=(",", ":"))) for i in items), default=0)
    assert all(len(t) <= max(part_bytes, longest + 2) for t in texts)
    for t in texts:  # every part is a document Firestore stores
        assert docsize.problems("applications/a/inventory/000001-abcd-000", {"entries": t}) == []


@pytest.mark.parametrize(
    ("doc", "update", "result"),
    [
        ({"a": 1}, {"b": 2}, {"a": 1, "b": 2}),
        ({"status": {"x": 1}}, {"status.y": 2}, {"status": {"x": 1, "y": 2}}),
        (
            {"status": {"sync": {"status": "Synced"}}},
            {"status.sync.status": "OutOfSync"},
            {"status": {"sync": {"status": "OutOfSync"}}},
        ),
        ({"lease": {"holder": "h"}, "a": 1}, {"lease": store.firestore.DELETE_FIELD}, {"a": 1}),
        ({}, {"status.inventory": {"count": 3}}, {"status": {"inventory": {"count": 3}}}),
    ],
)
def test_an_update_is_checked_as_the_document_it_makes(doc, update, result):
    assert store.merged(doc, update) == result
    assert doc == (store.merged(doc, {}))  # the original is left alone


def test_the_bound_can_be_lowered_for_a_fault_test(monkeypatch):
    monkeypatch.setenv("GITOPS_FIRESTORE_MAX_BYTES", "4096")
    assert store.bounds().document_bytes == 4096
    monkeypatch.delenv("GITOPS_FIRESTORE_MAX_BYTES")
    assert store.bounds().document_bytes == docsize.MAX_DOCUMENT_BYTES


@pytest.mark.parametrize(
    ("length", "kept"),
    [(0, 0), (findings.MESSAGE_MAX, findings.MESSAGE_MAX), (findings.MESSAGE_MAX + 1, findings.MESSAGE_MAX)],
)
def test_a_findings_message_is_bounded(length, kept):
    """A finding naming every key of a huge Secret stays a bounded part of what is stored."""
    found = findings.Finding("app/secret.yaml", 3, 1, "data", "k" * length)
    assert found.message.startswith("k" * kept)
    assert len(found.message) <= findings.MESSAGE_MAX + 40
    assert found.message.endswith("more characters)") == (length > findings.MESSAGE_MAX)
