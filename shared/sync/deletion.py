"""Deleting an application's objects with Argo CD's deletion hooks (its "Sync Phases and Waves":
PreDelete, PostDelete).

The PreDelete hooks of the last synced revision run first, wave by wave; a failed one stops
the deletion before anything is deleted (Argo CD keeps the application). Then every object
the application owns is deleted (engine.delete_all), then the PostDelete hooks run; a failed
one is reported, and the application is kept, as Argo CD keeps it until they succeed. When it
ends, hooks are deleted as their policies say (hookrun.Runner.finish).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from shared.adapters.kube import Cluster
from shared.core import hooks
from shared.core.hooks import HookPhase, HookResult
from shared.core.model import AppSpec
from shared.core.status import Action
from shared.sync.engine import ObjectResult, Options, delete_all
from shared.sync.hookrun import Hook, Runner


@dataclass
class Deletion:
    objects: list[ObjectResult] = field(default_factory=list)
    hooks: list[HookResult] = field(default_factory=list)
    problem: str = ""  # why the application must be kept ('' when deleted)


def delete(
    cluster: Cluster,
    spec: AppSpec,
    desired: list[dict[str, Any]],
    owned: list[dict[str, str]],
    opts: Options,
    *,
    operation: str,
) -> Deletion:
    """Delete what the application owns, running the deletion hooks among `desired` (the last
    synced revision's objects, prepared)."""
    found = [Hook(o, hooks.deletion_phases(o), hooks.delete_policies(o)) for o in desired]
    runner = Runner(cluster, [h for h in found if h.phases], operation, opts)
    out = Deletion(hooks=runner.results)
    problem = runner.phase(HookPhase.PRE_DELETE)
    if problem:
        runner.skip(HookPhase.POST_DELETE, "not run: a PreDelete hook failed")
        out.problem = f"a PreDelete hook failed, nothing was deleted: {problem}"
    else:
        out.objects = delete_all(cluster, spec, owned)
        failed = [r for r in out.objects if r.action == Action.FAILED]
        if failed:
            runner.skip(HookPhase.POST_DELETE, "not run: the deletion failed")
            out.problem = f"{len(failed)} object(s) could not be deleted: {failed[0].message}"
        else:
            problem = runner.phase(HookPhase.POST_DELETE)
            out.problem = f"a PostDelete hook failed: {problem}" if problem else ""
    runner.finish(succeeded=not out.problem)
    out.hooks = runner.results
    return out
