"""Drift between what a revision wants and what is live, and who made it (pure logic).

`changes(desired, live)` compares the object a server-side dry-run apply predicts
(the desired state, defaulted by the API server exactly as a real apply would) with
the live object, ignoring what the server owns (status, resourceVersion,
managedFields...). `attribute` names the field manager that owns each changed field
in the live object, from `metadata.managedFields`.
"""

from __future__ import annotations

import fnmatch
import json
from dataclasses import dataclass
from typing import Any

from shared.core import secrets

IGNORED_METADATA = (
    "managedFields",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "uid",
    "selfLink",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
)
LIST_KEYS = ("name", "containerPort", "mountPath", "devicePath", "ip", "type", "port")

Segment = str | int | tuple[str, Any]  # map key | list index | (list key field, value)


@dataclass(frozen=True)
class Change:
    path: tuple[Segment, ...]
    desired: Any
    live: Any

    @property
    def field(self) -> str:
        return format_path(self.path)


@dataclass(frozen=True)
class Owner:
    manager: str
    operation: str
    time: str


def essence(obj: dict[str, Any]) -> dict[str, Any]:
    """The object without what the API server owns: status and bookkeeping metadata."""
    out = {k: v for k, v in obj.items() if k != "status"}
    meta = {k: v for k, v in (obj.get("metadata") or {}).items() if k not in IGNORED_METADATA}
    annotations = {
        k: v
        for k, v in (meta.get("annotations") or {}).items()
        if k != "kubectl.kubernetes.io/last-applied-configuration"
    }
    if annotations:
        meta["annotations"] = annotations
    else:
        meta.pop("annotations", None)
    out["metadata"] = meta
    return out


def changes(desired: dict[str, Any], live: dict[str, Any]) -> list[Change]:
    """Every leaf where the desired object and the live one differ."""
    out: list[Change] = []
    _diff(essence(desired), essence(live), (), out)
    return out


def _list_key(*sides: list[Any]) -> str | None:
    """A field that identifies the items of both lists (e.g. containers by name), if any."""
    items = [i for side in sides for i in side]
    if not items or not all(isinstance(i, dict) for i in items):
        return None
    for key in LIST_KEYS:
        if all(
            all(i.get(key) is not None for i in side)
            and len({json.dumps(i[key], sort_keys=True) for i in side}) == len(side)
            for side in sides
        ):
            return key
    return None


def _diff(a: Any, b: Any, path: tuple[Segment, ...], out: list[Change]) -> None:
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b)):
            if key not in a:
                out.append(Change((*path, key), None, b[key]))
            elif key not in b:
                out.append(Change((*path, key), a[key], None))
            else:
                _diff(a[key], b[key], (*path, key), out)
        return
    if isinstance(a, list) and isinstance(b, list):
        key = _list_key(a, b)
        if key is None:
            if len(a) != len(b):
                out.append(Change(path, a, b))
                return
            for i, (x, y) in enumerate(zip(a, b, strict=True)):
                _diff(x, y, (*path, i), out)
            return
        left, right = {i[key]: i for i in a}, {i[key]: i for i in b}
        for k in list(left) + [k for k in right if k not in left]:
            _diff(left.get(k), right.get(k), (*path, (key, k)), out)
        return
    if a != b:
        out.append(Change(path, a, b))


def format_path(path: tuple[Segment, ...]) -> str:
    text = ""
    for seg in path:
        if isinstance(seg, tuple):
            text += f"[{seg[0]}={seg[1]}]"
        elif isinstance(seg, int):
            text += f"[{seg}]"
        else:
            text += f".{seg}" if text else seg
    return text


def _child(node: dict[str, Any], seg: Segment) -> Any:
    """The fieldsV1 node for one path segment, or None."""
    if isinstance(seg, tuple):
        for key, value in node.items():
            if key.startswith("k:"):
                try:
                    item_key = json.loads(key[2:])
                except ValueError:
                    continue
                if isinstance(item_key, dict) and item_key.get(seg[0]) == seg[1]:
                    return value
        return None
    return node.get(f"i:{seg}" if isinstance(seg, int) else f"f:{seg}")


def owners(live: dict[str, Any], path: tuple[Segment, ...]) -> list[Owner]:
    """Field managers whose managedFields cover the whole path, newest first."""
    found: list[Owner] = []
    for entry in (live.get("metadata") or {}).get("managedFields") or []:
        node: Any = entry.get("fieldsV1") or {}
        for seg in path:
            node = _child(node, seg) if isinstance(node, dict) else None
            if node is None:
                break
        else:
            found.append(Owner(entry.get("manager", "?"), entry.get("operation", "?"), entry.get("time", "")))
    found.sort(key=lambda o: o.time, reverse=True)
    return found


def mask(obj_kind: str, change: Change) -> Change:
    """Secret values never leave the audit: replace them by a fixed mask."""
    if change.path and secrets.holds_values(obj_kind, change.path[0]):
        return Change(
            change.path,
            secrets.MASK if change.desired is not None else None,
            secrets.MASK if change.live is not None else None,
        )
    return change


def rules_for(
    rules: tuple[dict[str, Any], ...] | list[dict[str, Any]], group: str, kind: str, namespace: str, name: str
) -> list[dict[str, Any]]:
    """The ignoreDifferences rules that apply to one object (group and kind may be globs)."""
    return [
        r
        for r in rules
        if fnmatch.fnmatchcase(group, r.get("group", "") or "")
        and fnmatch.fnmatchcase(kind, r.get("kind", "*"))
        and r.get("name", name) == name
        and r.get("namespace", namespace) == namespace
    ]
