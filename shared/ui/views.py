"""What each page shows, as typed views built by pure functions from what the store holds.

No I/O here: `shared/ui/reads.py` reads the store, the cluster and the diff step, these
builders turn what it read into views, and the templates (`shared/ui/templates/`) only lay
them out. Which buttons a page shows is decided here, from the viewer's `can`, so a table test
can check it without a browser.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from shared.adapters.store import App
from shared.core import health, inventory
from shared.core.manifests import ObjectId
from shared.core.status import AppStatus, HealthStatus, SyncStatus

if TYPE_CHECKING:
    from shared.core.healthcel import HealthChecks

Can = Callable[[str, str, str], bool]  # (resource, action, "<project>/<app>") -> allowed

SYNC_STATUSES = tuple(SyncStatus)
HEALTH_STATUSES = tuple(HealthStatus)
SHORT = 7  # characters of a commit shown


def short(commit: str | None) -> str:
    return (commit or "")[:SHORT]


def ago(at: Any, now: dt.datetime) -> str:
    """'3 min ago' for a time, '' for none (the page shows the exact time beside it)."""
    if not isinstance(at, dt.datetime):
        return ""
    seconds = int((now - at).total_seconds())
    if seconds < 0:
        return "just now"
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds // size} {unit} ago"
    return f"{seconds} s ago"


def iso(at: Any) -> str:
    return at.isoformat() if isinstance(at, dt.datetime) else ""


# ---- the application list ---------------------------------------------------------------------


@dataclass(frozen=True)
class Filters:
    """The list's filters, from the query string; a value that is not one of the statuses is
    ignored (the page says which statuses there are)."""

    project: str = ""
    sync: str = ""
    health: str = ""
    name: str = ""  # part of the name

    @classmethod
    def of(cls, query: Mapping[str, str]) -> Filters:
        sync, status = query.get("sync", ""), query.get("health", "")
        return cls(
            project=query.get("project", "").strip()[:253],
            sync=sync if sync in SYNC_STATUSES else "",
            health=status if status in HEALTH_STATUSES else "",
            name=query.get("name", "").strip().lower()[:253],
        )

    def keep(self, row: AppRow) -> bool:
        return (
            (not self.project or row.project == self.project)
            and (not self.sync or row.sync == self.sync)
            and (not self.health or row.health == self.health)
            and (not self.name or self.name in row.name)
        )

    @property
    def active(self) -> bool:
        return bool(self.project or self.sync or self.health or self.name)


@dataclass(frozen=True)
class AppRow:
    name: str
    project: str
    sync: str  # SyncStatus
    health: str  # HealthStatus, '' when never assessed
    health_message: str
    synced_at: str  # ISO time, '' when never synced
    synced_ago: str
    live: str  # short commit
    target: str  # short commit of the target's head
    drifted: int  # objects the last audit found drifted (0: no drift)
    pinned: str  # short commit it is pinned to, ''
    phase: str  # the last operation's phase, ''
    repo: str
    path: str
    destination: str


def app_row(app: App, now: dt.datetime) -> AppRow:
    st, spec = app.status, app.spec
    sync, status = st.get("sync") or {}, st.get("health") or {}
    drift, pin = st.get("drift") or {}, cast(dict[str, Any], st.get("pin") or {})
    return AppRow(
        name=app.name,
        project=spec.project,
        sync=str(sync.get("status") or SyncStatus.UNKNOWN),
        health=str(status.get("status") or ""),
        health_message=str(status.get("message") or ""),
        synced_at=iso(sync.get("syncedAt")),
        synced_ago=ago(sync.get("syncedAt"), now),
        live=short(sync.get("commit")),
        target=short((sync.get("target") or {}).get("commit")),
        drifted=int(drift.get("objects") or 0) if not drift.get("error") else 0,
        pinned=short(pin.get("commit")),
        phase=str((st.get("operation") or {}).get("phase") or ""),
        repo=f"{spec.repoURL} ({spec.chart})" if spec.chart else spec.repoURL,
        path=spec.path,
        destination=f"{spec.destination.cluster}/{spec.destination.namespace}",
    )


def target_of(app: App) -> str:
    """The RBAC object of an application: "<project>/<app>"."""
    return f"{app.spec.project}/{app.name}"


@dataclass(frozen=True)
class ListView:
    rows: tuple[AppRow, ...]
    visible: int  # applications the viewer may see, before the filters
    filters: Filters
    projects: tuple[str, ...]  # the projects the viewer sees applications of
    by_sync: tuple[tuple[str, int], ...]  # of the rows shown
    by_health: tuple[tuple[str, int], ...]
    sync_statuses: tuple[str, ...] = SYNC_STATUSES
    health_statuses: tuple[str, ...] = HEALTH_STATUSES


def app_list(apps: Iterable[App], filters: Filters, can: Can, now: dt.datetime) -> ListView:
    """The applications the viewer may get, filtered, sorted by name."""
    seen = [a for a in apps if can("applications", "get", target_of(a))]
    rows = sorted((app_row(a, now) for a in seen), key=lambda r: r.name)
    shown = tuple(r for r in rows if filters.keep(r))

    def tally(values: Iterable[str], order: Sequence[str]) -> tuple[tuple[str, int], ...]:
        counts: dict[str, int] = {}
        for v in values:
            counts[v] = counts.get(v, 0) + 1
        return tuple((k, counts[k]) for k in order if k in counts)

    return ListView(
        rows=shown,
        visible=len(rows),
        filters=filters,
        projects=tuple(sorted({r.project for r in rows})),
        by_sync=tally((r.sync for r in shown), SYNC_STATUSES),
        by_health=tally((r.health for r in shown), HEALTH_STATUSES),
    )


# ---- an application: the header every tab shares --------------------------------------------


@dataclass(frozen=True)
class Buttons:
    """The actions the viewer may take on this application (the API checks again)."""

    sync: bool = False
    rollback: bool = False
    pin: bool = False
    unpin: bool = False


# the RBAC action each button needs, as the API checks it (shared/api/apps.py): pin and unpin
# decide what is synced (and unpin syncs), so they need sync
BUTTON_ACTIONS = {"sync": "sync", "rollback": "rollback", "pin": "sync", "unpin": "sync"}


def buttons(app: App, can: Can) -> Buttons:
    target = target_of(app)
    allowed = {name: can("applications", action, target) for name, action in BUTTON_ACTIONS.items()}
    pinned = bool(app.status.get("pin"))
    synced = bool((app.status.get("sync") or {}).get("commit"))
    return Buttons(
        sync=allowed["sync"],
        rollback=allowed["rollback"],
        pin=allowed["pin"] and synced and not pinned,
        unpin=allowed["unpin"] and pinned,
    )


@dataclass(frozen=True)
class Header:
    row: AppRow
    target_revision: str
    policy: str
    sync_message: str
    render_error: str
    retry: str
    drift_summary: str
    drift_error: str
    pin: str  # "abc1234 by dana@example.com at ...: reason", ''
    operation: str  # the last operation in a line, ''
    history: int  # history entries so far (the page polls until it grows)
    running: bool  # an operation holds the application's lease now
    live_commit: str  # the full commit synced (what pin pins)
    buttons: Buttons


def header(app: App, can: Can, now: dt.datetime, *, running: bool = False) -> Header:
    st, spec = app.status, app.spec
    sync, render, retry = st.get("sync") or {}, st.get("render") or {}, st.get("retry") or {}
    drift, op = st.get("drift") or {}, st.get("operation") or {}
    pin = cast(dict[str, Any], st.get("pin") or {})
    policy = spec.syncPolicy
    words = ["automated" if policy.automated else "manual"]
    words += [w for w, on in (("prune", policy.prune), ("self-heal", policy.selfHeal)) if on]
    if policy.retry:
        words.append(f"retry {policy.retry.limit}")
    return Header(
        row=app_row(app, now),
        target_revision=spec.chart_version if spec.chart else spec.targetRevision,
        policy=", ".join(words),
        sync_message=str(sync.get("message") or ""),
        render_error=str(render.get("message") or "") if render.get("errors") else "",
        retry=str(retry.get("message") or ""),
        drift_summary=str(drift.get("summary") or ""),
        drift_error=str(drift.get("error") or ""),
        pin=(
            f"{short(pin.get('commit'))} by {pin.get('by') or '?'}, {ago(pin.get('at'), now)}"
            + (f": {pin['reason']}" if pin.get("reason") else "")
            if pin
            else ""
        ),
        operation=(
            f"{op.get('initiator', '')} #{op.get('sequence', '')} of {short(op.get('commit'))}: "
            f"{op.get('phase', '')}, {ago(op.get('finishedAt'), now)}"
            if op
            else ""
        ),
        history=int(st.get("historyCount") or 0),
        running=running,
        live_commit=str(sync.get("commit") or ""),
        buttons=buttons(app, can),
    )


# ---- the resource tree -----------------------------------------------------------------------


@dataclass(frozen=True)
class Child:
    """An object the cluster made for one the application owns (a Deployment's ReplicaSets and
    their Pods, a CronJob's Jobs...), found by its ownerReferences, as Argo CD's tree shows."""

    kind: str
    name: str
    depth: int  # 1: owned by the application's object, 2: by one of its children
    health: str
    health_message: str


@dataclass(frozen=True)
class Node:
    """One object the application owns."""

    key: str  # Kind[.group]/namespace/name
    group: str
    kind: str
    namespace: str
    name: str
    health: str  # HealthStatus, or '-' for a kind without health
    health_message: str
    sync: str  # SyncStatus of this object
    last_action: str  # what the last sync did to it, ''
    children: tuple[Child, ...] = ()
    more_children: int = 0  # beyond CHILDREN_SHOWN


@dataclass(frozen=True)
class Branch:
    """The objects of one namespace ('' for cluster-scoped ones), ordered by kind and name."""

    namespace: str
    nodes: tuple[Node, ...]


@dataclass(frozen=True)
class Tree:
    branches: tuple[Branch, ...]
    count: int
    live: bool  # health read from the cluster now (False: as the last sync recorded it)
    note: str  # why the health is not live, ''


CHILDREN_SHOWN = 30  # per object of the application (a Deployment of 300 replicas lists 30)
CHILD_DEPTH = 2  # Deployment -> ReplicaSet -> Pod; CronJob -> Job -> Pod


def _uid(obj: Mapping[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("uid") or "")


def _children(
    root: Mapping[str, Any], by_owner: Mapping[str, list[dict[str, Any]]], checks: HealthChecks | None
) -> list[Child]:
    out: list[Child] = []

    def walk(uid: str, depth: int) -> None:
        for obj in sorted(by_owner.get(uid, ()), key=lambda o: (o.get("kind", ""), _name(o))):
            h = health.of(obj, checks)
            out.append(
                Child(
                    str(obj.get("kind", "")), _name(obj), depth, str(health.label(h)), h.message if h else ""
                )
            )
            if depth < CHILD_DEPTH:
                walk(_uid(obj), depth + 1)

    if _uid(root):
        walk(_uid(root), 1)
    return out


def _name(obj: Mapping[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("name") or "")


def tree(
    entries: Sequence[Mapping[str, str]],
    status: AppStatus,
    last_results: Sequence[Mapping[str, Any]],
    live: Mapping[str, dict[str, Any]] | None,
    related: Sequence[dict[str, Any]] = (),
    checks: HealthChecks | None = None,
    note: str = "",
) -> Tree:
    """The inventory's objects with their health and sync state, and what the cluster made
    for them.

    `live` maps an object's key to the object in the cluster now (a key absent: not in the
    cluster); None when the cluster could not be read, and then the health the last sync
    recorded is shown. `related` are objects that may be owned by them (ReplicaSets, Pods,
    Jobs of their namespaces). An object the last audit found drifted is OutOfSync; one
    missing from the cluster is OutOfSync and Missing."""
    drifted = set((status.get("drift") or {}).get("ids") or [])
    results = {_result_key(r): r for r in last_results}
    by_owner: dict[str, list[dict[str, Any]]] = {}
    for obj in related:
        for ref in (obj.get("metadata") or {}).get("ownerReferences") or []:
            by_owner.setdefault(str(ref.get("uid") or ""), []).append(obj)
    nodes: list[Node] = []
    for e in entries:
        oid = inventory.entry_id(dict(e))
        key = str(oid)
        result = results.get(key) or {}
        state, message = str(result.get("health") or health.NO_HEALTH_LABEL), str(result.get("message") or "")
        missing, children = False, []
        if live is not None:
            if key in live:
                h = health.of(live[key], checks)
                state, message = health.label(h), h.message if h else ""
                children = _children(live[key], by_owner, checks)
            else:
                missing = True
                state, message = HealthStatus.MISSING, "not found in the cluster"
        nodes.append(
            Node(
                key=key,
                group=oid.group,
                kind=oid.kind,
                namespace=oid.namespace,
                name=oid.name,
                health=str(state),
                health_message=message,
                sync=SyncStatus.OUT_OF_SYNC if (missing or key in drifted) else SyncStatus.SYNCED,
                last_action=str(result.get("action") or ""),
                children=tuple(children[:CHILDREN_SHOWN]),
                more_children=max(0, len(children) - CHILDREN_SHOWN),
            )
        )
    spaces: dict[str, list[Node]] = {}
    for n in nodes:
        spaces.setdefault(n.namespace, []).append(n)
    branches = tuple(
        Branch(ns, tuple(sorted(spaces[ns], key=lambda n: (_kind_rank(n.kind), n.kind, n.name))))
        for ns in sorted(spaces)
    )
    return Tree(branches, len(nodes), live is not None, note)


# how Argo CD's tree reads: namespaces and configuration first, then workloads, then the rest
_KIND_ORDER = ("Namespace", "ServiceAccount", "ConfigMap", "Secret", "Service", "Deployment", "StatefulSet")


def _kind_rank(kind: str) -> int:
    return _KIND_ORDER.index(kind) if kind in _KIND_ORDER else len(_KIND_ORDER)


def _result_key(r: Mapping[str, Any]) -> str:
    return str(ObjectId(r.get("group", ""), r.get("kind", ""), r.get("namespace", ""), r.get("name", "")))


# ---- history ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class HistoryRow:
    sequence: int
    finished_at: str
    finished_ago: str
    initiator: str
    by: str  # who asked (the verified principal for manual actions)
    commit: str  # short
    author: str
    commit_message: str
    phase: str
    health: str
    counts: str  # "2 configured, 3 unchanged"
    hooks: str  # "2 hooks: 2 Succeeded", ''
    git_move: str
    duration: str


def history_row(e: Mapping[str, Any], now: dt.datetime) -> HistoryRow:
    counts = e.get("counts") or {}
    hook_states = [str(h.get("status", "")) for h in e.get("hooks") or []]
    tally: dict[str, int] = {}
    for s in hook_states:
        tally[s] = tally.get(s, 0) + 1
    return HistoryRow(
        sequence=int(e.get("sequence") or 0),
        finished_at=iso(e.get("finishedAt")),
        finished_ago=ago(e.get("finishedAt"), now),
        initiator=str(e.get("initiator") or ""),
        by=str(e.get("triggeredBy") or ""),
        commit=short(e.get("commit")),
        author=str(e.get("author") or ""),
        commit_message=str(e.get("commitMessage") or "").split("\n", 1)[0],
        phase=str(e.get("phase") or ""),
        health=str((e.get("health") or {}).get("status") or ""),
        counts=", ".join(f"{n} {a}" for a, n in sorted(counts.items())),
        hooks=(
            f"{len(hook_states)} hook{'s' if len(hook_states) != 1 else ''}: "
            + ", ".join(f"{n} {s}" for s, n in sorted(tally.items()))
            if hook_states
            else ""
        ),
        git_move=str(e.get("gitMove") or ""),
        duration=f"{float(e['durationSeconds']):.1f} s" if e.get("durationSeconds") is not None else "",
    )


@dataclass(frozen=True)
class History:
    rows: tuple[HistoryRow, ...]  # newest first
    can_rollback: bool
    live_sequence: int  # the newest entry of the revision the cluster runs now
    current: frozenset[int]  # the entries of that revision: no rollback button (nothing to do)


def history(entries: Sequence[Mapping[str, Any]], app: App, can: Can, now: dt.datetime) -> History:
    rows = tuple(sorted((history_row(e, now) for e in entries), key=lambda r: -r.sequence))
    live = str((app.status.get("sync") or {}).get("revision") or "")
    current = frozenset(int(e.get("sequence") or 0) for e in entries if live and e.get("revision") == live)
    return History(rows, buttons(app, can).rollback, max(current, default=0), current)


@dataclass(frozen=True)
class ObjectResult:
    key: str
    kind: str
    namespace: str
    name: str
    action: str
    health: str
    message: str


@dataclass(frozen=True)
class HookResult:
    kind: str
    namespace: str
    name: str
    phase: str
    status: str
    message: str
    deleted: bool


@dataclass(frozen=True)
class HistoryDetail:
    row: HistoryRow
    revision: str
    commit: str  # full
    operation: str
    message: str  # the entry's summary line
    results: tuple[ObjectResult, ...]
    hooks: tuple[HookResult, ...]
    can_rollback: bool


def history_detail(entry: Mapping[str, Any], app: App, can: Can, now: dt.datetime) -> HistoryDetail:
    results = tuple(
        ObjectResult(
            key=_result_key(r),
            kind=str(r.get("kind", "")),
            namespace=str(r.get("namespace", "")),
            name=str(r.get("name", "")),
            action=str(r.get("action", "")),
            health=str(r.get("health") or health.NO_HEALTH_LABEL),
            message=str(r.get("message") or ""),
        )
        for r in entry.get("resources") or []
    )
    hook_rows = tuple(
        HookResult(
            kind=str(h.get("kind", "")),
            namespace=str(h.get("namespace", "")),
            name=str(h.get("name", "")),
            phase=str(h.get("phase", "")),
            status=str(h.get("status", "")),
            message=str(h.get("message") or ""),
            deleted=bool(h.get("deleted")),
        )
        for h in entry.get("hooks") or []
    )
    return HistoryDetail(
        row=history_row(entry, now),
        revision=str(entry.get("revision") or ""),
        commit=str(entry.get("commit") or ""),
        operation=str(entry.get("operation") or ""),
        message=str(entry.get("summary") or ""),
        results=results,
        hooks=hook_rows,
        can_rollback=buttons(app, can).rollback,
    )


# ---- the diff --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Line:
    kind: str  # add | del | hunk | ctx | file
    text: str


@dataclass(frozen=True)
class FileDiff:
    object: str
    lines: tuple[Line, ...]
    added: int
    removed: int


def diff_lines(text: str) -> tuple[Line, ...]:
    """A unified diff's lines, each marked for its colour (and for screen readers: the
    template says 'added'/'removed' in words, not only in colour)."""
    out = []
    for raw in text.splitlines():
        if raw.startswith(("+++", "---")):
            kind = "file"
        elif raw.startswith("@@"):
            kind = "hunk"
        elif raw.startswith("+"):
            kind = "add"
        elif raw.startswith("-"):
            kind = "del"
        else:
            kind = "ctx"
        out.append(Line(kind, raw))
    return tuple(out)


def file_diff(obj: str, text: str) -> FileDiff:
    lines = diff_lines(text)
    return FileDiff(
        obj, lines, sum(1 for x in lines if x.kind == "add"), sum(1 for x in lines if x.kind == "del")
    )


@dataclass(frozen=True)
class DiffView:
    mode: str  # live | revisions
    files: tuple[FileDiff, ...]
    choices: tuple[HistoryRow, ...]  # the history entries one may compare
    old: int  # the entries compared (revisions mode)
    new: int
    error: str  # why there is no diff to show, ''


# ---- drift -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class FieldDrift:
    path: str
    desired: str  # JSON text (Secret values are digests: the audit masked them)
    live: str
    manager: str  # the field manager that owns the field now, ''
    operation: str
    time: str
    note: str


@dataclass(frozen=True)
class ObjectDriftRow:
    object: str
    drift: str  # modified | missing | extra
    written_by: str  # the person the audit log names, ''
    fields: tuple[FieldDrift, ...]


@dataclass(frozen=True)
class DriftRecord:
    detected_at: str
    detected_ago: str
    commit: str
    action: str
    summary: str
    objects: tuple[ObjectDriftRow, ...]
    more: int  # drifted objects kept in the record's parts, not shown


def _json(value: Any) -> str:
    return "" if value is None else json.dumps(value, sort_keys=True, default=str)


def drift_record(record: Mapping[str, Any], now: dt.datetime) -> DriftRecord:
    objects = tuple(
        ObjectDriftRow(
            object=str(o.get("object", "")),
            drift=str(o.get("drift", "")),
            written_by=str(o.get("writtenBy") or ""),
            fields=tuple(
                FieldDrift(
                    path=str(f.get("path", "")),
                    desired=_json(f.get("desired")),
                    live=_json(f.get("live")),
                    manager=str(f.get("manager") or ""),
                    operation=str(f.get("operation") or ""),
                    time=str(f.get("time") or ""),
                    note=str(f.get("note") or ""),
                )
                for f in o.get("fields") or []
            ),
        )
        for o in record.get("objects") or []
    )
    return DriftRecord(
        detected_at=iso(record.get("detectedAt")),
        detected_ago=ago(record.get("detectedAt"), now),
        commit=short(record.get("commit")),
        action=str(record.get("action") or ""),
        summary=str(record.get("summary") or ""),
        objects=objects,
        more=max(0, int(record.get("objectCount") or len(objects)) - len(objects)),
    )
