"""Run a sync's hooks, phase by phase and wave by wave, as Argo CD does (its "Resource Hooks").

In a wave, each hook is (re)created, BeforeHookCreation first deleting the object of the same
name left by an earlier sync; then the wave waits until every hook has ended (a Job Complete
or Failed, a Pod Succeeded or Failed, another kind Healthy or Degraded), at most the wave
timeout. A failed hook ends its phase: later waves are not run. Every hook run is one
`HookResult`.

Deletion policies act when the whole operation ends, as gitops-engine's sync_context does
(not when each hook ends): once the operation succeeded, every hook that ran with
HookSucceeded is deleted; once it failed, every hook that ran with HookFailed, whatever its
own result (gitops-engine looks at the policy, not at the hook's result; argo-cd#27506), the
other hooks first, then the SyncFail hooks after they ran. A SyncFail hook marked
HookSucceeded is therefore kept (the operation failed), as in Argo CD.
"""

from __future__ import annotations

import dataclasses
import functools
import time
from dataclasses import dataclass, field
from typing import Any

from shared.adapters.kube import Cluster, KubeError
from shared.core import hooks
from shared.core.hooks import DeletePolicy, HookPhase, HookResult
from shared.core.status import HookStatus
from shared.platform import config
from shared.sync.engine import Options, delete_and_wait, wave_of, with_retries


@dataclass(frozen=True)
class Hook:
    obj: dict[str, Any]  # prepared (namespace, marks), possibly without a name yet
    phases: tuple[HookPhase, ...]
    policies: tuple[DeletePolicy, ...]

    @classmethod
    def of(cls, obj: dict[str, Any]) -> Hook:
        c = hooks.classify(obj)
        return cls(obj, c.phases, c.policies)

    @property
    def wave(self) -> int:
        return wave_of(self.obj)


@dataclass
class Runner:
    cluster: Cluster
    hooks: list[Hook]
    operation: str  # names generateName hooks, the same on a redelivery
    opts: Options
    results: list[HookResult] = field(default_factory=list)
    _policies: dict[tuple[str, str, str], tuple[DeletePolicy, ...]] = field(default_factory=dict)
    _api: dict[tuple[str, str, str], str] = field(default_factory=dict)

    def waves(self, phase: HookPhase) -> frozenset[int]:
        return frozenset(h.wave for h in self.hooks if phase in h.phases)

    def has(self, phase: HookPhase) -> bool:
        return any(phase in h.phases for h in self.hooks)

    def phase(self, phase: HookPhase, wave: int | None = None) -> str:
        """Run the phase's hooks (of one wave, or all waves in order); the problem, '' if none."""
        for w in sorted(self.waves(phase)) if wave is None else [wave]:
            batch = [h for h in self.hooks if phase in h.phases and h.wave == w]
            problem = self._run_wave(phase, batch)
            if problem:
                if wave is None:
                    self.skip(phase, f"not run: {problem}")
                return problem
        return ""

    def skip(self, phase: HookPhase, reason: str) -> None:
        """Record the phase's hooks that did not run as Skipped."""
        ran = {(r.phase, r.kind, r.name) for r in self.results}
        for h in self.hooks:
            obj = hooks.named(h.obj, self.operation, phase)
            if phase in h.phases and (phase, obj["kind"], obj["metadata"]["name"]) not in ran:
                self.results.append(_result(obj, phase, HookStatus.SKIPPED, reason))

    def named(self) -> list[dict[str, Any]]:
        """Every hook object as this operation creates it (one per phase it runs in)."""
        out: dict[tuple[str, str, str], dict[str, Any]] = {}
        for h in self.hooks:
            for phase in h.phases:
                obj = hooks.named(h.obj, self.operation, phase)
                out.setdefault(_address(obj)[1:], obj)
        return list(out.values())

    def finish(self, *, succeeded: bool, phases: tuple[HookPhase, ...] = tuple(HookPhase)) -> None:
        """The operation ended: delete the hooks (run in `phases`) its outcome's policy names."""
        done: set[tuple[str, str, str]] = set()
        for i, r in enumerate(self.results):
            key = (r.kind, r.namespace, r.name)
            if r.phase not in phases or r.deleted or not r.created:
                continue
            if not hooks.deleted_at_end(self._policies.get(key, ()), r.status, succeeded=succeeded):
                continue
            if key not in done:
                # Background: a Job's pods go with it (the API's default for Jobs orphans them)
                api = self._api[key]
                with_retries(functools.partial(self.cluster.delete, api, *key, propagation="Background"))
                done.add(key)
            self.results[i] = dataclasses.replace(r, deleted=True)

    def _run_wave(self, phase: HookPhase, batch: list[Hook]) -> str:
        running: list[tuple[dict[str, Any], tuple[DeletePolicy, ...]]] = []
        for h in batch:
            obj = hooks.named(h.obj, self.operation, phase)
            try:
                if DeletePolicy.BEFORE_HOOK_CREATION in h.policies:
                    delete_and_wait(self.cluster, obj, self.opts.wave_timeout_s)
                with_retries(functools.partial(self.cluster.apply, obj, field_manager=config.FIELD_MANAGER))
            except KubeError as exc:
                if exc.transient:
                    raise  # redelivered: the operation resumes with the same names
                self._ended(obj, phase, h.policies, HookStatus.FAILED, f"not created: {exc}", created=False)
                continue
            running.append((obj, h.policies))
        deadline = time.monotonic() + self.opts.wave_timeout_s
        while running:
            still = []
            for obj, policies in running:
                live = with_retries(functools.partial(self.cluster.get, *_address(obj)))
                status, message = hooks.status_of(live)
                if status == HookStatus.RUNNING and time.monotonic() > deadline:
                    status, message = (
                        HookStatus.FAILED,
                        f"did not complete within {self.opts.wave_timeout_s:.0f}s ({message})",
                    )
                if status == HookStatus.RUNNING:
                    still.append((obj, policies))
                else:
                    self._ended(obj, phase, policies, status, message)
            running = still
            if running:
                time.sleep(self.opts.poll_s)
        failed = [r for r in self.results if r.phase == phase and r.status == HookStatus.FAILED]
        return failed[0].describe() if failed else ""

    def _ended(
        self,
        obj: dict[str, Any],
        phase: HookPhase,
        policies: tuple[DeletePolicy, ...],
        status: HookStatus,
        message: str,
        *,
        created: bool = True,
    ) -> None:
        api, kind, namespace, name = _address(obj)
        self._policies[(kind, namespace, name)] = policies
        self._api[(kind, namespace, name)] = api
        self.results.append(dataclasses.replace(_result(obj, phase, status, message), created=created))


def _address(obj: dict[str, Any]) -> tuple[str, str, str, str]:
    meta = obj["metadata"]
    return obj["apiVersion"], obj["kind"], meta.get("namespace", ""), meta["name"]


def _result(obj: dict[str, Any], phase: HookPhase, status: HookStatus, message: str) -> HookResult:
    meta = obj["metadata"]
    return HookResult(obj["kind"], meta.get("namespace", ""), meta["name"], phase, status, message)
