"""Render a folder of YAML/JSON manifests into Kubernetes objects, with exact errors.

Errors name the file, line, column and field (`apps/web.yaml:12:3: metadata.name:
required`), so the author can fix them without guessing. Rendering is pure: it
takes (path, bytes) pairs and returns objects or errors; it never touches a cluster.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
import re
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar

import yaml

from shared.core import hooks
from shared.core.findings import Finding
from shared.core.manifests import Loader, ObjectId, digest
from shared.render import fastyaml

EXTENSIONS = (".yaml", ".yml", ".json")
_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?\Z")
_RBAC_NAME = re.compile(r"^[^/%]+\Z")  # RBAC objects allow ':' and more (e.g. system:foo)
_RBAC_KINDS = ("Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding")
MAX_FILE_BYTES = 5 * 1024 * 1024


_STR, _MAP, _SEQ = ("tag:yaml.org,2002:str", "tag:yaml.org,2002:map", "tag:yaml.org,2002:seq")


class _Loader(Loader):
    """The C loader with PyYAML's own implicit types, resolved with less work per scalar (the
    composer asks for every node; SafeLoader has no path resolvers and no wildcard ones)."""

    _implicit: ClassVar[dict[Any, tuple[Any, ...]]] = {
        k: tuple(v) for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }

    def descend_resolver(self, current_node: Any, current_index: Any) -> None:
        return None

    def ascend_resolver(self) -> None:
        return None

    def resolve(
        self,
        kind: type,
        value: Any,
        implicit: tuple[bool, bool],
        _scalar: type = yaml.ScalarNode,
        _seq: type = yaml.SequenceNode,
        _get: Callable[..., Any] = _implicit.get,
    ) -> str:  # bound once: called per node
        if kind is _scalar:
            if implicit[0]:
                for tag, regexp in _get(value[:1], ()):
                    if regexp.match(value):
                        return tag
            return _STR
        return _SEQ if kind is _seq else _MAP


class _Text:
    """One file's YAML, composed again only when a position inside it is asked for (keeping
    every node of a large render alive would cost far more memory and time than parsing)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self._documents: list[yaml.Node] | None = None

    def document(self, index: int) -> yaml.Node | None:
        if self._documents is None:
            loader = _Loader(self.text)
            try:
                self._documents = []
                while loader.check_node():
                    self._documents.append(loader.get_node())
            finally:
                loader.dispose()
        return self._documents[index] if index < len(self._documents) else None

    def release(self) -> None:
        """Let the composed nodes go (a later position composes the file again)."""
        self._documents = None


@dataclass(frozen=True)
class _Where:
    text: _Text
    document: int
    item: int | None  # index in a List's items

    def node(self) -> yaml.Node | None:
        node = self.text.document(self.document)
        return node if self.item is None or node is None else _item_node(node, self.item)


@dataclass(frozen=True)
class Source:
    file: str
    first_line: int  # 0 until asked: the fast path keeps no positions
    where: _Where | None = field(default=None, compare=False, repr=False)  # for positions

    @property
    def node(self) -> yaml.Node | None:
        return self.where.node() if self.where is not None else None

    @property
    def line(self) -> int:
        """The object's first line, 1-based (0 when unknown)."""
        if self.first_line:
            return self.first_line
        node = self.node
        return node.start_mark.line + 1 if node is not None else 0

    def release(self) -> None:
        """Let go of the composed YAML of this object's file, once its positions are read."""
        if self.where is not None:
            self.where.text.release()

    def position(self, path: tuple[str | int, ...]) -> tuple[int, int]:
        """(line, column), 1-based, of a field inside this object's YAML (or its deepest parent)."""
        where = (self.line, 1)
        if not path:
            return where
        current = self.node
        for seg in path:
            if isinstance(current, yaml.MappingNode) and isinstance(seg, str):
                nxt = next(((k, v) for k, v in current.value if getattr(k, "value", None) == seg), None)
                if nxt is None:
                    break
                where = (nxt[0].start_mark.line + 1, nxt[0].start_mark.column + 1)
                current = nxt[1]
            elif isinstance(current, yaml.SequenceNode) and isinstance(seg, int) and seg < len(current.value):
                current = current.value[seg]
                where = (current.start_mark.line + 1, current.start_mark.column + 1)
            else:
                break
        return where


@dataclass
class Rendered:
    objects: list[dict[str, Any]] = field(default_factory=list)
    sources: list[Source] = field(default_factory=list)
    errors: list[Finding] = field(default_factory=list)
    nodes: int = 0  # YAML nodes of the files parsed, as estimated before parsing them

    @property
    def digest(self) -> str:
        return digest(self.objects)


MAX_FILE_NODES = 400_000  # YAML nodes one file may hold (estimated before parsing)
MAX_RENDER_NODES = 1_500_000  # and all the files of one render together


MAX_FILE_ERRORS = 50  # errors reported per file: the rest of a file is not read
MAX_RENDER_ERRORS = 500  # and per render: the remaining files are not read
PARSE_SECONDS = 60.0  # parsing in the function's own process, like a renderer run


def estimate_nodes(data: bytes) -> int:
    """An estimate, from bytes alone, of the YAML/JSON nodes a text holds: every mapping
    value, sequence item, flow collection and document needs one of these marks. Checked
    before any parser runs, so a 5 MiB file of `- {}` (or of `---` documents) never becomes
    a million objects in memory."""
    return (
        data.count(b":")
        + data.count(b"- ")
        + data.count(b",")
        + data.count(b"[")
        + data.count(b"{")
        + data.count(b"---")
        + data.count(b"...")
    )


def render_files(files: Iterable[tuple[str, bytes]]) -> Rendered:
    """Parse every manifest file (sorted by path) into objects; collect all errors."""
    out = Rendered()
    deadline = time.monotonic() + PARSE_SECONDS
    with without_gc():
        for path, data in sorted(f for f in files if f[0].endswith(EXTENSIONS)):
            if len(out.errors) >= MAX_RENDER_ERRORS:
                out.errors.append(
                    Finding(
                        path,
                        0,
                        0,
                        "",
                        f"more than {MAX_RENDER_ERRORS} errors: the remaining files are not read (limit)",
                    )
                )
                break
            if time.monotonic() > deadline:
                out.errors.append(
                    Finding(
                        path,
                        0,
                        0,
                        "",
                        f"parsing took longer than {PARSE_SECONDS:g}s: "
                        "the remaining files are not read (limit)",
                    )
                )
                break
            if len(data) > MAX_FILE_BYTES:
                out.errors.append(Finding(path, 0, 0, "", f"file is larger than {MAX_FILE_BYTES} bytes"))
                continue
            nodes = estimate_nodes(data)
            out.nodes += nodes
            if nodes > MAX_FILE_NODES:
                out.errors.append(
                    Finding(
                        path,
                        0,
                        0,
                        "",
                        f"about {nodes:,} YAML nodes: more than {MAX_FILE_NODES:,} in one file (limit)",
                    )
                )
                continue
            if out.nodes > MAX_RENDER_NODES:
                out.errors.append(
                    Finding(
                        path,
                        0,
                        0,
                        "",
                        f"more than {MAX_RENDER_NODES:,} YAML nodes in the files of one render (limit)",
                    )
                )
                break
            _render_file(path, data, out, deadline)
        _check_duplicates(out)
    return out


@contextlib.contextmanager
def without_gc() -> Iterator[None]:
    """The cyclic garbage collector paused: parsing and checking allocate millions of objects
    and no cycles, and each collection would walk all of them again."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()


def _render_file(path: str, data: bytes, out: Rendered, deadline: float = float("inf")) -> None:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        out.errors.append(Finding(path, 0, 0, "", f"not UTF-8 text ({exc.reason} at byte {exc.start})"))
        return
    tab = _tab_in_indentation(text)
    if tab:
        out.errors.append(
            Finding(path, tab[0], tab[1], "", "YAML: a tab in indentation (YAML indents with spaces only)")
        )
        return
    holder = _Text(text)
    plain = fastyaml.documents(text)
    if plain is not None and _collect_plain(path, plain, holder, out):
        return
    loader = _Loader(text)
    index = -1
    errors_before = len(out.errors)
    try:
        while loader.check_node():
            if len(out.errors) - errors_before >= MAX_FILE_ERRORS or time.monotonic() > deadline:
                out.errors.append(
                    Finding(
                        path,
                        0,
                        0,
                        "",
                        f"more than {MAX_FILE_ERRORS} errors, or too "
                        "long: the rest of the file is not read (limit)",
                    )
                )
                return
            node = loader.get_node()
            index += 1
            if node is None:
                continue
            doc = _build(loader, node)
            if doc is _CAREFUL:
                problems = _node_problems(path, node)
                if problems:
                    out.errors.extend(problems)
                    continue  # not constructed: a duplicate key would silently keep the last value
                doc = loader.construct_document(node)
            if doc is not None:
                _collect(path, node, doc, _Where(holder, index, None), out)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (0, 0)
        shown = f" in {_line(text, mark.line)!r}" if mark and _line(text, mark.line).strip() else ""
        context = exc.context_mark
        if exc.context and context and context is not mark:
            shown += f" ({exc.context} at line {context.line + 1}: {_line(text, context.line)!r})"
        out.errors.append(Finding(path, line, column, "", f"YAML: {exc.problem or exc}{shown}"))
    except yaml.YAMLError as exc:
        out.errors.append(Finding(path, 0, 0, "", f"YAML: {exc}"))
    finally:
        loader.dispose()


def _line(text: str, number: int) -> str:
    """Line `number` (0-based) of text, trimmed for a message."""
    lines = text.splitlines()
    line = lines[number].rstrip() if 0 <= number < len(lines) else ""
    return line if len(line) <= 80 else line[:77] + "..."


_SCALARS = {
    tag: fn
    for tag, fn in yaml.SafeLoader.yaml_constructors.items()
    if tag and tag.rsplit(":", 1)[-1] in ("null", "bool", "int", "float", "timestamp")
}
_CAREFUL = object()  # _build's answer when a document needs the careful path


class _Careful(Exception):
    pass


def _build(loader: Any, root: yaml.Node) -> Any:
    """The document's value in one pass over its nodes, or _CAREFUL when it has anything the
    plain constructor and _node_problems must see (duplicate or non-string keys, merge keys,
    other tags, too many nodes): then nothing differs from the careful path but the time."""
    try:
        return _value(loader, root, [MAX_NODES])
    except (_Careful, RecursionError):
        return _CAREFUL


def _value(loader: Any, node: yaml.Node, budget: list[int]) -> Any:
    scalar = yaml.ScalarNode
    cls = node.__class__
    if cls is scalar:
        if node.tag == _STR:
            return node.value
        fn = _SCALARS.get(node.tag)
        if fn is None:
            raise _Careful
        return fn(loader, node)
    items = node.value
    budget[0] -= len(items)
    if budget[0] < 0:
        raise _Careful
    if cls is yaml.MappingNode and node.tag == _MAP:
        mapping: dict[str, Any] = {}
        for key, item in items:
            if key.__class__ is not scalar or key.tag != _STR or key.value in mapping:
                raise _Careful
            # a plain string, the most common value, without a call
            mapping[key.value] = (
                item.value if item.__class__ is scalar and item.tag == _STR else _value(loader, item, budget)
            )
        return mapping
    if cls is yaml.SequenceNode and node.tag == _SEQ:
        return [
            item.value if item.__class__ is scalar and item.tag == _STR else _value(loader, item, budget)
            for item in items
        ]
    raise _Careful


MAX_NODES = 200_000  # alias expansions included: a "billion laughs" document stops here


_TAB_INDENT = re.compile(r"^[ \t]*\t", re.MULTILINE)


def _tab_in_indentation(text: str) -> tuple[int, int] | None:
    found = _TAB_INDENT.search(text)
    if found is None:
        return None
    line = text[text.rfind("\n", 0, found.start()) + 1 : text.find("\n", found.start()) % (len(text) + 1)]
    return text.count("\n", 0, found.start()) + 1, line.index("\t") + 1


def _node_problems(path: str, root: yaml.Node) -> list[Finding]:
    """Duplicate keys, non-string keys, and alias bombs, which PyYAML would let through."""
    problems: list[Finding] = []
    stack, visited = [root], 0
    while stack:
        node = stack.pop()
        visited += 1
        if visited > MAX_NODES:
            return [
                Finding(
                    path,
                    root.start_mark.line + 1,
                    1,
                    "",
                    f"YAML: more than {MAX_NODES} nodes once aliases are expanded (an alias bomb?)",
                )
            ]
        if isinstance(node, yaml.MappingNode):
            seen: dict[str, int] = {}
            for key, value in node.value:
                where = (key.start_mark.line + 1, key.start_mark.column + 1)
                if not isinstance(key, yaml.ScalarNode) or key.tag != "tag:yaml.org,2002:str":
                    if key.tag != "tag:yaml.org,2002:merge":
                        problems.append(
                            Finding(path, *where, "", f"YAML: key {_text(key)!r} is not a string (quote it)")
                        )
                elif key.value in seen:
                    problems.append(
                        Finding(
                            path,
                            *where,
                            str(key.value),
                            (f"YAML: duplicate key (first at line {seen[key.value]}); the last would win"),
                        )
                    )
                else:
                    seen[key.value] = where[0]
                stack.append(value)
        elif isinstance(node, yaml.SequenceNode):
            stack.extend(node.value)
    return problems


def _text(node: yaml.Node) -> str:
    return str(node.value) if isinstance(node, yaml.ScalarNode) else node.tag


_JSON_SCALARS = (str, int, float, bool, type(None))


def _not_json(value: Any, at: str = "") -> tuple[str, str] | None:
    """(field, why) of the first value JSON (and so the API server) cannot hold: YAML 1.1
    timestamps, !!binary, !!set."""
    if isinstance(value, _JSON_SCALARS):
        return None
    if isinstance(value, dict):
        for key, item in value.items():
            found = _not_json(item, f"{at}.{key}" if at else str(key))
            if found:
                return found
        return None
    if isinstance(value, list):
        for i, item in enumerate(value):
            found = _not_json(item, f"{at}[{i}]")
            if found:
                return found
        return None
    if isinstance(value, dt.date):
        return at, f"YAML reads {value.isoformat()} as a date, not a string: quote it"
    return at, f"a YAML {type(value).__name__} value is not JSON (write it as a string)"


def _collect(path: str, node: yaml.Node, doc: Any, where: _Where, out: Rendered) -> None:
    line = node.start_mark.line + 1
    for index, obj in enumerate(_flatten(doc)):
        prefix = f"items[{index}]." if obj is not doc else ""
        problem = _structure_problem(obj) or _not_json(obj)
        if problem:
            fld, msg = problem
            out.errors.append(Finding(path, _line_of(node, fld) or line, 1, prefix + fld, msg))
            continue
        if obj is doc:
            out.objects.append(obj)
            out.sources.append(Source(path, line, where))
            continue
        item = _item_node(node, index)
        out.objects.append(obj)
        out.sources.append(
            Source(
                path,
                item.start_mark.line + 1 if item is not None else line,
                _Where(where.text, where.document, index),
            )
        )


def _collect_plain(path: str, docs: list[Any], holder: _Text, out: Rendered) -> bool:
    """The fast path's documents as objects, when each is one valid object; False (nothing
    added) for a List kind or a structure error, whose positions only the careful path has."""
    found = [(index, doc) for index, doc in enumerate(docs) if doc is not None]
    if any(_is_list_kind(doc) or _structure_problem(doc) for _, doc in found):
        return False
    for index, doc in found:
        out.objects.append(doc)
        out.sources.append(Source(path, 0, _Where(holder, index, None)))
    return True


def _item_node(node: yaml.Node, index: int) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if getattr(key, "value", None) == "items" and isinstance(value, yaml.SequenceNode):
                return value.value[index] if index < len(value.value) else None
    return None


def _is_list_kind(doc: Any) -> bool:
    return isinstance(doc, dict) and str(doc.get("kind", "")).endswith("List") and "items" in doc


def _flatten(doc: Any) -> list[Any]:
    if _is_list_kind(doc):
        items = doc.get("items") or []
        return list(items) if isinstance(items, list) else [doc]
    return [doc]


def _structure_problem(obj: Any) -> tuple[str, str] | None:
    if not isinstance(obj, dict):
        return "", f"a manifest must be a mapping, got {type(obj).__name__}"
    for key in ("apiVersion", "kind"):
        if not isinstance(obj.get(key), str) or not obj.get(key):
            return key, "required"
    meta = obj.get("metadata")
    if not isinstance(meta, dict):
        return "metadata", "required"
    if not isinstance(meta.get("name"), str) or not meta.get("name"):
        return _generate_name_problem(obj, meta)
    name = meta["name"]
    pattern = _RBAC_NAME if obj["kind"] in _RBAC_KINDS else _NAME
    if len(name) > 253 or not pattern.match(name):
        return "metadata.name", (
            f"{name!r} is not a valid name (lowercase letters, digits, '-' and "
            "'.', starting and ending with a letter or digit)"
        )
    return None


def _generate_name_problem(obj: dict[str, Any], meta: dict[str, Any]) -> tuple[str, str] | None:
    """A sync hook may have only `generateName` (Argo CD names it per sync); nothing else may."""
    generate = meta.get("generateName")
    if not isinstance(generate, str) or not generate:
        return "metadata.name", "required"
    if not hooks.is_hook(obj):
        return "metadata.name", (
            f"required: generateName {generate!r} is only allowed on sync hooks "
            f"({hooks.ANNOTATION_HOOK} or {hooks.HELM_HOOK}), which get a name per sync"
        )
    if len(generate) > 253 or not _NAME.match(generate + "x"):
        return "metadata.generateName", f"{generate!r} does not start a valid name"
    return None


def _line_of(node: yaml.Node, dotted: str) -> int:
    """Line (1-based) of a dotted field's key in a composed document, or of its deepest parent."""
    current, line = node, node.start_mark.line + 1
    for part in dotted.split("."):
        if not isinstance(current, yaml.MappingNode):
            break
        for key, value in current.value:
            if getattr(key, "value", None) == part:
                current, line = value, key.start_mark.line + 1
                break
        else:
            break
    return line


def _check_duplicates(out: Rendered) -> None:
    seen: dict[tuple[str, str, str, str], Source] = {}
    for obj, src in zip(out.objects, out.sources, strict=True):
        # ObjectId.of's fields, as a plain tuple: every object passed _structure_problem
        meta = obj["metadata"]
        key = (
            obj["apiVersion"].rpartition("/")[0],
            obj["kind"],
            str(meta.get("namespace") or ""),
            meta.get("name") or f"{meta.get('generateName')}*",
        )
        first = seen.setdefault(key, src)
        if first is not src:
            out.errors.append(
                Finding(
                    src.file,
                    src.line,
                    1,
                    "metadata.name",
                    f"{ObjectId.of(obj)} is also defined at {first.file}:{first.line}",
                )
            )
