"""`gitops login|logout|whoami` and `gitops policy`: the API context (like `argocd login`), and
the RBAC policy (read through the API; the first one written with --admin-bootstrap)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from shared.cli import client, output
from shared.cli.output import CliError
from shared.platform import config


def login(args: argparse.Namespace) -> int:
    api = (args.api_url or config.api_url()).rstrip("/")
    if not api:
        raise CliError("gitops login needs --api-url (or GITOPS_API_URL)")
    auth: dict[str, Any]
    if args.local_user:
        issuer = args.issuer or config.variable("GITOPS_OIDC_ISSUER")
        if not issuer:
            raise CliError(
                "--local-user needs the local issuer (--issuer, or GITOPS_OIDC_ISSUER from the stack)"
            )
        auth = {"kind": "local", "issuer": issuer.rstrip("/"), "email": args.local_user, "groups": args.group}
    else:
        auth = {"kind": "adc" if args.adc else "gcloud"}
    name = args.name or api
    data = client.load_config()
    data.setdefault("contexts", {})[name] = {"api": api, "auth": auth}
    data["current"] = name
    path = client.save_config(data)
    if not args.no_check:
        client.fetch_token(auth, api)  # fails now, not at the first command
    output.print_result(
        args,
        {"context": name, "api": api, "auth": auth["kind"], "config": str(path)},
        lambda: [[f"logged in to {api} (context {name!r}, {auth['kind']} tokens)"]],
    )
    return 0


def logout(args: argparse.Namespace) -> int:
    data = client.load_config()
    name = args.name or data.get("current") or ""
    if (data.get("contexts") or {}).pop(name, None) is None:
        raise CliError(f"no context {name!r}")
    if data.get("current") == name:
        data["current"] = ""
    client.save_config(data)
    output.print_result(args, {"context": name}, lambda: [[f"logged out of {name}"]])
    return 0


def whoami(args: argparse.Namespace) -> int:
    info = client.get("/api/v1/session/userinfo")
    output.print_result(
        args,
        info,
        lambda: [
            ["User:", info["username"]],
            ["Groups:", ", ".join(info.get("groups") or [])],
            ["Roles:", ", ".join(info.get("roles") or [])],
        ],
    )
    return 0


def print_token(args: argparse.Namespace) -> int:
    print(client.token())
    return 0


def policy_get(args: argparse.Namespace) -> int:
    answer = client.get("/api/v1/settings/rbac")
    doc = answer["policy"]
    lines = [
        f"p, {r['subject']}, {r['resource']}, {r['action']}, {r['object']}, {r['effect']}"
        for r in doc["rules"]
    ]
    lines += [f"g, {b['member']}, {b['role']}" for b in doc["bindings"]]
    output.print_result(
        args,
        answer,
        lambda: (
            [[f"# from {answer.get('origin') or {}}"], [f"# policy.default: {doc.get('default') or ''}"]]
            + [[line] for line in lines]
        ),
    )
    return 0


def policy_bootstrap(args: argparse.Namespace) -> int:
    """The first policy, written to Firestore directly (the one command that needs Firestore
    access): afterwards the policy lives in Git (the config application)."""
    if not args.admin_bootstrap:
        raise CliError("policy bootstrap writes Firestore directly: confirm with --admin-bootstrap")
    from shared.core import rbac
    from shared.steps.operations import policy

    try:
        text = Path(args.file).read_text()
        written = policy.bootstrap(text, args.default, by=output.who())
    except OSError as exc:
        raise CliError(f"cannot read {args.file}: {exc.strerror}") from exc
    except rbac.PolicyError as exc:
        raise CliError(str(exc)) from exc
    output.print_result(
        args,
        written.to_doc(),
        lambda: [[f"policy in force: {len(written.rules)} rules, {len(written.bindings)} bindings"]],
    )
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    li = sub.add_parser("login", help="log in to the API (saves a context)")
    li.add_argument("--api-url", default="", help="the API's URL (default: $GITOPS_API_URL)")
    how = li.add_mutually_exclusive_group()
    how.add_argument("--local-user", metavar="EMAIL", help="the local stack's issuer mints tokens for EMAIL")
    how.add_argument("--adc", action="store_true", help="ID tokens from application-default credentials")
    how.add_argument(
        "--gcloud",
        action="store_true",
        help="gcloud auth print-identity-token --audiences=URL: a service account (the default)",
    )
    li.add_argument("--group", action="append", default=[], help="with --local-user: a group (repeatable)")
    li.add_argument("--issuer", default="", help="with --local-user (default: $GITOPS_OIDC_ISSUER)")
    li.add_argument("--name", default="", help="the context's name (default: the URL)")
    li.add_argument("--no-check", action="store_true", help="save the context without asking for a token")
    li.set_defaults(func=login)
    lo = sub.add_parser("logout", help="forget a context (default: the current one)")
    lo.add_argument("name", nargs="?", default="")
    lo.set_defaults(func=logout)
    sub.add_parser("whoami", help="who the API takes you for, and your roles").set_defaults(func=whoami)
    sub.add_parser("token", help="print the ID token the CLI sends").set_defaults(func=print_token)
    po = sub.add_parser("policy", help="the RBAC policy").add_subparsers(dest="command", required=True)
    po.add_parser("get", help="the policy in force").set_defaults(func=policy_get)
    pb = po.add_parser("bootstrap", help="write the first policy to Firestore (--admin-bootstrap)")
    pb.add_argument("-f", "--file", required=True, help="policy.csv")
    pb.add_argument("--default", default="", help="policy.default, e.g. role:readonly")
    pb.add_argument("--admin-bootstrap", action="store_true", help="yes, write Firestore directly")
    pb.set_defaults(func=policy_bootstrap)
