"""Schema validation: rendered objects against the Kubernetes OpenAPI schemas, and CRDs.

The schemas are the strict JSON schemas bundled by the `kubernetes-validate` package (one set
per Kubernetes minor version; strict = an unknown field is an error). Calling `jsonschema` per
object is too slow for a render of thousands of objects, so each definition is compiled once
(per version, on first use) into a small tree of `Rule`s that a direct recursive walk checks.
The walk knows what the Kubernetes schemas use: types (with `null`), properties, required,
additionalProperties (false in strict mode), items, enum, `$ref`, and the int-or-string /
quantity `oneOf`s; for CRDs also `nullable`, `x-kubernetes-int-or-string`,
`x-kubernetes-preserve-unknown-fields`, `x-kubernetes-embedded-resource`, `allOf`/`anyOf`/
`oneOf`, `pattern`, `minimum`/`maximum`, `minLength`/`maxLength`, `minItems`/`maxItems`.

Version choice: the destination's minor version when it is bundled; otherwise the nearest
bundled one (older destinations get the oldest bundled set, a near superset of their API, so
a field they lack is not flagged; newer ones get the newest). `choose` says whether it is exact.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import difflib
import functools
import importlib.util
import json
import pathlib
import re
from collections.abc import Iterable
from typing import Any

Path = tuple[str | int, ...]
Problem = tuple[Path, str]
MAX_PROBLEMS = 20  # per object: the first ones are what the author needs
_DIR = re.compile(r"^v(\d+)\.(\d+)\.0-local-strict\Z")
_PY_TYPES: dict[str, tuple[type, ...]] = {
    # sigs.k8s.io/yaml turns YAML timestamps into strings, so a date is a fine string
    "string": (str, dt.date, dt.datetime),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "null": (type(None),),
    "object": (dict,),
    "array": (list,),
}
_JSON_NAMES = {
    str: "string",
    int: "integer",
    float: "number",
    bool: "boolean",
    type(None): "null",
    dict: "object",
    list: "array",
    dt.date: "string",
    dt.datetime: "string",
}


class Rule:
    """One compiled schema node. `accept` None = any type; `extra` False = unknown keys are
    errors, a Rule = they are checked against it, None = anything goes."""

    __slots__ = (
        "accept",
        "all_of",
        "any_of",
        "enum",
        "extra",
        "items",
        "leaf",
        "limits",
        "one_of",
        "pattern",
        "plain",
        "props",
        "required",
        "trivial",
        "type_text",
    )

    def __init__(self) -> None:
        self.accept: frozenset[type] | None = None
        self.type_text = ""
        self.props: dict[str, Rule] | None = None
        self.extra: Rule | bool | None = None
        self.items: Rule | None = None
        self.required: tuple[str, ...] = ()
        self.enum: tuple[Any, ...] | None = None
        self.one_of: tuple[Rule, ...] = ()
        self.any_of: tuple[Rule, ...] = ()
        self.all_of: tuple[Rule, ...] = ()
        self.pattern: re.Pattern[str] | None = None
        self.limits: dict[str, float] = {}
        self.leaf = False  # only a type check
        self.trivial = False  # nothing to check at all
        self.plain = False  # only types, properties, required and items

    def finish(self) -> Rule:
        structure = (
            self.props is not None
            or self.extra is not None
            or self.items is not None
            or self.required
            or self.enum is not None
            or self.one_of
            or self.any_of
            or self.all_of
            or self.pattern is not None
            or self.limits
        )
        self.leaf = self.accept is not None and not structure
        self.trivial = self.accept is None and not structure
        self.plain = not (
            self.enum is not None
            or self.one_of
            or self.any_of
            or self.all_of
            or self.pattern is not None
            or self.limits
        )
        return self


def _accept(types: Iterable[str]) -> tuple[frozenset[type] | None, str]:
    names = [t for t in types if t in _PY_TYPES]
    if not names:
        return None, ""
    return frozenset(p for t in names for p in _PY_TYPES[t]), " or ".join(n for n in names if n != "null")


class Compiler:
    """Compiles JSON-schema dicts (with `$ref`s into `definitions`) into Rules, once each."""

    def __init__(self, definitions: dict[str, Any], crd: bool = False) -> None:
        self.definitions = definitions
        self.crd = crd  # structural schemas: objects with properties are closed unless preserved
        self._cache: dict[str, Rule] = {}

    def definition(self, name: str) -> Rule:
        rule = self._cache.get(name)
        if rule is None:
            rule = self._cache[name] = Rule()  # cached before filling: definitions can recurse
            self._fill(rule, self.definitions[name])
        return rule

    def compile(self, schema: Any) -> Rule:
        if not isinstance(schema, dict):
            return Rule().finish()
        ref = schema.get("$ref")
        if isinstance(ref, str):
            return self.definition(ref.rsplit("/", 1)[-1])
        rule = Rule()
        self._fill(rule, schema)
        return rule

    def _fill(self, rule: Rule, s: dict[str, Any]) -> None:
        types = s.get("type")
        types = [types] if isinstance(types, str) else list(types or [])
        if s.get("x-kubernetes-int-or-string"):
            types = ["integer", "string"]
        if types and s.get("nullable"):
            types.append("null")
        rule.accept, rule.type_text = _accept(types)
        if "properties" in s:
            rule.props = {k: self.compile(v) for k, v in s["properties"].items()}
        extra = s.get("additionalProperties")
        if extra is False:
            rule.extra = False
        elif isinstance(extra, dict):
            rule.extra = self.compile(extra)
        elif self.crd and rule.props is not None and extra is None:
            rule.extra = False  # the API server prunes (or, strictly, refuses) unknown fields
        if s.get("x-kubernetes-preserve-unknown-fields"):
            rule.extra = None
        if s.get("x-kubernetes-embedded-resource"):
            rule.props = {
                **(rule.props or {}),
                **{k: Rule().finish() for k in ("apiVersion", "kind", "metadata")},
            }
        if "items" in s:
            rule.items = self.compile(s["items"])
        rule.required = tuple(s.get("required") or ())
        if isinstance(s.get("enum"), list):
            rule.enum = tuple(s["enum"])
        alternatives = [self.compile(a) for a in s.get("oneOf") or []]
        if alternatives and all(a.leaf for a in alternatives) and rule.accept is None:
            # int-or-string, quantity: disjoint types, so oneOf is their union
            rule.accept = frozenset(t for a in alternatives for t in a.accept or ())
            rule.type_text = " or ".join(a.type_text for a in alternatives)
        else:
            rule.one_of = tuple(alternatives)
        rule.any_of = tuple(self.compile(a) for a in s.get("anyOf") or [])
        rule.all_of = tuple(self.compile(a) for a in s.get("allOf") or [])
        if self.crd:
            if isinstance(s.get("pattern"), str):
                with contextlib.suppress(re.error):  # an ECMA-only pattern: the API server checks it
                    rule.pattern = re.compile(s["pattern"])
            rule.limits = {
                k: s[k]
                for k in ("minimum", "maximum", "minLength", "maxLength", "minItems", "maxItems")
                if isinstance(s.get(k), int | float)
            }
        rule.finish()


def _type_name(value: Any) -> str:
    return _JSON_NAMES.get(type(value), type(value).__name__)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def walk(rule: Rule, value: Any, path: Path, out: list[Problem]) -> None:
    """Append (path, message) for every way `value` breaks `rule`: the first MAX_PROBLEMS of
    them (a few more may follow; the caller keeps the first MAX_PROBLEMS)."""
    if len(out) >= MAX_PROBLEMS:
        return
    accept = rule.accept
    kind = type(value)
    if (
        accept is not None
        and kind not in accept
        and not (kind is float and int in accept and value.is_integer())
    ):
        out.append((path, f"expected {rule.type_text}, got {_type_name(value)} {_short(value)}"))
        return
    if value is None:
        return
    if kind is dict:
        props, extra = rule.props, rule.extra
        if props is not None or extra is not None:
            for key, item in value.items():
                if len(out) >= MAX_PROBLEMS:  # 20,000 unknown fields in one mapping stop here
                    break
                sub = props.get(key) if props is not None else None
                if sub is None:
                    if extra is False:
                        hint = difflib.get_close_matches(str(key), props or {}, 1)
                        out.append(
                            (
                                (*path, key),
                                "unknown field" + (f" (did you mean {hint[0]!r}?)" if hint else ""),
                            )
                        )
                        continue
                    if extra is None or extra is True:
                        continue
                    sub = extra
                if sub.trivial or (sub.leaf and type(item) in sub.accept):  # type: ignore[operator]
                    continue
                walk(sub, item, (*path, key), out)
        for name in rule.required:
            if name not in value:
                out.append(((*path, name), "required field is missing"))
    elif kind is list:
        items = rule.items
        if items is not None and not items.trivial:
            for i, item in enumerate(value):
                if len(out) >= MAX_PROBLEMS:
                    break
                if not (items.leaf and type(item) in items.accept):  # type: ignore[operator]
                    walk(items, item, (*path, i), out)
    if rule.plain:
        return
    if rule.enum is not None and value not in rule.enum:
        out.append((path, f"{_short(value)} is not one of {', '.join(map(repr, rule.enum))}"))
    if rule.pattern is not None and isinstance(value, str) and not rule.pattern.search(value):
        out.append((path, f"{_short(value)} does not match {rule.pattern.pattern!r}"))
    if rule.limits:
        _limits(rule.limits, value, path, out)
    if rule.all_of:
        for sub in rule.all_of:
            walk(sub, value, path, out)
    if rule.any_of and not any(_fits(sub, value) for sub in rule.any_of):
        out.append((path, "matches none of the allowed alternatives (anyOf)"))
    if rule.one_of and sum(_fits(sub, value) for sub in rule.one_of) != 1:
        out.append((path, "must match exactly one of the alternatives (oneOf)"))


def _fits(rule: Rule, value: Any) -> bool:
    found: list[Problem] = []
    walk(rule, value, (), found)
    return not found


def _limits(limits: dict[str, float], value: Any, path: Path, out: list[Problem]) -> None:
    size = len(value) if isinstance(value, str | list) else None
    number = value if isinstance(value, int | float) and not isinstance(value, bool) else None
    checks = (
        ("minimum", number, lambda v, lim: v >= lim),
        ("maximum", number, lambda v, lim: v <= lim),
        ("minLength", size if isinstance(value, str) else None, lambda v, lim: v >= lim),
        ("maxLength", size if isinstance(value, str) else None, lambda v, lim: v <= lim),
        ("minItems", size if isinstance(value, list) else None, lambda v, lim: v >= lim),
        ("maxItems", size if isinstance(value, list) else None, lambda v, lim: v <= lim),
    )
    for name, actual, ok in checks:
        if name in limits and actual is not None and not ok(actual, limits[name]):
            out.append((path, f"{name} is {limits[name]:g}, got {_short(value)}"))


@functools.cache
def _root() -> pathlib.Path:
    """The package's schema folder, found without importing it (it imports jsonschema: ~1 s)."""
    spec = importlib.util.find_spec("kubernetes_validate")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the kubernetes-validate package is not installed (pip install -e .)")
    return pathlib.Path(next(iter(spec.submodule_search_locations))) / "kubernetes-json-schema"


@functools.cache
def bundled() -> tuple[tuple[int, int], ...]:
    """The Kubernetes minor versions whose strict schemas are bundled, oldest first."""
    found = (_DIR.match(p.name) for p in _root().iterdir())
    return tuple(sorted((int(m[1]), int(m[2])) for m in found if m))


def choose(kube_version: str) -> tuple[str, bool]:
    """(bundled version to validate with, whether it is the destination's own)."""
    versions = bundled()
    m = re.match(r"^v?(\d+)\.(\d+)", kube_version.strip())
    if not m:
        major, minor = versions[-1]
        return f"{major}.{minor}", False
    wanted = (int(m[1]), int(m[2]))
    best = min(versions, key=lambda v: (abs((v[0] - wanted[0]) * 1000 + v[1] - wanted[1]), v))
    return f"{best[0]}.{best[1]}", best == wanted


class Schemas:
    """The built-in kinds of one bundled Kubernetes version, compiled on first use."""

    def __init__(self, version: str) -> None:
        self.version = version
        text = (_root() / f"v{version}.0-local-strict" / "_definitions.json").read_text()
        data = json.loads(text)
        self.compiler = Compiler(data.get("$defs") or data.get("definitions") or {})
        self.kinds: dict[tuple[str, str], str] = {}
        for name, definition in self.compiler.definitions.items():
            for gvk in definition.get("x-kubernetes-group-version-kind") or []:
                api = f"{gvk['group']}/{gvk['version']}" if gvk.get("group") else gvk["version"]
                self.kinds.setdefault((api, gvk["kind"]), name)
        self.groups = {api.rsplit("/", 1)[0] if "/" in api else "" for api, _ in self.kinds}
        meta = next((n for n in self.compiler.definitions if n.endswith("meta.v1.ObjectMeta")), None)
        self.object_meta = self.compiler.definition(meta) if meta else Rule().finish()

    def rule(self, api_version: str, kind: str) -> Rule | None:
        name = self.kinds.get((api_version, kind))
        return self.compiler.definition(name) if name else None


@functools.cache
def schemas(version: str) -> Schemas:
    return Schemas(version)


def crd_rules(crds: Iterable[dict[str, Any]], meta: Rule) -> dict[tuple[str, str], Rule]:
    """(apiVersion, kind) -> Rule for every served version of the given CustomResourceDefinitions."""
    rules: dict[tuple[str, str], Rule] = {}
    for crd in crds:
        spec = crd.get("spec") or {}
        group, kind = spec.get("group"), (spec.get("names") or {}).get("kind")
        if not isinstance(group, str) or not isinstance(kind, str):
            continue
        shared_schema = (spec.get("validation") or {}).get("openAPIV3Schema")  # v1beta1
        versions = spec.get("versions") or ([{"name": spec["version"]}] if spec.get("version") else [])
        for v in versions:
            if not isinstance(v, dict) or not isinstance(v.get("name"), str):
                continue
            schema = (v.get("schema") or {}).get("openAPIV3Schema") or shared_schema
            rule = Compiler({}, crd=True).compile(schema) if isinstance(schema, dict) else Rule().finish()
            rule.props = {
                **(rule.props or {}),
                "apiVersion": Rule().finish(),
                "kind": Rule().finish(),
                "metadata": meta,
            }
            rules[(f"{group}/{v['name']}", kind)] = rule.finish()
    return rules
