"""A sync in Argo CD's phases (its "Sync Phases and Waves"): PreSync hooks, then the Sync phase
(the application's objects and the Sync hooks, wave by wave: the engine), then, once every
object is Healthy, the PostSync hooks; when any of it failed, the SyncFail hooks.

A failed PreSync hook fails the sync before the Sync phase applies anything. Without hooks
this is exactly the engine's sync.
"""

from __future__ import annotations

from typing import Any

from shared.adapters.kube import Cluster
from shared.core import hooks
from shared.core.hooks import HookPhase
from shared.core.manifests import ObjectId
from shared.core.model import AppSpec
from shared.core.status import Action
from shared.sync.engine import (
    ObjectResult,
    Options,
    SyncResult,
    WaveHooks,
    apply_all,
    requests_since,
    wait_healthy,
)
from shared.sync.hookrun import Hook, Runner


def sync(
    cluster: Cluster,
    spec: AppSpec,
    desired: list[dict[str, Any]],
    old_inventory: list[dict[str, str]],
    opts: Options,
    *,
    operation: str,
    refused: dict[ObjectId, str] | None = None,
) -> SyncResult:
    """Sync prepared objects, hooks included (see the module doc)."""
    resources, hook_objs = hooks.split(desired)
    if not hook_objs:
        return apply_all(cluster, spec, resources, old_inventory, opts, refused)
    before = cluster.request_counts()
    runner = Runner(cluster, [Hook.of(o) for o in hook_objs], operation, opts)
    result = _phases(cluster, spec, resources, old_inventory, opts, refused or {}, runner)
    result.requests = requests_since(cluster, before)  # the hooks' requests too
    return result


def _phases(
    cluster: Cluster,
    spec: AppSpec,
    resources: list[dict[str, Any]],
    old_inventory: list[dict[str, str]],
    opts: Options,
    refused: dict[ObjectId, str],
    runner: Runner,
) -> SyncResult:
    if refused:
        result = apply_all(cluster, spec, resources, old_inventory, opts, refused)
        own = _ids(resources)
        result.objects += [ObjectResult(o, Action.FAILED, why) for o, why in refused.items() if o not in own]
        for phase in HookPhase:
            runner.skip(phase, "not run: the sync was refused")
        result.hooks = runner.results
        return result
    problem = runner.phase(HookPhase.PRE_SYNC)
    if problem:
        result = SyncResult(
            objects=[
                ObjectResult(ObjectId.of(o), Action.SKIPPED, f"not applied: PreSync hook failed: {problem}")
                for o in resources
            ],
            inventory=list(old_inventory),
            hooks=runner.results,
        )
        for phase in (HookPhase.SYNC, HookPhase.POST_SYNC):
            runner.skip(phase, "not run: a PreSync hook failed")
    else:
        waves = runner.waves(HookPhase.SYNC)
        in_waves = WaveHooks(waves, lambda w: runner.phase(HookPhase.SYNC, w)) if waves else None
        result = apply_all(cluster, spec, resources, old_inventory, opts, sync_hooks=in_waves)
        result.hooks = runner.results
        runner.skip(HookPhase.SYNC, "not run: the Sync phase failed")
        if runner.has(HookPhase.POST_SYNC):
            _post_sync(cluster, spec, resources, opts, runner, result)
    if result.failed:
        runner.phase(HookPhase.SYNC_FAIL)  # Argo CD: when the sync fails, at any point
    return result


def _post_sync(
    cluster: Cluster,
    spec: AppSpec,
    resources: list[dict[str, Any]],
    opts: Options,
    runner: Runner,
    result: SyncResult,
) -> None:
    """PostSync runs after a successful Sync phase with every object Healthy."""
    if result.failed:
        runner.skip(HookPhase.POST_SYNC, "not run: the sync failed")
        return
    problem = wait_healthy(cluster, spec.name, resources, opts)
    if problem:
        why = f"PostSync hooks not run: not every object became Healthy: {problem}"
        result.objects.append(ObjectResult(ObjectId("", "", "", ""), Action.FAILED, why))
        runner.skip(HookPhase.POST_SYNC, why)
        return
    runner.phase(HookPhase.POST_SYNC)


def _ids(objs: list[dict[str, Any]]) -> set[ObjectId]:
    return {ObjectId.of(o) for o in objs}
