"""`gitops app ...`: register, list, show, sync, roll back, diff, pin, wait for and promote applications."""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import sys
import time
from typing import Any, cast

from shared.cli import client, inputs, output, wait
from shared.cli.output import CliError
from shared.core import argocd, hooks, policy
from shared.core.model import AppSpec, Destination, Retry, SpecError, SyncPolicy
from shared.core.status import DriftState, HealthState, HealthStatus, SyncState, SyncStatus

APPS = "/api/v1/applications"
BATCH = 500  # applications per request of `app create -f` (a request stays well under 8 MiB)


def _path(name: str, *rest: str) -> str:
    return "/".join([APPS, client.quote(name), *rest])


def _create_from_file(args: argparse.Namespace) -> int:
    created: list[dict[str, Any]] = []
    docs: list[dict[str, Any]] = []
    for doc in inputs.read_manifests(args.file):
        try:
            spec, warnings = argocd.application(doc)
        except SpecError as exc:
            raise CliError(f"{args.file}: {exc}") from exc
        for w in warnings:
            print(f"warning: {spec.name}: {w}", file=sys.stderr)
        docs.append(doc)
        created.append({"name": spec.name, "spec": spec.to_doc(), "warnings": warnings})
    for i in range(0, len(docs), BATCH):
        client.post(APPS, {"items": docs[i : i + BATCH], "upsert": args.upsert})
    output.print_result(args, created, lambda: [["application", c["name"], "created"] for c in created])
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
            retry=_retry(args, None),
        ),
        project=args.project,
        revisionHistoryLimit=args.revision_history_limit,
        watchPaths=tuple(args.watch_path),
        source=inputs.source_options(args.source) if args.source else {},
        chart=args.helm_chart or "",
    )
    try:
        spec.validate()
    except SpecError as exc:
        raise CliError(f"invalid application: {exc}") from exc
    client.post(APPS, {"name": spec.name, "spec": spec.to_doc(), "upsert": args.upsert})
    output.print_result(
        args, {"name": spec.name, "spec": spec.to_doc()}, lambda: [["application", spec.name, "created"]]
    )
    return 0


def _spec(doc: dict[str, Any]) -> AppSpec:
    return AppSpec.from_doc(doc["name"], doc["spec"])


def _app_row(doc: dict[str, Any]) -> list[str]:
    st = doc.get("status") or {}
    sync, health = st.get("sync") or {}, st.get("health") or {}
    return [
        doc["name"],
        _spec(doc).project,
        sync.get("status", SyncStatus.UNKNOWN),
        health.get("status", ""),
        (sync.get("commit") or "")[:7],
        ((sync.get("target") or {}).get("commit") or "")[:7],
        output.format_time(sync.get("syncedAt")),
    ]


def app_list(args: argparse.Namespace) -> int:
    docs = client.get(APPS)["items"]
    wide = args.output == "wide"

    def extra(doc: dict[str, Any]) -> list[str]:
        spec = _spec(doc)
        return [spec.repoURL, spec.path, spec.targetRevision] if wide else []

    output.print_result(
        args,
        docs,
        lambda: (
            [
                ["NAME", "PROJECT", "SYNC", "HEALTH", "LIVE", "TARGET-COMMIT", "LAST-SYNC"]
                + (["REPO", "PATH", "TARGET"] if wide else [])
            ]
            + [_app_row(d) + extra(d) for d in docs]
        ),
    )
    return 0


def app_get(args: argparse.Namespace) -> int:
    doc = client.get(_path(args.name))
    spec, st = _spec(doc), doc.get("status") or {}

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
                + (" self-heal" if spec.syncPolicy.selfHeal else "")
                + (
                    f" retry {r.limit} ({r.duration} x{r.factor}, at most {r.maxDuration})"
                    if (r := spec.syncPolicy.retry)
                    else ""
                ),
            ],
            [
                "Sync:",
                f"{sync.get('status', SyncStatus.UNKNOWN)} to {(sync.get('commit') or '')[:7]}"
                + (f" ({sync['message']})" if sync.get("message") else ""),
            ],
            [
                "Target/live:",
                f"{((sync.get('target') or {}).get('commit') or '')[:7] or '-'} / "
                f"{(sync.get('commit') or '')[:7] or '-'}",
            ],
            ["Health:", (st.get("health") or {}).get("status", "")],
        ]
        if spec.watchPaths:
            rows.insert(5, ["Watch paths:", ", ".join(spec.watchPaths)])
        seen = policy.seen_head(cast(SyncState, sync))
        if seen:
            rows.append(["Head seen:", f"{seen[:7]}: nothing under the application's paths changed since"])
        if render.get("message"):
            rows.append(["Render error:", render["message"]])
        orphaned = st.get("orphans")
        if orphaned and orphaned.get("count"):
            rows.append(
                [
                    "Orphans:",
                    orphaned.get("warning")
                    or f"{orphaned['count']} (not owned by any application): "
                    + ", ".join((orphaned.get("objects") or [])[:5]),
                ]
            )
        retry = st.get("retry")
        if retry:
            rows.append(["Retry:", retry.get("message", "")])
        drift, pin = st.get("drift") or DriftState(), st.get("pin")
        if drift.get("summary"):
            rows.append(["Drift:", drift["summary"]])
        if pin:
            rows.append(
                [
                    "Pinned:",
                    f"{pin.get('commit', '')[:7]} by {pin.get('by')}: {pin.get('reason', '')}",
                ]
            )
        tree = client.get(_path(spec.name, "resource-tree")) if int(st.get("historyCount", 0)) else {}
        if tree.get("nodes"):
            rows.append(["", ""])
            rows.append(["KIND", "NAMESPACE/NAME  LAST-SYNC  SYNC  HEALTH"])
            for r in tree["nodes"]:
                oid = f"{r['kind']}.{r['group']}" if r["group"] else r["kind"]
                rows.append(
                    [oid, f"{r['namespace']}/{r['name']}  {r['action']}  {r['status']}  {r['health'] or '-'}"]
                )
        if tree.get("hooks"):
            rows.append(["", ""])
            rows.append(["HOOK", "NAMESPACE/NAME  PHASE  STATUS  MESSAGE"])
            for h in tree["hooks"]:
                rows.append(
                    [
                        h["kind"],
                        f"{h['namespace']}/{h['name']}  {h['phase']}  {h['status']}  {h.get('message', '')}"
                        + ("  (deleted)" if h.get("deleted") else ""),
                    ]
                )
        return rows

    output.print_result(args, {"name": spec.name, "spec": spec.to_doc(), "status": st}, table)
    return 0


def app_history(args: argparse.Namespace) -> int:
    entries = client.get(_path(args.name, "history"))["items"]
    output.print_result(
        args,
        entries,
        lambda: (
            [["ID", "DATE", "INITIATOR", "REVISION", "PHASE", "HEALTH", "SUMMARY"]]
            + [
                [
                    str(e["sequence"]),
                    output.format_time(e.get("finishedAt")),
                    e.get("initiator", ""),
                    e.get("commit", "")[:7],
                    e.get("phase", ""),
                    (e.get("health") or {}).get("status", ""),
                    ", ".join(f"{n} {a}" for a, n in sorted((e.get("counts") or {}).items()))
                    + (f"; {e['gitMove']}" if e.get("gitMove") else "")
                    + (f"; {hooks.count_line([h['status'] for h in e['hooks']])}" if e.get("hooks") else ""),
                ]
                for e in entries
            ]
        ),
    )
    return 0


def app_sync(args: argparse.Namespace) -> int:
    since = wait.now()
    body = {"revision": args.revision, "prune": args.prune, "dryRun": args.dry_run}
    answer = client.post(_path(args.name, "sync"), body)
    if args.dry_run:
        return _print_preview(args, answer)
    return _requested(
        args,
        answer,
        f"sync of {args.name} to {answer['commit'][:7]} requested ({answer['operation']})",
        since,
    )


def _requested(args: argparse.Namespace, answer: dict[str, Any], message: str, since: dt.datetime) -> int:
    output.progress(message)
    data: dict[str, Any] = {k: answer[k] for k in ("operation", "commit", "revision") if k in answer}
    if "revision" in data:
        data.pop("commit")
    return wait.print_or_wait(args, args.name, int(answer["before"]), data, since)


def _print_preview(args: argparse.Namespace, answer: dict[str, Any]) -> int:
    docs = answer["objects"]
    output.print_result(
        args,
        answer,
        lambda: (
            [["KIND", "NAMESPACE", "NAME", "WOULD BE", "NOTE"]]
            + [[d["kind"], d["namespace"], d["name"], d["action"], d.get("message", "")] for d in docs]
        ),
    )
    return 0


def app_rollback(args: argparse.Namespace) -> int:
    since = wait.now()
    answer = client.post(_path(args.name, "rollback"), {"id": args.id})
    message = f"rollback of {args.name} to history {args.id} ({answer['commit'][:7]}) requested"
    return _requested(args, answer, message, since)


def app_delete(args: argparse.Namespace) -> int:
    """Unregister an application; with --cascade, delete what it owns in the cluster first."""
    answer = client.delete(_path(args.name), cascade="true" if args.cascade else "")
    for note in answer.get("notes") or []:
        output.progress(note)
    results = answer["objects"]
    for h in answer.get("hooks") or []:
        output.progress(
            f"{h['phase']} {h['kind']}/{h['name']} {h['status']}" + (" (deleted)" if h.get("deleted") else "")
        )
    if args.cascade:
        output.progress(f"deleted {answer['deleted']} objects of {args.name}")
    if answer.get("problem"):
        raise CliError(f"application {args.name!r} is kept: {answer['problem']}")
    output.print_result(
        args,
        {"name": args.name, "cascade": args.cascade, "objects": results},
        lambda: (
            [["application", args.name, "deleted"]]
            + [[r["kind"], f"{r['namespace']}/{r['name']}", r["action"]] for r in results]
        ),
    )
    return 1 if answer["failed"] else 0


def app_unpin(args: argparse.Namespace) -> int:
    """Clear a rollback pin and sync the target's head again."""
    since = wait.now()
    answer = client.post(_path(args.name, "unpin"))
    pin = answer["unpinned"]
    output.progress(f"unpinned {args.name} (was pinned to {pin.get('commit', '')[:7]} by {pin.get('by')})")
    args.health = False
    return _requested(
        args,
        answer,
        f"sync of {args.name} to {answer['commit'][:7]} requested ({answer['operation']})",
        since,
    )


def app_diff(args: argparse.Namespace) -> int:
    """Unified diff per object; exit 1 when there are differences (like kubectl diff)."""
    revisions = ",".join(args.revisions) if args.revisions else ""
    diffs = client.get(_path(args.name, "diff"), revisions=revisions)["items"]
    if args.output == "json":
        print(json.dumps(diffs, indent=2))
    else:
        for d in diffs:
            print(d["diff"], end="" if d["diff"].endswith("\n") else "\n")
    return 1 if diffs else 0


def _retry(args: argparse.Namespace, current: Retry | None) -> Retry | None:
    """syncPolicy.retry from argocd's flags (--sync-retry-limit, --sync-retry-backoff-*),
    over the current one; a limit of 0 removes it."""
    given = {
        field: value
        for field, value in (
            ("limit", args.sync_retry_limit),
            ("duration", args.sync_retry_backoff_duration),
            ("factor", args.sync_retry_backoff_factor),
            ("maxDuration", args.sync_retry_backoff_max_duration),
        )
        if value is not None
    }
    if not given:
        return current
    retry = dataclasses.replace(current or Retry(), **given)
    return retry if retry.limit != 0 else None


def _retry_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sync-retry-limit", type=int, help="retries of a failed sync (-1: no end, 0: none)")
    parser.add_argument("--sync-retry-backoff-duration", help="first wait, e.g. 5s")
    parser.add_argument("--sync-retry-backoff-factor", type=int, help="multiplies the wait at each retry")
    parser.add_argument("--sync-retry-backoff-max-duration", help="longest wait, e.g. 3m")


def app_set(args: argparse.Namespace) -> int:
    """Change an application's target, path, sync policy or options."""
    spec = _spec(client.get(_path(args.name)))
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
    policy = dataclasses.replace(policy, retry=_retry(args, policy.retry))
    changes: dict[str, Any] = {"syncPolicy": policy}
    for flag, field in (("revision", "targetRevision"), ("path", "path")):
        if getattr(args, flag):
            changes[field] = getattr(args, flag)
    if args.source is not None:
        changes["source"] = inputs.source_options(args.source)
    if args.watch_path is not None:
        changes["watchPaths"] = tuple(p for p in args.watch_path if p)
    try:
        spec = dataclasses.replace(spec, **changes).validate()
    except SpecError as exc:
        raise CliError(f"invalid change: {exc}") from exc
    client.put(_path(spec.name), {"name": spec.name, "spec": spec.to_doc()})
    output.print_result(
        args, {"name": spec.name, "spec": spec.to_doc()}, lambda: [["application", spec.name, "updated"]]
    )
    return 0


def app_pin(args: argparse.Namespace) -> int:
    """Hold the application at its synced revision: pushes render but do not apply."""
    pin = client.post(_path(args.name, "pin"), {"reason": args.reason})
    output.print_result(args, pin, lambda: [["pinned", args.name, "to", pin["commit"][:7]]])
    return 0


def app_wait(args: argparse.Namespace) -> int:
    """Wait until the application is Synced and Healthy (or its health is Degraded)."""
    deadline, last = time.monotonic() + args.timeout, ""
    while time.monotonic() < deadline:
        st = client.get(_path(args.name)).get("status") or {}
        sync = (st.get("sync") or SyncState()).get("status", SyncStatus.UNKNOWN)
        health = (st.get("health") or HealthState()).get("status", HealthStatus.UNKNOWN)
        if f"{sync}/{health}" != last:
            last = f"{sync}/{health}"
            output.progress(f"{args.name}: {sync}, {health}")
        if sync == SyncStatus.SYNCED and (health == HealthStatus.HEALTHY or not args.health):
            output.print_result(
                args,
                {"name": args.name, "sync": sync, "health": health},
                lambda: [[args.name, sync, health]],  # noqa: B023 - printed at once
            )
            return 0
        if health == HealthStatus.DEGRADED and args.health:
            raise CliError(f"{args.name} is Degraded: {(st.get('health') or {}).get('message', '')}")
        time.sleep(0.5)
    raise CliError(f"timed out after {args.timeout:.0f}s; last seen {last or 'nothing'}")


def app_promote(args: argparse.Namespace) -> int:
    """Move DST to the exact commit SRC is synced and Healthy with (recorded in DST's history)."""
    since = wait.now()
    answer = client.post(_path(args.dst, "promote"), {"from": args.src})
    output.progress(f"promoting {args.dst} to {answer['commit'][:7]} (what {args.src} runs)")
    args.wait, args.health, args.name = True, False, args.dst
    data = {"operation": answer["operation"], "commit": answer["commit"]}
    return wait.print_or_wait(args, args.dst, int(answer["before"]), data, since)


WATCH_HELP = (
    "another path (from the repository's root) whose changes concern the application, e.g. a "
    "shared base (Argo CD's manifest-generate-paths; repeatable)"
)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    app = sub.add_parser("app", help="applications").add_subparsers(dest="command", required=True)

    c = app.add_parser(
        "create", help="register an application (flags, or -f with our or Argo CD's Application manifests)"
    )
    c.add_argument("name", nargs="?")
    c.add_argument("-f", "--file", help="Application manifest(s), ours or Argo CD's; - for stdin")
    c.add_argument("--repo", help="repository URL")
    c.add_argument("--path", default=".", help="folder of manifests in the repository")
    c.add_argument("--watch-path", action="append", default=[], metavar="PATH", help=WATCH_HELP)
    c.add_argument(
        "--revision",
        default="HEAD",
        help="branch, tag or HEAD; with --helm-chart the chart version (a range)",
    )
    c.add_argument(
        "--helm-chart", help="a chart from the Helm repository --repo (Argo CD's spec.source.chart)"
    )
    c.add_argument(
        "--source", default="", metavar="YAML", help="source options, e.g. '{helm: {values: ...}}'"
    )
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
        help=(
            "CreateNamespace=true, Recreate=true, WaveTimeout=SECONDS; Argo CD's RespectIgnoreDifferences, "
            "SkipDryRunOnMissingResource, Replace, PruneLast, FailOnSharedResource, "
            "PrunePropagationPolicy, Validate (repeatable)"
        ),
    )
    c.add_argument("--project", default="default")
    c.add_argument("--upsert", action="store_true", help="update it if it exists")
    c.add_argument("--revision-history-limit", type=int, default=100)
    _retry_flags(c)
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

    u = app.add_parser("unpin", help="clear a rollback pin and sync the target's head")
    u.add_argument("name")
    u.add_argument("--wait", action="store_true")
    u.add_argument("--timeout", type=float, default=120)
    u.set_defaults(func=app_unpin)
    d = app.add_parser("diff", help="desired vs live (or two history entries); exit 1 if they differ")
    d.add_argument("name")
    d.add_argument("--revisions", nargs=2, metavar=("ID", "ID"), help="two history ids to compare")
    d.set_defaults(func=app_diff)

    s = app.add_parser("set", help="change an application's target, path or sync policy")
    s.add_argument("name")
    s.add_argument("--revision")
    s.add_argument("--path")
    s.add_argument("--watch-path", action="append", metavar="PATH", help=WATCH_HELP + "; '' to clear")
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
    _retry_flags(s)
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
