"""`gitops project ...`: projects (multi-tenancy): which repositories and destinations an application
may use, and which kinds."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import yaml

from shared.cli import client, inputs, output
from shared.cli.output import CliError
from shared.core import argocd, kuberbac, projects
from shared.core.manifests import ObjectId
from shared.core.model import IN_CLUSTER, SpecError

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
    if args.orphaned_resources is not None or args.orphaned_ignore:
        if args.orphaned_resources == "off":
            project["orphanedResources"] = None  # removed
        else:
            orphaned: dict[str, Any] = {}
            if args.orphaned_resources:
                orphaned["warn"] = args.orphaned_resources == "warn"
            if args.orphaned_ignore:
                orphaned["ignore"] = [
                    {"group": g, "kind": k, **({"name": n} if n else {})}
                    for g, k, n in (f"{i}//".split("/")[:3] for i in args.orphaned_ignore)
                ]
            project["orphanedResources"] = orphaned
    if args.health_checks is not None:
        project["healthChecks"] = inputs.health_checks(args.health_checks)
    project = client.put(f"{PROJECTS}/{client.quote(args.name)}", project)
    project.pop("name", None)
    project.pop("updatedAt", None)
    output.print_result(args, {"name": args.name, **project}, lambda: [["project", args.name, "updated"]])
    return 0


def project_rbac(args: argparse.Namespace) -> int:
    """Print (or, with --apply, server-side apply as you) the RBAC that holds the project's
    ServiceAccount, which the apply and audit functions impersonate, to its destinations and
    kinds on one cluster (shared/core/kuberbac)."""
    try:
        project = client.get(f"{PROJECTS}/{client.quote(args.name)}")
    except CliError:
        if args.name != "default":
            raise
        project = projects.ALLOW_ALL  # the default project, never defined: allows everything
    try:
        generated = kuberbac.generate(args.name, project, args.cluster)
    except kuberbac.RbacError as exc:
        raise CliError(str(exc)) from exc
    for note in generated.notes:
        print(f"note: project {args.name}: {note}", file=sys.stderr)
    if args.apply:
        # imported here on purpose: the Kubernetes client adds ~0.3 s to the start of every command
        from shared.adapters import kube

        cluster = kube.cluster(args.cluster)
        for obj in generated.objects:
            cluster.apply(obj, field_manager="gitops-rbac")
        output.print_result(
            args,
            [str(ObjectId.of(o)) for o in generated.objects],
            lambda: [["applied", str(ObjectId.of(o))] for o in generated.objects],
        )
        return 0
    print(f"# RBAC of project {args.name} on cluster {args.cluster} (gitops project rbac)")
    for note in generated.notes:
        print(f"# note: {note}")
    print(yaml.safe_dump_all(generated.objects, sort_keys=False), end="")
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
    pset.add_argument(
        "--orphaned-resources",
        choices=("list", "warn", "off"),
        help="watch objects no application owns in the destination namespaces (Argo CD's "
        "orphanedResources): list them, also warn, or stop",
    )
    pset.add_argument(
        "--orphaned-ignore",
        action="append",
        default=[],
        metavar="GROUP/KIND[/NAME]",
        help="an orphan never reported (globs; repeatable; core group: /ConfigMap/name)",
    )
    pset.add_argument(
        "--health-checks",
        metavar="YAML",
        help="custom health in CEL for the project's applications, as an application's healthChecks "
        "(an application's entry for a kind wins); '[]' to clear",
    )
    pset.set_defaults(func=project_set)
    prb = proj.add_parser(
        "rbac",
        help="the RBAC (ServiceAccount, roles, bindings) that makes the API server enforce a project",
    )
    prb.add_argument("name")
    prb.add_argument("--cluster", default=IN_CLUSTER, help="the destination cluster (default: in-cluster)")
    prb.add_argument("--apply", action="store_true", help="server-side apply it as you, instead of printing")
    prb.set_defaults(func=project_rbac)
