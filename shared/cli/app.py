"""`gitops app ...`: register, list, show, sync, roll back, diff, pin, wait for and promote applications."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
import uuid
from typing import Any

from shared.adapters import bus, git, store
from shared.cli import inputs, output, wait
from shared.cli.output import CliError
from shared.core import argocd, hooks, policy, status, topology
from shared.core.messages import ApplyRequest, RenderRequest
from shared.core.model import AppSpec, Destination, Retry, SpecError, SyncPolicy
from shared.core.status import Action, DriftState, HealthState, HealthStatus, Initiator, SyncState, SyncStatus
from shared.render import sources, tree


def _create_from_file(args: argparse.Namespace) -> int:
    created: list[dict[str, Any]] = []
    specs: list[AppSpec] = []
    for doc in inputs.read_manifests(args.file):
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
    store.put_app(spec, create=not args.upsert)
    output.print_result(
        args, {"name": spec.name, "spec": spec.to_doc()}, lambda: [["application", spec.name, "created"]]
    )
    return 0


def _app_row(app: store.App) -> list[str]:
    st = app.status
    sync, health = st.get("sync") or {}, st.get("health") or {}
    return [
        app.name,
        app.spec.project,
        sync.get("status", SyncStatus.UNKNOWN),
        health.get("status", ""),
        (sync.get("commit") or "")[:7],
        ((sync.get("target") or {}).get("commit") or "")[:7],
        output.format_time(sync.get("syncedAt")),
    ]


def app_list(args: argparse.Namespace) -> int:
    apps = store.list_apps()
    wide = args.output == "wide"
    output.print_result(
        args,
        [{"name": a.name, "spec": a.spec.to_doc(), "status": a.status} for a in apps],
        lambda: (
            [
                ["NAME", "PROJECT", "SYNC", "HEALTH", "LIVE", "TARGET-COMMIT", "LAST-SYNC"]
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
        seen = policy.seen_head(sync)
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
        drifted = set(drift.get("ids") or [])
        count = int(st.get("historyCount", 0))
        last = store.get_history(spec.name, count) if count else {}
        resources = last.get("resources", [])
        if resources:
            rows.append(["", ""])
            rows.append(["KIND", "NAMESPACE/NAME  LAST-SYNC  SYNC  HEALTH"])
            for r in resources:
                oid = f"{r['kind']}.{r['group']}" if r["group"] else r["kind"]
                key = f"{oid}/{r['namespace']}/{r['name']}" if r["namespace"] else f"{oid}/{r['name']}"
                state = SyncStatus.OUT_OF_SYNC if key in drifted else SyncStatus.SYNCED
                rows.append(
                    [oid, f"{r['namespace']}/{r['name']}  {r['action']}  {state}  {r.get('health') or '-'}"]
                )
        if last.get("hooks"):
            rows.append(["", ""])
            rows.append(["HOOK", "NAMESPACE/NAME  PHASE  STATUS  MESSAGE"])
            for h in last["hooks"]:
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
    entries = store.history(args.name)
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
    since = store.now()
    app = store.get_app(args.name)
    before = int(app.status.get("historyCount", 0))
    spec = app.spec
    commit, ref = args.revision, ""
    if spec.chart:  # the render step resolves the version against the repository's index
        commit, ref = commit or spec.chart_version, "chart"
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
                initiator=Initiator.MANUAL,
                operation=op,
                triggered_by=output.who(),
                prune=args.prune,
            )
        ],
    )
    output.progress(f"sync of {spec.name} to {commit[:7]} requested ({op})")
    return wait.print_or_wait(args, spec.name, before, {"operation": op, "commit": commit}, since)


def _sync_preview(args: argparse.Namespace, app: store.App, commit: str, ref: str) -> int:
    """gitops app sync --dry-run: render the commit here and ask the API server, write nothing."""
    # imported here on purpose: the Kubernetes client adds ~0.3 s to the start of every command
    from shared.adapters import kube
    from shared.steps import appofapps
    from shared.steps import render as render_step
    from shared.sync.engine import Options, preview
    from shared.sync.prepare import prepare

    spec = app.spec
    kube_version = render_step.destination_version(spec)
    if spec.chart:
        commit, rendered = _render_chart_here(spec, commit, kube_version)
    else:
        repo = git.fetch(spec.repoURL, commit, ref or None)
        _, rendered = sources.render(tree.GitTree(repo, commit), sources.Request.of(spec, kube_version))
    if rendered.errors:
        raise CliError(f"render of {commit[:7] if not spec.chart else commit} failed: {rendered.errors[0]}")
    _, objs = appofapps.split(hooks.resources_of(rendered.objects))  # hooks run only in a sync
    cluster = kube.cluster(spec.destination.cluster)
    options = Options.of(spec)
    if args.prune:
        options = dataclasses.replace(options, prune=True)
    results = preview(
        cluster, spec, prepare(spec, objs, cluster), store.inventory(app.name, app.status), options
    )
    docs = [r.to_doc() for r in results]
    output.print_result(
        args,
        {"commit": commit, "dryRun": True, "objects": docs},
        lambda: (
            [["KIND", "NAMESPACE", "NAME", "WOULD BE", "NOTE"]]
            + [[d["kind"], d["namespace"], d["name"], d["action"], d.get("message", "")] for d in docs]
        ),
    )
    return 0


def _render_chart_here(spec: AppSpec, constraint: str, kube_version: str) -> tuple[str, Any]:
    """A chart application rendered here as the render step would (the range resolved, the
    archive fetched and checked, the refs' value files read at their heads): ('name@version',
    the render)."""
    from shared.adapters import charts
    from shared.steps import revision

    try:
        fetched, archive = charts.fetch(spec.repoURL, spec.chart, constraint)
        values, _ = revision.ref_values(spec, {})
    except (charts.ChartError, git.Refused, tree.Refused, LookupError) as exc:
        raise CliError(f"app sync --dry-run: {exc}") from None
    where = f"{spec.chart}-{fetched.version}"
    _, rendered = sources.render_chart(
        archive, where, sources.Request.of(spec, kube_version, path="."), values=values, chart=spec.chart
    )
    return f"{fetched.name}@{fetched.version}", rendered


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
                initiator=Initiator.ROLLBACK,
                operation=op,
                triggered_by=output.who(),
            )
        ],
    )
    output.progress(f"rollback of {args.name} to history {args.id} ({entry['commit'][:7]}) requested")
    return wait.print_or_wait(
        args, args.name, before, {"operation": op, "revision": entry["revision"]}, since
    )


def app_delete(args: argparse.Namespace) -> int:
    """Unregister an application; with --cascade, delete what it owns in the cluster first."""
    # imported here on purpose: the Kubernetes client adds ~0.3 s to the start of every command
    from shared.steps import deletion

    try:
        done = deletion.delete_application(args.name, cascade=args.cascade, on_wait=output.progress)
    except deletion.DeletionBusy as exc:
        raise output.CliError(str(exc)) from exc
    results = [r.to_doc() for r in done.objects]
    for h in done.hooks:
        output.progress(f"{h.phase} {h.kind}/{h.name} {h.status}" + (" (deleted)" if h.deleted else ""))
    if args.cascade:
        output.progress(
            f"deleted {sum(r['action'] == Action.PRUNED for r in results)} objects of {args.name}"
        )
    if done.problem:
        raise output.CliError(f"application {args.name!r} is kept: {done.problem}")
    output.print_result(
        args,
        {"name": args.name, "cascade": args.cascade, "objects": results},
        lambda: (
            [["application", args.name, "deleted"]]
            + [[r["kind"], f"{r['namespace']}/{r['name']}", r["action"]] for r in results]
        ),
    )
    return 1 if any(r["action"] == Action.FAILED for r in results) else 0


def app_unpin(args: argparse.Namespace) -> int:
    """Clear a rollback pin and sync the target's head again."""
    app = store.get_app(args.name)
    pin = app.status.get("pin")
    if not pin:
        raise CliError(f"application {args.name!r} is not pinned")
    store.set_pin(args.name, None)
    output.progress(f"unpinned {args.name} (was pinned to {pin.get('commit', '')[:7]} by {pin.get('by')})")
    args.revision, args.dry_run, args.prune = "", False, False
    return app_sync(args)


def app_diff(args: argparse.Namespace) -> int:
    """Unified diff per object; exit 1 when there are differences (like kubectl diff)."""
    # imported here on purpose: the Kubernetes client adds ~0.3 s to the start of every command
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
    store.put_app(spec)
    output.print_result(
        args, {"name": spec.name, "spec": spec.to_doc()}, lambda: [["application", spec.name, "updated"]]
    )
    return 0


def app_pin(args: argparse.Namespace) -> int:
    """Hold the application at its synced revision: pushes render but do not apply."""
    sync = store.get_app(args.name).status.get("sync") or SyncState()
    if not sync.get("revision"):
        raise CliError(f"application {args.name!r} has not been synced yet")
    pin = status.pin(
        sync["revision"],
        sync.get("commit", ""),
        by=output.who(),
        reason=args.reason or "pinned by hand",
        at=store.now(),
    )
    store.set_pin(args.name, pin)
    output.print_result(args, pin, lambda: [["pinned", args.name, "to", pin["commit"][:7]]])
    return 0


def app_wait(args: argparse.Namespace) -> int:
    """Wait until the application is Synced and Healthy (or its health is Degraded)."""
    deadline, last = time.monotonic() + args.timeout, ""
    while time.monotonic() < deadline:
        st = store.get_app(args.name).status
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
    src = store.get_app(args.src)
    sync, health = src.status.get("sync") or SyncState(), src.status.get("health") or HealthState()
    if sync.get("status") != SyncStatus.SYNCED or health.get("status") != HealthStatus.HEALTHY:
        state = f"{sync.get('status', SyncStatus.UNKNOWN)}/{health.get('status', HealthStatus.UNKNOWN)}"
        raise CliError(
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
                initiator=Initiator.MANUAL,
                operation=op,
                triggered_by=f"promote from {args.src} by {output.who()}",
            )
        ],
    )
    output.progress(f"promoting {args.dst} to {commit[:7]} (what {args.src} runs)")
    args.wait, args.health = True, False
    return wait.print_or_wait(args, args.dst, before, {"operation": op, "commit": commit}, since)


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
