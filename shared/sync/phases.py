"""A sync in Argo CD's phases (its "Sync Phases and Waves"): PreSync hooks, then the Sync phase
(the application's objects and the Sync hooks, wave by wave: the engine), then, once every
object is Healthy, the PostSync hooks; when any of it failed, the SyncFail hooks.

Before anything is written, every hook (named as this operation creates it) gets a
server-side dry-run, and so does every object when PreSync hooks would run first, as
gitops-engine dry-runs all its tasks first: an object or hook the API server would refuse
fails the whole sync with nothing applied and no hook run; the Sync phase reuses those
dry-runs rather than making them again, for every object no hook changed meanwhile
(engine.still_predicts). A failed PreSync hook fails the
sync before the Sync phase applies anything. When the operation ends, the hooks are deleted
as their policies say (hookrun.Runner.finish). Without hooks this is exactly the engine's
sync.
"""

from __future__ import annotations

from dataclasses import dataclass
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
    Predictions,
    SyncResult,
    WaveHooks,
    apply_all,
    ensure_namespace,
    refusals,
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
    result = _Operation(cluster, spec, resources, old_inventory, opts, runner).run(refused or {})
    result.requests = requests_since(cluster, before)  # the hooks' requests too
    return result


NOT_SYNC_FAIL = (HookPhase.PRE_SYNC, HookPhase.SYNC, HookPhase.POST_SYNC)


@dataclass(frozen=True)
class _Operation:
    cluster: Cluster
    spec: AppSpec
    resources: list[dict[str, Any]]
    old_inventory: list[dict[str, str]]
    opts: Options
    runner: Runner

    def run(self, refused: dict[ObjectId, str]) -> SyncResult:
        if refused:
            return self._refused(refused)
        created_namespace = ensure_namespace(self.cluster, self.opts.create_namespace)  # before dry-runs
        named = self.runner.named()
        checked = named + (self.resources if self.runner.has(HookPhase.PRE_SYNC) else [])
        rejected, predicted = refusals(
            self.cluster, checked, self.resources + named, self._recreated_hooks(), self.opts
        )
        result = (
            self._refused(rejected, " by the server-side dry-run") if rejected else self._phases(predicted)
        )
        if created_namespace:
            result.objects.insert(0, created_namespace)
        return result

    def _refused(self, refused: dict[ObjectId, str], by: str = "") -> SyncResult:
        """Nothing applied, no hook run: the objects (and hooks) `refused` say why."""
        result = apply_all(self.cluster, self.spec, self.resources, self.old_inventory, self.opts, refused)
        own = {ObjectId.of(o) for o in self.resources}
        result.objects += [ObjectResult(o, Action.FAILED, why) for o, why in refused.items() if o not in own]
        for phase in hooks.SYNC_PHASES:
            self.runner.skip(phase, f"not run: the sync was refused{by}")
        result.hooks = self.runner.results
        return result

    def _recreated_hooks(self) -> set[ObjectId]:
        """Hooks deleted before they are created (BeforeHookCreation): an immutable field of the
        object an earlier sync left is no refusal."""
        return {
            ObjectId.of(hooks.named(h.obj, self.runner.operation, p))
            for h in self.runner.hooks
            if hooks.DeletePolicy.BEFORE_HOOK_CREATION in h.policies
            for p in h.phases
        }

    def _phases(self, predicted: Predictions) -> SyncResult:
        """The phases; `predicted`: the objects' dry-runs made before PreSync, which the Sync
        phase reuses for each object no hook changed (one dry-run per object, as gitops-engine)."""
        runner = self.runner
        problem = runner.phase(HookPhase.PRE_SYNC)
        if problem:
            why = f"not applied: PreSync hook failed: {problem}"
            result = SyncResult(
                objects=[ObjectResult(ObjectId.of(o), Action.SKIPPED, why) for o in self.resources],
                inventory=list(self.old_inventory),
            )
            for phase in (HookPhase.SYNC, HookPhase.POST_SYNC):
                runner.skip(phase, "not run: a PreSync hook failed")
        else:
            waves = runner.waves(HookPhase.SYNC)
            in_waves = WaveHooks(waves, lambda w: runner.phase(HookPhase.SYNC, w)) if waves else None
            result = apply_all(
                self.cluster,
                self.spec,
                self.resources,
                self.old_inventory,
                self.opts,
                sync_hooks=in_waves,
                dry_runs=predicted,
            )
            runner.skip(HookPhase.SYNC, "not run: the Sync phase failed")
            if runner.has(HookPhase.POST_SYNC):
                self._post_sync(result)
        result.hooks = runner.results
        if result.failed:
            # gitops-engine: the HookFailed hooks are deleted, then SyncFail runs (and its own
            # HookFailed hooks go once it ended)
            runner.finish(succeeded=False, phases=NOT_SYNC_FAIL)
            runner.phase(HookPhase.SYNC_FAIL)  # Argo CD: when the sync fails, at any point
            runner.finish(succeeded=False, phases=(HookPhase.SYNC_FAIL,))
        else:
            runner.finish(succeeded=True)
        return result

    def _post_sync(self, result: SyncResult) -> None:
        """PostSync runs after a successful Sync phase with every object Healthy."""
        if result.failed:
            self.runner.skip(HookPhase.POST_SYNC, "not run: the sync failed")
            return
        problem = wait_healthy(self.cluster, self.spec.name, self.resources, self.opts)
        if problem:
            why = f"PostSync hooks not run: not every object became Healthy: {problem}"
            result.objects.append(ObjectResult(ObjectId("", "", "", ""), Action.FAILED, why))
            self.runner.skip(HookPhase.POST_SYNC, why)
            return
        self.runner.phase(HookPhase.POST_SYNC)
