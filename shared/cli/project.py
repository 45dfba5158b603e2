"""`gitops project ...`: projects (multi-tenancy): which repositories and destinations an application
may use, and which kinds."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from shared.cli import client, inputs, output
from shared.cli.output import CliError
from shared.core import argocd
from shared.core.model import SpecError

PROJECTS = "/api/v1/projects"


def project_create(args: argparse.Namespace) -> int:
    names = []
    docs = inputs.read_manifests(args.file)
    for doc in docs:
        try:
            name, _, warnings = argocd.project(doc)
        except SpecError as exc:
            raise CliError(f"{args.file}: {exc}") from exc
        for w in warnings:
            print(f"warning: project {name}: {w}", file=sys.stderr)
        names.append(name)
    client.post(PROJECTS, {"items": docs})
    output.print_result(args, names, lambda: [["project", n, "created"] for n in names])
    return 0


def project_get(args: argparse.Namespace) -> int:
    project = client.get(f"{PROJECTS}/{client.quote(args.name)}")
    project.pop("name", None)
    output.print_result(
        args,
        {"name": args.name, **project},
        lambda: [[f"{k}:", json.dumps(v, default=str)] for k, v in sorted(project.items())],
    )
    return 0


def project_list(args: argparse.Namespace) -> int:
    projects = client.get(PROJECTS)["items"]
    output.print_result(
        args,
        projects,
        lambda: (
            [["NAME", "SOURCES", "DESTINATIONS"]]
            + [
                [
                    p["name"],
                    ",".join(p.get("sourceRepos") or []),
                    ",".join(f"{d['cluster']}/{d['namespace']}" for d in p.get("destinations") or []),
                ]
                for p in projects
            ]
        ),
    )
    return 0


def _kinds(values: list[str]) -> list[dict[str, str]]:
    out = []
    for v in values:
        group, _, kind = v.rpartition("/")
        out.append({"group": group, "kind": kind})
    return out


def project_set(args: argparse.Namespace) -> int:
    """Replace a project's source repositories, destinations or kind rules (creates it if new)."""
    project: dict[str, Any] = {}
    if args.source_repo:
        project["sourceRepos"] = args.source_repo
    if args.destination:
        project["destinations"] = [
            {"cluster": d.split("/", 1)[0], "namespace": d.split("/", 1)[1]}
            for d in args.destination
            if "/" in d
        ]
    if args.allow_cluster_kind:
        project["clusterResourceWhitelist"] = _kinds(args.allow_cluster_kind)
    if args.deny_kind:
        project["namespaceResourceBlacklist"] = _kinds(args.deny_kind)
    project = client.put(f"{PROJECTS}/{client.quote(args.name)}", project)
    project.pop("name", None)
    project.pop("updatedAt", None)
    output.print_result(args, {"name": args.name, **project}, lambda: [["project", args.name, "updated"]])
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    proj = sub.add_parser("project", help="projects (multi-tenancy)").add_subparsers(
        dest="command", required=True
    )
    pc = proj.add_parser("create", help="create or update projects from AppProject manifests")
    pc.add_argument("-f", "--file", required=True)
    pc.set_defaults(func=project_create)
    proj.add_parser("list", help="list projects").set_defaults(func=project_list)
    pg = proj.add_parser("get", help="show one project")
    pg.add_argument("name")
    pg.set_defaults(func=project_get)
    pset = proj.add_parser("set", help="replace a project's repositories, destinations or kind rules")
    pset.add_argument("name")
    pset.add_argument("--source-repo", action="append", default=[], help="repeatable; globs allowed")
    pset.add_argument("--destination", action="append", default=[], metavar="CLUSTER/NAMESPACE")
    pset.add_argument("--allow-cluster-kind", action="append", default=[], metavar="GROUP/KIND")
    pset.add_argument("--deny-kind", action="append", default=[], metavar="GROUP/KIND")
    pset.set_defaults(func=project_set)
