"""Helm chart dependencies, as Chart.yaml (apiVersion v2) or requirements.yaml (v1) declare them.

Helm's own rules (helm.sh/docs/helm/helm_dependency): a dependency's `repository` is a chart
repository URL, an `oci://` reference, an `@alias`/`alias:` of a configured repository, or
`file://` and a path relative to the chart; a chart already in `charts/` (a folder or an
archive) is used as it is. Here `file://` paths must stay inside the repository.
"""

from __future__ import annotations

import posixpath
import re
import urllib.parse
from dataclasses import dataclass
from typing import Any

_DIGEST = re.compile(r"^[0-9a-f]{64}\Z")


@dataclass(frozen=True)
class Dependency:
    name: str
    version: str = ""
    repository: str = ""
    alias: str = ""
    index: int = 0  # its place in the declaring file's `dependencies` list

    @property
    def local(self) -> bool:
        return self.repository.startswith("file://")


def dependencies(chart_yaml: Any, requirements_yaml: Any = None) -> list[Dependency]:
    """The dependencies a chart declares (Chart.yaml's, else requirements.yaml's); entries
    without a name are left out (helm refuses them itself)."""
    source = chart_yaml if declared_in(chart_yaml, requirements_yaml) == "Chart.yaml" else requirements_yaml
    items = (source if isinstance(source, dict) else {}).get("dependencies") or []
    if not isinstance(items, list):
        return []
    return [
        Dependency(
            name=str(d["name"]),
            version=str(d.get("version") or ""),
            repository=str(d.get("repository") or ""),
            alias=str(d.get("alias") or ""),
            index=i,
        )
        for i, d in enumerate(items)
        if isinstance(d, dict) and d.get("name")
    ]


def declared_in(chart_yaml: Any, requirements_yaml: Any = None) -> str:
    """The file whose dependencies count: Chart.yaml's when it has some, else requirements.yaml."""
    if isinstance(chart_yaml, dict) and chart_yaml.get("dependencies"):
        return "Chart.yaml"
    return "requirements.yaml" if isinstance(requirements_yaml, dict) else "Chart.yaml"


def local_path(chart: str, dep: Dependency) -> tuple[str | None, str | None]:
    """(the repository path of a file:// dependency, or why it is refused)."""
    rel = dep.repository.removeprefix("file://")
    if not rel or rel.startswith("/"):
        return None, f"dependency {dep.name}: {dep.repository!r} must be a path relative to the chart"
    path = posixpath.normpath(posixpath.join(chart, rel))
    if path == ".." or path.startswith("../"):
        return None, f"dependency {dep.name}: {dep.repository!r} leaves the repository (refused)"
    return path, None


def repository_problem(url: str) -> str | None:
    """Why a chart repository URL (spec.repoURL with spec.chart) is refused, or None."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https", "oci") or not parts.hostname:
        return "must be a Helm repository URL (https://host/path, serving index.yaml) or oci://registry/path"
    if parts.query or parts.fragment or parts.username or parts.password:
        return "must not hold a query, a fragment or credentials (register them: gitops repo add)"
    return None


def index_url(repo: str) -> str:
    return repo.rstrip("/") + "/index.yaml"


def chart_url(repo: str, url: str) -> tuple[str | None, str | None]:
    """(the absolute URL of a chart archive named in a repository's index, or why it is
    refused): relative URLs resolve against the repository; absolute ones must stay on the
    repository's host (only the hosts the application names are contacted)."""
    absolute = urllib.parse.urljoin(repo.rstrip("/") + "/", url)
    base, target = urllib.parse.urlsplit(repo), urllib.parse.urlsplit(absolute)
    if target.scheme not in ("http", "https"):
        return None, f"{url!r}: not an http(s) URL"
    if (target.scheme, target.netloc) != (base.scheme, base.netloc):
        return None, f"{url!r}: on another host than the repository {repo} (refused)"
    return absolute, None


@dataclass(frozen=True)
class Release:
    """One chart version as a repository's index lists it."""

    name: str
    version: str
    urls: tuple[str, ...]
    digest: str = ""  # sha256 of the archive, hex (the index's `digest`)
    created: str = ""


def releases(index: Any, name: str) -> list[Release]:
    """The versions of chart `name` in a parsed index.yaml (entries without a URL are left out)."""
    entries = (index or {}).get("entries") if isinstance(index, dict) else None
    items = (entries or {}).get(name) if isinstance(entries, dict) else None
    out = []
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict) or not item.get("version") or not item.get("urls"):
            continue
        digest = str(item.get("digest") or "").removeprefix("sha256:").lower()
        out.append(
            Release(
                name=name,
                version=str(item["version"]),
                urls=tuple(str(u) for u in item["urls"] if isinstance(u, str)),
                digest=digest if _DIGEST.match(digest) else "",
                created=str(item.get("created") or ""),
            )
        )
    return out


LOOPBACK = ("127.0.0.1", "localhost", "::1")
HELM_LAYER = "application/vnd.cncf.helm.chart.content.v1.tar+gzip"


def oci_reference(repo: str, name: str) -> tuple[str, str]:
    """(the registry's base URL, the repository path) of chart `name` under oci://host/path.
    Registries are contacted over https; a loopback one over plain http (as docker treats
    localhost registries as insecure by default)."""
    parts = urllib.parse.urlsplit(repo)
    scheme = "http" if parts.hostname in LOOPBACK else "https"
    path = "/".join(p for p in (*parts.path.split("/"), name) if p)
    return f"{scheme}://{parts.netloc}", path


def oci_versions(tags: Any) -> list[str]:
    """Chart versions from an OCI repository's tags (helm push writes '+' as '_')."""
    items = (tags or {}).get("tags") if isinstance(tags, dict) else None
    return [str(t).replace("_", "+") for t in items or [] if isinstance(t, str)]


def oci_chart_layer(manifest: Any) -> str | None:
    """The sha256 hex of the chart layer of an OCI image manifest helm pushed, or None."""
    layers = manifest.get("layers") if isinstance(manifest, dict) else None
    for layer in layers or []:
        if isinstance(layer, dict) and layer.get("mediaType") == HELM_LAYER:
            digest = str(layer.get("digest") or "").removeprefix("sha256:")
            if _DIGEST.match(digest):
                return digest
    return None


def bearer_challenge(header: str) -> dict[str, str] | None:
    """realm/service/scope of a registry's `WWW-Authenticate: Bearer ...` challenge, or None."""
    if not header.lower().startswith("bearer "):
        return None
    return dict(re.findall(r'(\w+)="([^"]*)"', header[7:]))
