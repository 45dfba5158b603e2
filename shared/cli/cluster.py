"""`gitops cluster ...`: the local registry of destination clusters (GITOPS_CLUSTERS_FILE)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from shared.cli import client, output
from shared.cli.output import CliError

CLUSTERS = "/api/v1/clusters"


def cluster_add(args: argparse.Namespace) -> int:
    """Register a destination: a kubeconfig context, or an API server URL + CA + token file
    (the token file's path is registered, never its content)."""
    if args.context:
        entry: dict[str, Any] = {"name": args.name, "context": args.context}
    elif args.server and args.ca_file and args.token_file:
        try:
            ca = Path(args.ca_file).read_text()
        except OSError as exc:
            raise CliError(f"cannot read {args.ca_file}: {exc.strerror}") from exc
        entry = {
            "name": args.name,
            "endpoint": args.server,
            "tokenFile": str(Path(args.token_file).resolve()),
            "caCertificate": ca,
        }
    else:
        raise CliError("cluster add needs --context, or --server with --ca-file and --token-file")
    answer = client.post(CLUSTERS, entry)
    output.print_result(args, answer, lambda: [["cluster", args.name, "registered"]])
    return 0


def cluster_list(args: argparse.Namespace) -> int:
    rows = client.get(CLUSTERS)["items"]
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
    client.delete(f"{CLUSTERS}/{client.quote(args.name)}")
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
