"""`gitops cluster ...`: the local registry of destination clusters (GITOPS_CLUSTERS_FILE)."""

from __future__ import annotations

import argparse
import base64
from pathlib import Path
from typing import Any

from shared.cli import inputs, output
from shared.cli.output import CliError


def _clusters() -> tuple[Path, dict[str, Any]]:
    return inputs.local_json(
        "GITOPS_CLUSTERS_FILE", "cluster registry", "destinations come from infra/ (variable clusters)"
    )


def cluster_add(args: argparse.Namespace) -> int:
    """Register a destination: a kubeconfig context, or an API server URL + CA + token file."""
    path, data = _clusters()
    if args.context:
        entry = {"context": args.context}
    elif args.server and args.ca_file and args.token_file:
        entry = {
            "endpoint": args.server,
            "tokenFile": str(Path(args.token_file).resolve()),
            "caCertificate": base64.b64encode(Path(args.ca_file).read_bytes()).decode(),
        }
    else:
        raise CliError("cluster add needs --context, or --server with --ca-file and --token-file")
    data[args.name] = entry
    inputs.save_json(path, data)
    output.print_result(
        args,
        {"name": args.name, **{k: v for k, v in entry.items() if k != "caCertificate"}},
        lambda: [["cluster", args.name, "registered"]],
    )
    return 0


def cluster_list(args: argparse.Namespace) -> int:
    # imported here on purpose: the Kubernetes client adds ~0.3 s to the start of every command
    from shared.adapters import kube

    rows = [
        {
            "name": n,
            "server": c.get("endpoint", ""),
            "context": c.get("context", ""),
            "token": "file"
            if c.get("tokenFile")
            else "env"
            if c.get("tokenEnv")
            else "google"
            if c.get("endpoint")
            else "",
        }
        for n, c in sorted(kube.registered_clusters().items())
    ]
    output.print_result(
        args,
        rows,
        lambda: (
            [["NAME", "SERVER", "CONTEXT", "TOKEN"]]
            + [[r["name"], r["server"], r["context"], r["token"]] for r in rows]
        ),
    )
    return 0


def cluster_remove(args: argparse.Namespace) -> int:
    path, data = _clusters()
    if data.pop(args.name, None) is None:
        raise CliError(f"no cluster {args.name!r} in the local registry")
    inputs.save_json(path, data)
    output.print_result(args, {"name": args.name}, lambda: [["cluster", args.name, "removed"]])
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    cl = sub.add_parser("cluster", help="destination clusters").add_subparsers(dest="command", required=True)
    ca = cl.add_parser("add", help="register a destination cluster")
    ca.add_argument("name")
    ca.add_argument("--context", help="a kubeconfig context")
    ca.add_argument("--server", help="API server URL")
    ca.add_argument("--ca-file", help="the API server's CA certificate (PEM)")
    ca.add_argument("--token-file", help="a file holding a bearer token (never copied)")
    ca.set_defaults(func=cluster_add)
    cl.add_parser("list", help="list destination clusters").set_defaults(func=cluster_list)
    cr = cl.add_parser("remove", help="forget a destination cluster")
    cr.add_argument("name")
    cr.set_defaults(func=cluster_remove)
