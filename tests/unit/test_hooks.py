"""Sync hooks as pure decisions (shared/core/hooks.py), table by table: classification (Argo CD
annotations, Helm's mapped, Skip, crd-install, test hooks), delete policies, waves from Helm
weights, per-sync naming of generateName hooks, a hook's status from its live object, the
delete-after rule; and the render letting a generateName hook through (shared/render/parse.py)."""

from __future__ import annotations

from typing import Any

import pytest

from shared.core import hooks
from shared.core.hooks import DeletePolicy, HookPhase, Role
from shared.core.status import HookStatus
from shared.render import parse
from shared.sync.engine import wave_of

PRE, SYNC, POST, FAIL = HookPhase.PRE_SYNC, HookPhase.SYNC, HookPhase.POST_SYNC, HookPhase.SYNC_FAIL
BHC, SUCC, FAILED = DeletePolicy.BEFORE_HOOK_CREATION, DeletePolicy.HOOK_SUCCEEDED, DeletePolicy.HOOK_FAILED


def job(annotations: dict[str, str] | None = None, **meta: Any) -> dict[str, Any]:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "migrate", **meta, "annotations": annotations or {}},
    }


@pytest.mark.parametrize(
    ("annotations", "role", "phases"),
    [
        ({}, Role.RESOURCE, ()),
        ({"argocd.argoproj.io/hook": "PreSync"}, Role.HOOK, (PRE,)),
        ({"argocd.argoproj.io/hook": "Sync"}, Role.HOOK, (SYNC,)),
        ({"argocd.argoproj.io/hook": "PostSync"}, Role.HOOK, (POST,)),
        ({"argocd.argoproj.io/hook": "SyncFail"}, Role.HOOK, (FAIL,)),
        ({"argocd.argoproj.io/hook": "PostSync, PreSync"}, Role.HOOK, (PRE, POST)),  # phase order
        ({"argocd.argoproj.io/hook": "Skip"}, Role.SKIPPED, ()),
        ({"argocd.argoproj.io/hook": "PostDelete"}, Role.SKIPPED, ()),  # a deletion hook: not on sync
        ({"argocd.argoproj.io/hook": "Nonsense"}, Role.SKIPPED, ()),
        # Helm's, mapped as gitops-engine pkg/sync/hook/helm does
        ({"helm.sh/hook": "pre-install"}, Role.HOOK, (PRE,)),
        ({"helm.sh/hook": "pre-upgrade"}, Role.HOOK, (PRE,)),
        ({"helm.sh/hook": "pre-install,pre-upgrade"}, Role.HOOK, (PRE,)),
        ({"helm.sh/hook": "post-install"}, Role.HOOK, (POST,)),
        ({"helm.sh/hook": "post-upgrade"}, Role.HOOK, (POST,)),
        ({"helm.sh/hook": "pre-install,post-install"}, Role.HOOK, (PRE, POST)),
        ({"helm.sh/hook": "crd-install"}, Role.RESOURCE, ()),  # applied as an ordinary object
        ({"helm.sh/hook": "test"}, Role.SKIPPED, ()),
        ({"helm.sh/hook": "test-success"}, Role.SKIPPED, ()),
        ({"helm.sh/hook": "pre-delete"}, Role.SKIPPED, ()),
        ({"helm.sh/hook": "pre-rollback"}, Role.SKIPPED, ()),
        # Argo CD's annotation wins over Helm's
        ({"argocd.argoproj.io/hook": "PostSync", "helm.sh/hook": "pre-install"}, Role.HOOK, (POST,)),
        ({"argocd.argoproj.io/hook": "Skip", "helm.sh/hook": "pre-install"}, Role.SKIPPED, ()),
    ],
)
def test_classify(annotations: dict[str, str], role: Role, phases: tuple[HookPhase, ...]) -> None:
    got = hooks.classify(job(annotations))
    assert (got.role, got.phases) == (role, phases)
    assert bool(got.reason) == (role == Role.SKIPPED)


@pytest.mark.parametrize(
    ("annotations", "policies"),
    [
        ({"argocd.argoproj.io/hook": "PreSync"}, (BHC,)),  # the default
        ({"argocd.argoproj.io/hook-delete-policy": "HookSucceeded"}, (SUCC,)),
        ({"argocd.argoproj.io/hook-delete-policy": "HookFailed"}, (FAILED,)),
        ({"argocd.argoproj.io/hook-delete-policy": "HookSucceeded,BeforeHookCreation"}, (SUCC, BHC)),
        ({"argocd.argoproj.io/hook-delete-policy": "Bogus"}, (BHC,)),
        ({"helm.sh/hook-delete-policy": "hook-succeeded"}, (SUCC,)),
        ({"helm.sh/hook-delete-policy": "hook-failed"}, (FAILED,)),
        ({"helm.sh/hook-delete-policy": "before-hook-creation,hook-succeeded"}, (BHC, SUCC)),
        (  # Argo CD's policy wins over Helm's
            {
                "argocd.argoproj.io/hook-delete-policy": "HookFailed",
                "helm.sh/hook-delete-policy": "hook-succeeded",
            },
            (FAILED,),
        ),
    ],
)
def test_delete_policies(annotations: dict[str, str], policies: tuple[DeletePolicy, ...]) -> None:
    assert hooks.delete_policies(job(annotations)) == policies


@pytest.mark.parametrize(
    ("annotations", "wave"),
    [
        ({}, 0),
        ({"helm.sh/hook-weight": "-5"}, -5),
        ({"helm.sh/hook-weight": "3"}, 3),
        ({"helm.sh/hook-weight": "x"}, 0),
        ({"argocd.argoproj.io/sync-wave": "2", "helm.sh/hook-weight": "7"}, 2),  # the wave wins
        ({"gitops.dev/sync-wave": "1"}, 1),
    ],
)
def test_wave_from_helm_weight(annotations: dict[str, str], wave: int) -> None:
    assert wave_of(job(annotations)) == wave


@pytest.mark.parametrize(
    ("meta", "operation", "phase", "expected"),
    [
        ({"name": "migrate"}, "op-1", PRE, "migrate"),  # a name is kept
        ({"generateName": "migrate-"}, "op-1", PRE, "migrate-" + "*"),
        ({"generateName": "x" * 80}, "op-1", PRE, "x" * 53 + "*"),  # 63 characters at most
    ],
)
def test_hook_name(meta: dict[str, str], operation: str, phase: HookPhase, expected: str) -> None:
    obj = {"kind": "Job", "metadata": {k: v for k, v in meta.items()}}
    name = hooks.hook_name(obj, operation, phase)
    if expected.endswith("*"):
        assert name.startswith(expected[:-1]) and len(name) == len(expected) - 1 + hooks.HASH_CHARS
        assert len(name) <= 63
    else:
        assert name == expected


def test_generated_names_are_per_operation_and_phase_and_stable() -> None:
    obj = {"kind": "Job", "metadata": {"generateName": "migrate-"}}
    one = hooks.hook_name(obj, "op-1", PRE)
    assert one == hooks.hook_name(obj, "op-1", PRE)  # a redelivery finds the same object
    assert one != hooks.hook_name(obj, "op-2", PRE)  # the next sync makes a new one
    assert one != hooks.hook_name(obj, "op-1", POST)  # one per phase
    named = hooks.named(obj, "op-1", PRE)
    assert named["metadata"] == {"name": one} and obj["metadata"] == {"generateName": "migrate-"}


def _job_status(*conditions: tuple[str, str], active: int = 0) -> dict[str, Any]:
    return {
        "kind": "Job",
        "metadata": {"name": "j", "generation": 1},
        "status": {
            "active": active,
            "conditions": [
                {"type": t, "status": "True", "reason": r, "message": f"{r} happened"} for t, r in conditions
            ],
        },
    }


@pytest.mark.parametrize(
    ("live", "status"),
    [
        (None, HookStatus.RUNNING),
        (_job_status(active=1), HookStatus.RUNNING),
        (_job_status(("Complete", "")), HookStatus.SUCCEEDED),
        (_job_status(("Failed", "BackoffLimitExceeded")), HookStatus.FAILED),
        ({"kind": "Pod", "metadata": {"name": "p"}, "status": {"phase": "Running"}}, HookStatus.RUNNING),
        ({"kind": "Pod", "metadata": {"name": "p"}, "status": {"phase": "Succeeded"}}, HookStatus.SUCCEEDED),
        ({"kind": "Pod", "metadata": {"name": "p"}, "status": {"phase": "Failed"}}, HookStatus.FAILED),
        ({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}, HookStatus.SUCCEEDED),
    ],
)
def test_status_of(live: dict[str, Any] | None, status: HookStatus) -> None:
    assert hooks.status_of(live)[0] == status


def test_failed_job_message_names_the_reason() -> None:
    assert hooks.status_of(_job_status(("Failed", "BackoffLimitExceeded")))[1] == (
        "BackoffLimitExceeded: BackoffLimitExceeded happened"
    )


@pytest.mark.parametrize(
    ("policies", "succeeded", "status", "deletes"),
    [
        ((BHC,), True, HookStatus.SUCCEEDED, False),
        ((BHC,), False, HookStatus.FAILED, False),
        ((SUCC,), True, HookStatus.SUCCEEDED, True),
        ((SUCC,), False, HookStatus.FAILED, False),
        ((SUCC,), False, HookStatus.SUCCEEDED, False),  # the hook succeeded, the operation did not
        ((FAILED,), False, HookStatus.FAILED, True),
        ((FAILED,), False, HookStatus.SUCCEEDED, True),  # gitops-engine: the policy, not the result
        ((FAILED,), True, HookStatus.SUCCEEDED, False),
        ((SUCC, FAILED), False, HookStatus.FAILED, True),
        ((SUCC, FAILED), True, HookStatus.SUCCEEDED, True),
        ((SUCC,), True, HookStatus.SKIPPED, False),  # never created
    ],
)
def test_deleted_when_the_operation_ends(
    policies: tuple[DeletePolicy, ...], succeeded: bool, status: HookStatus, deletes: bool
) -> None:
    assert hooks.deleted_at_end(policies, status, succeeded=succeeded) is deletes


def test_split_leaves_out_skipped_objects() -> None:
    deploy = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}}
    pre = job({"argocd.argoproj.io/hook": "PreSync"})
    skipped = job({"argocd.argoproj.io/hook": "Skip"}, name="skipped")
    test = job({"helm.sh/hook": "test"}, name="test")
    crd = job({"helm.sh/hook": "crd-install"}, name="crd")
    assert hooks.split([deploy, pre, skipped, test, crd]) == ([deploy, crd], [pre])
    assert hooks.resources_of([deploy, pre, skipped]) == [deploy]


def test_summary() -> None:
    results = [
        hooks.HookResult("Job", "ns", "a", PRE, HookStatus.SUCCEEDED),
        hooks.HookResult("Job", "ns", "b", PRE, HookStatus.FAILED, "BackoffLimitExceeded"),
        hooks.HookResult("Job", "ns", "c", FAIL, HookStatus.SUCCEEDED),
    ]
    assert hooks.summary(results) == (
        "hooks: 1 Failed, 2 Succeeded (PreSync Job/b Failed: BackoffLimitExceeded)"
    )
    assert hooks.summary([]) == ""


GENERATE_NAME_HOOK = b"""apiVersion: batch/v1
kind: Job
metadata:
  generateName: schema-migrate-
  annotations:
    argocd.argoproj.io/hook: PreSync
spec:
  template:
    spec:
      restartPolicy: Never
      containers: [{name: m, image: busybox:1.36}]
"""


@pytest.mark.parametrize(
    ("text", "error"),
    [
        (GENERATE_NAME_HOOK, ""),
        (GENERATE_NAME_HOOK.replace(b"argocd.argoproj.io/hook: PreSync", b"helm.sh/hook: pre-install"), ""),
        (
            GENERATE_NAME_HOOK.replace(b"argocd.argoproj.io/hook: PreSync", b"other: x"),
            "only allowed on sync hooks",
        ),
        (GENERATE_NAME_HOOK.replace(b"generateName: schema-migrate-", b"labels: {}"), "required"),
        (GENERATE_NAME_HOOK.replace(b"schema-migrate-", b"Bad_Name-"), "does not start a valid name"),
    ],
)
def test_render_lets_generate_name_hooks_through(text: bytes, error: str) -> None:
    rendered = parse.render_files([("hook.yaml", text)])
    if not error:
        assert not rendered.errors and len(rendered.objects) == 1
    else:
        assert rendered.errors and error in rendered.errors[0].message


@pytest.mark.parametrize(
    ("annotations", "phases", "role"),
    [
        ({"argocd.argoproj.io/hook": "PreDelete"}, (HookPhase.PRE_DELETE,), Role.SKIPPED),
        (
            {"argocd.argoproj.io/hook": "PostDelete,PreDelete"},
            (HookPhase.PRE_DELETE, HookPhase.POST_DELETE),
            Role.SKIPPED,
        ),
        ({"argocd.argoproj.io/hook": "PreSync,PostDelete"}, (HookPhase.POST_DELETE,), Role.HOOK),  # both
        ({"argocd.argoproj.io/hook": "PreSync"}, (), Role.HOOK),
        ({"helm.sh/hook": "pre-delete"}, (), Role.SKIPPED),  # Argo CD maps no Helm deletion hook
        ({}, (), Role.RESOURCE),
    ],
)
def test_deletion_phases(annotations: dict[str, str], phases: tuple[HookPhase, ...], role: Role) -> None:
    obj = {"kind": "Job", "metadata": {"name": "j", "annotations": annotations}}
    assert hooks.deletion_phases(obj) == phases
    assert hooks.classify(obj).role == role
    assert HookPhase.PRE_DELETE not in hooks.classify(obj).phases  # never run by a sync
