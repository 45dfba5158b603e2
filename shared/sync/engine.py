"""Apply one revision of an application to its destination cluster: the sync engine.

1. Decide, per object, whether to write, exactly. An object whose desired digest and live
   state are both unchanged since our last apply (see `inventory`) needs no request at
   all. Every other object gets a server-side dry-run apply, creates too: predicted equal
   to live means `unchanged` and no write; any object the API server refuses fails the
   whole sync before anything is written. (A probe per kind instead of a dry-run per create
   would halve a first sync's requests, but a create refused by admission would then stop a
   sync half-applied, and an unlabelled object of the same name would be taken without the
   shared-resource check: correctness first.)
2. Write, wave by wave (`gitops.dev/sync-wave`, default 0): in each wave the definitions
   (CRDs, Namespaces, cluster RBAC, *Class kinds) first, waited for, then the rest in
   kind order; a wave must be healthy before the next starts.
3. Prune, in reverse order, what the previous inventory had and this revision lacks.

The result is data: one `ObjectResult` per object (created, configured, unchanged,
pruned, skipped, failed, with the reason) and the request counts. Only a transient
cluster error raises (the message is then redelivered and the sync resumes).
"""

from __future__ import annotations

import contextvars
import functools
import itertools
import re
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from shared.adapters.kube import Cluster, KubeError, UnknownKind
from shared.core import drift, health, hooks, ignorediff, inventory, names, ordering, syncoptions
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
WRITE_VERBS = ("apply", "replace", "create", "delete")
T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class ObjectResult:
    id: ObjectId
    action: Action
    message: str = ""
    health: health.Health | None = None
    warning: str = ""  # e.g. Argo CD's SharedResourceWarning: said, the sync still succeeds

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
        if self.warning:
            doc["warning"] = self.warning
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
    def warnings(self) -> list[str]:
        return [r.warning for r in self.objects if r.warning]

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
    # Argo CD's sync options (shared/core/syncoptions.py): the application's, which an
    # object's sync-options annotation may override; its ignoreDifferences; its prune policy
    sync_options: tuple[str, ...] = ()
    ignore_rules: tuple[dict[str, Any], ...] = ()
    propagation: str = syncoptions.PROPAGATION[syncoptions.DEFAULT_PROPAGATION]

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
            sync_options=policy.syncOptions,
            ignore_rules=spec.ignoreDifferences,
            propagation=syncoptions.propagation(policy.syncOptions),
        )

    def on(self, name: str, obj: dict[str, Any] | None = None) -> bool:
        """Whether a true/false sync option is on for an object (its annotation first)."""
        return syncoptions.enabled(name, self.sync_options, object_option_map(obj) if obj else None)

    def off(self, name: str, obj: dict[str, Any] | None = None) -> bool:
        """Whether a true/false sync option is set to false for an object (Validate=false)."""
        return syncoptions.disabled(name, self.sync_options, object_option_map(obj) if obj else None)


def object_option_map(obj: dict[str, Any]) -> dict[str, str]:
    """The sync options an object's annotations set, by name."""
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    return syncoptions.of_annotations(
        annotations, (config.ANNOTATION_OPTIONS, config.ARGO_ANNOTATION_OPTIONS)
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


class SharedLists:
    """The lists of a batch of audits, shared: per cluster, apiVersion, kind and namespace, one
    list of the objects of all the batch's applications (`label in (...)`), made when the
    first audit asks for it (the others wait for it). A list makes the API server go through
    every object of the kind in the namespace: a fleet of thousands of applications in one
    namespace costs a sweep one list per batch, not one per application."""

    def __init__(self, apps: list[str]) -> None:
        self.values = sorted({names.label_value(a) for a in apps})
        self._lock = threading.Lock()
        self._lists: dict[tuple[int, str, str, str], list[dict[str, Any]]] = {}
        self._locks: dict[tuple[int, str, str, str], threading.Lock] = {}

    def items(self, cluster: Cluster, api_version: str, kind: str, namespace: str) -> list[dict[str, Any]]:
        key = (id(cluster), api_version, kind, namespace)
        with self._lock:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            if key not in self._lists:
                selector = f"{config.LABEL_APP} in ({','.join(self.values)})"
                self._lists[key] = with_retries(
                    functools.partial(cluster.list, api_version, kind, namespace, selector, cached=True)
                )
            return self._lists[key]


def live_objects(
    cluster: Cluster,
    app: str,
    objs: list[dict[str, Any]],
    complete: bool = False,
    cached: bool = False,
    shared: SharedLists | None = None,
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
    `gitops diff` list, the audit from the watch cache, which filters in memory (a sweep's
    batch of audits shares its lists: `shared`).
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
            elif shared is not None:
                items = [
                    i
                    for i in shared.items(cluster, api_version, kind, namespace)
                    if ((i.get("metadata") or {}).get("labels") or {}).get(config.LABEL_APP) == label
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
    replace: set[ObjectId] = field(default_factory=set)  # Replace=true: PUT or POST, not apply
    lenient: set[ObjectId] = field(default_factory=set)  # Validate=false: unknown fields dropped
    payload: dict[ObjectId, dict[str, Any]] = field(default_factory=dict)  # what is sent, when not the object
    notes: dict[ObjectId, str] = field(default_factory=dict)  # said with the object's result
    warnings: dict[ObjectId, str] = field(default_factory=dict)
    taken: set[ObjectId] = field(default_factory=set)  # existing objects without this app's label
    outcome: dict[ObjectId, ObjectResult] = field(default_factory=dict)
    entries: dict[ObjectId, dict[str, str]] = field(default_factory=dict)
    health_checks: HealthChecks = field(default_factory=HealthChecks)


def dry_run(
    cluster: Cluster, obj: dict[str, Any], replace: bool = False, lenient: bool = False
) -> dict[str, Any] | KubeError:
    """The object a server-side apply (`replace`: a replace or create; `lenient`: unknown
    fields dropped, Validate=false) would produce, or the permanent error refusing it."""
    write = cluster.replace if replace else cluster.apply
    try:
        return with_retries(
            lambda: write(obj, field_manager=config.FIELD_MANAGER, dry_run=True, lenient=lenient)
        )[1]
    except KubeError as exc:
        if exc.transient:
            raise
        return exc


def dry_run_all(
    cluster: Cluster,
    objs: list[dict[str, Any]],
    replace: set[ObjectId] | None = None,
    lenient: set[ObjectId] | None = None,
) -> dict[ObjectId, dict[str, Any] | KubeError]:
    """`dry_run` of every object, CONCURRENCY at a time (dry-runs are independent of each
    other), by object id. A transient error, once retried, raises (the first in order)."""
    ids = [ObjectId.of(o) for o in objs]
    answers = concurrently(
        lambda pair: dry_run(cluster, pair[0], pair[1] in (replace or ()), pair[1] in (lenient or ())),
        list(zip(objs, ids, strict=True)),
    )
    return dict(zip(ids, answers, strict=True))


def concurrently(call: Callable[[T], R], items: Sequence[T]) -> list[R]:
    """`call` of each item, CONCURRENCY in flight, each in a copy of the caller's context (its
    log fields); the results in order. An exception raises, the first in order."""
    if not items:
        return []
    with ThreadPoolExecutor(min(CONCURRENCY, len(items))) as pool:
        futures = [pool.submit(contextvars.copy_context().run, call, item) for item in items]
        return [f.result() for f in futures]


def kind_runs(objs: Sequence[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Consecutive objects (or inventory entries) of one kind, run by run, in order: what a
    sync writes, or deletes, concurrently before the next kind."""
    return [list(run) for _, run in itertools.groupby(objs, key=lambda o: (o["apiVersion"], o["kind"]))]


Predictions = dict[ObjectId, dict[str, Any] | KubeError]  # dry-runs' answers by object id


def refusals(
    cluster: Cluster,
    objs: list[dict[str, Any]],
    everything: list[dict[str, Any]],
    recreated: set[ObjectId],
    opts: Options,
) -> tuple[dict[ObjectId, str], Predictions]:
    """The objects (hooks included) the API server would refuse, by id, with its reason: a
    server-side dry-run of each, made as the sync writes it (Replace=true, Validate=false);
    not a refusal: a 404 whose CRD or namespace is in `everything`, an unknown kind with
    SkipDryRunOnMissingResource=true, an immutable field of an object deleted and created
    again (`recreated`, or opted in to Recreate). And the dry-runs' answers, which the sync's
    plan may reuse (`apply_all`'s `dry_runs`)."""
    out: dict[ObjectId, str] = {}
    resources = [o for o in objs if not hooks.is_hook(o)]  # dry-run as the Sync phase writes them
    predicted = dry_run_all(
        cluster,
        objs,
        replace={ObjectId.of(o) for o in resources if opts.on("Replace", o)},
        lenient={ObjectId.of(o) for o in resources if opts.off("Validate", o)},
    )
    created_here = _created_by_this_sync(everything)
    for obj in objs:
        oid = ObjectId.of(obj)
        outcome = predicted[oid]
        if not isinstance(outcome, KubeError):
            continue
        if outcome.status == 404 and created_here(obj):
            continue
        if isinstance(outcome, UnknownKind) and opts.on("SkipDryRunOnMissingResource", obj):
            continue  # its CRD is expected from elsewhere: the Sync phase says so if still missing
        if is_immutable(outcome) and (
            oid in recreated or opts.recreate or "Recreate=true" in object_options(obj)
        ):
            continue
        what = "hook " if hooks.is_hook(obj) else ""
        out[oid] = f"{what}{oid}: {outcome}"
    return out, predicted


def _plan(
    cluster: Cluster,
    app: str,
    desired: list[dict[str, Any]],
    live: dict[ObjectId, dict[str, Any]],
    old: dict[ObjectId, dict[str, str]],
    opts: Options,
    earlier: Predictions | None = None,
) -> _Plan:
    """What to write and what not (see the module doc): every object not untouched gets its
    own dry-run, creates too, so an object the API server refuses fails the sync before
    anything is written (nothing half-applied). `earlier`: dry-runs made before (before the
    PreSync hooks ran), reused where still valid (see `still_predicts`)."""
    plan = _Plan(health_checks=opts.health_checks)
    suspects = [
        o for o in desired if not inventory.untouched(old.get(ObjectId.of(o)), o, live.get(ObjectId.of(o)))
    ]
    plan.replace = {ObjectId.of(o) for o in suspects if opts.on("Replace", o)}
    plan.lenient = {ObjectId.of(o) for o in suspects if opts.off("Validate", o)}
    plan.payload = _respecting_ignored(suspects, live, opts)
    # asked again rather than reused: what is sent otherwise (RespectIgnoreDifferences' live
    # values) or written otherwise (Replace=true, Validate=false) than a plain apply
    plain = plan.replace | plan.lenient | plan.payload.keys()
    reused: Predictions = {}
    for obj in suspects:
        oid = ObjectId.of(obj)
        answer = (earlier or {}).get(oid)
        if oid not in plain and answer is not None and still_predicts(answer, live.get(oid)):
            reused[oid] = answer
    fresh = [o for o in suspects if ObjectId.of(o) not in reused]
    predicted = {
        **dry_run_all(
            cluster, [plan.payload.get(ObjectId.of(o), o) for o in fresh], plan.replace, plan.lenient
        ),
        **reused,
    }
    created_here = _created_by_this_sync(desired)
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
            if outcome.status == 404 and created_here(obj):
                plan.write.append(obj)  # its CRD or namespace comes earlier in this sync
            elif isinstance(outcome, UnknownKind) and opts.on("SkipDryRunOnMissingResource", obj):
                plan.write.append(obj)  # its CRD is expected from elsewhere (another app, a controller)
                plan.notes[oid] = (
                    "dry-run skipped: its kind is not known yet (SkipDryRunOnMissingResource=true)"
                )
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
        elif current is None and (outcome.get("metadata") or {}).get("resourceVersion"):
            _claim(cluster, app, obj, plan, opts)  # it exists, without this app's label
        else:
            plan.write.append(obj)
    return plan


def still_predicts(answer: dict[str, Any] | KubeError, live: dict[str, Any] | None) -> bool:
    """Whether an earlier dry-run's answer is still what a dry-run would answer now: it was
    accepted and the object itself did not change since (still absent, or the same
    resourceVersion: the apply merges into the same live object). A refusal is asked again.

    gitops-engine dry-runs every task once, before the PreSync hooks, and never again; this
    keeps that one dry-run per object, except for an object a hook (or anyone) changed
    meanwhile. (An object of the same name a hook created without this app's label is not
    seen, as with any write racing ours between a dry-run and the apply.)"""
    if isinstance(answer, KubeError):
        return False
    before = (answer.get("metadata") or {}).get("resourceVersion") or ""
    now = ((live or {}).get("metadata") or {}).get("resourceVersion") or ""
    return before == now and (live is None) == (before == "")


def _respecting_ignored(
    objs: list[dict[str, Any]], live: dict[ObjectId, dict[str, Any]], opts: Options
) -> dict[ObjectId, dict[str, Any]]:
    """RespectIgnoreDifferences=true: the objects to send with their ignored fields' live
    values (only for objects that exist, as in Argo CD)."""
    out = {}
    for obj in objs:
        oid = ObjectId.of(obj)
        current = live.get(oid)
        if current is None or not opts.ignore_rules or not opts.on("RespectIgnoreDifferences", obj):
            continue
        rules = drift.rules_for(opts.ignore_rules, oid.group, oid.kind, oid.namespace, oid.name)
        if rules:
            out[oid] = ignorediff.respect(obj, current, rules)
    return out


def claimant(cluster: Cluster, app: str, obj: dict[str, Any]) -> tuple[dict[str, Any] | None, str]:
    """The live object (None when absent or its kind unknown) and the other application that
    owns it ('' when none: nobody's, or this app's)."""
    meta = obj["metadata"]
    try:
        found = with_retries(
            functools.partial(
                cluster.get, obj["apiVersion"], obj["kind"], meta.get("namespace", ""), meta["name"]
            )
        )
    except KubeError as exc:
        if exc.status == 404:
            return None, ""
        raise
    found_meta = (found or {}).get("metadata") or {}
    return found, syncoptions.other_owner(
        app,
        names.label_value(app),
        (found_meta.get("annotations") or {}).get(config.ANNOTATION_TRACKING),
        (found_meta.get("labels") or {}).get(config.LABEL_APP),
    )


def _claim(cluster: Cluster, app: str, obj: dict[str, Any], plan: _Plan, opts: Options) -> None:
    """An existing object this app does not own yet: taken, unless it is another application's
    and FailOnSharedResource=true; taking another application's is said (SharedResourceWarning)."""
    oid = ObjectId.of(obj)
    found, other = claimant(cluster, app, obj)
    if other and opts.on("FailOnSharedResource"):
        plan.outcome[oid] = ObjectResult(oid, Action.FAILED, syncoptions.shared_refusal(str(oid), app, other))
        return
    if other:
        plan.warnings[oid] = syncoptions.shared_message(str(oid), app, other)
    if found is not None:
        plan.taken.add(oid)
    plan.write.append(obj)


def apply_all(
    cluster: Cluster,
    spec: AppSpec,
    desired: list[dict[str, Any]],
    old_inventory: list[dict[str, str]],
    opts: Options,
    refused: dict[ObjectId, str] | None = None,
    sync_hooks: WaveHooks | None = None,
    dry_runs: Predictions | None = None,
) -> SyncResult:
    """Sync prepared objects (see the module doc). `refused`: objects a policy rejected;
    `sync_hooks`: the Sync phase's hooks, run in their waves; `dry_runs`: the answers of
    dry-runs made earlier in this operation (`refusals`), reused where still valid."""
    before = cluster.request_counts()
    result = _sync(cluster, spec, desired, old_inventory, opts, refused or {}, sync_hooks, dry_runs)
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
    dry_runs: Predictions | None = None,
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
    cluster.forget_unknown_kinds()  # a PreSync hook, another app may have installed a CRD since
    old = {inventory.entry_id(e): e for e in old_inventory}
    live = live_objects(cluster, spec.name, desired)
    plan = _plan(cluster, spec.name, desired, live, old, opts, dry_runs)
    if any(r.action == Action.FAILED for r in plan.outcome.values()):
        return _refuse_all(
            desired, plan.outcome, old_inventory, "not applied: another object failed the server-side dry-run"
        )
    failed = _write_waves(cluster, spec.name, desired, plan, live, opts, sync_hooks)
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
    waves = [wave_of(o) for o in desired]  # once each: a list of 20,000 objects is common
    top = max(waves, default=0)
    last_wave = [o for o, w in zip(desired, waves, strict=True) if w == top]
    result.objects.extend(
        _prune(
            cluster,
            spec,
            old,
            plan.entries,
            opts,
            result,
            settled=lambda: wait_healthy(cluster, spec.name, last_wave, opts),
        )
    )
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
    app: str,
    desired: list[dict[str, Any]],
    plan: _Plan,
    live: dict[ObjectId, dict[str, Any]],
    opts: Options,
    sync_hooks: WaveHooks | None = None,
) -> bool:
    """Apply what the plan writes, wave by wave (with the Sync hooks of each wave after its
    objects); True when something failed."""
    writes = _by_wave(plan.write)  # grouped once: a wave's members are not searched for among 20,000
    objects = _by_wave(desired)
    waves = sorted(objects.keys() | (sync_hooks.waves if sync_hooks else frozenset()))
    for index, wave in enumerate(waves):
        if index:  # an earlier wave may have installed an operator whose CRDs this one's objects need
            cluster.forget_unknown_kinds()
        members = writes.get(wave, [])
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
        unsure = [o for o in objects.get(wave, []) if not _known_healthy(plan.outcome.get(ObjectId.of(o)))]
        if index < len(waves) - 1 and unsure:
            problem = wait_healthy(cluster, app, unsure, opts)
            if problem:
                _skip_rest(plan, desired, f"wave {wave} did not become healthy: {problem}")
                return True
    return False


def _by_wave(objs: list[dict[str, Any]]) -> dict[int, list[dict[str, Any]]]:
    """The objects of each wave, in their order."""
    out: dict[int, list[dict[str, Any]]] = {}
    for obj in objs:
        out.setdefault(wave_of(obj), []).append(obj)
    return out


def _known_healthy(result: ObjectResult | None) -> bool:
    """Healthy, or without health, as the live read or the apply's answer showed it: nothing to
    wait for (a written Deployment answers Progressing until its controller catches up)."""
    return (
        result is not None
        and result.action in (Action.UNCHANGED, Action.CREATED, Action.CONFIGURED)
        and (result.health is None or result.health.status == HealthStatus.HEALTHY)
    )


def _is_definition(obj: dict[str, Any]) -> bool:
    return obj["kind"] in DEFINITION_KINDS or obj["kind"].endswith("Class")


def _write(
    cluster: Cluster, objs: list[dict[str, Any]], plan: _Plan, live: dict[ObjectId, dict[str, Any]]
) -> bool:
    """Apply in order: runs of one kind concurrently, kinds one after the other."""
    for batch in kind_runs(objs):
        if not all(concurrently(lambda o: _write_one(cluster, o, plan, live), batch)):
            return False
    return True


def _write_one(
    cluster: Cluster, obj: dict[str, Any], plan: _Plan, live: dict[ObjectId, dict[str, Any]]
) -> bool:
    oid = ObjectId.of(obj)
    notes = [plan.notes[oid]] if oid in plan.notes else []
    payload = plan.payload.get(oid, obj)
    write = cluster.replace if oid in plan.replace else cluster.apply
    if oid not in plan.replace and object_option_map(obj).get("ServerSideApply", "").lower() == "false":
        notes.append("ServerSideApply=false ignored: objects are always applied server-side")
    try:
        if oid in plan.recreate:
            delete_and_wait(cluster, obj)
            notes.append("recreated: an immutable field changed")
        status, applied = with_retries(
            lambda: write(payload, field_manager=config.FIELD_MANAGER, lenient=oid in plan.lenient)
        )
    except KubeError as exc:
        if exc.transient:
            raise  # the API server is away: the whole sync is redelivered and resumes
        hint = (
            " (its dry-run was skipped, SkipDryRunOnMissingResource=true: its CRD is still not installed)"
            if isinstance(exc, UnknownKind)
            else ""
        )
        plan.outcome[oid] = ObjectResult(oid, Action.FAILED, f"{oid}: {exc}{hint}")
        return False
    note = "; ".join(notes)
    created = status == 201 or (oid not in live and oid not in plan.taken)
    plan.outcome[oid] = ObjectResult(
        oid,
        Action.CREATED if created else Action.CONFIGURED,
        note,
        health.of(applied, plan.health_checks),
        warning=plan.warnings.get(oid, ""),
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
    crds = [o for o in defs if o["kind"] == "CustomResourceDefinition"]
    if crds:
        cluster.forget_discovery()
    # Established, then served by discovery (a moment later): the kind of a custom resource is
    # looked up once, then remembered as unknown for a while (Cluster.resource)
    unserved = [o for o in crds if not _served(cluster, o)]
    while unserved:
        if time.monotonic() > deadline:
            return f"{ObjectId.of(unserved[0])}: its kind is not served within {opts.wave_timeout_s:.0f}s"
        time.sleep(opts.poll_s)
        cluster.forget_unknown_kinds()
        unserved = [o for o in unserved if not _served(cluster, o)]
    return ""


def _served(cluster: Cluster, crd: dict[str, Any]) -> bool:
    """Whether the API server's discovery serves a CRD's kind (in its first served version)."""
    spec = crd.get("spec") or {}
    versions = [v.get("name") for v in spec.get("versions") or [] if v.get("served", True)]
    version = versions[0] if versions else spec.get("version")
    kind = (spec.get("names") or {}).get("kind")
    if not (spec.get("group") and version and kind):
        return True  # nothing to look for (the API server validated it)
    try:
        cluster.resource(f"{spec['group']}/{version}", kind)
    except UnknownKind:
        return False
    return True


def _ready(obj: dict[str, Any], live: dict[str, Any] | None) -> bool:
    if live is None:
        return False
    if obj["kind"] == "Namespace":
        return (live.get("status") or {}).get("phase") == "Active"
    return health.is_healthy(live)


def wait_healthy(cluster: Cluster, app: str, objs: list[dict[str, Any]], opts: Options) -> str:
    """Poll a wave's objects until all are Healthy; the problem ('' when healthy).

    Each poll reads them as a sync reads live state (`live_objects`: a few by name, more
    listed by the app's label per kind and namespace), O(kinds) requests rather than one per
    object; one the listing lacks (it lost the label) is read by name."""
    deadline = time.monotonic() + opts.wave_timeout_s
    while True:
        worst = health.HEALTHY
        listed = live_objects(cluster, app, objs)
        for obj in objs:
            meta = obj["metadata"]
            live = listed.get(ObjectId.of(obj)) or with_retries(
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


def _created_by_this_sync(desired: list[dict[str, Any]]) -> Callable[[dict[str, Any]], bool]:
    """Whether an object's kind (a CRD) or namespace is itself part of this sync (`desired`
    is read once: the answer is asked of every object a dry-run could not find)."""
    kinds = {
        (spec.get("group"), (spec.get("names") or {}).get("kind"))
        for other in desired
        if other["kind"] == "CustomResourceDefinition"
        for spec in [other.get("spec") or {}]
    }
    namespaces = {other["metadata"]["name"] for other in desired if other["kind"] == "Namespace"}

    def created_here(obj: dict[str, Any]) -> bool:
        namespace = obj["metadata"].get("namespace")
        return (group_of(obj), obj["kind"]) in kinds or bool(namespace and namespace in namespaces)

    return created_here


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
    plan = _plan(cluster, spec.name, desired, live, old, opts)
    out = []
    for obj in desired:
        oid = ObjectId.of(obj)
        out.append(
            plan.outcome.get(oid)
            or ObjectResult(
                oid,
                Action.CREATED if oid not in live else Action.CONFIGURED,
                "would be recreated" if oid in plan.recreate else plan.notes.get(oid, ""),
                warning=plan.warnings.get(oid, ""),
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
    settled: Callable[[], str] | None = None,
) -> list[ObjectResult]:
    """Delete what the app owned and no longer declares, in reverse apply order (kind by kind,
    the objects of a kind CONCURRENCY at a time), with the app's PrunePropagationPolicy.
    PruneLast=true (the app's, or the live object's annotation) waits for `settled` (every
    wave Healthy) first; if it never is, those are kept for later. Live state is read as a
    sync reads it (`live_objects`: O(kinds) lists, not one GET per object)."""
    gone = [e for oid, e in old.items() if oid not in keep]
    gone.sort(key=lambda e: ordering.sort_key(inventory.as_stub(e)), reverse=True)
    if not opts.prune:
        result.inventory += gone
        return [
            ObjectResult(inventory.entry_id(e), Action.SKIPPED, "no longer in Git; prune is off")
            for e in gone
        ]
    found = _live_entries(cluster, spec.name, gone)
    out: list[ObjectResult | None] = []
    now: list[tuple[int, dict[str, str]]] = []  # (place in out, entry): deleted at once
    last: list[dict[str, str]] = []
    for e in gone:
        oid = inventory.entry_id(e)
        live = found[oid]
        if isinstance(live, KubeError):
            out.append(ObjectResult(oid, Action.FAILED, f"prune {oid}: {live}"))
            result.inventory.append(e)
            continue
        kept = _kept(spec, oid, live, deleting)
        if kept is not None:
            out.append(kept)
        elif not deleting and opts.on("PruneLast", live):
            last.append(e)
        else:
            now.append((len(out), e))
            out.append(None)
    for (place, _), deleted in zip(now, _delete_all(cluster, [e for _, e in now], opts, result), strict=True):
        out[place] = deleted
    done = [r for r in out if r is not None]
    if last:
        problem = settled() if settled else ""
        if problem:
            for e in last:
                oid = inventory.entry_id(e)
                done.append(ObjectResult(oid, Action.SKIPPED, f"not pruned yet (PruneLast=true): {problem}"))
                result.inventory.append(e)
            why = f"PruneLast=true: the last wave did not become healthy, nothing pruned last: {problem}"
            done.append(ObjectResult(ObjectId("", "", "", ""), Action.FAILED, why))
        else:
            done += _delete_all(cluster, last, opts, result, "PruneLast=true")
    return done


def _live_entries(
    cluster: Cluster, app: str, entries: list[dict[str, str]]
) -> dict[ObjectId, dict[str, Any] | KubeError | None]:
    """The live object of each entry (None when there is none, the error when it could not be
    read): those carrying the app's label as a sync reads them (a few by name, more listed per
    kind and namespace); each one that finds lacks (gone, or it lost the label) read by name,
    CONCURRENCY at a time, as are all of them if a listing fails."""
    try:
        listed: dict[ObjectId, dict[str, Any]] = live_objects(
            cluster, app, [inventory.as_stub(e) for e in entries]
        )
    except KubeError:
        listed = {}
    missing = [e for e in entries if inventory.entry_id(e) not in listed]

    def read(e: dict[str, str]) -> dict[str, Any] | KubeError | None:
        try:
            live: dict[str, Any] | None = with_retries(functools.partial(cluster.get, *_address(e)))
        except KubeError as exc:
            return exc
        return live

    out: dict[ObjectId, dict[str, Any] | KubeError | None] = dict(listed)
    out.update(zip((inventory.entry_id(e) for e in missing), concurrently(read, missing), strict=True))
    return out


def _delete_all(
    cluster: Cluster, entries: list[dict[str, str]], opts: Options, result: SyncResult, note: str = ""
) -> list[ObjectResult]:
    """`_delete` of each entry, in order: runs of one kind concurrently, kinds one after the
    other (the custom resources gone before their CRD, a namespace's objects before it)."""
    out: list[ObjectResult] = []
    for batch in kind_runs(entries):
        done = concurrently(lambda e: _delete(cluster, inventory.entry_id(e), e, opts, note), batch)
        result.inventory += [e for e, r in zip(batch, done, strict=True) if r.action == Action.FAILED]
        out += done
    return out


def _address(e: dict[str, str]) -> tuple[str, str, str, str]:
    return (e["apiVersion"], e["kind"], e["namespace"], e["name"])


def _kept(spec: AppSpec, oid: ObjectId, live: dict[str, Any] | None, deleting: bool) -> ObjectResult | None:
    """Why an object is not deleted (already gone, not ours any more, Prune=false or
    Delete=false), or None."""
    if live is None:
        return ObjectResult(oid, Action.PRUNED, "already gone")
    if (live["metadata"].get("labels") or {}).get(config.LABEL_APP) != names.label_value(spec.name):
        return ObjectResult(oid, Action.SKIPPED, "not pruned: it no longer carries this app's label")
    kept_by = {"Prune=false"} | ({"Delete=false"} if deleting else set())
    if kept_by & object_options(live):
        return ObjectResult(
            oid, Action.SKIPPED, f"not deleted: sync option {sorted(kept_by & object_options(live))[0]}"
        )
    return None


def _delete(
    cluster: Cluster, oid: ObjectId, e: dict[str, str], opts: Options, note: str = ""
) -> ObjectResult:
    """Delete one object (FAILED with the reason when the API server refuses: the caller keeps
    it in the inventory)."""
    try:
        with_retries(functools.partial(cluster.delete, *_address(e), propagation=opts.propagation))
    except KubeError as exc:
        return ObjectResult(oid, Action.FAILED, f"prune {oid}: {exc}")
    if opts.propagation != "Background":
        note = "; ".join(n for n in (note, f"PrunePropagationPolicy={opts.propagation.lower()}") if n)
    return ObjectResult(oid, Action.PRUNED, note)
