"""Helm chart dependencies, as Chart.yaml (apiVersion v2) or requirements.yaml (v1) declare them.

Helm's own rules (helm.sh/docs/helm/helm_dependency): a dependency's `repository` is a chart
repository URL, an `oci://` reference, an `@alias`/`alias:` of a configured repository, or
`file://` and a path relative to the chart; a chart already in `charts/` (a folder or an
archive) is used as it is. Here `file://` paths must stay inside the repository.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Dependency:
    name: str
    version: str = ""
    repository: str = ""
    alias: str = ""

    @property
    def local(self) -> bool:
        return self.repository.startswith("file://")


def dependencies(chart_yaml: Any, requirements_yaml: Any = None) -> list[Dependency]:
    """The dependencies a chart declares (Chart.yaml's, else requirements.yaml's); entries
    without a name are left out (helm refuses them itself)."""
    source = chart_yaml if isinstance(chart_yaml, dict) and chart_yaml.get("dependencies") else None
    if source is None and isinstance(requirements_yaml, dict):
        source = requirements_yaml
    items = (source or {}).get("dependencies") or []
    if not isinstance(items, list):
        return []
    return [
        Dependency(
            name=str(d["name"]),
            version=str(d.get("version") or ""),
            repository=str(d.get("repository") or ""),
            alias=str(d.get("alias") or ""),
        )
        for d in items
        if isinstance(d, dict) and d.get("name")
    ]


def local_path(chart: str, dep: Dependency) -> tuple[str | None, str | None]:
    """(the repository path of a file:// dependency, or why it is refused)."""
    rel = dep.repository.removeprefix("file://")
    if not rel or rel.startswith("/"):
        return None, f"dependency {dep.name}: {dep.repository!r} must be a path relative to the chart"
    path = posixpath.normpath(posixpath.join(chart, rel))
    if path == ".." or path.startswith("../"):
        return None, f"dependency {dep.name}: {dep.repository!r} leaves the repository (refused)"
    return path, None
