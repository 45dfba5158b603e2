"""A chart's in-repository dependencies made visible to `helm template`, with no network.

`helm dependency build` would package each `file://` dependency into `charts/`; here each one
is linked instead, in the materialised tree (shared/render/tree.py) before the sandbox runs:
`charts/<name>` -> the dependency's folder, and so on down its own `file://` dependencies.
Helm's loader follows links in `charts/`. A dependency already in `charts/` (vendored: a
folder or an archive) is left as it is; a remote one that is not is refused with what to do
(the render contacts only the hosts an application names, not those its files name). Links
are made only to folders inside the tree holding a Chart.yaml; a cycle is refused (helm would
walk it forever).
"""

from __future__ import annotations

import os
import posixpath
from pathlib import Path

import yaml

from shared.core import charts
from shared.core.findings import Finding
from shared.render.tree import Refused

MAX_DEPTH = 10


def _yaml(path: Path) -> object:
    try:
        return yaml.safe_load(path.read_bytes()) if path.is_file() else None
    except yaml.YAMLError:
        return None  # helm reports it, with its own position


def vendored(charts_dir: Path, dep: charts.Dependency) -> bool:
    """A folder or archive for the dependency already in charts/ (by helm's usual names)."""
    if not charts_dir.is_dir():
        return False
    for p in charts_dir.iterdir():
        if p.name == dep.name or (p.name.startswith(dep.name + "-") and p.name.endswith(".tgz")):
            return True
        meta = _yaml(p / "Chart.yaml") if p.is_dir() else None
        if isinstance(meta, dict) and meta.get("name") == dep.name:
            return True
    return False


def link_local(root: Path, chart: str, where: str) -> set[str]:
    """Link the file:// dependencies of `chart` (a path in the tree at root), recursively;
    the folders read. Refused, naming the declaring file (CHART/Chart.yaml) and the field
    (dependencies[i].repository): a path leaving the tree, not a chart, or a cycle."""
    top = os.path.realpath(root)
    reads: set[str] = set()
    done: set[str] = set()

    def visit(current: str, trail: tuple[str, ...]) -> None:
        if len(trail) > MAX_DEPTH:
            raise Refused(
                Finding(where, 0, 0, "dependencies", f"more than {MAX_DEPTH} levels of dependencies")
            )
        folder = root / current
        chart_yaml, requirements = _yaml(folder / "Chart.yaml"), _yaml(folder / "requirements.yaml")
        declared = posixpath.join(current, charts.declared_in(chart_yaml, requirements))

        def refuse(dep: charts.Dependency, message: str) -> Refused:
            return Refused(Finding(declared, 0, 0, f"dependencies[{dep.index}].repository", message))

        for dep in charts.dependencies(chart_yaml, requirements):
            if vendored(folder / "charts", dep):
                continue
            if not dep.local:
                raise refuse(
                    dep,
                    f"dependency {dep.name} ({dep.repository or 'no repository'}) is not in "
                    f"{posixpath.join(current, 'charts')}/: run helm dependency build and commit "
                    "charts/ (a chart's remote dependencies are not fetched: only the hosts an "
                    "application names are contacted)",
                )
            path, problem = charts.local_path(current, dep)
            if problem or path is None:
                raise refuse(dep, problem or "")
            real = os.path.realpath(root / path)
            if real != top and not real.startswith(top + os.sep):
                raise refuse(
                    dep, f"dependency {dep.name}: {dep.repository!r} leaves the repository (refused)"
                )
            rel = os.path.relpath(real, top)
            if not os.path.isfile(os.path.join(real, "Chart.yaml")):
                raise refuse(dep, f"dependency {dep.name}: no Chart.yaml in {rel} ({dep.repository})")
            if rel in trail:
                raise refuse(dep, f"dependency {dep.name}: a cycle ({' -> '.join((*trail, rel))}) (refused)")
            charts_dir = folder / "charts"
            charts_dir.mkdir(mode=0o755, exist_ok=True)
            link = charts_dir / dep.name
            if not link.is_symlink():  # two aliases of one chart: one copy in charts/
                os.symlink(os.path.relpath(real, os.path.realpath(charts_dir)), link)
            reads.add(rel)
            if rel not in done:
                visit(rel, (*trail, rel))
        done.add(current)

    start = posixpath.normpath(chart)
    visit(start, (start,))
    return reads
