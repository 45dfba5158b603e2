"""The render step: fetch one commit, render the app's path, store the revision.

Returns the apply request to publish (automated apps, or an explicit sync; none after a
render error or for a manual sync policy) and, when the render failed or the security gate
blocked it, the notification event.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from shared.adapters import charts, commit_status, git, kube, store
from shared.core import failures, kubeversion, manifests, notifications, policy, secrets
from shared.core.findings import Finding
from shared.core.messages import ApplyRequest, RenderRequest
from shared.core.model import AppSpec
from shared.core.status import RenderState, SyncState, SyncTarget
from shared.gate import checks
from shared.platform import config, logs
from shared.render import cache, sources, tree
from shared.steps import errorkinds, revision

COMMIT_MESSAGE_CHARS = 16 * 1024  # of a commit's message kept with its revision (Git has it all)


def revision_id(commit: str, digest: str) -> str:
    return f"{commit[:12]}-{digest[:8]}"


BLOCKED = "blocked by the security gate"


@dataclass(frozen=True)
class Rendered:
    """What a render asks for next: the apply to publish (automated apps, or an explicit
    sync), and the event for the notifications topic (a render that failed or was blocked)."""

    apply: ApplyRequest | None = None
    event: dict[str, Any] | None = None


def render(req: RenderRequest) -> Rendered:
    app = store.get_app(req.app)
    spec = app.spec
    if spec.chart:
        return _render_chart(req, app)
    commit_status.set_status(spec.repoURL, req.commit, "pending", f"rendering {spec.path}", spec.name)
    t0 = time.perf_counter()  # stage times for the log line (bench/e2e.py reads them)
    try:
        repo = git.fetch(spec.repoURL, req.commit, req.ref)
    except git.Refused as exc:  # too large or malformed: recorded, never retried
        return _failed(req, app, [Finding(spec.path, 0, 0, "", str(exc))])
    info = git.commit_info(repo, req.commit)
    t_fetched = time.perf_counter()
    kube_version = destination_version(spec)
    # one render per (repo, commit, path, source options) however many apps share it
    result = cache.render(
        tree.GitTree(repo, req.commit), spec.repo_key, req.commit, sources.Request.of(spec, kube_version)
    )
    origin = {
        "commit": req.commit,
        "ref": req.ref,
        "author": info.author,
        "message": info.message[:COMMIT_MESSAGE_CHARS],
        "committedAt": _when(info.committed_at),
        "path": spec.path,
    }
    return _record(
        req,
        app,
        result.rendered,
        result.kind,
        origin,
        kube_version,
        result.digest,
        result.reads,
        result.cached or "miss",
        (t0, t_fetched),
    )


def _render_chart(req: RenderRequest, app: store.App) -> Rendered:
    """A chart from a Helm repository: the constraint resolved and the archive fetched here,
    outside the sandbox (shared/adapters/charts.py); the revision records version and digest,
    and its `commit` is the archive's digest (the bytes it was rendered from)."""
    spec = app.spec
    t0 = time.perf_counter()
    try:
        fetched, archive = charts.fetch(spec.repoURL, spec.chart, spec.chart_version)
    except charts.ChartError as exc:
        return _failed(req, app, [Finding(spec.chart, 0, 0, "", str(exc))])
    try:
        values, commits = revision.ref_values(spec, {})
    except (git.Refused, tree.Refused, LookupError) as exc:
        finding = exc.finding if isinstance(exc, tree.Refused) else Finding(spec.chart, 0, 0, "", str(exc))
        return _failed(req, app, [finding])
    t_fetched = time.perf_counter()
    kube_version = destination_version(spec)
    where = f"{spec.chart}-{fetched.version}"
    kind, rendered = sources.render_chart(
        archive, where, sources.Request.of(spec, kube_version, path="."), values=values, chart=spec.chart
    )
    chart_ref = f"chart:{fetched.name}@{fetched.version}"
    origin = {
        "commit": fetched.digest,
        "ref": chart_ref,
        "author": "",
        "message": f"chart {fetched.name} {fetched.version} from {spec.repoURL}",
        "committedAt": None,
        "path": "",
        "chart": fetched.to_doc(),
        "refCommits": commits,  # {ref: commit} of the Git repositories the value files came from
    }
    chart_req = dataclasses.replace(req, commit=fetched.digest, ref=chart_ref)
    return _record(chart_req, app, rendered, kind, origin, kube_version, "", set(), "miss", (t0, t_fetched))


def _record(
    req: RenderRequest,
    app: store.App,
    rendered: Any,
    kind: str,
    origin: dict[str, Any],
    kube_version: str,
    render_digest: str,
    reads_found: Collection[str],
    cached: str,
    times: tuple[float, float],
) -> Rendered:
    """Check the rendered objects, store the revision and the status; what the render asks for next."""
    spec = app.spec
    t0, t_fetched = times
    try:  # the files that parsed are checked even when others did not: the record shows all
        findings = checks.run(
            rendered, spec.checks, spec.destination.namespace, kube_version, spec.syncPolicy.syncOptions
        )
    except Exception as exc:  # tenant content must end in a finding, never in a redelivery loop
        if rendered.errors:
            return _failed(req, app, rendered.errors)
        return _failed(req, app, [sources.unexpected(spec.path, exc)], what="could not be checked")
    blocked = [
        Finding(
            f.finding.file,
            f.finding.line,
            f.finding.column,
            f.finding.field,
            f"{f.check.id} {f.check.name}: {f.finding.message} ({f.object})",
        )
        for f in checks.blocking(findings)
    ]
    if rendered.errors:  # nothing is applied while any error remains
        return _failed(req, app, [*rendered.errors, *blocked])
    if blocked:
        return _failed(req, app, blocked, what=BLOCKED)
    if not rendered.objects and not spec.syncPolicy.allowEmpty:
        return _failed(
            req,
            app,
            [
                Finding(
                    spec.path,
                    0,
                    0,
                    "",
                    "no manifests found (an empty revision is synced only with allowEmpty)",
                )
            ],
        )
    t_rendered = time.perf_counter()
    rev = revision_id(req.commit, rendered.digest)
    stored, redacted = secrets.redact(rendered.objects)
    revision = {
        **origin,
        "source": kind,  # and how: the options and kube version it was rendered with
        "sourceOptions": spec.source,
        "kubeVersion": kube_version,
        "renderDigest": render_digest,  # renders/{digest}: the render this app shares
        "digest": rendered.digest,
        "objectCount": len(rendered.objects),
        "objects": [str(manifests.ObjectId.of(o)) for o in rendered.objects],
        "manifests": manifests.dump_stored(stored),
        "secretsInGit": redacted,  # Secret values are read back from the commit, never stored
        "findings": [f.to_doc() for f in findings[:200]],
        "renderedAt": store.now(),
    }
    try:
        store.put_revision(req.app, rev, revision)
    except Exception as exc:
        if not errorkinds.permanent(exc):
            raise
        return _failed(
            req,
            app,
            [
                Finding(
                    spec.path,
                    0,
                    0,
                    "",
                    f"the rendered revision could not be stored: {failures.describe(exc)}",
                )
            ],
        )
    reads = sorted(reads_found)
    if not spec.chart and reads != (app.status.get("render") or {}).get("reads", []):
        # pushes changing a base, value files or imports outside the path concern it (and
        # no longer, once a render stops reading them); unchanged, the routing is not read
        store.set_reads(spec, reads)
    pinned = policy.held_by_pin(app.status, req.initiator)
    apply_now = policy.apply_now(spec.syncPolicy, app.status, req.initiator)
    update = dataclasses.replace(
        policy.after_render(
            applies=apply_now,
            synced=app.status.get("sync") or SyncState(),
            target=SyncTarget(commit=req.commit, revision=rev),
            ref=req.ref,
        ),
        render=RenderState(
            commit=req.commit,
            revision=rev,
            at=store.now(),
            reads=reads,
            errors=[],
            warnings=len(findings),
            findings=[str(f) for f in findings[:20]],
            **({"refCommits": origin["refCommits"]} if origin.get("refCommits") else {}),
        ),
    )
    pin = app.status.get("pin")
    if pinned and pin:
        logs.info("pinned: rendered, not applied", app=req.app, commit=req.commit, pin=pin.get("commit"))
    store.update_status(req.app, update)
    logs.info(
        "rendered",
        app=req.app,
        commit=req.commit,
        revision=rev,
        objects=len(rendered.objects),
        apply=apply_now,
        source=kind,
        render_cache=cached,
        fetch_ms=round((t_fetched - t0) * 1000, 1),
        render_ms=round((t_rendered - t_fetched) * 1000, 1),
        store_ms=round((time.perf_counter() - t_rendered) * 1000, 1),
    )
    if not apply_now:
        return Rendered()
    return Rendered(
        ApplyRequest(
            app=req.app,
            revision=rev,
            initiator=req.initiator,
            operation=req.operation,
            triggered_by=req.triggered_by,
            prune=req.prune,
            before=req.before,
        )
    )


def _when(seconds: int) -> dt.datetime | None:
    """A commit's time as a datetime; None for one no calendar holds (a crafted commit can
    say year 11476, which must not stop the render)."""
    try:
        return dt.datetime.fromtimestamp(seconds, dt.UTC)
    except (ValueError, OverflowError, OSError):
        return None


def destination_version(spec: AppSpec) -> str:
    """The Kubernetes version the render and the gate judge against (shared/core/kubeversion):
    the KubeVersion sync option, else GITOPS_KUBE_VERSION, else the destination's own
    `/version` (cached per cluster). A cluster that cannot answer leaves it unknown: the render
    goes on, the API checks stay silent and the newest bundled schema is used, as logged."""
    option, override = spec.syncPolicy.option("KubeVersion") or "", config.kube_version()
    live = None
    if kubeversion.needs_live(option, override):
        try:
            live = kube.cluster(spec.destination.cluster).server_version()
        except kube.KubeError as exc:
            logs.warning(
                "the destination's Kubernetes version is unknown: API checks skipped",
                app=spec.name,
                cluster=spec.destination.cluster,
                reason=str(exc)[:300],
            )
    chosen = kubeversion.choose(option, override, live)
    logs.debug("kube version", app=spec.name, version=chosen.version, source=chosen.source.value)
    return chosen.version


def _failed(req: RenderRequest, app: store.App, errors: list[Finding], what: str = "failed") -> Rendered:
    """Record the render errors on the app; the cluster keeps running the last good revision.
    The failed commit is the target still (never Synced while it is not applied), and the
    failure is a notification event (`blocked` when the security gate refused it)."""
    spec = app.spec
    message = f"render of {req.commit[:7]} {what}: {errors[0]}" + (
        f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    )
    update = policy.after_render(
        applies=False,
        synced=app.status.get("sync") or SyncState(),
        target=SyncTarget(commit=req.commit, revision=None),
        ref=req.ref,
    )
    at = store.now()
    store.update_status(
        req.app,
        dataclasses.replace(
            update,
            render=RenderState(
                commit=req.commit,
                revision=None,
                at=at,
                # what the last good render read still concerns the app (the sweep's tree diff)
                reads=(app.status.get("render") or {}).get("reads") or [],
                errors=[e.to_doc() for e in errors[:50]],
                message=message,
            ),
        ),
    )
    if not spec.chart:
        commit_status.set_status(spec.repoURL, req.commit, "failure", message, spec.name)
    logs.error("render failed", app=req.app, commit=req.commit, errors=[str(e) for e in errors[:20]])
    event = notifications.render_event(
        spec.name,
        spec.project,
        blocked=what == BLOCKED,
        commit=req.commit,
        initiator=req.initiator,
        triggered_by=req.triggered_by,
        summary=message,
        errors=[str(e) for e in errors],
        at=at,
    )
    return Rendered(None, event)
