"""Sync hooks, decided as data: which objects are hooks, in which phases, deleted when, named how.

Anchors: Argo CD's "Resource Hooks" and "Sync Phases and Waves" (user guide) and gitops-engine
pkg/sync/hook (its Helm mapping in pkg/sync/hook/helm):

- `argocd.argoproj.io/hook` (a comma-separated list) puts an object in the phases PreSync, Sync,
  PostSync or SyncFail; `Skip` alone means the object is never applied. A hook is not a
  resource of the application: never in its inventory, never pruned, never drift.
- Without an Argo CD hook annotation, Helm's are mapped: `helm.sh/hook` pre-install and
  pre-upgrade -> PreSync, post-install and post-upgrade -> PostSync; `crd-install` is not a
  hook (an ordinary object, and CRDs apply first); any other Helm hook (test, test-success,
  pre-delete, rollback...) maps to no phase and is never applied.
- `argocd.argoproj.io/hook-delete-policy` (else `helm.sh/hook-delete-policy` mapped):
  HookSucceeded, HookFailed, BeforeHookCreation, the default when none is given.
- A hook with only `metadata.generateName` gets a name per sync: the generateName plus a short
  hash of the operation and phase, so a redelivered operation finds the same object.
- A hook's wave is its sync wave, else its `helm.sh/hook-weight` (engine.wave_of).
"""

from __future__ import annotations

import enum
import hashlib
from dataclasses import dataclass
from typing import Any

from shared.core import health
from shared.core.status import HealthStatus, HookStatus

ANNOTATION_HOOK = "argocd.argoproj.io/hook"
ANNOTATION_DELETE_POLICY = "argocd.argoproj.io/hook-delete-policy"
HELM_HOOK = "helm.sh/hook"
HELM_WEIGHT = "helm.sh/hook-weight"
HELM_DELETE_POLICY = "helm.sh/hook-delete-policy"
NAME_MAX = 63  # a Job's name becomes its pods' `job-name` label value
HASH_CHARS = 10


class HookPhase(enum.StrEnum):
    """The phases of a sync in which hooks run, in order (SyncFail only when the sync failed)."""

    PRE_SYNC = "PreSync"
    SYNC = "Sync"
    POST_SYNC = "PostSync"
    SYNC_FAIL = "SyncFail"
    PRE_DELETE = "PreDelete"  # on `app delete --cascade` only, before the objects are deleted
    POST_DELETE = "PostDelete"  # ... and after


SKIP = "Skip"
SYNC_PHASES = (HookPhase.PRE_SYNC, HookPhase.SYNC, HookPhase.POST_SYNC, HookPhase.SYNC_FAIL)
DELETION_PHASES = (HookPhase.PRE_DELETE, HookPhase.POST_DELETE)  # Argo CD: on deletion, not on sync


class DeletePolicy(enum.StrEnum):
    BEFORE_HOOK_CREATION = "BeforeHookCreation"
    HOOK_SUCCEEDED = "HookSucceeded"
    HOOK_FAILED = "HookFailed"


HELM_PHASES = {
    "pre-install": HookPhase.PRE_SYNC,
    "pre-upgrade": HookPhase.PRE_SYNC,
    "post-install": HookPhase.POST_SYNC,
    "post-upgrade": HookPhase.POST_SYNC,
}
HELM_POLICIES = {
    "before-hook-creation": DeletePolicy.BEFORE_HOOK_CREATION,
    "hook-succeeded": DeletePolicy.HOOK_SUCCEEDED,
    "hook-failed": DeletePolicy.HOOK_FAILED,
}
HELM_CRD_INSTALL = "crd-install"


class Role(enum.StrEnum):
    RESOURCE = "resource"  # an ordinary object of the application
    HOOK = "hook"  # run in its phases, not owned
    SKIPPED = "skipped"  # never applied (Skip, a Helm test hook, a deletion hook)


@dataclass(frozen=True)
class Classified:
    role: Role
    phases: tuple[HookPhase, ...] = ()
    policies: tuple[DeletePolicy, ...] = ()
    reason: str = ""  # why a skipped object is not applied


def _annotations(obj: dict[str, Any]) -> dict[str, Any]:
    return (obj.get("metadata") or {}).get("annotations") or {}


def _csv(value: Any) -> list[str]:
    return [v.strip() for v in str(value or "").split(",") if v.strip()]


def classify(obj: dict[str, Any]) -> Classified:
    """Whether `obj` is a resource, a hook (with its phases and delete policies) or skipped."""
    annotations = _annotations(obj)
    if ANNOTATION_HOOK in annotations:
        words = _csv(annotations[ANNOTATION_HOOK])
        if words == [SKIP]:
            return Classified(Role.SKIPPED, reason=f"{ANNOTATION_HOOK}: Skip")
        phases = tuple(HookPhase(w) for w in words if w in SYNC_PHASES)
        if not phases:
            return Classified(
                Role.SKIPPED, reason=f"{ANNOTATION_HOOK}: {', '.join(words)} is not run on sync"
            )
        return Classified(Role.HOOK, _dedupe(phases), delete_policies(obj))
    if HELM_HOOK in annotations:
        words = _csv(annotations[HELM_HOOK])
        if words == [HELM_CRD_INSTALL]:
            return Classified(Role.RESOURCE)
        phases = tuple(HELM_PHASES[w] for w in words if w in HELM_PHASES)
        if not phases:
            return Classified(Role.SKIPPED, reason=f"{HELM_HOOK}: {', '.join(words)} is not run on sync")
        return Classified(Role.HOOK, _dedupe(phases), delete_policies(obj))
    return Classified(Role.RESOURCE)


def deletion_phases(obj: dict[str, Any]) -> tuple[HookPhase, ...]:
    """The deletion phases (PreDelete, PostDelete) `argocd.argoproj.io/hook` puts an object in
    (Argo CD maps no Helm hook to them); such an object is never applied by a sync."""
    words = _csv(_annotations(obj).get(ANNOTATION_HOOK))
    return tuple(p for p in DELETION_PHASES if p in words)


def _dedupe(phases: tuple[HookPhase, ...]) -> tuple[HookPhase, ...]:
    return tuple(p for p in HookPhase if p in phases)  # in phase order, once each


def delete_policies(obj: dict[str, Any]) -> tuple[DeletePolicy, ...]:
    """Argo CD's policies, else Helm's mapped, else BeforeHookCreation."""
    annotations = _annotations(obj)
    argo = [DeletePolicy(w) for w in _csv(annotations.get(ANNOTATION_DELETE_POLICY)) if w in _POLICY_WORDS]
    if argo:
        return tuple(dict.fromkeys(argo))
    helm = [HELM_POLICIES[w] for w in _csv(annotations.get(HELM_DELETE_POLICY)) if w in HELM_POLICIES]
    return tuple(dict.fromkeys(helm)) or (DeletePolicy.BEFORE_HOOK_CREATION,)


_POLICY_WORDS = {p.value for p in DeletePolicy}


def helm_weight(obj: dict[str, Any]) -> int:
    """`helm.sh/hook-weight` as an integer (0 when absent or not a number)."""
    try:
        return int(str(_annotations(obj).get(HELM_WEIGHT, "0")).strip())
    except ValueError:
        return 0


def is_hook(obj: dict[str, Any]) -> bool:
    return classify(obj).role == Role.HOOK


def hook_name(obj: dict[str, Any], operation: str, phase: HookPhase) -> str:
    """The hook's name: its own, or its generateName plus a hash of (operation, phase)."""
    meta = obj.get("metadata") or {}
    if meta.get("name"):
        return str(meta["name"])
    suffix = hashlib.sha256(f"{operation}/{phase}".encode()).hexdigest()[:HASH_CHARS]
    prefix = str(meta.get("generateName") or "hook-")[: NAME_MAX - HASH_CHARS]
    return prefix + suffix


def named(obj: dict[str, Any], operation: str, phase: HookPhase) -> dict[str, Any]:
    """A copy of the hook with its name for this sync's phase (generateName dropped)."""
    meta = {k: v for k, v in (obj.get("metadata") or {}).items() if k != "generateName"}
    meta["name"] = hook_name(obj, operation, phase)
    return {**obj, "metadata": meta}


def status_of(live: dict[str, Any] | None) -> tuple[HookStatus, str]:
    """Where a hook is: a Job by its Complete/Failed conditions, a Pod by its phase, any other
    kind by its health (Healthy: done, Degraded: failed)."""
    if live is None:
        return HookStatus.RUNNING, "not created yet"
    kind, status = live.get("kind"), live.get("status") or {}
    if kind == "Job":
        conditions = {c.get("type"): c for c in status.get("conditions") or [] if c.get("status") == "True"}
        if "Failed" in conditions:
            c = conditions["Failed"]
            return HookStatus.FAILED, f"{c.get('reason', 'Failed')}: {c.get('message', '')}".rstrip(": ")
        if "Complete" in conditions:
            return HookStatus.SUCCEEDED, "job completed"
        return HookStatus.RUNNING, f"{status.get('active', 0)} active pod(s)"
    if kind == "Pod":
        phase = status.get("phase", "Pending")
        if phase == "Succeeded":
            return HookStatus.SUCCEEDED, "pod succeeded"
        if phase == "Failed":
            return HookStatus.FAILED, status.get("message") or status.get("reason") or "pod failed"
        return HookStatus.RUNNING, f"pod {phase}"
    h = health.of(live)
    if h is None:  # a kind without health is done once it exists (Argo CD: nothing to wait for)
        return HookStatus.SUCCEEDED, "created"
    if h.status == HealthStatus.HEALTHY:
        return HookStatus.SUCCEEDED, h.message
    if h.status == HealthStatus.DEGRADED:
        return HookStatus.FAILED, h.message
    return HookStatus.RUNNING, f"{h.status} {h.message}".strip()


def deleted_at_end(policies: tuple[DeletePolicy, ...], status: HookStatus, *, succeeded: bool) -> bool:
    """Whether a hook that ended with `status` is deleted when the operation ends: gitops-engine
    deletes HookSucceeded hooks once the whole operation succeeded, and HookFailed hooks once it
    failed, whatever each hook's own result (it reads the policy only); a hook never created
    (Skipped) has nothing to delete."""
    if status == HookStatus.SKIPPED:
        return False
    return (DeletePolicy.HOOK_SUCCEEDED if succeeded else DeletePolicy.HOOK_FAILED) in policies


@dataclass(frozen=True)
class HookResult:
    """One hook run in one phase, as a history entry records it."""

    kind: str
    namespace: str
    name: str
    phase: HookPhase
    status: HookStatus
    message: str = ""
    deleted: bool = False  # by its delete policy, when the operation ended
    created: bool = True  # False: the API server refused it (nothing to delete)

    def to_doc(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "kind": self.kind,
            "namespace": self.namespace,
            "name": self.name,
            "phase": self.phase,
            "status": self.status,
        }
        if self.message:
            doc["message"] = self.message
        if self.deleted:
            doc["deleted"] = True
        return doc

    def describe(self) -> str:
        return f"{self.phase} {self.kind}/{self.name} {self.status}" + (
            f": {self.message}" if self.status == HookStatus.FAILED and self.message else ""
        )


def split(objs: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(resources, hooks) of a revision's objects; skipped objects are in neither."""
    resources, hooks = [], []
    for obj in objs:
        role = classify(obj).role
        if role == Role.RESOURCE:
            resources.append(obj)
        elif role == Role.HOOK:
            hooks.append(obj)
    return resources, hooks


def resources_of(objs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The application's own objects: no hooks, nothing skipped (what the audit compares)."""
    return split(objs)[0]


def summary(results: list[HookResult]) -> str:
    """'hooks: 2 Succeeded, 1 Failed (PreSync Job/migrate Failed: BackoffLimitExceeded)'."""
    if not results:
        return ""
    failed = [r.describe() for r in results if r.status == HookStatus.FAILED]
    return count_line([r.status for r in results]) + (f" ({failed[0]})" if failed else "")


def count_line(statuses: list[str]) -> str:
    """'hooks: 1 Failed, 2 Succeeded' ('' for none)."""
    counts: dict[str, int] = {}
    for s in statuses:
        counts[s] = counts.get(s, 0) + 1
    return "hooks: " + ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) if counts else ""
