"""`gitops render PATH`: render and check a local folder of manifests, like a linter."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from shared.cli import inputs
from shared.cli.output import CliError
from shared.core import argocd
from shared.core.findings import Finding
from shared.gate import checks
from shared.render import sources, tree


def render_path(args: argparse.Namespace) -> int:
    """Render and check a local folder, like a linter: file:line:col message; exit 1 on errors.

    Application manifests an app of apps could not register (or registers with fields
    ignored) are warned about. The folder is rendered as the render function would
    (Directory, Kustomize, Helm or Jsonnet, chosen from its files); inside a Git checkout,
    paths are named from the checkout's top."""
    folder = Path(args.path).resolve()
    if not folder.is_dir():
        raise CliError(f"{args.path} is not a folder")
    top = (
        Path(args.root).resolve()
        if args.root
        else next((p for p in (folder, *folder.parents) if (p / ".git").exists()), folder)
    )
    if not folder.is_relative_to(top):
        raise CliError(f"{args.path} is not inside --root {args.root}")
    options = inputs.source_options(args.source)
    if args.directory_recurse:
        options["directory"] = {**(options.get("directory") or {}), "recurse": True}
    helm = options.get("helm") or {}
    request = sources.Request(
        str(folder.relative_to(top)) or ".",
        options,
        kube_version=args.kube_version or "",
        namespace=helm.get("namespace") or "default",
        release=helm.get("releaseName") or "release",
    )
    kind, out = sources.render(tree.FolderTree(top), request)
    modes = dict(c.split("=", 1) for c in args.check if "=" in c)
    # every file that parsed is checked, whatever errors the others have: one run shows all
    findings = checks.run(out, modes, kube_version=args.kube_version)
    blocked = checks.blocking(findings)
    placed = [
        (out.sources[i] if i < len(out.sources) else None, p)
        for i, p in argocd.registration_problems(out.objects)
    ]
    children = [
        Finding(src.file if src else request.path, src.line if src else 0, 1, "", p) for src, p in placed
    ]
    if args.output == "json":
        print(
            json.dumps(
                {
                    "source": kind,
                    "objects": len(out.objects),
                    "errors": [e.to_doc() for e in out.errors],
                    "findings": [f.to_doc() for f in findings],
                    "applications": [c.to_doc() for c in children],
                },
                indent=2,
            )
        )
    else:
        for err in out.errors:
            print(err)
        for f in findings:
            print(f"{f}{' [blocks]' if f.mode == 'enforce' else ''}")
        for child in children:
            print(f"{child} [warning: app of apps]")
        print(
            f"{kind}: {len(out.objects)} objects, {len(out.errors)} errors, {len(findings)} findings "
            f"({len(blocked)} blocking)",
            file=sys.stderr,
        )
    return 1 if out.errors or blocked else 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    r = sub.add_parser("render", help="render and check a local folder of manifests")
    r.add_argument("path")
    r.add_argument(
        "--check",
        action="append",
        default=[],
        metavar="ID=MODE",
        help="enforce, warn or off for one check (repeatable)",
    )
    r.add_argument("--kube-version", default="", help="the destination's version, e.g. 1.20")
    r.add_argument(
        "--source",
        default="",
        metavar="YAML",
        help="source options as in spec.source, e.g. '{helm: {valueFiles: [prod.yaml]}}'",
    )
    r.add_argument(
        "--directory-recurse",
        action="store_true",
        help="a directory source reads subfolders too (spec.source.directory.recurse; "
        "off by default, as in Argo CD)",
    )
    r.add_argument(
        "--root",
        help="the repository's top folder, which renderers may read (default: "
        "the Git checkout holding PATH, else PATH)",
    )
    r.set_defaults(func=render_path)
