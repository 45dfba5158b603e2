"""Reading a stored revision back: its objects, with Secret values read again from its commit.

Apply, audit and the diffs read revisions this way; only the render step writes them.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from shared.adapters import charts, git
from shared.core import manifests, secrets
from shared.core.model import AppSpec
from shared.render import cache, sources, tree


def revision_objects(spec: AppSpec, revision: dict[str, Any]) -> list[dict[str, Any]]:
    """The objects of a stored revision, with Secret values read back from its commit."""
    objs = manifests.load(revision["manifests"])
    if not revision.get("secretsInGit"):
        return objs
    commit = revision["commit"]
    if revision.get("chart"):
        return secrets.restore(objs, _chart_objects(spec, revision))
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


def _chart_objects(spec: AppSpec, revision: dict[str, Any]) -> list[dict[str, Any]]:
    """A chart revision rendered again from the same archive (its recorded digest)."""
    chart = revision["chart"]
    archive = charts.archive_of(chart["repoURL"], chart["name"], chart["version"], chart["digest"])
    request = sources.Request.of(
        spec, revision.get("kubeVersion", ""), path=".", source=revision.get("sourceOptions", spec.source)
    )
    values, _ = ref_values(spec, revision.get("refCommits") or {})
    _, rendered = sources.render_chart(archive, f"{chart['name']}-{chart['version']}", request, values=values)
    return rendered.objects


def ref_values(spec: AppSpec, commits: dict[str, str]) -> tuple[list[tuple[str, bytes]], dict[str, str]]:
    """The chart's $ref/path value files read from their Git repositories (at `commits`, a
    revision's, else each ref source's target head), and the commits read."""
    refs = {r["ref"]: r for r in spec.refSources}
    trees: dict[str, tree.GitTree] = {}
    out = []
    for value_file in (spec.source.get("helm") or {}).get("valueFiles") or []:
        if not value_file.startswith("$"):
            continue  # a file of the chart itself: helm reads it in the sandbox
        name, _, path = value_file.removeprefix("$").partition("/")
        ref = refs[name]
        if name not in trees:
            commit = commits.get(name)
            if not commit:
                head = dataclasses.replace(spec, targetRevision=ref["targetRevision"]).head(
                    git.ls_remote(ref["repoURL"])
                )
                if head is None:
                    raise LookupError(f"ref {name}: {ref['targetRevision']!r} not found in {ref['repoURL']}")
                commit = head[1]
            trees[name] = tree.GitTree(git.fetch(ref["repoURL"], commit), commit)
            commits = {**commits, name: commit}
        out.append((value_file, sources.read_file(trees[name], path, value_file)))
    return out, {n: commits[n] for n in trees}
