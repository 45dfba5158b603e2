"""`gitops repo ...`: the local store of repository credentials (GITOPS_REPO_CREDENTIALS_FILE)."""

from __future__ import annotations

import argparse
import sys

from shared.cli import client, output

REPOSITORIES = "/api/v1/repositories"


def repo_add(args: argparse.Namespace) -> int:
    """Register credentials for a repository URL or prefix (read from stdin, never echoed)."""
    secret = sys.stdin.readline().strip() if args.password_stdin else ""
    answer = client.post(REPOSITORIES, {"repo": args.url, "username": args.username, "password": secret})
    output.print_result(args, answer, lambda: [["repository", args.url, "registered"]])
    return 0


def repo_list(args: argparse.Namespace) -> int:
    rows = client.get(REPOSITORIES)["items"]
    output.print_result(
        args,
        rows,
        lambda: [["URL", "USERNAME", "SECRET"]] + [[r["url"], r["username"], r["password"]] for r in rows],
    )
    return 0


def repo_remove(args: argparse.Namespace) -> int:
    client.delete(f"{REPOSITORIES}/{client.quote(args.url)}")
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
