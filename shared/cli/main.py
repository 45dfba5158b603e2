"""The operator's CLI: `gitops login|app|project|repo|cluster|sweep|render|webhook` (see `gitops --help`).

Commands go through the API (functions/api) with the caller's ID token: `gitops login` saves
the API's URL and how to get a token (GITOPS_API_URL and GITOPS_TOKEN override it). Only
`render DIR` and `webhook send` stay local, and `policy bootstrap --admin-bootstrap` writes
the first RBAC policy to Firestore directly (the project and emulator named by
GOOGLE_CLOUD_PROJECT and FIRESTORE_EMULATOR_HOST). Exit codes: 0 ok, 1 error, 2 usage.

This module holds the parser and the dispatch only: each command group (app, project, render,
webhook, cluster, repo, recover, sweep) is a module with its parser and its handlers.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from shared.adapters import store
from shared.cli import app, cluster, login, project, recover, render, repo, sweep, webhook
from shared.cli.output import CliError
from shared.platform import logs

# in the order `gitops --help` lists them
GROUPS = (login, app, project, render, webhook, cluster, repo, recover, sweep)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="gitops", description=__doc__.splitlines()[0])
    p.add_argument("-o", "--output", choices=("table", "wide", "json", "yaml"), default="table")
    p.add_argument("--gcp-project", help="Google Cloud project (default: $GOOGLE_CLOUD_PROJECT)")
    p.add_argument("--firestore-emulator", help="host:port (default: $FIRESTORE_EMULATOR_HOST)")
    p.add_argument("--pubsub-emulator", help="host:port (default: $PUBSUB_EMULATOR_HOST)")
    sub = p.add_subparsers(dest="group", required=True)
    for group in GROUPS:
        group.register(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    logs.to_stderr()
    for flag, variable in (
        ("gcp_project", "GOOGLE_CLOUD_PROJECT"),
        ("firestore_emulator", "FIRESTORE_EMULATOR_HOST"),
        ("pubsub_emulator", "PUBSUB_EMULATOR_HOST"),
    ):
        if getattr(args, flag):
            os.environ[variable] = getattr(args, flag)
    try:
        return int(args.func(args))
    except (CliError, store.NotFound, FileExistsError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except RuntimeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
