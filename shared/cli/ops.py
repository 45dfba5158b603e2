"""More `gitops` commands: app set/pin/wait/promote, render PATH, webhook send, repo add/list/remove.

Registered into the parser of `shared.cli`, with its output helpers (one CLI, one style).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any

from shared.adapters import bus, store
from shared.core import topology, webhook
from shared.core.messages import RenderRequest
from shared.core.model import SpecError
from shared.platform import config


def _cli() -> Any:
    from shared.cli import main

    return main


def app_set(args: argparse.Namespace) -> int:
    """Change an application's target, path, sync policy or options."""
    main = _cli()
    spec = store.get_app(args.name).spec
    policy = spec.syncPolicy
    if args.sync_policy:
        policy = dataclasses.replace(policy, automated=args.sync_policy == "automated")
    for flag, field in (("auto_prune", "prune"), ("self_heal", "selfHeal"), ("allow_empty", "allowEmpty")):
        if getattr(args, flag) is not None:
            policy = dataclasses.replace(policy, **{field: getattr(args, flag)})
    if args.sync_option:
        options = {o.partition("=")[0]: o for o in policy.syncOptions}
        options.update({o.partition("=")[0]: o for o in args.sync_option})
        policy = dataclasses.replace(policy, syncOptions=tuple(options.values()))
    changes: dict[str, Any] = {"syncPolicy": policy}
    for flag, field in (("revision", "targetRevision"), ("path", "path")):
        if getattr(args, flag):
            changes[field] = getattr(args, flag)
    if args.source is not None:
        changes["source"] = _source_options(args.source)
    try:
        spec = dataclasses.replace(spec, **changes).validate()
    except SpecError as exc:
        raise main.CliError(f"invalid change: {exc}") from exc
    store.put_app(spec)
    main._print(
        args, {"name": spec.name, "spec": spec.to_doc()}, lambda: [["application", spec.name, "updated"]]
    )
    return 0


def app_pin(args: argparse.Namespace) -> int:
    """Hold the application at its synced revision: pushes render but do not apply."""
    main = _cli()
    sync = store.get_app(args.name).status.get("sync") or {}
    if not sync.get("revision"):
        raise main.CliError(f"application {args.name!r} has not been synced yet")
    pin = {
        "revision": sync["revision"],
        "commit": sync.get("commit", ""),
        "by": main._who(),
        "reason": args.reason or "pinned by hand",
        "at": store.now(),
    }
    store.update_status(args.name, {"pin": pin})
    main._print(args, pin, lambda: [["pinned", args.name, "to", pin["commit"][:7]]])
    return 0


def app_wait(args: argparse.Namespace) -> int:
    """Wait until the application is Synced and Healthy (or its health is Degraded)."""
    main = _cli()
    deadline, last = time.monotonic() + args.timeout, ""
    while time.monotonic() < deadline:
        status = store.get_app(args.name).status
        sync = (status.get("sync") or {}).get("status", "Unknown")
        health = (status.get("health") or {}).get("status", "Unknown")
        if f"{sync}/{health}" != last:
            last = f"{sync}/{health}"
            main._progress(f"{args.name}: {sync}, {health}")
        if sync == "Synced" and (health == "Healthy" or not args.health):
            main._print(
                args,
                {"name": args.name, "sync": sync, "health": health},
                lambda s=sync, h=health: [[args.name, s, h]],
            )
            return 0
        if health == "Degraded" and args.health:
            raise main.CliError(f"{args.name} is Degraded: {(status.get('health') or {}).get('message', '')}")
        time.sleep(0.5)
    raise main.CliError(f"timed out after {args.timeout:.0f}s; last seen {last or 'nothing'}")


def app_promote(args: argparse.Namespace) -> int:
    """Move DST to the exact commit SRC is synced and Healthy with (recorded in DST's history)."""
    main = _cli()
    src = store.get_app(args.src)
    sync, health = src.status.get("sync") or {}, src.status.get("health") or {}
    if sync.get("status") != "Synced" or health.get("status") != "Healthy":
        state = f"{sync.get('status', 'Unknown')}/{health.get('status', 'Unknown')}"
        raise main.CliError(
            f"{args.src} is {state}; only a Synced and Healthy application can be "
            f"promoted from (hint: gitops app wait {args.src} --health)"
        )
    dst = store.get_app(args.dst)
    commit = sync["commit"]
    store.put_app(dataclasses.replace(dst.spec, targetRevision=commit))
    since = store.now()
    before = int(dst.status.get("historyCount", 0))
    op = f"promote-{uuid.uuid4().hex[:12]}"
    bus.publish(
        topology.RENDER,
        [
            RenderRequest(
                app=args.dst,
                commit=commit,
                ref="",
                initiator="manual",
                operation=op,
                triggered_by=f"promote from {args.src} by {main._who()}",
            )
        ],
    )
    main._progress(f"promoting {args.dst} to {commit[:7]} (what {args.src} runs)")
    args.wait, args.health = True, False
    return main._maybe_wait(args, args.dst, before, {"operation": op, "commit": commit}, since)


def _source_options(text: str) -> dict[str, Any]:
    import yaml

    from shared.core import sourceopts
    from shared.core.model import SpecError

    try:
        options = yaml.safe_load(text) or {}
        sourceopts.validate(options)
    except (yaml.YAMLError, SpecError) as exc:
        raise _cli().CliError(f"--source: {exc}") from None
    return options


def render_path(args: argparse.Namespace) -> int:
    """Render and check a local folder, like a linter: file:line:col message; exit 1 on errors.

    The folder is rendered as the render function would (Directory, Kustomize, Helm or Jsonnet,
    chosen from its files); inside a Git checkout, paths are named from the checkout's top."""
    from shared.gate import checks
    from shared.render import sources, tree

    folder = Path(args.path).resolve()
    if not folder.is_dir():
        raise _cli().CliError(f"{args.path} is not a folder")
    top = (
        Path(args.root).resolve()
        if args.root
        else next((p for p in (folder, *folder.parents) if (p / ".git").exists()), folder)
    )
    if not folder.is_relative_to(top):
        raise _cli().CliError(f"{args.path} is not inside --root {args.root}")
    options = _source_options(args.source)
    helm = options.get("helm") or {}
    request = sources.Request(
        str(folder.relative_to(top)) or ".",
        options,
        kube_version=args.kube_version or "",
        namespace=helm.get("namespace") or "default",
        release=helm.get("releaseName") or "release",
    )
    kind, out = sources.render(tree.FolderTree(top), request)
    modes = dict(c.split("=", 1) for c in args.check if "=" in c)
    findings = checks.run(out, modes, kube_version=args.kube_version) if not out.errors else []
    blocked = checks.blocking(findings)
    if args.output == "json":
        print(
            json.dumps(
                {
                    "source": kind,
                    "objects": len(out.objects),
                    "errors": [e.to_doc() for e in out.errors],
                    "findings": [f.to_doc() for f in findings],
                },
                indent=2,
            )
        )
    else:
        for err in out.errors:
            print(err)
        for f in findings:
            print(f"{f}{' [blocks]' if f.mode == 'enforce' else ''}")
        print(
            f"{kind}: {len(out.objects)} objects, {len(out.errors)} errors, {len(findings)} findings "
            f"({len(blocked)} blocking)",
            file=sys.stderr,
        )
    return 1 if out.errors or blocked else 0


def webhook_send(args: argparse.Namespace) -> int:
    """Send a correctly signed GitHub push webhook to an intake URL."""
    main = _cli()
    secret = args.secret or config.webhook_secret_text() or _read(config.webhook_secret_file())
    if not secret:
        raise main.CliError("no webhook secret: pass --secret or set GITHUB_WEBHOOK_SECRET")
    body = webhook.push_payload(args.repo, args.ref, args.before, args.sha, args.message)
    req = urllib.request.Request(
        args.url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "X-GitHub-Event": "push",
            "X-GitHub-Delivery": str(uuid.uuid4()),
            "X-Hub-Signature-256": webhook.sign(secret.encode(), body),
        },
    )
    try:
        with urllib.request.urlopen(req, timeout=15) as resp:
            status, answer = resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        status, answer = exc.code, exc.read().decode()
    except urllib.error.URLError as exc:
        raise main.CliError(f"cannot reach {args.url}: {exc.reason}") from exc
    main._print(args, {"status": status, "answer": answer}, lambda: [[str(status), answer]])
    return 0 if status < 300 else 1


def _read(path: str) -> str:
    return Path(path).read_text().strip() if path and Path(path).exists() else ""


def _local_json(variable: str, what: str, instead: str) -> tuple[Path, dict[str, Any]]:
    """A local JSON store named by an environment variable, and its content."""
    path = config.variable(variable)
    if not path:
        raise _cli().CliError(f"no local {what} ({variable}); in Google Cloud {instead}")
    p = Path(path)
    return p, (json.loads(p.read_text() or "{}") if p.exists() else {})


def _save_json(path: Path, data: dict[str, Any]) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(data, f, indent=2)


def _credentials() -> tuple[Path, dict[str, Any]]:
    return _local_json(
        "GITOPS_REPO_CREDENTIALS_FILE",
        "credential store",
        "add a version of the secret gitops-repo-credentials instead",
    )


def _clusters() -> tuple[Path, dict[str, Any]]:
    return _local_json(
        "GITOPS_CLUSTERS_FILE", "cluster registry", "destinations come from infra/ (variable clusters)"
    )


def repo_add(args: argparse.Namespace) -> int:
    """Register credentials for a repository URL or prefix (read from stdin, never echoed)."""
    path, data = _credentials()
    secret = sys.stdin.readline().strip() if args.password_stdin else ""
    data[args.url] = {"username": args.username, "password": secret}
    _save_json(path, data)
    _cli()._print(
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
    _cli()._print(
        args,
        rows,
        lambda: [["URL", "USERNAME", "SECRET"]] + [[r["url"], r["username"], r["password"]] for r in rows],
    )
    return 0


def repo_remove(args: argparse.Namespace) -> int:
    path, data = _credentials()
    if data.pop(args.url, None) is None:
        raise _cli().CliError(f"no credentials registered for {args.url}")
    _save_json(path, data)
    _cli()._print(args, {"url": args.url}, lambda: [["repository", args.url, "removed"]])
    return 0


def cluster_add(args: argparse.Namespace) -> int:
    """Register a destination: a kubeconfig context, or an API server URL + CA + token file."""
    import base64

    main = _cli()
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
        raise main.CliError("cluster add needs --context, or --server with --ca-file and --token-file")
    data[args.name] = entry
    _save_json(path, data)
    main._print(
        args,
        {"name": args.name, **{k: v for k, v in entry.items() if k != "caCertificate"}},
        lambda: [["cluster", args.name, "registered"]],
    )
    return 0


def cluster_list(args: argparse.Namespace) -> int:
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
    _cli()._print(
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
        raise _cli().CliError(f"no cluster {args.name!r} in the local registry")
    _save_json(path, data)
    _cli()._print(args, {"name": args.name}, lambda: [["cluster", args.name, "removed"]])
    return 0


def _kinds(values: list[str]) -> list[dict[str, str]]:
    out = []
    for v in values:
        group, _, kind = v.rpartition("/")
        out.append({"group": group, "kind": kind})
    return out


def project_set(args: argparse.Namespace) -> int:
    """Replace a project's source repositories, destinations or kind rules (creates it if new)."""
    project = store.get_project(args.name) or {}
    project.pop("updatedAt", None)
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
    store.put_project(args.name, project)
    _cli()._print(args, {"name": args.name, **project}, lambda: [["project", args.name, "updated"]])
    return 0


def register(sub: Any, app: Any) -> None:
    s = app.add_parser("set", help="change an application's target, path or sync policy")
    s.add_argument("name")
    s.add_argument("--revision")
    s.add_argument("--path")
    s.add_argument("--sync-policy", choices=("manual", "automated"))
    for flag in ("auto-prune", "self-heal", "allow-empty"):
        s.add_argument(f"--{flag}", action=argparse.BooleanOptionalAction, default=None)
    s.add_argument("--sync-option", action="append", default=[], metavar="NAME=VALUE")
    s.add_argument(
        "--source",
        metavar="YAML",
        help="replace the source options (spec.source), e.g. "
        "'{kustomize: {namePrefix: prod-}}'; '{}' to clear",
    )
    s.set_defaults(func=app_set)
    p = app.add_parser("pin", help="hold the application at its synced revision")
    p.add_argument("name")
    p.add_argument("--reason", default="")
    p.set_defaults(func=app_pin)
    w = app.add_parser("wait", help="wait until Synced (and, with --health, Healthy)")
    w.add_argument("name")
    w.add_argument("--health", action="store_true")
    w.add_argument("--timeout", type=float, default=300)
    w.set_defaults(func=app_wait)
    pr = app.add_parser("promote", help="move DST to the commit SRC is synced and Healthy with")
    pr.add_argument("src")
    pr.add_argument("dst")
    pr.add_argument("--timeout", type=float, default=120)
    pr.set_defaults(func=app_promote)
    r = sub.add_parser("render", help="render and check a local folder of manifests")
    r.add_argument("path")
    r.add_argument(
        "--check",
        action="append",
        default=[],
        metavar="ID=MODE",
        help="enforce, warn or off for one check (repeatable)",
    )
    r.add_argument("--kube-version", default="", help="the destination's version, e.g. 1.20")
    r.add_argument(
        "--source",
        default="",
        metavar="YAML",
        help="source options as in spec.source, e.g. '{helm: {valueFiles: [prod.yaml]}}'",
    )
    r.add_argument(
        "--root",
        help="the repository's top folder, which renderers may read (default: "
        "the Git checkout holding PATH, else PATH)",
    )
    r.set_defaults(func=render_path)
    wh = sub.add_parser("webhook", help="webhooks").add_subparsers(dest="command", required=True)
    ws = wh.add_parser("send", help="send a signed test push to an intake URL")
    ws.add_argument("url")
    ws.add_argument("--repo", required=True)
    ws.add_argument("--sha", required=True)
    ws.add_argument("--ref", default="refs/heads/main")
    ws.add_argument("--before", default=webhook.ZERO_SHA)
    ws.add_argument("--message", default="test push")
    ws.add_argument("--secret", default="")
    ws.set_defaults(func=webhook_send)
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
