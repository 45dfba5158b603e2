"""Disaster recovery: `gitops recover` re-syncs every application from Firestore and Git.

After the cluster lost its objects (wiped namespaces, a fresh API server): each application
that was synced is applied again at the revision Firestore says it runs (the same objects;
Secret values read back from that commit). After Firestore lost its data (re-register the
applications first, e.g. `gitops app create -f apps.yaml --upsert` from Git): applications
with no synced revision are rendered at their target's head and, when automated, applied.
"""

from __future__ import annotations

import argparse
import uuid
from typing import Any

from shared.adapters import bus, git, store
from shared.cli import output, wait
from shared.cli.output import CliError
from shared.core import topology
from shared.core.messages import ApplyRequest, RenderRequest
from shared.core.status import Initiator, Phase


def plan(apps: list[store.App], who: str) -> tuple[list[ApplyRequest], list[RenderRequest], list[list[str]]]:
    """(re-apply requests, render requests, one table row per application)."""
    applies: list[ApplyRequest] = []
    renders: list[RenderRequest] = []
    rows: list[list[str]] = []
    heads: dict[str, dict[str, str]] = {}
    for app in apps:
        sync = app.status.get("sync") or {}
        op = f"recover-{uuid.uuid4().hex[:12]}"
        revision = sync.get("revision")
        if revision and _has_revision(app.name, revision):
            applies.append(
                ApplyRequest(
                    app=app.name,
                    revision=revision,
                    initiator=Initiator.SELF_HEAL,
                    operation=op,
                    triggered_by=f"recover:{who}",
                )
            )
            rows.append([app.name, "re-apply synced revision", str(sync.get("commit", ""))[:7]])
            continue
        try:
            if app.spec.repoURL not in heads and not app.spec.chart:
                heads[app.spec.repoURL] = git.ls_remote(app.spec.repoURL)
        except git.FetchError as exc:
            rows.append([app.name, f"skipped: {exc}", ""])
            continue
        # a chart has no Git refs: the render step resolves its version
        head = ("chart", app.spec.chart_version) if app.spec.chart else app.spec.head(heads[app.spec.repoURL])
        if head is None:
            rows.append([app.name, f"skipped: {app.spec.targetRevision!r} not found", ""])
            continue
        renders.append(
            RenderRequest(
                app=app.name,
                commit=head[1],
                ref=head[0],
                initiator=Initiator.SWEEP,
                operation=op,
                triggered_by=f"recover:{who}",
            )
        )
        what = "render target head" + ("" if app.spec.syncPolicy.automated else " (manual: not applied)")
        rows.append([app.name, what, head[1][:7]])
    return applies, renders, rows


def _has_revision(app: str, revision: str) -> bool:
    try:
        store.get_revision(app, revision)
    except store.NotFound:
        return False
    return True


def recover(args: argparse.Namespace) -> int:
    apps = [a for a in store.list_apps() if not args.apps or a.name in set(args.apps)]
    missing = sorted(set(args.apps) - {a.name for a in apps})
    if missing:
        raise CliError(f"no such application: {', '.join(missing)}")
    since = store.now()
    before = {a.name: int(a.status.get("historyCount", 0)) for a in apps}
    applies, renders, rows = plan(apps, output.who())
    bus.publish(topology.APPLY, applies)
    bus.publish(topology.RENDER, renders)
    results: dict[str, Any] = {r[0]: {"action": r[1], "commit": r[2]} for r in rows}
    failed = 0
    if args.wait:
        automated = {a.name for a in apps if a.spec.syncPolicy.automated}
        waiting = [m.app for m in applies] + [m.app for m in renders if m.app in automated]
        for name in waiting:
            try:
                entry = wait.for_history(name, before[name], args.timeout, since)
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
