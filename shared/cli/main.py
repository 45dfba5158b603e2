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


def _global_flags(p: argparse.ArgumentParser, default: object) -> None:
    """The flags every command takes, before or after the subcommand (as argocd and kubectl
    take them): `gitops -o json app list` and `gitops app list -o json` are the same."""
    p.add_argument("-o", "--output", choices=("table", "wide", "json", "yaml"), default=default)
    p.add_argument(
        "--gcp-project",
        default=default,
        help="Google Cloud project (default: $GOOGLE_CLOUD_PROJECT)",
    )
    p.add_argument(
        "--firestore-emulator", default=default, help="host:port (default: $FIRESTORE_EMULATOR_HOST)"
    )
    p.add_argument("--pubsub-emulator", default=default, help="host:port (default: $PUBSUB_EMULATOR_HOST)")


def _subcommands(p: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    """Every parser under p, at any depth (app, app create, ...)."""
    out = []
    for action in p._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in dict.fromkeys(action.choices.values()):  # aliases share a parser
                out += [child, *_subcommands(child)]
    return out


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="gitops", description=__doc__.splitlines()[0])
    _global_flags(p, None)
    p.set_defaults(output="table")
    sub = p.add_subparsers(dest="group", required=True)
    for group in GROUPS:
        group.register(sub)
    for child in _subcommands(p):
        # SUPPRESS: a flag given before the subcommand is not reset by the subcommand's default
        _global_flags(child, argparse.SUPPRESS)
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
