"""Reading a stored revision back: its objects, with Secret values read again from its commit.

Apply, audit and the diffs read revisions this way; only the render step writes them.
"""

from __future__ import annotations

from typing import Any

from shared.adapters import git
from shared.core import manifests, secrets
from shared.core.model import AppSpec
from shared.render import cache, sources, tree


def revision_objects(spec: AppSpec, revision: dict[str, Any]) -> list[dict[str, Any]]:
    """The objects of a stored revision, with Secret values read back from its commit."""
    objs = manifests.load(revision["manifests"])
    if not revision.get("secretsInGit"):
        return objs
    commit = revision["commit"]
    repo = git.fetch(spec.repoURL, commit, revision.get("ref") or None)
    request = sources.Request.of(
        spec,
        revision.get("kubeVersion", ""),
        path=revision.get("path", spec.path),
        source=revision.get("sourceOptions", spec.source),
    )
    # rendered as the revision was (same source and options); Secret values never leave memory
    result = cache.render(tree.GitTree(repo, commit), spec.repo_key, commit, request, shared=False)
    return secrets.restore(objs, result.rendered.objects)
