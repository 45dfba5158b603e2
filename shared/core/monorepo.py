"""Which changes in a repository concern an application: the monorepo rule.

An application is rendered again only when a change touches what its render depends on:
its path, its `watchPaths` (Argo CD's `argocd.argoproj.io/manifest-generate-paths`
annotation), and the files outside the path its last render read (a Helm values file, a
kustomize base, a jsonnet import: shared/render/sources.py records them). Any other change
leaves its manifests as they are: the head moved, nothing else did. The webhook learns the
changed paths from GitHub's push payload (shared/core/model.py RepoApps); the sweep from a
tree diff between the synced commit and the head (shared/adapters/git.py changed_under).

Paths here are relative to the repository's root, with `/` separators and no leading `/`;
the root itself is "".
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable

from shared.core.errors import SpecError

ANNOTATION = "argocd.argoproj.io/manifest-generate-paths"

RENDER = "render"  # a change touched what the application's render depends on
SEEN = "seen"  # the head moved without touching it: record the head, render nothing


def normal(path: str) -> str:
    """A watched path as compared: no leading or trailing `/`; "." and "" are the root."""
    stripped = path.strip().strip("/")
    return "" if stripped in ("", ".") else posixpath.normpath(stripped)


def watched(path: str, watch_paths: Iterable[str] = (), reads: Iterable[str] = ()) -> tuple[str, ...]:
    """The paths an application's render depends on, smallest set: a path under another
    one is left out (the root, "", covers everything)."""
    found = sorted({normal(p) for p in (path, *watch_paths, *reads)})
    out: list[str] = []
    for p in found:  # sorted: a folder comes before everything under it
        if not any(is_under(p, kept) for kept in out):
            out.append(p)
    return tuple(out)


def is_under(path: str, folder: str) -> bool:
    """True when `path` is `folder` or inside it (the root holds everything)."""
    return folder == "" or path == folder or path.startswith(folder + "/")


def touching(changed: Iterable[str], paths: Iterable[str]) -> list[str]:
    """The changed paths (files added, removed or modified) under any of `paths`."""
    folders = tuple(normal(p) for p in paths)
    return sorted({c for c in changed if any(is_under(normal(c), f) for f in folders)})


def on_head_moved(changed: Iterable[str] | None, paths: Iterable[str]) -> str:
    """What the sweep does when an automated application's target moved past its synced
    commit: RENDER when a change touches its paths, or when the changes are unknown (None:
    the synced commit is gone after a force push, or the diff could not be read); otherwise
    SEEN (the head is recorded, as Argo CD shows the new revision with nothing to sync)."""
    if changed is None:
        return RENDER
    return RENDER if touching(changed, paths) else SEEN


def generate_paths(annotation: str, app_path: str) -> tuple[str, ...]:
    """Argo CD's manifest-generate-paths annotation as watchPaths: paths separated by `;`,
    relative to the application's path ("." is the path itself), or from the repository's
    root when they start with `/`. A path that leaves the repository is refused."""
    out: list[str] = []
    for raw in annotation.split(";"):
        item = raw.strip()
        if not item:
            continue
        joined = item.lstrip("/") if item.startswith("/") else posixpath.join(normal(app_path), item)
        resolved = posixpath.normpath(joined) if joined else "."
        if resolved == ".." or resolved.startswith("../"):
            raise SpecError(f"metadata.annotations[{ANNOTATION}]: {item!r} leaves the repository")
        path = normal(resolved)
        if path != normal(app_path) and path not in out:
            out.append(path or ".")
    return tuple(out)


def path_problem(path: str) -> str | None:
    """Why a watched path is not acceptable (absolute or leaving the repository), or None."""
    if path.startswith("/") or ".." in path.split("/"):
        return "must be relative to the repository's root and stay inside it"
    return None
