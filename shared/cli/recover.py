"""Disaster recovery: `gitops recover` re-syncs every application from Firestore and Git
(through the API: shared/steps/operations/recover.py).

After the cluster lost its objects (wiped namespaces, a fresh API server): each application
that was synced is applied again at the revision Firestore says it runs (the same objects;
Secret values read back from that commit). After Firestore lost its data (re-register the
applications first, e.g. `gitops app create -f apps.yaml --upsert` from Git): applications
with no synced revision are rendered at their target's head and, when automated, applied.
"""

from __future__ import annotations

import argparse
from typing import Any

from shared.cli import client, output, wait
from shared.cli.output import CliError
from shared.core.status import Phase


def recover(args: argparse.Namespace) -> int:
    since = wait.now()
    answer = client.post("/api/v1/recover", {"apps": list(args.apps)})
    results: dict[str, Any] = answer["results"]
    failed = 0
    if args.wait:
        for name in answer["waiting"]:
            try:
                entry = wait.for_history(name, answer["before"][name], args.timeout, since)
                results[name]["result"] = entry["summary"]
                failed += entry.get("phase") != Phase.SUCCEEDED
            except CliError as exc:
                results[name]["result"] = f"error: {exc}"
                failed += 1
    output.print_result(
        args,
        results,
        lambda: (
            [["NAME", "ACTION", "COMMIT"] + (["RESULT"] if args.wait else [])]
            + [
                [n, r["action"], r["commit"]] + ([r.get("result", "")] if args.wait else [])
                for n, r in results.items()
            ]
        ),
    )
    return 1 if failed else 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    r = sub.add_parser(
        "recover",
        help="re-sync every application from Firestore and Git "
        "(after the cluster or Firestore lost its data)",
    )
    r.add_argument("apps", nargs="*", help="only these applications")
    r.add_argument("--wait", action="store_true", help="wait for each application's sync")
    r.add_argument("--timeout", type=float, default=300)
    r.set_defaults(func=recover)
