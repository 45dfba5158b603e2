"""Target heads: the refs of each repository listed once, and a render request at a head.

The sweep (audit), the first render of an app-of-apps' children and `gitops recover` each
look up the heads of many applications, most of them sharing a few repositories.
"""

from __future__ import annotations

from shared.adapters import git
from shared.core.messages import RenderRequest
from shared.core.model import AppSpec
from shared.core.status import Initiator
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
        if spec.repoURL not in self._listings:
            self._listings[spec.repoURL] = git.ls_remote(spec.repoURL)
        return spec.head(self._listings[spec.repoURL] or {})

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
