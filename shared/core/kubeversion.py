"""The destination's Kubernetes version: read from its API server's `/version`, or named.

The version decides three things: the API-version checks (API001/API002, shared/gate/checks),
the bundled schema the gate validates with (shared/gate/schema.choose) and helm's
`--kube-version` (what `.Capabilities.KubeVersion` says to a chart). Which version counts,
first found wins:

1. the application's sync option `KubeVersion=1.29` (Argo CD's `kubeVersion` of a Helm
   source: rendering for a cluster you are about to upgrade to);
2. `GITOPS_KUBE_VERSION`, an explicit override for every application (a cluster that hides
   `/version`; unset everywhere by default);
3. the destination's own `/version`, read by the kube adapter and cached per cluster.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

_GIT_VERSION = re.compile(r"^v?(\d+)\.(\d+)(?:\.(\d+))?")
_NUMBER = re.compile(r"^(\d+)")


class VersionError(ValueError):
    """A `/version` reply naming no version."""


def parse(doc: Any) -> str:
    """`major.minor.patch` (or `major.minor`) from a `/version` reply.

    `gitVersion` is read first ("v1.27.3-gke.1000" -> "1.27.3": a provider's suffix is not
    part of the Kubernetes version); else `major` and `minor`, which some providers mark
    ("27+" on EKS and older GKE)."""
    if not isinstance(doc, dict):
        raise VersionError(f"/version answered {type(doc).__name__}, not an object")
    m = _GIT_VERSION.match(str(doc.get("gitVersion") or ""))
    if m:
        return ".".join(p for p in m.groups() if p is not None)
    major, minor = (_NUMBER.match(str(doc.get(k) or "")) for k in ("major", "minor"))
    if major and minor:
        return f"{major[1]}.{minor[1]}"
    raise VersionError(f"/version names no version: {str(doc)[:200]}")


class Source(StrEnum):
    OPTION = "the KubeVersion sync option"
    OVERRIDE = "GITOPS_KUBE_VERSION"
    CLUSTER = "the destination's /version"
    NONE = "none"


@dataclass(frozen=True)
class Chosen:
    version: str  # "" when none is known: the API checks stay silent, the newest schema is used
    source: Source


def choose(option: str, override: str, live: str | None) -> Chosen:
    """Which version renders and checks use (see the module's docstring); `live` is the
    destination's `/version` (None when it could not be read)."""
    for value, source in ((option, Source.OPTION), (override, Source.OVERRIDE), (live, Source.CLUSTER)):
        if value and value.strip():
            return Chosen(value.strip().removeprefix("v"), source)
    return Chosen("", Source.NONE)


def needs_live(option: str, override: str) -> bool:
    """Whether the cluster must be asked (nothing named a version)."""
    return not (option.strip() or override.strip())
