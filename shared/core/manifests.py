"""Kubernetes object identity and manifest (de)serialisation, shared by render and apply."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

import yaml

Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
Dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


@dataclass(frozen=True, order=True)
class ObjectId:
    group: str
    kind: str
    namespace: str
    name: str

    @classmethod
    def of(cls, obj: dict[str, Any], default_namespace: str = "") -> ObjectId:
        api_version = str(obj.get("apiVersion", ""))
        group = api_version.rsplit("/", 1)[0] if "/" in api_version else ""
        meta = obj.get("metadata") or {}
        return cls(
            group,
            str(obj.get("kind", "")),
            str(meta.get("namespace") or default_namespace),
            str(meta.get("name", "")),
        )

    def __str__(self) -> str:
        kind = f"{self.kind}.{self.group}" if self.group else self.kind
        return f"{kind}/{self.namespace}/{self.name}" if self.namespace else f"{kind}/{self.name}"


def digest(objs: list[dict[str, Any]]) -> str:
    """Content digest of a list of objects, independent of key order."""
    h = hashlib.sha256()
    for obj in objs:
        h.update(json.dumps(obj, sort_keys=True, separators=(",", ":")).encode())
        h.update(b"\n")
    return h.hexdigest()


def object_digest(obj: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def dump(objs: list[dict[str, Any]]) -> str:
    text: str = yaml.dump_all(objs, Dumper=Dumper, sort_keys=False, default_flow_style=False)
    return text


# A revision's manifests are stored as YAML a person reads in the console while they fit in
# its document (the store keeps 256 KiB inline); bigger ones are stored compressed, where
# nobody reads them, so as one JSON array: still a YAML document (a flow sequence), and
# read back about ten times faster (20,000 objects: 6.2 s of YAML construction per apply).
READABLE_BYTES = 256 * 1024


def dump_stored(objs: list[dict[str, Any]]) -> str:
    """The text a revision stores for `objs` (see READABLE_BYTES); `load` reads either form."""
    compact = json.dumps(objs, separators=(",", ":"), ensure_ascii=False)
    return compact if len(compact) > READABLE_BYTES else dump(objs)


def load(text: str) -> list[dict[str, Any]]:
    if text.startswith("["):  # dump_stored's JSON form (YAML documents of objects never start so)
        return [d for d in json.loads(text) if d is not None]
    return [d for d in yaml.load_all(text, Loader=Loader) if d is not None]


# a key naming an object's type: at a YAML line's start (a document's top level, or after a
# document marker) or quoted, as JSON writes it
_OBJECT_KEY = re.compile(
    r"""(?m)^(?:---[ \t]*)?(?:apiVersion|kind)[ \t]*:|["'](?:apiVersion|kind)["'][ \t]*:"""
)
KUSTOMIZATIONS = ("kustomization.yaml", "kustomization.yml", "Kustomization")


def holds_objects(name: str, text: str) -> bool:
    """Whether a directory source's YAML or JSON file is meant as Kubernetes objects. Argo CD
    skips the others (a Helm values file, a kustomization, a tool's settings) rather than fail
    the render: a file that names neither apiVersion nor kind anywhere is not a manifest, and
    kustomize's own file never is. A file naming one of them is parsed, its errors reported
    (a manifest missing its kind is a mistake to show, not a file to skip)."""
    if name.rsplit("/", 1)[-1] in KUSTOMIZATIONS:
        return False
    return _OBJECT_KEY.search(text) is not None
