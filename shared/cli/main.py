"""The operator's CLI: `gitops app|project|repo|render|webhook|sweep` (see `gitops --help`).

Targets the GCP project and emulators named by the usual environment variables
(GOOGLE_CLOUD_PROJECT, FIRESTORE_EMULATOR_HOST, PUBSUB_EMULATOR_HOST): the local
stack's env output works as is. Exit codes: 0 ok, 1 error, 2 usage.
"""

from __future__ import annotations

import argparse
import datetime as dt
import getpass
import json
import os
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from shared.adapters import bus, git, store
from shared.core import topology
from shared.core.messages import ApplyRequest, RenderRequest, SweepRequest
from shared.core.model import AppSpec, Destination, SpecError, SyncPolicy
from shared.platform import config, logs


class CliError(Exception):
    """An error for the operator: one line, with a hint where there is one."""


def _who() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def _json_default(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.isoformat()
    return str(value)


def _print(args: argparse.Namespace, data: Any, table: Callable[[], list[list[str]]]) -> None:
    if args.output == "json":
        print(json.dumps(data, default=_json_default, indent=2, sort_keys=True))
        return
    if args.output == "yaml":
        import yaml

        print(yaml.safe_dump(json.loads(json.dumps(data, default=_json_default)), sort_keys=True), end="")
        return
    rows = table()
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(_colour(c.ljust(w)) for c, w in zip(row, widths, strict=True)).rstrip())


COLOURS = {
    "Synced": 32,
    "Healthy": 32,
    "Succeeded": 32,
    "OutOfSync": 33,
    "Progressing": 33,
    "Degraded": 31,
    "Failed": 31,
    "Missing": 31,
}


def _colour(cell: str) -> str:
    """Statuses in colour, only on a terminal (and never with NO_COLOR)."""
    code = COLOURS.get(cell.strip())
    if code is None or not sys.stdout.isatty() or config.no_color():
        return cell
    return f"\033[{code}m{cell}\033[0m"


def _time(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if isinstance(value, dt.datetime) else str(value or "")


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# ---- app ----------------------------------------------------------------------------


def _manifests(path: str) -> list[dict[str, Any]]:
    import yaml

    try:
        with open(path) if path != "-" else sys.stdin as f:
            return [d for d in yaml.safe_load_all(f) if d]
    except OSError as exc:
        raise CliError(f"cannot read {path}: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise CliError(f"{path}: not valid YAML: {exc}") from exc


def _create_from_file(args: argparse.Namespace) -> int:
    from shared.core import argocd

    created, specs = [], []
    for doc in _manifests(args.file):
        try:
            spec, warnings = argocd.application(doc)
        except SpecError as exc:
            raise CliError(f"{args.file}: {exc}") from exc
        for w in warnings:
            print(f"warning: {spec.name}: {w}", file=sys.stderr)
        specs.append(spec)
        created.append({"name": spec.name, "spec": spec.to_doc(), "warnings": warnings})
    # in transactions of 100: a file of 10,000 applications is registered in minutes, not hours
    store.put_apps(specs, create=not args.upsert)
    _print(args, created, lambda: [["application", c["name"], "created"] for c in created])
    return 0


def app_create(args: argparse.Namespace) -> int:
    if args.file:
        return _create_from_file(args)
    if not args.name or not args.repo:
        raise CliError("app create needs NAME and --repo, or -f FILE (hint: gitops app create -h)")
    spec = AppSpec(
        name=args.name,
        repoURL=args.repo,
        path=args.path,
        targetRevision=args.revision,
        destination=Destination(cluster=args.dest_cluster, namespace=args.dest_namespace),
        syncPolicy=SyncPolicy(
            automated=args.sync_policy == "automated",
            prune=args.auto_prune,
            selfHeal=args.self_heal,
            allowEmpty=args.allow_empty,
            syncOptions=tuple(args.sync_option),
        ),
        project=args.project,
        revisionHistoryLimit=args.revision_history_limit,
    )
    try:
        spec.validate()
    except SpecError as exc:
        raise CliError(f"invalid application: {exc}") from exc
    store.put_app(spec, create=not args.upsert)
    _print(args, {"name": spec.name, "spec": spec.to_doc()}, lambda: [["application", spec.name, "created"]])
    return 0


def _app_row(app: store.App) -> list[str]:
    st = app.status
    sync, health = st.get("sync") or {}, st.get("health") or {}
    return [
        app.name,
        app.spec.project,
        sync.get("status", "Unknown"),
        health.get("status", ""),
        (sync.get("commit") or "")[:7],
        _time(sync.get("syncedAt")),
    ]


def app_list(args: argparse.Namespace) -> int:
    apps = store.list_apps()
    wide = args.output == "wide"
    _print(
        args,
        [{"name": a.name, "spec": a.spec.to_doc(), "status": a.status} for a in apps],
        lambda: (
            [
                ["NAME", "PROJECT", "SYNC", "HEALTH", "REVISION", "LAST-SYNC"]
                + (["REPO", "PATH", "TARGET"] if wide else [])
            ]
            + [
                _app_row(a) + ([a.spec.repoURL, a.spec.path, a.spec.targetRevision] if wide else [])
                for a in apps
            ]
        ),
    )
    return 0


def app_get(args: argparse.Namespace) -> int:
    app = store.get_app(args.name)
    spec, st = app.spec, app.status

    def table() -> list[list[str]]:
        sync, render = st.get("sync") or {}, st.get("render") or {}
        rows = [
            ["Name:", spec.name],
            ["Project:", spec.project],
            ["Repo:", spec.repoURL],
            ["Target:", spec.targetRevision],
            ["Path:", spec.path],
            ["Destination:", f"{spec.destination.cluster}/{spec.destination.namespace}"],
            [
                "Sync policy:",
                ("automated" if spec.syncPolicy.automated else "manual")
                + (" prune" if spec.syncPolicy.prune else "")
                + (" self-heal" if spec.syncPolicy.selfHeal else ""),
            ],
            [
                "Sync:",
                f"{sync.get('status', 'Unknown')} to {(sync.get('commit') or '')[:7]}"
                + (f" ({sync['message']})" if sync.get("message") else ""),
            ],
            ["Health:", (st.get("health") or {}).get("status", "")],
        ]
        if render.get("message"):
            rows.append(["Render error:", render["message"]])
        if (st.get("drift") or {}).get("summary"):
            rows.append(["Drift:", st["drift"]["summary"]])
        if st.get("pin"):
            rows.append(
                [
                    "Pinned:",
                    f"{st['pin'].get('commit', '')[:7]} by {st['pin'].get('by')}: "
                    f"{st['pin'].get('reason', '')}",
                ]
            )
        drifted = set((st.get("drift") or {}).get("ids") or [])
        count = int(st.get("historyCount", 0))
        resources = store.get_history(spec.name, count).get("resources", []) if count else []
        if resources:
            rows.append(["", ""])
            rows.append(["KIND", "NAMESPACE/NAME  LAST-SYNC  SYNC  HEALTH"])
            for r in resources:
                oid = f"{r['kind']}.{r['group']}" if r["group"] else r["kind"]
                key = f"{oid}/{r['namespace']}/{r['name']}" if r["namespace"] else f"{oid}/{r['name']}"
                sync = "OutOfSync" if key in drifted else "Synced"
                rows.append(
                    [oid, f"{r['namespace']}/{r['name']}  {r['action']}  {sync}  {r.get('health', '')}"]
                )
        return rows

    _print(args, {"name": spec.name, "spec": spec.to_doc(), "status": st}, table)
    return 0


def app_history(args: argparse.Namespace) -> int:
    entries = store.history(args.name)
    _print(
        args,
        entries,
        lambda: (
            [["ID", "DATE", "INITIATOR", "REVISION", "PHASE", "HEALTH", "SUMMARY"]]
            + [
                [
                    str(e["sequence"]),
                    _time(e.get("finishedAt")),
                    e.get("initiator", ""),
                    e.get("commit", "")[:7],
                    e.get("phase", ""),
                    (e.get("health") or {}).get("status", ""),
                    ", ".join(f"{n} {a}" for a, n in sorted((e.get("counts") or {}).items()))
                    + (f"; {e['gitMove']}" if e.get("gitMove") else ""),
                ]
                for e in entries
            ]
        ),
    )
    return 0


def _wait_for_history(name: str, after: int, timeout: float, since: dt.datetime) -> dict[str, Any]:
    deadline, seen = time.monotonic() + timeout, ""
    while time.monotonic() < deadline:
        st = store.get_app(name).status
        if int(st.get("historyCount", 0)) > after:
            return store.get_history(name, int(st["historyCount"]))
        render = st.get("render") or {}
        if render.get("errors") and render.get("at") and render["at"] > since:
            raise CliError(render.get("message") or "render failed")
        if render.get("at") and render["at"] > since and seen != render.get("revision"):
            seen = render.get("revision") or ""
            _progress(f"rendered {str(render.get('commit', ''))[:7]} as {seen}; applying")
        time.sleep(0.2)
    raise CliError(
        f"timed out after {timeout:.0f}s waiting for {name!r} to sync (hint: gitops app get {name})"
    )


def app_sync(args: argparse.Namespace) -> int:
    since = store.now()
    app = store.get_app(args.name)
    before = int(app.status.get("historyCount", 0))
    spec = app.spec
    commit, ref = args.revision, ""
    if not commit:
        try:
            refs = git.ls_remote(spec.repoURL)
        except Exception as exc:
            raise CliError(f"cannot read refs of {spec.repoURL}: {exc}") from exc
        head = spec.head(refs)
        if head is None:
            raise CliError(f"revision {spec.targetRevision!r} not found in {spec.repoURL}")
        ref, commit = head
    if args.dry_run:
        return _sync_preview(args, app, commit, ref)
    op = f"sync-{uuid.uuid4().hex[:12]}"
    bus.publish(
        topology.RENDER,
        [
            RenderRequest(
                app=spec.name,
                commit=commit,
                ref=ref,
                initiator="manual",
                operation=op,
                triggered_by=_who(),
                prune=args.prune,
            )
        ],
    )
    _progress(f"sync of {spec.name} to {commit[:7]} requested ({op})")
    return _maybe_wait(args, spec.name, before, {"operation": op, "commit": commit}, since)


def _sync_preview(args: argparse.Namespace, app: store.App, commit: str, ref: str) -> int:
    """gitops app sync --dry-run: render the commit here and ask the API server, write nothing."""
    import dataclasses

    from shared.adapters import kube
    from shared.render import sources, tree
    from shared.steps import appofapps
    from shared.sync.engine import Options, preview
    from shared.sync.prepare import prepare

    spec = app.spec
    repo = git.fetch(spec.repoURL, commit, ref or None)
    kube_version = spec.syncPolicy.option("KubeVersion") or config.kube_version()
    _, rendered = sources.render(tree.GitTree(repo, commit), sources.Request.of(spec, kube_version))
    if rendered.errors:
        raise CliError(f"render of {commit[:7]} failed: {rendered.errors[0]}")
    _, objs = appofapps.split(rendered.objects)
    cluster = kube.cluster(spec.destination.cluster)
    options = Options.of(spec)
    if args.prune:
        options = dataclasses.replace(options, prune=True)
    results = preview(
        cluster, spec, prepare(spec, objs, cluster), store.inventory(app.name, app.status), options
    )
    docs = [r.to_doc() for r in results]
    _print(
        args,
        {"commit": commit, "dryRun": True, "objects": docs},
        lambda: (
            [["KIND", "NAMESPACE", "NAME", "WOULD BE", "NOTE"]]
            + [[d["kind"], d["namespace"], d["name"], d["action"], d.get("message", "")] for d in docs]
        ),
    )
    return 0


def _maybe_wait(
    args: argparse.Namespace, name: str, before: int, data: dict[str, Any], since: dt.datetime
) -> int:
    if not args.wait:
        _print(args, data, lambda: [[f"{k}: {v}"] for k, v in data.items()])
        return 0
    entry = _wait_for_history(name, before, args.timeout, since)
    _progress(entry["summary"])
    if entry.get("phase") == "Succeeded" and getattr(args, "health", False):
        entry["health"] = _wait_healthy(name, args.timeout)
    _print(args, entry, lambda: [[entry["summary"]], [f"health: {entry['health'].get('status')}"]])
    return 0 if entry.get("phase") == "Succeeded" and entry["health"].get("status") != "Degraded" else 1


def _wait_healthy(name: str, timeout: float) -> dict[str, Any]:
    """Ask the audit function to look again every few seconds until Healthy or Degraded."""
    from shared.core.messages import AuditRequest

    deadline, last = time.monotonic() + timeout, ""
    while time.monotonic() < deadline:
        bus.publish(topology.AUDIT, [AuditRequest(app=name, operation=f"wait-{uuid.uuid4().hex[:8]}")])
        time.sleep(2)
        health = store.get_app(name).status.get("health") or {}
        if health.get("status") != last:
            last = health.get("status", "")
            _progress(f"health: {last} {health.get('message', '')}".rstrip())
        if last in ("Healthy", "Degraded"):
            return health
    raise CliError(f"timed out after {timeout:.0f}s waiting for {name!r} to be Healthy (last: {last})")


def app_rollback(args: argparse.Namespace) -> int:
    since = store.now()
    app = store.get_app(args.name)
    before = int(app.status.get("historyCount", 0))
    entry = store.get_history(args.name, args.id, results=False)
    op = f"rollback-{uuid.uuid4().hex[:12]}"
    bus.publish(
        topology.APPLY,
        [
            ApplyRequest(
                app=args.name,
                revision=entry["revision"],
                initiator="rollback",
                operation=op,
                triggered_by=_who(),
            )
        ],
    )
    _progress(f"rollback of {args.name} to history {args.id} ({entry['commit'][:7]}) requested")
    return _maybe_wait(args, args.name, before, {"operation": op, "revision": entry["revision"]}, since)


def app_delete(args: argparse.Namespace) -> int:
    """Unregister an application; with --cascade, delete what it owns in the cluster first."""
    from shared.adapters import kube
    from shared.sync.engine import delete_all

    app = store.get_app(args.name)
    results = []
    if args.cascade:
        cluster = kube.cluster(app.spec.destination.cluster)
        results = [r.to_doc() for r in delete_all(cluster, app.spec, store.inventory(app.name, app.status))]
        _progress(f"deleted {sum(r['action'] == 'pruned' for r in results)} objects of {args.name}")
    store.delete_app(args.name)
    _print(
        args,
        {"name": args.name, "cascade": args.cascade, "objects": results},
        lambda: (
            [["application", args.name, "deleted"]]
            + [[r["kind"], f"{r['namespace']}/{r['name']}", r["action"]] for r in results]
        ),
    )
    return 1 if any(r["action"] == "failed" for r in results) else 0


def project_create(args: argparse.Namespace) -> int:
    from shared.core import argocd

    names = []
    for doc in _manifests(args.file):
        try:
            name, project, warnings = argocd.project(doc)
        except SpecError as exc:
            raise CliError(f"{args.file}: {exc}") from exc
        for w in warnings:
            print(f"warning: project {name}: {w}", file=sys.stderr)
        store.put_project(name, project)
        names.append(name)
    _print(args, names, lambda: [["project", n, "created"] for n in names])
    return 0


def project_get(args: argparse.Namespace) -> int:
    project = store.get_project(args.name)
    if project is None:
        raise CliError(f"project {args.name!r} not found")
    _print(
        args,
        {"name": args.name, **project},
        lambda: [[f"{k}:", json.dumps(v, default=str)] for k, v in sorted(project.items())],
    )
    return 0


def project_list(args: argparse.Namespace) -> int:
    projects = store.list_projects()
    _print(
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


def app_unpin(args: argparse.Namespace) -> int:
    """Clear a rollback pin and sync the target's head again."""
    app = store.get_app(args.name)
    pin = app.status.get("pin")
    if not pin:
        raise CliError(f"application {args.name!r} is not pinned")
    store.update_status(args.name, {"pin": None})
    _progress(f"unpinned {args.name} (was pinned to {pin.get('commit', '')[:7]} by {pin.get('by')})")
    args.revision, args.dry_run, args.prune = "", False, False
    return app_sync(args)


def app_diff(args: argparse.Namespace) -> int:
    """Unified diff per object; exit 1 when there are differences (like kubectl diff)."""
    from shared.adapters import kube
    from shared.steps import diff

    app = store.get_app(args.name)
    if args.revisions:
        entries = [store.get_history(args.name, int(i), results=False) for i in args.revisions]
        diffs = diff.between_revisions(args.name, entries[0]["revision"], entries[1]["revision"])
    else:
        if not (app.status.get("sync") or {}).get("revision"):
            raise CliError(f"application {args.name!r} has not been synced yet")
        diffs = diff.desired_vs_live(kube.cluster(app.spec.destination.cluster), app)
    if args.output == "json":
        print(json.dumps([d.to_doc() for d in diffs], indent=2))
    else:
        for d in diffs:
            print(d.diff, end="" if d.diff.endswith("\n") else "\n")
    return 1 if diffs else 0


def sweep(args: argparse.Namespace) -> int:
    started = store.now()
    op = f"sweep-{uuid.uuid4().hex[:12]}"
    bus.publish(topology.SWEEP, [SweepRequest(apps=tuple(args.apps), operation=op)])
    _progress(f"sweep requested ({op})")
    if not args.wait:
        _print(args, {"operation": op}, lambda: [[f"operation: {op}"]])
        return 0
    names = args.apps or [a.name for a in store.list_apps()]
    deadline = time.monotonic() + args.timeout
    while time.monotonic() < deadline:
        apps = [store.get_app(n) for n in names]
        audited = [
            a
            for a in apps
            if (a.status.get("lastAuditAt") or started) > started
            or not (a.status.get("sync") or {}).get("revision")
        ]
        if len(audited) == len(apps):
            data = [
                {
                    "name": a.name,
                    "sync": (a.status.get("sync") or {}).get("status"),
                    "drift": a.status.get("drift"),
                }
                for a in apps
            ]
            rows = [["NAME", "SYNC", "DRIFT"]] + [
                [d["name"], d["sync"] or "", (d["drift"] or {}).get("summary", "none")] for d in data
            ]
            _print(args, data, lambda r=rows: r)
            return 0
        time.sleep(0.2)
    raise CliError(f"timed out after {args.timeout:.0f}s waiting for the sweep")


# ---- parser -------------------------------------------------------------------------


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="gitops", description=__doc__.splitlines()[0])
    p.add_argument("-o", "--output", choices=("table", "wide", "json", "yaml"), default="table")
    p.add_argument("--gcp-project", help="Google Cloud project (default: $GOOGLE_CLOUD_PROJECT)")
    p.add_argument("--firestore-emulator", help="host:port (default: $FIRESTORE_EMULATOR_HOST)")
    p.add_argument("--pubsub-emulator", help="host:port (default: $PUBSUB_EMULATOR_HOST)")
    sub = p.add_subparsers(dest="group", required=True)
    app = sub.add_parser("app", help="applications").add_subparsers(dest="command", required=True)

    c = app.add_parser(
        "create", help="register an application (flags, or -f with our or Argo CD's Application manifests)"
    )
    c.add_argument("name", nargs="?")
    c.add_argument("-f", "--file", help="Application manifest(s), ours or Argo CD's; - for stdin")
    c.add_argument("--repo", help="repository URL")
    c.add_argument("--path", default=".", help="folder of manifests in the repository")
    c.add_argument("--revision", default="HEAD", help="branch, tag or HEAD")
    c.add_argument("--dest-cluster", default="in-cluster")
    c.add_argument("--dest-namespace", default="default")
    c.add_argument("--sync-policy", choices=("manual", "automated"), default="manual")
    c.add_argument("--auto-prune", action="store_true")
    c.add_argument("--self-heal", action="store_true")
    c.add_argument("--allow-empty", action="store_true", help="a revision with no objects may prune all")
    c.add_argument(
        "--sync-option",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="CreateNamespace=true, Recreate=true, WaveTimeout=SECONDS (repeatable)",
    )
    c.add_argument("--project", default="default")
    c.add_argument("--upsert", action="store_true", help="update it if it exists")
    c.add_argument("--revision-history-limit", type=int, default=100)
    c.set_defaults(func=app_create)

    app.add_parser("list", help="list applications").set_defaults(func=app_list)
    g = app.add_parser("get", help="show one application")
    g.add_argument("name")
    g.set_defaults(func=app_get)
    h = app.add_parser("history", help="deployment history")
    h.add_argument("name")
    h.set_defaults(func=app_history)

    for name, func, extra in (("sync", app_sync, "--revision"), ("rollback", app_rollback, "id")):
        s = app.add_parser(name, help=f"{name} an application")
        s.add_argument("name")
        if extra == "id":
            s.add_argument("id", type=int, help="history id to roll back to")
        else:
            s.add_argument("--revision", default="", help="commit sha (default: the target's head)")
            s.add_argument("--dry-run", action="store_true", help="show what would change, write nothing")
            s.add_argument("--prune", action="store_true", help="prune this time even if the policy does not")
        s.add_argument("--wait", action="store_true", help="wait for the history entry, with progress")
        s.add_argument("--health", action="store_true", help="with --wait: until Healthy too")
        s.add_argument("--timeout", type=float, default=120)
        s.set_defaults(func=func)

    rm = app.add_parser("delete", help="unregister an application")
    rm.add_argument("name")
    rm.add_argument("--cascade", action="store_true", help="also delete what it owns in the cluster")
    rm.set_defaults(func=app_delete)

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
    from shared.cli import ops

    pset = proj.add_parser("set", help="replace a project's repositories, destinations or kind rules")
    pset.add_argument("name")
    pset.add_argument("--source-repo", action="append", default=[], help="repeatable; globs allowed")
    pset.add_argument("--destination", action="append", default=[], metavar="CLUSTER/NAMESPACE")
    pset.add_argument("--allow-cluster-kind", action="append", default=[], metavar="GROUP/KIND")
    pset.add_argument("--deny-kind", action="append", default=[], metavar="GROUP/KIND")
    pset.set_defaults(func=ops.project_set)

    u = app.add_parser("unpin", help="clear a rollback pin and sync the target's head")
    u.add_argument("name")
    u.add_argument("--wait", action="store_true")
    u.add_argument("--timeout", type=float, default=120)
    u.set_defaults(func=app_unpin)
    d = app.add_parser("diff", help="desired vs live (or two history entries); exit 1 if they differ")
    d.add_argument("name")
    d.add_argument("--revisions", nargs=2, metavar=("ID", "ID"), help="two history ids to compare")
    d.set_defaults(func=app_diff)

    ops.register(sub, app)
    from shared.cli import recovery

    recovery.register(sub)

    sw = sub.add_parser("sweep", help="run the drift sweep now")
    sw.add_argument("apps", nargs="*")
    sw.add_argument("--wait", action="store_true")
    sw.add_argument("--timeout", type=float, default=120)
    sw.set_defaults(func=sweep)
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
