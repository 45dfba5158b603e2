"""`gitops repo ...`: the local store of repository credentials (GITOPS_REPO_CREDENTIALS_FILE)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from shared.cli import inputs, output
from shared.cli.output import CliError


def _credentials() -> tuple[Path, dict[str, Any]]:
    return inputs.local_json(
        "GITOPS_REPO_CREDENTIALS_FILE",
        "credential store",
        "add a version of the secret gitops-repo-credentials instead",
    )


def repo_add(args: argparse.Namespace) -> int:
    """Register credentials for a repository URL or prefix (read from stdin, never echoed)."""
    path, data = _credentials()
    secret = sys.stdin.readline().strip() if args.password_stdin else ""
    data[args.url] = {"username": args.username, "password": secret}
    inputs.save_json(path, data)
    output.print_result(
        args,
        {"url": args.url, "username": args.username, "password": "set" if secret else ""},
        lambda: [["repository", args.url, "registered"]],
    )
    return 0


def repo_list(args: argparse.Namespace) -> int:
    _, data = _credentials()
    rows = [
        {
            "url": url,
            "username": c.get("username", ""),
            "password": "set" if c.get("password") or c.get("sshPrivateKey") else "",
        }
        for url, c in sorted(data.items())
    ]
    output.print_result(
        args,
        rows,
        lambda: [["URL", "USERNAME", "SECRET"]] + [[r["url"], r["username"], r["password"]] for r in rows],
    )
    return 0


def repo_remove(args: argparse.Namespace) -> int:
    path, data = _credentials()
    if data.pop(args.url, None) is None:
        raise CliError(f"no credentials registered for {args.url}")
    inputs.save_json(path, data)
    output.print_result(args, {"url": args.url}, lambda: [["repository", args.url, "removed"]])
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    repo = sub.add_parser("repo", help="repository credentials").add_subparsers(dest="command", required=True)
    ra = repo.add_parser("add", help="register credentials (password/token on stdin)")
    ra.add_argument("url")
    ra.add_argument("--username", default="git")
    ra.add_argument("--password-stdin", action="store_true")
    ra.set_defaults(func=repo_add)
    repo.add_parser("list", help="list registered repositories").set_defaults(func=repo_list)
    rr = repo.add_parser("remove", help="forget a repository's credentials")
    rr.add_argument("url")
    rr.set_defaults(func=repo_remove)
