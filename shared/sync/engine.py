"""Apply one revision of an application to its destination cluster: the sync engine.

1. Decide, per object, whether to write, exactly. An object whose desired digest and live
   state are both unchanged since our last apply (see `inventory`) needs no request at
   all. Every other object gets a server-side dry-run apply: predicted equal to live means
   `unchanged` and no write; any object the API server refuses fails the whole sync before
   anything is written.
2. Write, wave by wave (`gitops.dev/sync-wave`, default 0): in each wave the definitions
   (CRDs, Namespaces, cluster RBAC, *Class kinds) first, waited for, then the rest in
   kind order; a wave must be healthy before the next starts.
3. Prune, in reverse order, what the previous inventory had and this revision lacks.

The result is data: one `ObjectResult` per object (created, configured, unchanged,
pruned, skipped, failed, with the reason) and the request counts. Only a transient
cluster error raises (the message is then redelivered and the sync resumes).
"""

from __future__ import annotations

import functools
import itertools
import re
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from shared.adapters.kube import Cluster, KubeError
from shared.core import drift, health, hooks, inventory, names, ordering
from shared.core.healthcel import HealthChecks
from shared.core.manifests import ObjectId
from shared.core.model import AppSpec
from shared.core.status import Action, HealthStatus, HookStatus
from shared.platform import config
from shared.sync.prepare import group_of

RETRIES = 4
CONCURRENCY = 8  # requests in flight: dry-runs, and applies within a run of one kind
DEFINITION_KINDS = ("CustomResourceDefinition", "Namespace", "ClusterRole", "ClusterRoleBinding")
IMMUTABLE = re.compile(
    r"field is immutable|updates to statefulset spec for fields other than|"
    r"spec\.selector.*immutable",
    re.I,
)
WRITE_VERBS = ("apply", "delete")


@dataclass(frozen=True)
class ObjectResult:
    id: ObjectId
    action: Action
    message: str = ""
    health: health.Health | None = None

    def to_doc(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "group": self.id.group,
            "kind": self.id.kind,
            "namespace": self.id.namespace,
            "name": self.id.name,
            "action": self.action,
        }
        if self.message:
            doc["message"] = self.message
        if self.health:
            doc["health"] = self.health.status
        return doc


@dataclass
class SyncResult:
    objects: list[ObjectResult] = field(default_factory=list)
    inventory: list[dict[str, str]] = field(default_factory=list)  # what the app now owns
    requests: dict[str, int] = field(default_factory=dict)
    hooks: list[hooks.HookResult] = field(default_factory=list)  # never in the inventory

    @property
    def failed(self) -> bool:
        return any(r.action == Action.FAILED for r in self.objects) or any(
            h.status == HookStatus.FAILED for h in self.hooks
        )

    @property
    def health(self) -> health.Health:
        return health.worst(r.health for r in self.objects if r.health)

    @property
    def writes(self) -> int:
        return sum(self.requests.get(v, 0) for v in WRITE_VERBS)

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for r in self.objects:
            out[r.action] = out.get(r.action, 0) + 1
        return out


@dataclass(frozen=True)
class Options:
    prune: bool = False
    allow_empty: bool = False
    recreate: bool = False  # app-wide opt-in to delete-and-recreate on immutable changes
    create_namespace: str = ""  # the destination namespace, created when missing
    wave_timeout_s: float = 120.0
    poll_s: float = 0.5
    health_checks: HealthChecks = field(default_factory=HealthChecks)  # the app's CEL rules

    @classmethod
    def of(cls, spec: AppSpec) -> Options:
        policy = spec.syncPolicy
        return cls(
            prune=policy.prune,
            allow_empty=policy.allowEmpty,
            recreate=policy.enabled("Recreate"),
            create_namespace=spec.destination.namespace if policy.enabled("CreateNamespace") else "",
            wave_timeout_s=float(policy.option("WaveTimeout") or 120),
            health_checks=spec.health_checks,
        )


def object_options(obj: dict[str, Any]) -> set[str]:
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    raw = ",".join(
        annotations.get(k, "") for k in (config.ANNOTATION_OPTIONS, config.ARGO_ANNOTATION_OPTIONS)
    )
    return {o.strip() for o in raw.split(",") if o.strip()}


def wave_of(obj: dict[str, Any]) -> int:
    """The sync wave; without one, `helm.sh/hook-weight` (gitops-engine syncwaves.Wave), else 0."""
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    raw = annotations.get(config.ANNOTATION_WAVE) or annotations.get(config.ARGO_ANNOTATION_WAVE)
    if raw is None:
        return hooks.helm_weight(obj)
    try:
        return int(raw)
    except ValueError:
        return 0


@dataclass(frozen=True)
class WaveHooks:
    """The Sync phase's hooks, run inside the engine's waves: `run(wave)` after the wave's
    objects are written, returning the problem ('' when they all succeeded)."""

    waves: frozenset[int]
    run: Callable[[int], str]


def with_retries(call: Callable[[], Any], deadline_s: float = 30.0) -> Any:
    """Run a cluster call, retrying transient errors with backoff inside a deadline."""
    start, delay = time.monotonic(), 0.2
    for attempt in range(RETRIES + 1):
        try:
            return call()
        except KubeError as exc:
            if not exc.transient or attempt == RETRIES or time.monotonic() - start + delay > deadline_s:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 5.0)
    raise AssertionError("unreachable")


GET_AT_MOST = 4  # objects of one kind in one namespace read by name rather than listed


def live_objects(
    cluster: Cluster, app: str, objs: list[dict[str, Any]], complete: bool = False, cached: bool = False
) -> dict[ObjectId, dict[str, Any]]:
    """The app's live objects (those carrying its label) among `objs`' kinds and namespaces;
    `complete` lists them all, also those that are not among `objs` (orphans), `cached` from
    the API server's watch cache (see Cluster.list).

    Per (apiVersion, kind, namespace): up to GET_AT_MOST objects are read by name, more are
    listed by the app's label. A LIST makes the API server read (from etcd) and decode every
    object of that kind in the namespace to filter them, which is what serverless has instead
    of an informer: with 1,000 applications in one namespace it made each sync cost O(fleet).
    A GET is a point read; its answer is kept only when it carries the app's label, like the
    LIST's. Sync looks up only `objs`' own identities; the audit (orphans are drift) and
    `gitops diff` list, the audit from the watch cache, which filters in memory.
    """
    groups: dict[tuple[str, str, str], set[str]] = {}
    for o in objs:
        meta = o["metadata"]
        groups.setdefault((o["apiVersion"], o["kind"], meta.get("namespace", "")), set()).add(meta["name"])
    live: dict[ObjectId, dict[str, Any]] = {}
    label = names.label_value(app)
    selector = f"{config.LABEL_APP}={label}"
    for (api_version, kind, namespace), wanted in sorted(groups.items()):
        try:
            if (
                not complete
                and len(wanted) <= GET_AT_MOST
                and (namespace or not cluster.is_namespaced(api_version, kind))
            ):
                found = [
                    with_retries(functools.partial(cluster.get, api_version, kind, namespace, name))
                    for name in sorted(wanted)
                ]
                items = [
                    i
                    for i in found
                    if i is not None
                    and ((i.get("metadata") or {}).get("labels") or {}).get(config.LABEL_APP) == label
                ]
            else:
                items = with_retries(
                    functools.partial(cluster.list, api_version, kind, namespace, selector, cached=cached)
                )
        except KubeError as exc:
            if exc.status == 404:  # the kind does not exist yet (its CRD is in this revision)
                continue
            raise
        for item in items:
            live[ObjectId.of(item)] = item
    return live


def is_immutable(exc: KubeError) -> bool:
    return exc.status == 422 and bool(IMMUTABLE.search(str(exc)))


@dataclass
class _Plan:
    write: list[dict[str, Any]] = field(default_factory=list)
    recreate: set[ObjectId] = field(default_factory=set)
    outcome: dict[ObjectId, ObjectResult] = field(default_factory=dict)
    entries: dict[ObjectId, dict[str, str]] = field(default_factory=dict)
    health_checks: HealthChecks = field(default_factory=HealthChecks)


def dry_run(cluster: Cluster, obj: dict[str, Any]) -> dict[str, Any] | KubeError:
    """The object a server-side apply would produce, or the permanent error refusing it."""
    try:
        return with_retries(lambda: cluster.apply(obj, field_manager=config.FIELD_MANAGER, dry_run=True))[1]
    except KubeError as exc:
        if exc.transient:
            raise
        return exc


def dry_run_all(cluster: Cluster, objs: list[dict[str, Any]]) -> dict[ObjectId, dict[str, Any] | KubeError]:
    """`dry_run` of every object, CONCURRENCY at a time (dry-runs are independent of each
    other), by object id. A transient error, once retried, raises (the first in order)."""
    with ThreadPoolExecutor(CONCURRENCY) as pool:
        return dict(
            zip(
                (ObjectId.of(o) for o in objs),
                pool.map(lambda o: dry_run(cluster, o), objs),
                strict=True,
            )
        )


def refusals(
    cluster: Cluster,
    objs: list[dict[str, Any]],
    everything: list[dict[str, Any]],
    recreated: set[ObjectId],
    opts: Options,
) -> dict[ObjectId, str]:
    """The objects (hooks included) the API server would refuse, by id, with its reason: a
    server-side dry-run of each; not a refusal: a 404 whose CRD or namespace is in
    `everything`, an immutable field of an object deleted and created again (`recreated`, or
    opted in to Recreate)."""
    out: dict[ObjectId, str] = {}
    predicted = dry_run_all(cluster, objs)
    for obj in objs:
        oid = ObjectId.of(obj)
        outcome = predicted[oid]
        if not isinstance(outcome, KubeError):
            continue
        if outcome.status == 404 and _created_by_this_sync(obj, everything):
            continue
        if is_immutable(outcome) and (
            oid in recreated or opts.recreate or "Recreate=true" in object_options(obj)
        ):
            continue
        what = "hook " if hooks.is_hook(obj) else ""
        out[oid] = f"{what}{oid}: {outcome}"
    return out


def _plan(
    cluster: Cluster,
    desired: list[dict[str, Any]],
    live: dict[ObjectId, dict[str, Any]],
    old: dict[ObjectId, dict[str, str]],
    opts: Options,
) -> _Plan:
    plan = _Plan(health_checks=opts.health_checks)
    suspects = [
        o for o in desired if not inventory.untouched(old.get(ObjectId.of(o)), o, live.get(ObjectId.of(o)))
    ]
    predicted = dry_run_all(cluster, suspects)
    for obj in desired:
        oid = ObjectId.of(obj)
        current = live.get(oid)
        if oid not in predicted:
            plan.outcome[oid] = ObjectResult(
                oid, Action.UNCHANGED, health=health.of(current, opts.health_checks)
            )
            plan.entries[oid] = old[oid]
            continue
        outcome = predicted[oid]
        if isinstance(outcome, KubeError):
            if outcome.status == 404 and _created_by_this_sync(obj, desired):
                plan.write.append(obj)  # its CRD or namespace comes earlier in this sync
            elif is_immutable(outcome) and (opts.recreate or "Recreate=true" in object_options(obj)):
                plan.write.append(obj)
                plan.recreate.add(oid)
            elif is_immutable(outcome):
                plan.outcome[oid] = ObjectResult(
                    oid,
                    Action.FAILED,
                    (
                        f"{oid}: {outcome} (an immutable field changed: opt in to delete and recreate "
                        f"with the annotation {config.ANNOTATION_OPTIONS}: Recreate=true, or the "
                        "application's syncOptions Recreate=true)"
                    ),
                )
            else:
                plan.outcome[oid] = ObjectResult(oid, Action.FAILED, f"{oid}: {outcome}")
        elif current is not None and not drift.changes(outcome, current):
            plan.outcome[oid] = ObjectResult(
                oid, Action.UNCHANGED, health=health.of(current, opts.health_checks)
            )
            plan.entries[oid] = inventory.entry(obj, current)
        else:
            plan.write.append(obj)
    return plan


def apply_all(
    cluster: Cluster,
    spec: AppSpec,
    desired: list[dict[str, Any]],
    old_inventory: list[dict[str, str]],
    opts: Options,
    refused: dict[ObjectId, str] | None = None,
    sync_hooks: WaveHooks | None = None,
) -> SyncResult:
    """Sync prepared objects (see the module doc). `refused`: objects a policy rejected;
    `sync_hooks`: the Sync phase's hooks, run in their waves."""
    before = cluster.request_counts()
    result = _sync(cluster, spec, desired, old_inventory, opts, refused or {}, sync_hooks)
    result.requests = requests_since(cluster, before)
    return result


def requests_since(cluster: Cluster, before: dict[str, int]) -> dict[str, int]:
    """The cluster requests made since `before` (a `request_counts()`), by verb."""
    after = cluster.request_counts()
    return {k: after.get(k, 0) - before.get(k, 0) for k in after if after.get(k, 0) != before.get(k, 0)}


def _refuse_all(
    desired: list[dict[str, Any]],
    outcome: dict[ObjectId, ObjectResult],
    old_inventory: list[dict[str, str]],
    reason: str,
) -> SyncResult:
    result = SyncResult(inventory=list(old_inventory))
    for obj in desired:
        oid = ObjectId.of(obj)
        result.objects.append(outcome.get(oid) or ObjectResult(oid, Action.SKIPPED, reason))
    return result


def _sync(
    cluster: Cluster,
    spec: AppSpec,
    desired: list[dict[str, Any]],
    old_inventory: list[dict[str, str]],
    opts: Options,
    refused: dict[ObjectId, str],
    sync_hooks: WaveHooks | None = None,
) -> SyncResult:
    if refused:
        outcome = {oid: ObjectResult(oid, Action.FAILED, why) for oid, why in refused.items()}
        return _refuse_all(desired, outcome, old_inventory, "not applied: the sync was refused")
    if not desired and old_inventory and not opts.allow_empty:
        return SyncResult(
            objects=[
                ObjectResult(
                    ObjectId("", "", "", ""),
                    Action.FAILED,
                    (
                        "the revision has no objects; refusing to prune everything the application owns "
                        "(set syncPolicy.allowEmpty to allow it)"
                    ),
                )
            ],
            inventory=list(old_inventory),
        )
    created_namespace = ensure_namespace(cluster, opts.create_namespace)
    old = {inventory.entry_id(e): e for e in old_inventory}
    live = live_objects(cluster, spec.name, desired)
    plan = _plan(cluster, desired, live, old, opts)
    if any(r.action == Action.FAILED for r in plan.outcome.values()):
        return _refuse_all(
            desired, plan.outcome, old_inventory, "not applied: another object failed the server-side dry-run"
        )
    failed = _write_waves(cluster, desired, plan, live, opts, sync_hooks)
    result = SyncResult(objects=[created_namespace] if created_namespace else [])
    for obj in desired:
        oid = ObjectId.of(obj)
        result.objects.append(plan.outcome[oid])
        if oid in plan.entries:
            result.inventory.append(plan.entries[oid])
    if failed:
        # keep everything the app may still own, so a later sync can prune it
        have = set(plan.entries)
        result.inventory += [e for oid, e in old.items() if oid not in have]
        return result
    result.objects.extend(_prune(cluster, spec, old, plan.entries, opts, result))
    return result


def ensure_namespace(cluster: Cluster, name: str) -> ObjectResult | None:
    """CreateNamespace: create the destination namespace when missing (not owned, never pruned)."""
    if not name or with_retries(lambda: cluster.get("v1", "Namespace", "", name)) is not None:
        return None
    ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
    with_retries(lambda: cluster.apply(ns, field_manager=config.FIELD_MANAGER))
    return ObjectResult(ObjectId.of(ns), Action.CREATED, "CreateNamespace=true")


def _write_waves(
    cluster: Cluster,
    desired: list[dict[str, Any]],
    plan: _Plan,
    live: dict[ObjectId, dict[str, Any]],
    opts: Options,
    sync_hooks: WaveHooks | None = None,
) -> bool:
    """Apply what the plan writes, wave by wave (with the Sync hooks of each wave after its
    objects); True when something failed."""
    waves = sorted({wave_of(o) for o in desired} | (sync_hooks.waves if sync_hooks else frozenset()))
    for index, wave in enumerate(waves):
        members = [o for o in plan.write if wave_of(o) == wave]
        definitions = [o for o in members if _is_definition(o)]
        rest = [o for o in members if not _is_definition(o)]
        for batch in (definitions, rest):
            if not _write(cluster, batch, plan, live):
                _skip_rest(plan, desired, "an earlier object failed")
                return True
            if batch is definitions and definitions:
                problem = _wait_established(cluster, definitions, opts)
                if problem:
                    _skip_rest(plan, desired, problem)
                    return True
        problem = sync_hooks.run(wave) if sync_hooks and wave in sync_hooks.waves else ""
        if problem:
            _skip_rest(plan, desired, f"a Sync hook of wave {wave} failed: {problem}")
            return True
        if index < len(waves) - 1:
            problem = wait_healthy(cluster, [o for o in desired if wave_of(o) == wave], opts)
            if problem:
                _skip_rest(plan, desired, f"wave {wave} did not become healthy: {problem}")
                return True
    return False


def _is_definition(obj: dict[str, Any]) -> bool:
    return obj["kind"] in DEFINITION_KINDS or obj["kind"].endswith("Class")


def _write(
    cluster: Cluster, objs: list[dict[str, Any]], plan: _Plan, live: dict[ObjectId, dict[str, Any]]
) -> bool:
    """Apply in order: runs of one kind concurrently, kinds one after the other."""
    for _, run in itertools.groupby(objs, key=lambda o: (o["apiVersion"], o["kind"])):
        batch = list(run)
        with ThreadPoolExecutor(min(CONCURRENCY, len(batch))) as pool:
            ok = list(pool.map(lambda o: _write_one(cluster, o, plan, live), batch))
        if not all(ok):
            return False
    return True


def _write_one(
    cluster: Cluster, obj: dict[str, Any], plan: _Plan, live: dict[ObjectId, dict[str, Any]]
) -> bool:
    oid = ObjectId.of(obj)
    note = ""
    try:
        if oid in plan.recreate:
            delete_and_wait(cluster, obj)
            note = "recreated: an immutable field changed"
        status, applied = with_retries(lambda: cluster.apply(obj, field_manager=config.FIELD_MANAGER))
    except KubeError as exc:
        if exc.transient:
            raise  # the API server is away: the whole sync is redelivered and resumes
        plan.outcome[oid] = ObjectResult(oid, Action.FAILED, f"{oid}: {exc}")
        return False
    created = status == 201 or oid not in live
    plan.outcome[oid] = ObjectResult(
        oid, Action.CREATED if created else Action.CONFIGURED, note, health.of(applied, plan.health_checks)
    )
    plan.entries[oid] = inventory.entry(obj, applied)
    return True


def _skip_rest(plan: _Plan, desired: list[dict[str, Any]], reason: str) -> None:
    for obj in desired:
        plan.outcome.setdefault(ObjectId.of(obj), ObjectResult(ObjectId.of(obj), Action.SKIPPED, reason))


def delete_and_wait(cluster: Cluster, obj: dict[str, Any], timeout_s: float = 60.0) -> None:
    meta = obj["metadata"]
    args = (obj["apiVersion"], obj["kind"], meta.get("namespace", ""), meta["name"])
    with_retries(lambda: cluster.delete(*args, propagation="Foreground"))
    deadline = time.monotonic() + timeout_s
    while with_retries(lambda: cluster.get(*args)) is not None:
        if time.monotonic() > deadline:
            raise KubeError(0, f"{ObjectId.of(obj)} was not deleted within {timeout_s:.0f}s", transient=False)
        time.sleep(0.2)


def _wait_established(cluster: Cluster, defs: list[dict[str, Any]], opts: Options) -> str:
    """Wait for CRDs to be Established and Namespaces Active; '' when they are."""
    deadline = time.monotonic() + opts.wave_timeout_s
    pending = [o for o in defs if o["kind"] in ("CustomResourceDefinition", "Namespace")]
    while pending:
        pending = [
            o
            for o in pending
            if not _ready(
                o,
                with_retries(
                    functools.partial(cluster.get, o["apiVersion"], o["kind"], "", o["metadata"]["name"])
                ),
            )
        ]
        if pending and time.monotonic() > deadline:
            return f"{ObjectId.of(pending[0])} not ready within {opts.wave_timeout_s:.0f}s"
        if pending:
            time.sleep(opts.poll_s)
    if any(o["kind"] == "CustomResourceDefinition" for o in defs):
        cluster.forget_discovery()
    return ""


def _ready(obj: dict[str, Any], live: dict[str, Any] | None) -> bool:
    if live is None:
        return False
    if obj["kind"] == "Namespace":
        return (live.get("status") or {}).get("phase") == "Active"
    return health.is_healthy(live)


def wait_healthy(cluster: Cluster, objs: list[dict[str, Any]], opts: Options) -> str:
    """Poll a wave's objects until all are Healthy; the problem ('' when healthy)."""
    deadline = time.monotonic() + opts.wave_timeout_s
    while True:
        worst = health.HEALTHY
        for obj in objs:
            meta = obj["metadata"]
            live = with_retries(
                functools.partial(
                    cluster.get, obj["apiVersion"], obj["kind"], meta.get("namespace", ""), meta["name"]
                )
            )
            h = health.of(live, opts.health_checks)
            if h is not None and h.status != HealthStatus.HEALTHY:
                worst = health.Health(h.status, f"{ObjectId.of(obj)}: {h.status} {h.message}".strip())
                break
        if worst.status == HealthStatus.HEALTHY:
            return ""
        if worst.status == HealthStatus.DEGRADED or time.monotonic() > deadline:
            return worst.message
        time.sleep(opts.poll_s)


def _created_by_this_sync(obj: dict[str, Any], desired: list[dict[str, Any]]) -> bool:
    """True when the object's kind (a CRD) or namespace is itself part of this sync."""
    namespace = obj["metadata"].get("namespace")
    for other in desired:
        spec = other.get("spec") or {}
        if (
            other["kind"] == "CustomResourceDefinition"
            and (spec.get("names") or {}).get("kind") == obj["kind"]
            and spec.get("group") == group_of(obj)
        ):
            return True
        if other["kind"] == "Namespace" and namespace and other["metadata"]["name"] == namespace:
            return True
    return False


def preview(
    cluster: Cluster,
    spec: AppSpec,
    desired: list[dict[str, Any]],
    old_inventory: list[dict[str, str]],
    opts: Options,
) -> list[ObjectResult]:
    """What a sync would do, object by object, from dry-runs only: nothing is written."""
    old = {inventory.entry_id(e): e for e in old_inventory}
    live = live_objects(cluster, spec.name, desired)
    plan = _plan(cluster, desired, live, old, opts)
    out = []
    for obj in desired:
        oid = ObjectId.of(obj)
        out.append(
            plan.outcome.get(oid)
            or ObjectResult(
                oid,
                Action.CREATED if oid not in live else Action.CONFIGURED,
                "would be recreated" if oid in plan.recreate else "",
            )
        )
    wanted = {ObjectId.of(o) for o in desired}
    out += [
        ObjectResult(
            oid,
            Action.PRUNED if opts.prune else Action.SKIPPED,
            "" if opts.prune else "no longer in Git; prune is off",
        )
        for oid in old
        if oid not in wanted
    ]
    return out


def delete_all(cluster: Cluster, spec: AppSpec, owned: list[dict[str, str]]) -> list[ObjectResult]:
    """Cascade delete of an application: everything it owns, in reverse order (skipping
    objects that lost its label or carry Prune=false or Delete=false)."""
    result = SyncResult()
    old = {inventory.entry_id(e): e for e in owned}
    return _prune(cluster, spec, old, {}, Options(prune=True), result, deleting=True)


def _prune(
    cluster: Cluster,
    spec: AppSpec,
    old: dict[ObjectId, dict[str, str]],
    keep: dict[ObjectId, dict[str, str]],
    opts: Options,
    result: SyncResult,
    deleting: bool = False,
) -> list[ObjectResult]:
    gone = [e for oid, e in old.items() if oid not in keep]
    gone.sort(key=lambda e: ordering.sort_key(inventory.as_stub(e)), reverse=True)
    out = []
    for e in gone:
        oid = inventory.entry_id(e)
        if not opts.prune:
            out.append(ObjectResult(oid, Action.SKIPPED, "no longer in Git; prune is off"))
            result.inventory.append(e)
            continue
        args = (e["apiVersion"], e["kind"], e["namespace"], e["name"])
        try:
            live = with_retries(functools.partial(cluster.get, *args))
            if live is None:
                out.append(ObjectResult(oid, Action.PRUNED, "already gone"))
                continue
            if (live["metadata"].get("labels") or {}).get(config.LABEL_APP) != names.label_value(spec.name):
                out.append(
                    ObjectResult(oid, Action.SKIPPED, "not pruned: it no longer carries this app's label")
                )
                continue
            kept_by = {"Prune=false"} | ({"Delete=false"} if deleting else set())
            if kept_by & object_options(live):
                out.append(
                    ObjectResult(
                        oid,
                        Action.SKIPPED,
                        f"not deleted: sync option {sorted(kept_by & object_options(live))[0]}",
                    )
                )
                continue
            with_retries(functools.partial(cluster.delete, *args))
            out.append(ObjectResult(oid, Action.PRUNED))
        except KubeError as exc:
            out.append(ObjectResult(oid, Action.FAILED, f"prune {oid}: {exc}"))
            result.inventory.append(e)
    return out
