"""Firestore's document limits, checked before a write (pure).

Firestore refuses a document over 1 MiB ("maximum entity size is 1048576 bytes"), deeper
than 20 levels of maps and arrays, with a field path over 1,500 bytes, or with more than
40,000 index entries. The emulator enforces none of them, so this check is what keeps the
code honest locally; in production it turns a refusal we would only see after the work
(and as a retryable-looking RPC error) into a clear permanent error before the write.

Sizes follow Firestore's published storage-size rules: a string is its UTF-8 bytes + 1,
a number or timestamp 8, a boolean or null 1, bytes their length, a map the sum of its
keys and values, an array the sum of its elements; a document adds its name (each path
segment + 1, plus 16), its field names and 32.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

MAX_DOCUMENT_BYTES = 1_048_576
MAX_DEPTH = 20
MAX_FIELD_PATH_BYTES = 1_500
MAX_INDEX_ENTRIES = 40_000


@dataclass(frozen=True)
class Bounds:
    document_bytes: int = MAX_DOCUMENT_BYTES
    depth: int = MAX_DEPTH
    field_path_bytes: int = MAX_FIELD_PATH_BYTES
    index_entries: int = MAX_INDEX_ENTRIES


class DocumentTooLarge(ValueError):
    """A write Firestore would refuse; nothing was written."""

    def __init__(self, path: str, problems: list[str]) -> None:
        super().__init__(f"{path}: not written, Firestore would refuse it: {'; '.join(problems)}")
        self.path = path
        self.problems = problems


def string_size(text: str) -> int:
    return len(text.encode()) + 1


def value_size(value: Any) -> int:
    """The stored size of one field value."""
    if value is None or isinstance(value, bool):
        return 1
    if isinstance(value, str):
        return string_size(value)
    if isinstance(value, bytes | bytearray):
        return len(value)
    if isinstance(value, Mapping):
        return sum(string_size(str(k)) + value_size(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return sum(value_size(v) for v in value)
    return 8  # int, float, datetime, and sentinels (server timestamp, increment, delete)


def name_size(path: str) -> int:
    """A document name's size: each segment of 'collection/id/collection/id' + 1, plus 16."""
    return sum(string_size(segment) for segment in path.split("/") if segment) + 16


def document_size(path: str, data: Mapping[str, Any]) -> int:
    return name_size(path) + value_size(data) + 32


def _walk(value: Any, path: str, depth: int, out: dict[str, int]) -> None:
    """Deepest nesting, longest field path and index entries (2 per indexed field: ascending
    and descending; 1 per array element: array-contains)."""
    out["depth"] = max(out["depth"], depth)
    out["path"] = max(out["path"], len(path.encode()))
    if isinstance(value, Mapping):
        for key, child in value.items():
            out["entries"] += 2
            _walk(child, f"{path}.{key}" if path else str(key), depth + 1, out)
    elif isinstance(value, list | tuple):
        out["entries"] += len(value)
        for child in value:
            if isinstance(child, Mapping | list | tuple):
                _nested_depth(child, depth + 1, out)


def _nested_depth(value: Any, depth: int, out: dict[str, int]) -> None:
    # inside an array only the nesting counts (its elements are not indexed field by field)
    out["depth"] = max(out["depth"], depth)
    for child in value.values() if isinstance(value, Mapping) else value:
        if isinstance(child, Mapping | list | tuple):
            _nested_depth(child, depth + 1, out)


def problems(path: str, data: Mapping[str, Any], bounds: Bounds = Bounds()) -> list[str]:
    """What Firestore would refuse in writing `data` as the document at `path` (empty: fine)."""
    found = []
    size = document_size(path, data)
    if size > bounds.document_bytes:
        found.append(f"{size:,} bytes is over the {bounds.document_bytes:,}-byte document limit")
    shape = {"depth": 0, "path": 0, "entries": 0}
    _walk(data, "", 0, shape)
    if shape["depth"] > bounds.depth:
        found.append(f"{shape['depth']} levels of maps and arrays (at most {bounds.depth})")
    if shape["path"] > bounds.field_path_bytes:
        found.append(f"a field path of {shape['path']:,} bytes (at most {bounds.field_path_bytes:,})")
    if shape["entries"] > bounds.index_entries:
        found.append(f"about {shape['entries']:,} index entries (at most {bounds.index_entries:,})")
    return found


def check(path: str, data: Mapping[str, Any], bounds: Bounds = Bounds()) -> int:
    """Raise DocumentTooLarge when Firestore would refuse the document; else its size."""
    found = problems(path, data, bounds)
    if found:
        raise DocumentTooLarge(path, found)
    return document_size(path, data)
