"""The RBAC policy: read from a ConfigMap like Argo CD's `argocd-rbac-cm` (policy.csv,
policy.default), checked, and stored as the policy in force (settings/rbac).

Two ways in: the config application (GitOps for the GitOps tool: its manifests are that
ConfigMap, its destination the control plane, see shared/steps/apply.py), and the admin
bootstrap of the very first policy (`gitops admin bootstrap-policy`, Firestore directly).
A bad policy is refused naming the ConfigMap, the key and the line, and the policy in force
stays as it was.
"""

from __future__ import annotations

from typing import Any

from shared.adapters import store
from shared.core import rbac
from shared.core.manifests import ObjectId
from shared.core.model import AppSpec
from shared.core.status import Action
from shared.sync.engine import ObjectResult, SyncResult

CONFIGMAP = "gitops-rbac-cm"


def is_policy(obj: dict[str, Any]) -> bool:
    meta = obj.get("metadata") or {}
    return obj.get("kind") == "ConfigMap" and meta.get("name") in (CONFIGMAP, "argocd-rbac-cm")


def of_configmap(obj: dict[str, Any], where: str = "") -> rbac.Policy:
    """The policy a ConfigMap holds (data: policy.csv, policy.default); PolicyError naming it."""
    name = (obj.get("metadata") or {}).get("name", CONFIGMAP)
    data = obj.get("data") or {}
    source = f"{where}ConfigMap {name} data[policy.csv]"
    policy = rbac.parse(
        str(data.get("policy.csv") or ""), source=source, default=str(data.get("policy.default") or "")
    )
    default = policy.default
    if default and not default.startswith("role:"):
        raise rbac.PolicyError(
            f"{where}ConfigMap {name} data[policy.default]: {default!r} is not a role (role:...)"
        )
    return policy


def store_policy(policy: rbac.Policy, origin: dict[str, Any]) -> bool:
    """Put POLICY in force; False when it is already (nothing written)."""
    current, _ = store.get_policy()
    if current == policy:
        return False
    store.put_policy(policy, origin)
    return True


def bootstrap(text: str, default: str, *, by: str) -> rbac.Policy:
    policy = rbac.parse(text, default=default)
    store.put_policy(policy, {"source": "admin-bootstrap", "by": by})
    return policy


def apply_objects(spec: AppSpec, objs: list[dict[str, Any]], origin: dict[str, Any]) -> SyncResult:
    """The apply step of the config application (its destination: the control plane): the
    one RBAC ConfigMap among OBJS is checked and put in force; anything else, or a bad policy,
    fails the sync naming the object, key and line, and the policy in force stays."""
    where = f"{spec.path.rstrip('/') or '.'}: "
    results: list[ObjectResult] = [
        ObjectResult(
            ObjectId.of(o),
            Action.FAILED,
            f"only the RBAC ConfigMap {CONFIGMAP} is applied to {rbac.CONTROL_PLANE}",
        )
        for o in objs
        if not is_policy(o)
    ]
    found = [o for o in objs if is_policy(o)]
    if len(found) != 1:
        oid = ObjectId("", "ConfigMap", "", CONFIGMAP)
        results.append(
            ObjectResult(oid, Action.FAILED, f"{where}expected one ConfigMap {CONFIGMAP}, found {len(found)}")
        )
        return SyncResult(objects=results)
    oid = ObjectId.of(found[0])
    try:
        policy = of_configmap(found[0], where)
    except rbac.PolicyError as exc:
        return SyncResult(objects=[*results, ObjectResult(oid, Action.FAILED, str(exc))])
    if results:
        return SyncResult(
            objects=[*results, ObjectResult(oid, Action.SKIPPED, "not put in force: the sync failed")]
        )
    changed = store_policy(policy, origin)
    summary = f"policy in force: {len(policy.rules)} rules, {len(policy.bindings)} bindings"
    return SyncResult(
        objects=[ObjectResult(oid, Action.CONFIGURED if changed else Action.UNCHANGED, summary)]
    )
