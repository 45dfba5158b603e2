"""Render an application's path with the tool its files call for: Directory, Kustomize, Helm, Jsonnet.

The source is the one the spec sets (spec.source, shared/core/sourceopts.py) or is chosen from
the path's files: a kustomization file -> Kustomize, Chart.yaml -> Helm, else Directory
(whose `.jsonnet` files are evaluated). Every source ends in the same place: files of
YAML/JSON handed to render.render_files, so errors and findings read the same.

Renderers run in the OS sandbox (shared/render/sandbox.py) over the checked tree (shared/render/tree.py);
here, before anything runs, every reference a kustomization makes is read as a YAML value and
refused unless it is a plain relative path to a file or folder in the repository (URLs,
go-getter forms, absolute and outside paths, control characters), and Helm value files outside
the repository are refused. Jsonnet imports are checked by the evaluator's import callback,
inside the sandbox. The sandbox's lack of network and host files is the second wall.
"""

from __future__ import annotations

import json
import os
import posixpath
import re
import shutil
import traceback
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

import yaml

from shared.core import manifests, sourceopts
from shared.core.findings import Finding
from shared.platform import config, logs
from shared.render import helmdeps, sandbox
from shared.render.parse import (
    EXTENSIONS,
    MAX_FILE_BYTES,
    MAX_RENDER_NODES,
    Rendered,
    estimate_nodes,
    render_files,
)
from shared.render.tree import LIMITS, Budget, Limits, Refused, Tree, refused, shown

KUSTOMIZATIONS = manifests.KUSTOMIZATIONS


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
    def of(
        cls, spec: Any, kube_version: str = "", path: str | None = None, source: dict[str, Any] | None = None
    ) -> Request:
        """The request for an AppSpec (path and source options may be given, e.g. a revision's)."""
        source = spec.source if source is None else source
        helm = source.get("helm") or {}
        return cls(
            path=(spec.path if path is None else path).strip("/") or ".",
            source=source,
            release=helm.get("releaseName") or spec.name,
            namespace=helm.get("namespace") or spec.destination.namespace,
            kube_version=kube_version,
        )

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
    skipped: list[str] = field(default_factory=list)  # YAML files that hold no Kubernetes object

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
        tree.check()
        if kind == "directory":
            _directory(tree, req, limits, out)
        else:
            with sandbox.workspace() as tmp:
                root, inputs = _workspace(tree, tmp, req, limits)
                {"kustomize": _kustomize, "helm": _helm}[kind](root, inputs, req, limits, out)
    except Refused as exc:
        out.errors.append(exc.finding)
    except FileNotFoundError as exc:
        out.errors.append(Finding(req.path, 0, 0, "path", str(exc)))
    except Exception as exc:  # a hostile tree must end in a finding, never in a redelivery loop
        out.errors.append(unexpected(req.path, exc))
    return out


def unexpected(where: str, exc: Exception) -> Finding:
    """A finding for an error no rule foresaw (logged with its traceback for us to fix)."""
    logs.error(
        "unexpected error while rendering",
        where=where,
        error=type(exc).__name__,
        stack_trace="".join(traceback.format_exception(exc))[-4000:],
    )
    return Finding(
        where,
        0,
        0,
        "",
        f"rendering stopped on an unexpected {type(exc).__name__} (logged; the render is refused)",
    )


def _workspace(tree: Tree, tmp: Path, req: Request, limits: Limits) -> tuple[Path, Path]:
    """The checked tree materialised for a renderer, and a folder for our own inputs to it
    (readable by the sandbox's own uid; the temp folder above them cannot be listed)."""
    root = tree.materialise(tmp / "repo", Budget(req.path, limits))
    inputs = tmp / "in"
    inputs.mkdir(mode=0o755)
    return root, inputs


def parse(output: Output, limits: Limits = LIMITS) -> Rendered:
    """The objects of a renderer's output (with the refusals first), within the resource limit."""
    try:
        rendered = render_files(output.files)
    except Exception as exc:
        rendered = Rendered(errors=[unexpected(output.files[0][0] if output.files else "", exc)])
    rendered.errors[:0] = output.errors
    if len(rendered.objects) > limits.resources:
        where = output.files[0][0] if output.files else ""
        rendered.errors.append(
            Finding(
                where,
                0,
                0,
                "",
                f"{len(rendered.objects):,} resources: more than {limits.resources:,} (limit)",
            )
        )
    return rendered


def render(tree: Tree, req: Request, limits: Limits = LIMITS) -> tuple[str, Rendered]:
    """(source kind, rendered objects and errors) of the request's path."""
    if "plugin" in req.source:  # refused when saved; a spec stored before that lands here
        why = sourceopts.plugin_refusal(req.source["plugin"]).removeprefix("source.plugin: ")
        return "plugin", Rendered(errors=[Finding(req.path, 0, 0, "source.plugin", why)])
    try:
        kind = detect(tree, req.path, req.source)
    except FileNotFoundError as exc:
        return "directory", Rendered(errors=[Finding(req.path, 0, 0, "path", str(exc))])
    except Refused as exc:
        return "directory", Rendered(errors=[exc.finding])
    except Exception as exc:  # a hostile tree ends in a finding (the CLI's dry-run calls this too)
        return "directory", Rendered(errors=[unexpected(req.path, exc)])
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
    # Argo CD's default: the path's own files only (recurse: true for its subfolders too)
    for entry in tree.entries(req.path, recurse=opts.get("recurse", False)):
        rel = entry.path[len(base) :]
        if not entry.path.endswith((*EXTENSIONS, ".jsonnet")):
            continue
        if (include and not any(fnmatch(rel, g) for g in include)) or any(fnmatch(rel, g) for g in exclude):
            continue
        if entry.link is not None:
            out.reads.add(posixpath.dirname(tree.resolve(entry) or ""))
            entry = tree.read_link(entry)
        if entry.path.endswith(".jsonnet"):
            budget.take(0)
            jsonnet_files.append(entry.path)
            continue
        budget.take(entry.size)  # counted before it is read
        data = entry.data
        try:
            # a file past the parser's limit is not judged: parsing refuses it, naming the limit
            holds = len(data) > MAX_FILE_BYTES or manifests.holds_objects(entry.path, data.decode("utf-8"))
        except UnicodeDecodeError:
            holds = True  # not text: parsing says so, naming the byte
        if holds:
            out.files.append((entry.path, data))
        else:  # a values file, a kustomization, a tool's settings: skipped as Argo CD does
            out.skipped.append(entry.path)
    if jsonnet_files:
        out.kind = "jsonnet"
        with sandbox.workspace() as tmp:
            root, inputs = _workspace(tree, tmp, req, limits)
            _jsonnet(root, inputs, jsonnet_files, req, limits, out)


_JSONNET = r"""
import json, os, sys
job = json.load(open(sys.argv[1]))
sys.path.insert(0, job["binding"])
import _gojsonnet
root = os.path.realpath(job["root"])
refused = []  # the binding may garble long messages raised in a callback: keep ours here
imports = set()
def refuse(message):
    refused.append(message)
    raise RuntimeError("refused")
def inside(path, rel):
    real = os.path.realpath(path)
    if real != root and not real.startswith(root + os.sep):
        refuse("import of %r leaves the repository (refused)" % rel)
    return real
def load(base, rel):
    if os.path.isabs(rel):
        refuse("import of absolute path %r (refused)" % rel)
    full = os.path.join(base, rel)
    real = inside(full, rel)
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


def _jsonnet(root: Path, inputs: Path, files: list[str], req: Request, limits: Limits, out: Output) -> None:
    opts = req.source.get("jsonnet") or {}
    prog = sandbox.python_binary()
    tree_at, inputs_at = sandbox.places(root, inputs)
    binding = next(
        (
            os.path.dirname(host if sandbox.disabled() else inside)
            for host, inside in prog.needs
            if "_gojsonnet" in inside
        ),
        "",
    )
    job = {
        "root": tree_at,
        "files": files,
        "binding": binding,
        "extVars": sourceopts.jsonnet_vars(opts.get("extVars") or {}),
        "tlas": sourceopts.jsonnet_vars(opts.get("tlas") or {}),
    }
    (inputs / "job.json").write_text(json.dumps(job))
    (inputs / "jsonnet.py").write_text(_JSONNET)
    printed = sandbox.run(
        prog,
        ["-I", "-S", f"{inputs_at}/jsonnet.py", f"{inputs_at}/job.json"],
        tree=root,
        inputs=inputs,
        where=files[0],
        what="jsonnet",
        limits=limits,
    )
    if estimate_nodes(printed) > MAX_RENDER_NODES:  # checked before anything is parsed here
        raise refused(files[0], f"jsonnet: the output holds more than {MAX_RENDER_NODES:,} nodes (limit)")
    try:
        result = json.loads(printed)
    except ValueError:
        raise refused(files[0], "jsonnet: the evaluator stopped without an answer") from None
    if "error" in result:
        text = result["error"].replace("RUNTIME ERROR: ", "").replace("importer error: ", "")
        where = _JSONNET_WHERE.search(text)
        file, line, col = (
            (where["file"], int(where["line"]), int(where["col"])) if where else (result["file"], 0, 0)
        )
        out.errors.append(Finding(file, line, col, "", "jsonnet: " + shown(text.splitlines()[0].strip())))
        return
    out.reads |= {"" if d == "." else d for d in result["imports"]}
    for name, text in sorted(result["outputs"].items()):
        value = json.loads(text)
        docs = value if isinstance(value, list) else [value]
        body = "".join("---\n" + json.dumps(doc, indent=1) + "\n" for doc in docs)
        out.files.append((f"{name} (jsonnet).json", body.encode()))


# ---- Kustomize ------------------------------------------------------------------------

_PATH_LISTS = (
    "resources",
    "bases",
    "components",
    "crds",
    "generators",
    "transformers",
    "validators",
    "patchesStrategicMerge",
    "configurations",
)
_PATH_ITEMS = ("patches", "patchesJson6902", "replacements")
_HOSTLIKE = re.compile(r"^[\w-]+(\.[\w-]+)+/")  # github.com/org/repo, example.org/x
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _kustomization(folder: Path) -> Path | None:
    return next((folder / n for n in KUSTOMIZATIONS if (folder / n).is_file()), None)


def _get(node: yaml.Node, key: str) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            if isinstance(k, yaml.ScalarNode) and k.value == key:
                return v
    return None


def _items(node: yaml.Node | None) -> list[yaml.Node]:
    return list(node.value) if isinstance(node, yaml.SequenceNode) else []


def _references(doc: yaml.Node) -> Iterator[tuple[str, yaml.Node, str]]:
    """(field, its node, how to read its value) of everything a kustomization file loads."""
    for key in _PATH_LISTS:
        for i, item in enumerate(_items(_get(doc, key))):
            yield f"{key}[{i}]", item, "path"
    for key in _PATH_ITEMS:
        for i, item in enumerate(_items(_get(doc, key))):
            found = _get(item, "path")
            if found is not None:
                yield f"{key}[{i}].path", found, "path"
    for key in ("configMapGenerator", "secretGenerator"):
        for i, gen in enumerate(_items(_get(doc, key))):
            for sub in ("files", "envs"):
                for j, item in enumerate(_items(_get(gen, sub))):
                    yield f"{key}[{i}].{sub}[{j}]", item, "key=path" if sub == "files" else "path"
            found = _get(gen, "env")
            if found is not None:
                yield f"{key}[{i}].env", found, "path"
    found = _get(_get(doc, "openapi") or yaml.MappingNode("", []), "path")
    if found is not None:
        yield "openapi.path", found, "path"
    for key in ("helmCharts", "helmChartInflationGenerator", "helmGlobals"):
        found = _get(doc, key)
        if found is not None:
            yield key, found, "helm"


def check_kustomization(root: Path, folder: str) -> set[str]:
    """Refuse every reference in the kustomizations `folder` builds that is not a plain
    relative path to a file or folder in the repository; the folders the build reads."""
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
            doc = yaml.compose(file.read_bytes(), Loader=yaml.SafeLoader)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            raise Refused(
                Finding(
                    rel_file,
                    mark.line + 1 if mark else 0,
                    mark.column + 1 if mark else 0,
                    "",
                    f"YAML: {shown(str(getattr(exc, 'problem', None) or exc))}",
                )
            ) from None
        if doc is None:
            continue
        if not isinstance(doc, yaml.MappingNode):
            raise Refused(Finding(rel_file, 1, 1, "", "a kustomization must be a mapping"))
        ambiguous = _ambiguous(doc)
        if ambiguous:  # what we check must be what kustomize reads
            raise Refused(Finding(rel_file, *ambiguous))
        for where, node, how in _references(doc):
            line, col = node.start_mark.line + 1, node.start_mark.column + 1
            ref, problem = _reference(root, current, node, how)
            if problem:
                shown_ref = f"{shown(ref)!r}: " if ref else ""
                raise Refused(Finding(rel_file, line, col, where, f"{shown_ref}{problem} (refused)"))
            target = posixpath.normpath(posixpath.join(current, ref))
            if (root / target).is_dir():
                todo.append(target)
            else:
                reads.add(posixpath.dirname(target))
    return seen | reads


def _ambiguous(doc: yaml.Node) -> tuple[int, int, str, str] | None:
    """(line, column, field, why) of a merge key or a duplicate key anywhere in a
    kustomization: the check reads one value where kustomize may read another."""
    stack = [doc]
    while stack:
        node = stack.pop()
        if isinstance(node, yaml.MappingNode):
            seen: set[str] = set()
            for key, value in node.value:
                where = (key.start_mark.line + 1, key.start_mark.column + 1)
                if key.tag == "tag:yaml.org,2002:merge":
                    return (*where, "<<", "merge keys are not allowed in a kustomization (refused)")
                if isinstance(key, yaml.ScalarNode):
                    if key.value in seen:
                        return (*where, str(key.value), "duplicate key in a kustomization (refused)")
                    seen.add(key.value)
                stack.append(value)
        elif isinstance(node, yaml.SequenceNode):
            stack.extend(node.value)
    return None


def _reference(root: Path, folder: str, node: yaml.Node, how: str) -> tuple[str, str | None]:
    """(the path a reference names, why it is refused or None)."""
    if how == "helm":
        return "", "Helm charts inside kustomizations are not rendered (use a Helm source)"
    if not isinstance(node, yaml.ScalarNode) or node.tag != "tag:yaml.org,2002:str":
        return "", "must be a path (a string)"
    ref = node.value
    if how == "key=path" and "=" in ref:
        ref = ref.split("=", 1)[1]
    if _CONTROL.search(ref):
        return ref, "a control character or line break in a path"
    if ":" in ref or "?" in ref or "//" in ref or ref.startswith(("git@", "gh:")):
        return ref, "remote resources are not fetched (no network while rendering)"
    if ref.startswith("/"):
        return ref, "absolute paths are not allowed"
    resolved = posixpath.normpath(posixpath.join(folder, ref))
    if resolved == ".." or resolved.startswith("../"):
        return ref, "leaves the repository"
    real = os.path.realpath(root / resolved)
    top = os.path.realpath(root)
    if real != top and not real.startswith(top + os.sep):
        return ref, "leaves the repository"
    if not os.path.exists(real):
        if _HOSTLIKE.match(ref):
            return ref, "remote resources are not fetched (no network while rendering)"
        return ref, "not a file or folder in the repository"
    return ref, None


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


def _kustomize(root: Path, inputs: Path, req: Request, limits: Limits, out: Output) -> None:
    path = req.path.strip("/") or "."
    if _kustomization(root / path) is None:
        raise Refused(Finding(req.path, 0, 0, "", f"no {' or '.join(KUSTOMIZATIONS)} in {req.path}"))
    out.reads |= check_kustomization(root, path)
    opts = req.source.get("kustomize") or {}
    tree_at, inputs_at = sandbox.places(root, inputs)
    target = posixpath.join(tree_at, path) if path != "." else tree_at
    if opts:
        wrapper = inputs / "wrapper"
        wrapper.mkdir(mode=0o755)
        doc: dict[str, Any] = {
            "apiVersion": "kustomize.config.k8s.io/v1beta1",
            "kind": "Kustomization",
            "resources": [posixpath.relpath(target, f"{inputs_at}/wrapper")],
        }
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
        target = f"{inputs_at}/wrapper"
    found = shutil.which("kustomize")
    if found:
        prog, args = sandbox.binary(found), ["build", target]
    elif shutil.which("kubectl"):
        prog, args = sandbox.binary(shutil.which("kubectl") or ""), ["kustomize", target]
    else:
        raise Refused(
            Finding(
                req.path, 0, 0, "", "kustomize is not installed (neither kustomize nor kubectl is on PATH)"
            )
        )
    result = sandbox.run(
        prog, args, tree=root, inputs=inputs, where=req.path, what="kustomize build", limits=limits
    )
    out.files.append((f"{req.path} (kustomize build).yaml", result))


# ---- Helm -----------------------------------------------------------------------------


def helm_binary() -> str | None:
    """GITOPS_HELM, else helm on PATH, else the one stack/setup.sh installs."""
    candidates = [
        config.helm_path(),
        shutil.which("helm") or "",
        str(Path.home() / ".cache/gitops/bin/helm"),
    ]
    return next((c for c in candidates if c and os.access(c, os.X_OK)), None)


def _helm(root: Path, inputs: Path, req: Request, limits: Limits, out: Output) -> None:
    path = req.path.strip("/") or "."
    if not (root / path / "Chart.yaml").is_file():
        raise Refused(Finding(req.path, 0, 0, "", f"no Chart.yaml in {req.path}"))
    out.reads |= helmdeps.link_local(root, path, req.path)
    opts = req.source.get("helm") or {}
    tree_at, _ = sandbox.places(root, inputs)
    top = os.path.realpath(root)
    args: list[str] = []
    for i, value_file in enumerate(opts.get("valueFiles") or []):
        resolved = posixpath.normpath(posixpath.join(path, value_file))
        where = f"source.helm.valueFiles[{i}]"
        if value_file.startswith("/") or resolved == ".." or resolved.startswith("../"):
            raise Refused(Finding(req.path, 0, 0, where, f"{value_file!r} leaves the repository (refused)"))
        real = os.path.realpath(root / resolved)
        if not real.startswith(top + os.sep):
            raise Refused(Finding(req.path, 0, 0, where, f"{value_file!r} leaves the repository (refused)"))
        if not os.path.isfile(real):
            raise Refused(Finding(req.path, 0, 0, where, f"{value_file!r}: no such file in the repository"))
        args += ["--values", posixpath.join(tree_at, os.path.relpath(real, top))]
        out.reads.add(posixpath.dirname(resolved))
    chart_at = posixpath.join(tree_at, path) if path != "." else tree_at
    _helm_template(chart_at, args, root, inputs, req, limits, out, req.path)


def _chart_file(
    chart: str, path: str, field_name: str, root: Path, inputs: Path, req: Request, limits: Limits
) -> bytes:
    """One file of the chart archive in the inputs (CHART/path: helm packages a chart under its
    name), read by `tar` in the sandbox, within the render's limits."""
    parts = path.split("/")
    if not chart or path.startswith("/") or ".." in parts or "" in parts:
        raise Refused(
            Finding(req.path, 0, 0, field_name, f"{path!r} must be a path inside the chart (refused)")
        )
    _, inputs_at = sandbox.places(root, inputs)
    try:
        return sandbox.run(
            sandbox.binary("/usr/bin/tar"),
            ["-xzOf", f"{inputs_at}/chart.tgz", "--", f"{chart}/{path}"],
            tree=root,
            inputs=inputs,
            where=field_name,
            what=f"reading {path} from the chart",
            limits=limits,
        )
    except Refused as exc:
        raise Refused(
            Finding(
                req.path,
                0,
                0,
                field_name,
                f"{path!r} is not a file of the chart {chart}: {exc.finding.message}",
            )
        ) from None


def read_file(tree: Tree, path: str, where: str, limits: Limits = LIMITS) -> bytes:
    """One file of a tree (a symlink followed inside it), within the render's size limit."""
    folder = posixpath.dirname(path)
    for entry in tree.entries(folder, recurse=False):
        if entry.path == path:
            entry = tree.read_link(entry) if entry.link is not None else entry
            Budget(where, limits).take(entry.size)
            return entry.data
    raise Refused(Finding(where, 0, 0, "", f"{path!r}: no such file in the repository"))


def render_chart(
    archive: bytes,
    where: str,
    req: Request,
    limits: Limits = LIMITS,
    values: Sequence[tuple[str, bytes]] = (),
    chart: str = "",
) -> tuple[str, Rendered]:
    """A chart archive fetched from a chart repository (shared/adapters/charts.py), rendered by
    `helm template` in the sandbox, which reads it from its inputs (it is never unpacked here),
    with its value files in their order: read from Git (multi-source: `values`, by their
    $ref/path), or files of the chart itself (`values-prod.yaml`), which only `tar` in the
    sandbox reads out of the archive."""
    out = Output("helm")
    from_git = dict(values)
    try:
        with sandbox.workspace() as tmp:
            root = tmp / "repo"
            root.mkdir(mode=0o755)
            inputs = tmp / "in"
            inputs.mkdir(mode=0o755)
            (inputs / "chart.tgz").write_bytes(archive)
            _, inputs_at = sandbox.places(root, inputs)
            args = []
            for i, value_file in enumerate((req.source.get("helm") or {}).get("valueFiles") or []):
                data = from_git.get(value_file)
                if data is None:
                    data = _chart_file(
                        chart, value_file, f"source.helm.valueFiles[{i}]", root, inputs, req, limits
                    )
                (inputs / f"values-{i}.yaml").write_bytes(data)
                args += ["--values", f"{inputs_at}/values-{i}.yaml"]
            _helm_template(f"{inputs_at}/chart.tgz", args, root, inputs, req, limits, out, where)
    except Refused as exc:
        out.errors.append(exc.finding)
    except Exception as exc:  # a hostile chart must end in a finding, never in a redelivery loop
        out.errors.append(unexpected(where, exc))
    return "helm", parse(out, limits)


def _helm_template(
    chart_at: str,
    args: list[str],
    root: Path,
    inputs: Path,
    req: Request,
    limits: Limits,
    out: Output,
    where: str,
) -> None:
    """`helm template` of the chart at chart_at (as the sandbox sees it), with value files
    given in args, then inline values and parameters from the request's helm options."""
    helm = helm_binary()
    if helm is None:
        raise Refused(
            Finding(
                req.path,
                0,
                0,
                "",
                "helm is not installed: put helm on PATH or set "
                "GITOPS_HELM (stack/setup.sh installs one in "
                "~/.cache/gitops/bin/helm)",
            )
        )
    opts = req.source.get("helm") or {}
    _, inputs_at = sandbox.places(root, inputs)
    args = ["template", req.release, chart_at, "--namespace", req.namespace, "--include-crds", *args]
    if opts.get("values"):
        (inputs / "inline-values.yaml").write_text(yaml.safe_dump(sourceopts.helm_values(opts["values"])))
        args += ["--values", f"{inputs_at}/inline-values.yaml"]
    args += sourceopts.helm_set_args(opts.get("parameters") or [])
    if req.kube_version:
        args += ["--kube-version", req.kube_version]
    result = sandbox.run(
        sandbox.binary(helm),
        args,
        tree=root,
        inputs=inputs,
        where=where,
        what="helm template",
        limits=limits,
    )
    out.files.append((f"{where} (helm template).yaml", result))
