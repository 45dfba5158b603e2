"""Argo CD's ignoreDifferences: which fields of an object a rule names, and what follows.

A rule is `{group, kind, name?, namespace?, jsonPointers?, jqPathExpressions?,
managedFieldsManagers?}` (group and kind may be globs). Its fields are found three ways:
- `jsonPointers` (RFC 6901), e.g. `/spec/replicas`;
- `jqPathExpressions`, e.g. `.spec.template.spec.initContainers[] | select(.name == "x")`:
  evaluated with the `jq` library (libjq itself) as `path(EXPR)`, the paths Argo CD's
  `del(EXPR)` removes; an expression that does not apply to the object (it iterates
  over a field the object lacks) names nothing, as a pointer to a missing field;
- `managedFieldsManagers`: the fields those field managers own in the live object
  (`metadata.managedFields`).

`strip` removes the named fields before two objects are compared (drift); `respect` is the
sync option RespectIgnoreDifferences=true: the desired object keeps the live values of the
named fields (and lacks those the live object lacks), so applying it leaves them alone.
"""

from __future__ import annotations

import copy
import functools
import itertools
import json
from collections.abc import Iterable
from typing import Any

import jq

from shared.core.errors import SpecError

Path = tuple[str | int, ...]
RULE_FIELDS = (
    "group",
    "kind",
    "name",
    "namespace",
    "jsonPointers",
    "jqPathExpressions",
    "managedFieldsManagers",
)
WAYS = ("jsonPointers", "jqPathExpressions", "managedFieldsManagers")
_MISSING = object()
MAX_EXPRESSION = 1000  # characters: a path expression, not a program
MAX_PATHS = 10_000  # paths one expression may name in one object (jq streams can be endless)


@functools.lru_cache(maxsize=256)
def _program(expression: str) -> Any:
    """The compiled `path(EXPR)` (ValueError on a syntax error)."""
    return jq.compile(f"path({expression})")


def validate(rules: Iterable[dict[str, Any]], prefix: str = "ignoreDifferences") -> None:
    """Refuse a rule that names no field, a pointer that is not one, and jq that does not compile."""
    for i, rule in enumerate(rules):
        if not isinstance(rule, dict) or not rule.get("kind") or not any(rule.get(w) for w in WAYS):
            raise SpecError(
                f"{prefix}[{i}]: needs kind and jsonPointers, jqPathExpressions or managedFieldsManagers"
            )
        for way in WAYS:
            if not isinstance(rule.get(way) or [], list):
                raise SpecError(f"{prefix}[{i}].{way}: must be a list")
        for pointer in rule.get("jsonPointers") or []:
            if not str(pointer).startswith("/"):
                raise SpecError(f"{prefix}[{i}].jsonPointers: {pointer!r} must start with /")
        for j, expression in enumerate(rule.get("jqPathExpressions") or []):
            if len(str(expression)) > MAX_EXPRESSION:
                raise SpecError(
                    f"{prefix}[{i}].jqPathExpressions[{j}]: longer than {MAX_EXPRESSION} characters"
                )
            try:
                _program(str(expression))
            except ValueError as exc:
                first = str(exc).splitlines()[0] if str(exc) else "does not compile"
                raise SpecError(f"{prefix}[{i}].jqPathExpressions[{j}]: {expression!r}: {first}") from None


def pointer_path(pointer: str) -> Path:
    """An RFC 6901 pointer as path segments (digits stay strings: they index lists when met)."""
    return tuple(p.replace("~1", "/").replace("~0", "~") for p in pointer.lstrip("/").split("/"))


def _get(obj: Any, path: Path) -> Any:
    node = obj
    for seg in path:
        if isinstance(node, dict) and isinstance(seg, str) and seg in node:
            node = node[seg]
        elif isinstance(node, list) and (i := _index(seg, node)) is not None:
            node = node[i]
        else:
            return _MISSING
    return node


def _index(seg: str | int, items: list[Any]) -> int | None:
    i = seg if isinstance(seg, int) else (int(seg) if seg.isdigit() else None)
    return i if i is not None and 0 <= i < len(items) else None


def _jq_paths(obj: dict[str, Any], expression: str) -> list[Path]:
    """The paths the expression names, read lazily and at most MAX_PATHS of them (a stream such
    as `repeat(.)` never ends); none when it does not apply to this object (it iterates over
    a field the object lacks), as a pointer to a missing field."""
    try:
        found = list(itertools.islice(_program(expression).input_value(obj), MAX_PATHS))
    except ValueError:
        return []
    return [tuple(p) for p in found if isinstance(p, list)]


def _managed_paths(live: dict[str, Any], managers: set[str]) -> list[Path]:
    """The leaf fields the given managers own in the live object, as paths into it."""
    out: list[Path] = []
    for entry in (live.get("metadata") or {}).get("managedFields") or []:
        if entry.get("manager") in managers:
            _walk_fields(entry.get("fieldsV1") or {}, live, (), out)
    return out


def _walk_fields(node: dict[str, Any], value: Any, path: Path, out: list[Path]) -> None:
    children = {k: v for k, v in node.items() if k != "."}
    if not children:
        if path:
            out.append(path)
        return
    for key, child in children.items():
        if key.startswith("f:") and isinstance(value, dict) and key[2:] in value:
            _walk_fields(child or {}, value[key[2:]], (*path, key[2:]), out)
        elif key.startswith("k:") and isinstance(value, list):
            try:
                wanted = json.loads(key[2:])
            except ValueError:
                continue
            for i, item in enumerate(value):
                if isinstance(item, dict) and all(item.get(k) == v for k, v in wanted.items()):
                    _walk_fields(child or {}, item, (*path, i), out)
                    break


def paths(
    obj: dict[str, Any], rules: Iterable[dict[str, Any]], live: dict[str, Any] | None = None
) -> list[Path]:
    """The paths of `obj` the rules name that `obj` has (managed fields are read from `live`,
    by default `obj` itself)."""
    out: list[Path] = []
    managers: set[str] = set()
    for rule in rules:
        out += [pointer_path(str(p)) for p in rule.get("jsonPointers") or []]
        for expression in rule.get("jqPathExpressions") or []:
            out += _jq_paths(obj, str(expression))
        managers.update(rule.get("managedFieldsManagers") or [])
    if managers:
        out += _managed_paths(live if live is not None else obj, managers)
    return [c for c in dict.fromkeys(_canonical(obj, p) for p in out) if c and _get(obj, c) is not _MISSING]


def _canonical(obj: Any, path: Path) -> Path:
    """The path with list indexes as integers (a pointer's are strings)."""
    out: list[str | int] = []
    node = obj
    for seg in path:
        if isinstance(node, list) and (i := _index(seg, node)) is not None:
            out.append(i)
            node = node[i]
        else:
            out.append(seg)
            node = node.get(seg) if isinstance(node, dict) and isinstance(seg, str) else None
    return tuple(out)


def _remove(obj: Any, path: Path) -> None:
    parent = _get(obj, path[:-1])
    last = path[-1]
    if isinstance(parent, dict) and isinstance(last, str):
        parent.pop(last, None)
    elif isinstance(parent, list) and (i := _index(last, parent)) is not None:
        parent.pop(i)


def _set(obj: Any, path: Path, value: Any) -> bool:
    """Set a value, creating missing maps on the way; False when a list or a scalar is in the way."""
    node = obj
    for seg in path[:-1]:
        if isinstance(node, dict) and isinstance(seg, str):
            node = node.setdefault(seg, {})
        elif isinstance(node, list) and (i := _index(seg, node)) is not None:
            node = node[i]
        else:
            return False
    last = path[-1]
    if isinstance(node, dict) and isinstance(last, str):
        node[last] = copy.deepcopy(value)
        return True
    if isinstance(node, list) and (i := _index(last, node)) is not None:
        node[i] = copy.deepcopy(value)
        return True
    return False


def _removal_order(found: list[Path]) -> list[Path]:
    """Deepest first, and later list items before earlier ones (indexes stay valid)."""

    def key(path: Path) -> tuple[Any, ...]:
        return tuple((1, s) if isinstance(s, int) else (0, s) for s in path)

    return sorted(found, key=key, reverse=True)


def strip(
    obj: dict[str, Any], rules: list[dict[str, Any]], live: dict[str, Any] | None = None
) -> dict[str, Any]:
    """A copy of `obj` without the fields the rules name (for a comparison)."""
    out = copy.deepcopy(obj)
    for path in _removal_order(paths(obj, rules, live)):
        _remove(out, path)
    return out


def respect(desired: dict[str, Any], live: dict[str, Any], rules: list[dict[str, Any]]) -> dict[str, Any]:
    """RespectIgnoreDifferences=true: a copy of `desired` whose ignored fields are the live
    ones (absent where the live object lacks them), so an apply leaves them as they are."""
    out = copy.deepcopy(desired)
    live_paths = paths(live, rules)
    for path in live_paths:
        _set(out, path, _get(live, path))
    kept = set(live_paths)
    for path in _removal_order([p for p in paths(desired, rules, live) if p not in kept]):
        if _get(live, path) is _MISSING:
            _remove(out, path)
    return out
