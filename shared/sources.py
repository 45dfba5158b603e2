"""Render an application's path with the tool its files call for: Directory, Kustomize, Helm, Jsonnet.

The source is the one the spec sets (spec.source, shared/sourceopts.py) or is chosen from
the path's files: a kustomization file -> Kustomize, Chart.yaml -> Helm, else Directory
(whose `.jsonnet` files are evaluated). Every source ends in the same place: files of
YAML/JSON handed to render.render_files, so errors and findings read the same.

Renderers run in the sandbox (shared/sandbox.py: materialised repository, no network,
limits); here, before anything runs, kustomization files naming remote, absolute or outside
resources, Helm value files outside the repository and Jsonnet imports leaving it are refused.
"""

from __future__ import annotations

import json
import os
import posixpath
import re
import shutil
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

import yaml

from shared import sourceopts
from shared.render import EXTENSIONS, Finding, Rendered, render_files
from shared.sandbox import LIMITS, Budget, Entry, Limits, Refused, Tree, link_target, run

KUSTOMIZATIONS = ("kustomization.yaml", "kustomization.yml", "Kustomization")


# ---- choosing the source ---------------------------------------------------------------

@dataclass(frozen=True)
class Request:
    """What to render: the path and its source options, resolved for one application."""

    path: str
    source: dict[str, Any] = field(default_factory=dict)
    release: str = "release"  # Helm's release name (the application's name unless set)
    namespace: str = "default"  # Helm's namespace (the destination's unless set)
    kube_version: str = ""

    @classmethod
    def of(cls, spec: Any, kube_version: str = "", path: str | None = None,
           source: dict[str, Any] | None = None) -> Request:
        """The request for an AppSpec (path and source options may be given, e.g. a revision's)."""
        source = spec.source if source is None else source
        helm = source.get("helm") or {}
        return cls(path=(spec.path if path is None else path).strip("/") or ".", source=source,
                   release=helm.get("releaseName") or spec.name,
                   namespace=helm.get("namespace") or spec.destination.namespace,
                   kube_version=kube_version)

    def key(self, kind: str) -> dict[str, Any]:
        """What the output depends on besides the commit (the render-once cache's key)."""
        key: dict[str, Any] = {"path": self.path, "kind": kind, "source": self.source}
        if kind == "helm":
            key |= {"release": self.release, "namespace": self.namespace, "kubeVersion": self.kube_version}
        return key


def detect(tree: Tree, path: str, source: dict[str, Any]) -> str:
    """kustomize, helm or directory: as the spec sets, else from the files at the path's top."""
    kind = sourceopts.explicit_kind(source)
    if kind:
        return kind
    names = {posixpath.basename(e.path) for e in tree.entries(path, recurse=False)}
    if names & set(KUSTOMIZATIONS):
        return "kustomize"
    return "helm" if "Chart.yaml" in names else "directory"


@dataclass
class Output:
    """A renderer's output before parsing: (file name, YAML/JSON bytes) and refusals."""

    kind: str
    files: list[tuple[str, bytes]] = field(default_factory=list)
    errors: list[Finding] = field(default_factory=list)
    # folders outside the path the render read (a base, value files, imports): a push changing
    # them concerns the application too
    reads: set[str] = field(default_factory=set)

    def outside(self, path: str) -> list[str]:
        """The folders read that are not under path ('.' for the repository's top)."""
        top = path.strip("/")
        if top in ("", "."):
            return []
        return sorted({r or "." for r in self.reads if r != top and not r.startswith(top + "/")})


def produce(tree: Tree, req: Request, kind: str, limits: Limits = LIMITS) -> Output:
    """Run the source's renderer; problems become findings in Output.errors."""
    out = Output(kind)
    try:
        if kind == "directory":
            _directory(tree, req, limits, out)
        else:
            with tempfile.TemporaryDirectory(prefix="gitops-render-") as tmp:
                root = tree.materialise(Path(tmp) / "repo", Budget(req.path, limits))
                {"kustomize": _kustomize, "helm": _helm}[kind](root, Path(tmp), req, limits, out)
    except Refused as exc:
        out.errors.append(exc.finding)
    except FileNotFoundError as exc:
        out.errors.append(Finding(req.path, 0, 0, "path", str(exc)))
    return out


def parse(output: Output, limits: Limits = LIMITS) -> Rendered:
    """The objects of a renderer's output (with the refusals first), within the resource limit."""
    rendered = render_files(output.files)
    rendered.errors[:0] = output.errors
    if len(rendered.objects) > limits.resources:
        where = output.files[0][0] if output.files else ""
        rendered.errors.append(Finding(where, 0, 0, "", f"{len(rendered.objects):,} resources: more "
                                                        f"than {limits.resources:,} (limit)"))
    return rendered


def render(tree: Tree, req: Request, limits: Limits = LIMITS) -> tuple[str, Rendered]:
    """(source kind, rendered objects and errors) of the request's path."""
    try:
        kind = detect(tree, req.path, req.source)
    except FileNotFoundError as exc:
        return "directory", Rendered(errors=[Finding(req.path, 0, 0, "path", str(exc))])
    output = produce(tree, req, kind, limits)
    return output.kind, parse(output, limits)


# ---- Directory (and Jsonnet) ----------------------------------------------------------

def _globs(value: Any) -> list[str]:
    if not value:
        return []
    items = [value] if isinstance(value, str) else list(value)
    out: list[str] = []
    for item in items:  # Argo CD's "{a.yaml,b/*.yaml}" form
        match = re.fullmatch(r"\{(.*)\}", item.strip())
        out.extend(p.strip() for p in (match.group(1).split(",") if match else [item]))
    return out


def _directory(tree: Tree, req: Request, limits: Limits, out: Output) -> None:
    opts = req.source.get("directory") or {}
    include, exclude = _globs(opts.get("include")), _globs(opts.get("exclude"))
    base = "" if req.path in ("", ".") else req.path + "/"
    budget = Budget(req.path, limits)
    jsonnet_files: list[str] = []
    for entry in tree.entries(req.path, recurse=opts.get("recurse", True)):
        rel = entry.path[len(base):]
        if not entry.path.endswith((*EXTENSIONS, ".jsonnet")):
            continue
        if (include and not any(fnmatch(rel, g) for g in include)) or any(fnmatch(rel, g) for g in exclude):
            continue
        if entry.link is not None:
            out.reads.add(posixpath.dirname(link_target(entry)))
            entry = _read_link(tree, entry)
        if entry.path.endswith(".jsonnet"):
            budget.take(0)
            jsonnet_files.append(entry.path)
        else:
            data = entry.data
            budget.take(len(data))
            out.files.append((entry.path, data))
    if jsonnet_files:
        out.kind = "jsonnet"
        with tempfile.TemporaryDirectory(prefix="gitops-render-") as tmp:
            root = tree.materialise(Path(tmp) / "repo", Budget(req.path, limits))
            _jsonnet(root, Path(tmp), jsonnet_files, req, limits, out)


def _read_link(tree: Tree, entry: Entry) -> Entry:
    """A symlinked manifest read from its target inside the repository."""
    target = link_target(entry)
    for found in tree.entries(posixpath.dirname(target), recurse=False):
        if found.path == target and found.link is None:
            return Entry(entry.path, None, found.read)
    raise Refused(Finding(entry.path, 0, 0, "", f"symlink to {entry.link!r}: not a file in the "
                                                "repository"))


_JSONNET = r"""
import json, os, sys
import _gojsonnet
job = json.load(sys.stdin)
root = os.path.realpath(job["root"])
refused = []  # the binding may garble long messages raised in a callback: keep ours here
imports = set()
def refuse(message):
    refused.append(message)
    raise RuntimeError("refused")
def inside(path):
    real = os.path.realpath(path)
    if real != root and not real.startswith(root + os.sep):
        refuse("import of %r leaves the repository (refused)" % os.path.relpath(path, root))
    return real
def load(base, rel):
    if os.path.isabs(rel):
        refuse("import of absolute path %r (refused)" % rel)
    full = os.path.join(base, rel)
    real = inside(full)
    if not os.path.isfile(real):
        refuse("import of %r: no such file in the repository" % os.path.relpath(full, root))
    imports.add(os.path.relpath(os.path.dirname(real), root))
    with open(real, "rb") as f:
        return full, f.read()
def args(items, code):
    return {v["name"]: v["value"] for v in items if bool(v["code"]) == code}
out = {}
for name in job["files"]:
    try:
        out[name] = _gojsonnet.evaluate_file(
            os.path.join(root, name), import_callback=load, max_stack=500,
            ext_vars=args(job["extVars"], False), ext_codes=args(job["extVars"], True),
            tla_vars=args(job["tlas"], False), tla_codes=args(job["tlas"], True))
    except Exception as exc:
        text = str(exc).replace(root + os.sep, "")
        if refused:
            text = refused[0] + "\n" + text.split("\n", 1)[-1]
        json.dump({"error": text, "file": name}, sys.stdout)
        sys.exit(0)
json.dump({"outputs": out, "imports": sorted(imports)}, sys.stdout)
"""
_JSONNET_WHERE = re.compile(r"^\s*(?P<file>[^\s:]+\.(?:jsonnet|libsonnet)):(?P<line>\d+):(?P<col>\d+)", re.M)


def _jsonnet(root: Path, tmp: Path, files: list[str], req: Request, limits: Limits, out: Output) -> None:
    opts = req.source.get("jsonnet") or {}
    job = {"root": str(root), "files": files,
           "extVars": sourceopts.jsonnet_vars(opts.get("extVars") or {}),
           "tlas": sourceopts.jsonnet_vars(opts.get("tlas") or {})}
    result = json.loads(run([sys.executable, "-I", "-c", _JSONNET], tmp, root, files[0], "jsonnet",
                             limits, stdin=json.dumps(job).encode()))
    if "error" in result:
        text = result["error"].replace("RUNTIME ERROR: ", "").replace("importer error: ", "")
        where = _JSONNET_WHERE.search(text)
        file, line, col = (where["file"], int(where["line"]), int(where["col"])) if where else (
            result["file"], 0, 0)
        out.errors.append(Finding(file, line, col, "", "jsonnet: " + text.splitlines()[0].strip()))
        return
    out.reads |= {"" if d == "." else d for d in result["imports"]}
    for name, text in sorted(result["outputs"].items()):
        value = json.loads(text)
        docs = value if isinstance(value, list) else [value]
        body = "".join("---\n" + json.dumps(doc, indent=1) + "\n" for doc in docs)
        out.files.append((f"{name} (jsonnet).json", body.encode()))


# ---- Kustomize ------------------------------------------------------------------------

_PATH_LISTS = ("resources", "bases", "components", "crds", "generators", "transformers", "validators",
               "patchesStrategicMerge", "configurations")
_PATH_ITEMS = ("patches", "patchesJson6902", "replacements")
_REMOTE = re.compile(r"^([a-z][a-z0-9+.-]*://|git@|[\w.-]+\.(com|org|io|net|dev)/|github\.com|gitlab\.com)",
                     re.IGNORECASE)


def _kustomization(folder: Path) -> Path | None:
    return next((folder / n for n in KUSTOMIZATIONS if (folder / n).is_file()), None)


def _references(doc: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(field, path or URL) of everything a kustomization file loads."""
    for key in _PATH_LISTS:
        for i, item in enumerate(doc.get(key) or []):
            if isinstance(item, str) and "\n" not in item:
                yield f"{key}[{i}]", item
    for key in _PATH_ITEMS:
        for i, item in enumerate(doc.get(key) or []):
            if isinstance(item, dict) and isinstance(item.get("path"), str):
                yield f"{key}[{i}].path", item["path"]
    for key in ("configMapGenerator", "secretGenerator"):
        for i, gen in enumerate(doc.get(key) or []):
            for sub in ("files", "envs"):
                for j, item in enumerate((gen or {}).get(sub) or []):
                    yield f"{key}[{i}].{sub}[{j}]", str(item).split("=", 1)[-1]
            if isinstance((gen or {}).get("env"), str):
                yield f"{key}[{i}].env", gen["env"]
    if isinstance((doc.get("openapi") or {}).get("path"), str):
        yield "openapi.path", doc["openapi"]["path"]
    if doc.get("helmCharts"):
        yield "helmCharts", "helmCharts"


def check_kustomization(root: Path, folder: str) -> set[str]:
    """Refuse remote, absolute and outside references in the kustomizations `folder` builds;
    the folders the build reads."""
    seen: set[str] = set()
    reads: set[str] = set()
    todo = [folder]
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        file = _kustomization(root / current)
        if file is None:
            continue
        rel_file = posixpath.join(current, file.name) if current not in ("", ".") else file.name
        try:
            doc = yaml.safe_load(file.read_bytes()) or {}
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            raise Refused(Finding(rel_file, mark.line + 1 if mark else 0, mark.column + 1 if mark else 0,
                                  "", f"YAML: {getattr(exc, 'problem', None) or exc}")) from None
        if not isinstance(doc, dict):
            raise Refused(Finding(rel_file, 0, 0, "", "a kustomization must be a mapping"))
        for where, ref in _references(doc):
            problem = _reference_problem(current, ref)
            if problem:
                raise Refused(Finding(rel_file, *_position(file, ref), where,
                                      f"{ref!r}: {problem} (refused)"))
            target = posixpath.normpath(posixpath.join(current, ref))
            if (root / target).is_dir():
                todo.append(target)
            else:
                reads.add(posixpath.dirname(target))
    return seen | reads


def _reference_problem(folder: str, ref: str) -> str | None:
    if ref == "helmCharts":
        return "Helm charts inside kustomizations are not rendered (use a Helm source)"
    if _REMOTE.match(ref):
        return "remote resources are not fetched (no network while rendering)"
    if ref.startswith("/"):
        return "absolute paths are not allowed"
    resolved = posixpath.normpath(posixpath.join(folder, ref))
    if resolved == ".." or resolved.startswith("../"):
        return "leaves the repository"
    return None


def _position(file: Path, text: str) -> tuple[int, int]:
    for number, line in enumerate(file.read_text(errors="replace").splitlines(), 1):
        if text in line:
            return number, line.index(text) + 1
    return 0, 0


def _images(images: list[str]) -> list[dict[str, str]]:
    """Argo CD's [old=]new[:tag][@digest] overrides as kustomize `images` entries."""
    out = []
    for image in images:
        m = sourceopts.IMAGE.match(image)
        if m is None:
            continue
        entry = {"name": m["old"] or m["new"]}
        if m["old"]:
            entry["newName"] = m["new"]
        if m["tag"]:
            entry["newTag"] = m["tag"]
        if m["digest"]:
            entry["digest"] = m["digest"]
        out.append(entry)
    return out


def _kustomize(root: Path, tmp: Path, req: Request, limits: Limits, out: Output) -> None:
    path = req.path.strip("/") or "."
    if _kustomization(root / path) is None:
        raise Refused(Finding(req.path, 0, 0, "", f"no {' or '.join(KUSTOMIZATIONS)} in {req.path}"))
    out.reads |= check_kustomization(root, path)
    opts = req.source.get("kustomize") or {}
    target = root / path
    if opts:
        wrapper = tmp / "wrapper"
        wrapper.mkdir()
        doc: dict[str, Any] = {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
                               "resources": [os.path.relpath(target, wrapper)]}
        for key in ("namePrefix", "nameSuffix", "namespace"):
            if opts.get(key):
                doc[key] = opts[key]
        if opts.get("images"):
            doc["images"] = _images(opts["images"])
        if opts.get("commonLabels"):
            doc["labels"] = [{"pairs": opts["commonLabels"], "includeSelectors": True}]
        if opts.get("commonAnnotations"):
            doc["commonAnnotations"] = opts["commonAnnotations"]
        (wrapper / "kustomization.yaml").write_text(yaml.safe_dump(doc))
        target = wrapper
    binary = shutil.which("kustomize")
    command = [binary, "build", str(target)] if binary else ["kubectl", "kustomize", str(target)]
    if not binary and not shutil.which("kubectl"):
        raise Refused(Finding(req.path, 0, 0, "", "kustomize is not installed (neither kustomize nor "
                                                  "kubectl is on PATH)"))
    result = run(command, tmp, root, req.path, "kustomize build", limits)
    out.files.append((f"{req.path} (kustomize build).yaml", result))


# ---- Helm -----------------------------------------------------------------------------

def helm_binary() -> str | None:
    """GITOPS_HELM, else helm on PATH, else the one stack/setup.sh installs."""
    candidates = [os.environ.get("GITOPS_HELM") or "", shutil.which("helm") or "",
                  str(Path.home() / ".cache/gitops/bin/helm")]
    return next((c for c in candidates if c and os.access(c, os.X_OK)), None)


def _helm(root: Path, tmp: Path, req: Request, limits: Limits, out: Output) -> None:
    path = req.path.strip("/") or "."
    if not (root / path / "Chart.yaml").is_file():
        raise Refused(Finding(req.path, 0, 0, "", f"no Chart.yaml in {req.path}"))
    helm = helm_binary()
    if helm is None:
        raise Refused(Finding(req.path, 0, 0, "", "helm is not installed: put helm on PATH or set "
                                                  "GITOPS_HELM (stack/setup.sh installs one in "
                                                  "~/.cache/gitops/bin/helm)"))
    opts = req.source.get("helm") or {}
    command = [helm, "template", req.release, str(root / path), "--namespace", req.namespace,
               "--include-crds"]
    for i, value_file in enumerate(opts.get("valueFiles") or []):
        resolved = posixpath.normpath(posixpath.join(path, value_file))
        where = f"source.helm.valueFiles[{i}]"
        if value_file.startswith("/") or resolved == ".." or resolved.startswith("../"):
            raise Refused(Finding(req.path, 0, 0, where, f"{value_file!r} leaves the repository (refused)"))
        real = os.path.realpath(root / resolved)
        if not real.startswith(str(root.resolve()) + os.sep):
            raise Refused(Finding(req.path, 0, 0, where, f"{value_file!r} leaves the repository (refused)"))
        if not os.path.isfile(real):
            raise Refused(Finding(req.path, 0, 0, where, f"{value_file!r}: no such file in the repository"))
        command += ["--values", real]
        out.reads.add(posixpath.dirname(resolved))
    if opts.get("values"):
        inline = tmp / "inline-values.yaml"
        inline.write_text(yaml.safe_dump(sourceopts.helm_values(opts["values"])))
        command += ["--values", str(inline)]
    if req.kube_version:
        command += ["--kube-version", req.kube_version]
    result = run(command, tmp, root, req.path, "helm template", limits)
    out.files.append((f"{req.path} (helm template).yaml", result))
