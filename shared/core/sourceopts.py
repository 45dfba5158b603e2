"""An application's source options (spec.source), named as in Argo CD, and their validation.

    source:
      directory: {recurse: true (default false, as in Argo CD), include: "*.yaml", exclude: ["test/*"]}
      kustomize: {namePrefix, nameSuffix, images: ["nginx=nginx:1.27"], commonLabels: {},
                  commonAnnotations: {}, namespace}
      helm:      {valueFiles: [values-prod.yaml], values: "replicas: 2" (or a map),
                  parameters: [{name: image.tag, value: "1.2", forceString: true}],
                  releaseName, namespace}
      jsonnet:   {extVars: {env: prod} or [{name, value, code}], tlas: (the same forms)}

At most one of kustomize and helm; directory and jsonnet may go together (a directory's
`.jsonnet` files are evaluated). Nothing set: the source is chosen from the path's files.
Stored in Firestore as this readable map.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from shared.core.errors import SpecError

KINDS = ("directory", "kustomize", "helm", "jsonnet")
_STR, _BOOL, _MAP, _GLOBS, _LIST, _VARS, _VALUES = "str", "bool", "map", "globs", "list", "vars", "values"
_PARAMS = "params"
FIELDS: dict[str, dict[str, str]] = {
    "directory": {"recurse": _BOOL, "include": _GLOBS, "exclude": _GLOBS},
    "kustomize": {
        "namePrefix": _STR,
        "nameSuffix": _STR,
        "images": _LIST,
        "commonLabels": _MAP,
        "commonAnnotations": _MAP,
        "namespace": _STR,
    },
    "helm": {
        "valueFiles": _LIST,
        "values": _VALUES,
        "parameters": _PARAMS,
        "releaseName": _STR,
        "namespace": _STR,
    },
    "jsonnet": {"extVars": _VARS, "tlas": _VARS},
}
# Argo CD's image override: [old_name=]new_name[:tag][@digest]
IMAGE = re.compile(
    r"^(?:(?P<old>[^=\s]+)=)?(?P<new>[^=\s:@]+(?::\d+/[^=\s:@]+)?(?:/[^=\s:@]+)*)"
    r"(?::(?P<tag>[\w][\w.-]{0,127}))?(?:@(?P<digest>sha256:[0-9a-f]{64}))?$"
)
_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\Z")
_VAR = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*\Z")


def validate(source: dict[str, Any]) -> None:
    """Raise SpecError naming the field (source.helm.valueFiles[1]: ...) for anything invalid."""
    if not isinstance(source, dict):
        raise SpecError("source: must be a map of directory/kustomize/helm/jsonnet options")
    if "plugin" in source:
        raise SpecError(plugin_refusal(source["plugin"]))
    for kind, opts in source.items():
        if kind not in FIELDS:
            raise SpecError(f"source.{kind}: unknown source (one of {', '.join(KINDS)})")
        if not isinstance(opts, dict):
            raise SpecError(f"source.{kind}: must be a map")
        for key, value in opts.items():
            if key not in FIELDS[kind]:
                raise SpecError(f"source.{kind}.{key}: unknown option (one of {', '.join(FIELDS[kind])})")
            _check(f"source.{kind}.{key}", FIELDS[kind][key], value)
    if "kustomize" in source and "helm" in source:
        raise SpecError("source: set at most one of kustomize and helm")
    if ("kustomize" in source or "helm" in source) and ("directory" in source or "jsonnet" in source):
        raise SpecError("source: directory/jsonnet options cannot go with kustomize or helm")
    for i, image in enumerate((source.get("kustomize") or {}).get("images") or []):
        if not IMAGE.match(str(image)):
            raise SpecError(f"source.kustomize.images[{i}]: {image!r} is not [old=]name[:tag][@sha256:...]")
    for key in ("namespace",):
        for kind in ("kustomize", "helm"):
            value = (source.get(kind) or {}).get(key)
            if value and not _NAME.match(value):
                raise SpecError(f"source.{kind}.{key}: {value!r} is not a valid namespace")
    release = (source.get("helm") or {}).get("releaseName")
    if release and not _NAME.match(release):
        raise SpecError(
            f"source.helm.releaseName: {release!r} is not a valid release name "
            "(lowercase letters, digits and '-')"
        )
    for i, path in enumerate((source.get("helm") or {}).get("valueFiles") or []):
        if path.startswith("/") or re.match(r"^[a-z][a-z0-9+.-]*://", path):
            raise SpecError(
                f"source.helm.valueFiles[{i}]: {path!r} must be a path inside the "
                "repository, relative to the chart"
            )


def plugin_refusal(plugin: Any) -> str:
    """Why a config management plugin source is refused, naming the plugin (Argo CD's
    spec.source.plugin: {name, env, parameters}; with no name it is found by discovery)."""
    name = plugin.get("name") if isinstance(plugin, dict) else None
    which = f"config management plugin {name!r}" if name else "a config management plugin (by discovery)"
    return (
        f"source.plugin: {which} is not supported: plugins run arbitrary tools outside the "
        "render sandbox; render its output into Git, or use a directory, kustomize, helm or "
        "jsonnet source"
    )


def _check(where: str, kind: str, value: Any) -> None:
    if kind == _STR and not isinstance(value, str):
        raise SpecError(f"{where}: must be a string")
    if kind == _BOOL and not isinstance(value, bool):
        raise SpecError(f"{where}: must be true or false")
    if kind == _MAP and not (
        isinstance(value, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in value.items())
    ):
        raise SpecError(f"{where}: must be a map of strings to strings")
    if kind == _LIST and not (isinstance(value, list) and all(isinstance(v, str) and v for v in value)):
        raise SpecError(f"{where}: must be a list of strings")
    if kind == _GLOBS and not (
        isinstance(value, str) or (isinstance(value, list) and all(isinstance(v, str) for v in value))
    ):
        raise SpecError(f"{where}: must be a glob or a list of globs")
    if kind == _VALUES:
        if isinstance(value, str):
            try:
                parsed = yaml.safe_load(value)
            except yaml.YAMLError as exc:
                mark = getattr(exc, "problem_mark", None)
                at = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
                raise SpecError(f"{where}: not valid YAML{at}: {getattr(exc, 'problem', exc)}") from None
            if parsed is not None and not isinstance(parsed, dict):
                raise SpecError(f"{where}: must be a YAML map of values")
        elif not isinstance(value, dict):
            raise SpecError(f"{where}: must be a YAML string or a map")
    if kind == _PARAMS and not (
        isinstance(value, list)
        and all(
            isinstance(p, dict)
            and isinstance(p.get("name"), str)
            and p["name"]
            and isinstance(p.get("value", ""), str)
            and set(p) <= {"name", "value", "forceString"}
            for p in value
        )
    ):
        raise SpecError(f"{where}: must be a list of {{name, value, forceString}}")
    if kind == _VARS:
        for i, var in enumerate(jsonnet_vars(value, where)):
            if not _VAR.match(var["name"]):
                raise SpecError(f"{where}[{i}].name: {var['name']!r} is not a Jsonnet identifier")


def jsonnet_vars(value: Any, where: str = "jsonnet") -> list[dict[str, Any]]:
    """extVars/TLAs as [{name, value, code}], from a {name: value} map or Argo CD's list form."""
    if isinstance(value, dict):
        items = [{"name": k, "value": v, "code": False} for k, v in value.items()]
    elif isinstance(value, list):
        items = value
    else:
        raise SpecError(f"{where}: must be a map of names to values or a list of {{name, value, code}}")
    out = []
    for i, item in enumerate(items):
        if not (
            isinstance(item, dict)
            and isinstance(item.get("name"), str)
            and isinstance(item.get("value"), str)
        ):
            raise SpecError(f"{where}[{i}]: needs a name and a string value")
        out.append({"name": item["name"], "value": item["value"], "code": bool(item.get("code"))})
    return out


def helm_values(value: Any) -> dict[str, Any]:
    """Inline Helm values (a YAML string or a map) as a map."""
    if isinstance(value, str):
        return yaml.safe_load(value) or {}
    return dict(value or {})


def explicit_kind(source: dict[str, Any]) -> str | None:
    """The source kind the spec sets (kustomize, helm, directory), or None: chosen from the files."""
    for kind in ("kustomize", "helm"):
        if kind in source:
            return kind
    return "directory" if "directory" in source or "jsonnet" in source else None


def helm_set_args(parameters: list[dict[str, Any]]) -> list[str]:
    """Argo CD's helm.parameters as helm flags: --set name=value (--set-string if forceString)."""
    out = []
    for p in parameters:
        out += ["--set-string" if p.get("forceString") else "--set", f"{p['name']}={p.get('value', '')}"]
    return out
