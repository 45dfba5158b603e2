"""Target heads: the refs of each repository listed once, and a render request at a head.

The sweep (audit), the first render of an app-of-apps' children and `gitops recover` each
look up the heads of many applications, most of them sharing a few repositories.
"""

from __future__ import annotations

import dataclasses

from shared.adapters import charts, git
from shared.core import policy
from shared.core.messages import RenderRequest
from shared.core.model import AppSpec
from shared.core.status import AppStatus, Initiator
from shared.platform import logs

Head = tuple[str, str]  # (ref, commit); '' ref for the remote's HEAD


class Heads:
    """Ref listings by repository URL, each made on first use."""

    def __init__(self) -> None:
        self._listings: dict[str, dict[str, str] | None] = {}

    def of(self, spec: AppSpec) -> Head | None:
        """The head of the spec's target; None when the repository has no such ref. A listing
        that fails raises, and is tried again for the next spec of that repository. A chart
        from a Helm repository has no Git refs: its head is its version constraint, which the
        render step resolves."""
        if spec.chart:
            return ("chart", spec.chart_version)
        return self._git(spec)

    def _git(self, spec: AppSpec) -> Head | None:
        if spec.repoURL not in self._listings:
            self._listings[spec.repoURL] = git.ls_remote(spec.repoURL)
        return spec.head(self._listings[spec.repoURL] or {})

    def chart(self, spec: AppSpec, status: AppStatus) -> Head | None:
        """A chart application's head as the sweep compares it (Argo CD re-resolves a range on
        refresh): the archive its version constraint resolves to in the repository now, and,
        for a multi-source application, its ref sources' heads (policy.chart_head). None when
        the repository or a ref cannot be read (said in the log)."""
        try:
            release = charts.resolve(spec.repoURL, spec.chart, spec.chart_version)
            refs = {}
            for ref in spec.refSources:
                target = dataclasses.replace(
                    spec, repoURL=ref["repoURL"], targetRevision=ref["targetRevision"]
                )
                found = self._git(target)
                if found is not None:
                    refs[ref["ref"]] = found[1]
        except Exception as exc:
            logs.warning("cannot resolve the chart", app=spec.name, repo=spec.repoURL, reason=str(exc)[:300])
            return None
        rendered = (status.get("render") or {}).get("refCommits") or {}
        head = policy.chart_head(
            release.digest, f"{release.name}@{release.version}", refs, rendered, status.get("sync")
        )
        return f"chart:{release.name}@{release.version}", head

    def of_or_none(self, spec: AppSpec) -> Head | None:
        """As `of`, but a repository whose refs cannot be listed has no heads: said once in
        the log, and not tried again."""
        if spec.repoURL not in self._listings:
            try:
                self._listings[spec.repoURL] = git.ls_remote(spec.repoURL)
            except Exception as exc:
                logs.warning("cannot list refs", repo=spec.repoURL, reason=str(exc))
                self._listings[spec.repoURL] = None
        return self.of(spec)


def render_at(app: str, head: Head, *, operation: str, triggered_by: str) -> RenderRequest:
    """A render of the application at its target's head, on the system's own initiative (the
    `sweep` initiator: applied only when the application is automated)."""
    ref, commit = head
    return RenderRequest(
        app=app,
        commit=commit,
        ref=ref,
        initiator=Initiator.SWEEP,
        operation=operation,
        triggered_by=triggered_by,
    )
