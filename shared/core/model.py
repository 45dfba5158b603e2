"""The application model: spec and status as plain dataclasses.

Firestore stores them as readable maps with the same field names Argo CD users
know (repoURL, targetRevision, path, destination, syncPolicy).
"""

from __future__ import annotations

import functools
import re
from dataclasses import asdict, dataclass, field
from typing import Any

from shared.core import (
    charts,
    healthcel,
    ignorediff,
    monorepo,
    names,
    repourl,
    sourceopts,
    syncoptions,
    versions,
)
from shared.core.errors import SpecError as SpecError  # what validation raises: part of the model

IN_CLUSTER = "in-cluster"
SYNC_OPTIONS = (
    "CreateNamespace",
    "Recreate",
    "WaveTimeout",
    "AutoRollback",
    "AutoRollbackWindow",
    "SelfHealLimit",
    "SelfHealWindow",
    "KubeVersion",
    *syncoptions.ARGO_OPTIONS,  # Argo CD's (shared/core/syncoptions.py)
    "ServerSideApply",
)


@dataclass(frozen=True)
class Destination:
    cluster: str = IN_CLUSTER
    namespace: str = "default"


# the keys a spec's sub-objects may hold (anything else is refused naming it: kept, it would
# only grow the stored document)
IGNORE_DIFFERENCES_KEYS = frozenset(
    {"group", "kind", "name", "namespace", "jsonPointers", "jqPathExpressions", "managedFieldsManagers"}
)
REF_SOURCE_KEYS = frozenset({"ref", "repoURL", "targetRevision"})
DURATION_RE = re.compile(r"^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?\Z")


def seconds(duration: str) -> float:
    """A backoff duration as Argo CD writes it ("5s", "3m", "1h30m"; a bare number is seconds)."""
    text = str(duration).strip()
    if text.isdigit():
        return float(text)
    match = DURATION_RE.match(text)
    if not text or match is None:
        raise SpecError(f"{duration!r} is not a duration such as 5s, 3m or 1h")
    h, m, s = (int(g or 0) for g in match.groups())
    return float(h * 3600 + m * 60 + s)


@dataclass(frozen=True)
class Retry:
    """syncPolicy.retry, Argo CD's RetryStrategy: a failed sync is tried again `limit` times
    (0: never, below 0: without end), after `duration`, multiplied by `factor` at each attempt,
    at most `maxDuration` (Argo CD's defaults: 5s, 2, 3m)."""

    limit: int = 0
    duration: str = "5s"
    factor: int = 2
    maxDuration: str = "3m"

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> Retry:
        backoff = doc.get("backoff") or {}
        return cls(
            limit=int(doc.get("limit") or 0),
            duration=str(backoff.get("duration") or doc.get("duration") or "5s"),
            factor=int(backoff.get("factor") or doc.get("factor") or 2),
            maxDuration=str(backoff.get("maxDuration") or doc.get("maxDuration") or "3m"),
        )

    def to_doc(self) -> dict[str, Any]:
        """Argo CD's shape: {limit, backoff: {duration, factor, maxDuration}}."""
        return {
            "limit": self.limit,
            "backoff": {"duration": self.duration, "factor": self.factor, "maxDuration": self.maxDuration},
        }

    def validate(self) -> None:
        for name in ("duration", "maxDuration"):
            try:
                seconds(getattr(self, name))
            except SpecError as exc:
                raise SpecError(f"syncPolicy.retry.backoff.{name}: {exc}") from None
        if self.factor < 1:
            raise SpecError("syncPolicy.retry.backoff.factor: must be at least 1")


@dataclass(frozen=True)
class SyncPolicy:
    automated: bool = False
    prune: bool = False
    selfHeal: bool = False
    allowEmpty: bool = False  # a render with no objects may prune everything
    # Argo CD-style options: CreateNamespace=true, Recreate=true, WaveTimeout=120,
    # AutoRollback=true (AutoRollbackWindow=600), SelfHealLimit=3, SelfHealWindow=3600
    syncOptions: tuple[str, ...] = ()
    retry: Retry | None = None  # syncPolicy.retry (shared/core/policy.py retry_after_failure)

    def option(self, name: str) -> str | None:
        for item in self.syncOptions:
            key, _, value = item.partition("=")
            if key == name:
                return value
        return None

    def enabled(self, name: str) -> bool:
        return (self.option(name) or "").lower() == "true"


@dataclass(frozen=True)
class AppSpec:
    name: str
    repoURL: str
    path: str = "."
    targetRevision: str = "HEAD"
    destination: Destination = field(default_factory=Destination)
    syncPolicy: SyncPolicy = field(default_factory=SyncPolicy)
    project: str = "default"
    # Argo CD's ignoreDifferences: [{group, kind, name?, namespace?, jsonPointers,
    # jqPathExpressions, managedFieldsManagers}], applied to drift detection, and to the
    # apply with RespectIgnoreDifferences=true (shared/core/ignorediff.py)
    ignoreDifferences: tuple[dict[str, Any], ...] = ()
    revisionHistoryLimit: int = 100
    # more folders whose changes concern this app (e.g. a shared base), besides `path`
    watchPaths: tuple[str, ...] = ()
    # the security gate per check id: enforce | warn | off (shared/gate/checks.py has the defaults)
    checks: dict[str, str] = field(default_factory=dict)
    # how the path is rendered, Argo CD's names: {directory|kustomize|helm|jsonnet: {options}}
    # (shared/core/sourceopts.py); empty: chosen from the path's files
    source: dict[str, dict[str, Any]] = field(default_factory=dict)
    # custom health per group and kind as CEL, Flux's healthCheckExprs shape:
    # [{group|apiVersion, kind, current, inProgress?, failed?}] (shared/core/healthcel.py)
    healthChecks: tuple[dict[str, Any], ...] = ()
    # Argo CD's spec.source.chart: a chart from the Helm repository repoURL, at the version
    # targetRevision allows (a Helm constraint: 1.2.3, ~1.2, ^2, >=1 <2; HEAD or '': the latest)
    chart: str = ""
    # Argo CD's multi-source ref sources, with a chart: [{ref, repoURL, targetRevision}], Git
    # repositories whose files the chart's value files name as $ref/path
    refSources: tuple[dict[str, str], ...] = ()

    def validate(self) -> AppSpec:
        name_problem = names.app_name_problem(self.name)
        if name_problem:
            raise SpecError(f"name: {self.name!r} {name_problem}")
        project_problem = names.project_name_problem(self.project)
        if project_problem:
            raise SpecError(f"project: {self.project!r} {project_problem}")
        if not self.repoURL:
            raise SpecError("repoURL: required")
        if self.chart:
            self._validate_chart()
        url_problem = None if self.chart else repourl.problem(self.repoURL)
        if url_problem:
            raise SpecError(f"repoURL: {self.repoURL!r} {url_problem}")
        if self.path.startswith("/") or ".." in self.path.split("/"):
            raise SpecError(f"path: {self.path!r} must be relative and stay inside the repository")
        for i, watched in enumerate(self.watchPaths):
            problem = monorepo.path_problem(watched)
            if problem:
                raise SpecError(f"watchPaths[{i}]: {watched!r} {problem}")
        if not names.is_label(self.destination.namespace):
            raise SpecError(f"destination.namespace: {self.destination.namespace!r} is not valid")
        if self.syncPolicy.selfHeal and not self.syncPolicy.automated:
            raise SpecError("syncPolicy.selfHeal: requires syncPolicy.automated")
        for check_id, mode in self.checks.items():
            if mode not in ("enforce", "warn", "off"):
                raise SpecError(f"checks.{check_id}: {mode!r} is not enforce, warn or off")

        if self.syncPolicy.retry is not None:
            self.syncPolicy.retry.validate()
        sourceopts.validate(self.source)
        healthcel.parse(self.healthChecks)
        if self.revisionHistoryLimit < 1:
            raise SpecError("revisionHistoryLimit: must be at least 1")
        for i, rule in enumerate(self.ignoreDifferences):
            unknown = sorted(set(rule) - IGNORE_DIFFERENCES_KEYS)
            if unknown:
                raise SpecError(f"ignoreDifferences[{i}].{unknown[0]}: unknown field")
        ignorediff.validate(self.ignoreDifferences)
        for item in self.syncPolicy.syncOptions:
            key, sep, value = item.partition("=")
            if not sep or key not in SYNC_OPTIONS:
                raise SpecError(
                    f"syncPolicy.syncOptions: {item!r} is not one of "
                    f"{', '.join(o + '=...' for o in SYNC_OPTIONS)}"
                )
            problem = syncoptions.problem(key, value)
            if problem:
                raise SpecError(f"syncPolicy.syncOptions: {problem}")
        return self

    @functools.cached_property
    def health_checks(self) -> healthcel.HealthChecks:
        """The custom health rules, parsed (validate() has already refused bad ones)."""
        return healthcel.parse(self.healthChecks)

    def _validate_chart(self) -> None:
        if not names.is_label(self.chart):
            raise SpecError(f"chart: {self.chart!r} is not a chart name")
        problem = charts.repository_problem(self.repoURL)
        if problem:
            raise SpecError(f"repoURL: {self.repoURL!r} {problem}")
        try:
            versions.constraint(self.chart_version)
        except versions.ConstraintError as exc:
            raise SpecError(
                f"targetRevision: {self.targetRevision!r} is not a chart version: {exc}"
            ) from None
        refs = {}
        for i, ref in enumerate(self.refSources):
            unknown = sorted(set(ref) - REF_SOURCE_KEYS)
            if unknown:
                raise SpecError(f"refSources[{i}].{unknown[0]}: unknown field")
            name, url = ref.get("ref", ""), ref.get("repoURL", "")
            if not re.match(r"^[A-Za-z0-9_-]+\Z", name) or name in refs:
                raise SpecError(
                    f"refSources[{i}].ref: {name!r} must be a unique name (letters, digits, _ and -)"
                )
            problem = repourl.problem(url) if url else "required"
            if problem:
                raise SpecError(f"refSources[{i}].repoURL: {url!r} {problem}")
            refs[name] = ref
        for i, value_file in enumerate((self.source.get("helm") or {}).get("valueFiles") or []):
            if not value_file.startswith("$"):  # a file of the chart itself (Argo CD allows it)
                parts = value_file.split("/")
                if not value_file or value_file.startswith("/") or ".." in parts or "" in parts:
                    raise SpecError(
                        f"source.helm.valueFiles[{i}]: {value_file!r} must be a path inside the chart"
                    )
                continue
            name, _, rel = value_file.removeprefix("$").partition("/")
            if name not in refs:
                raise SpecError(
                    f"source.helm.valueFiles[{i}]: {value_file!r}: ${name} names no ref source "
                    "($ref/path, spec.sources)"
                )
            if not rel or rel.startswith("/") or ".." in rel.split("/"):
                raise SpecError(
                    f"source.helm.valueFiles[{i}]: {value_file!r} must stay inside the repository"
                )

    @property
    def chart_version(self) -> str:
        """A chart app's version constraint (HEAD or '': the latest stable version)."""
        return "*" if self.targetRevision in ("", "HEAD") else self.targetRevision

    @property
    def repo_key(self) -> str:
        return repourl.normalize(self.repoURL)

    def to_doc(self) -> dict[str, Any]:
        doc = asdict(self)
        doc.pop("name")
        doc["syncPolicy"]["syncOptions"] = list(self.syncPolicy.syncOptions)
        if self.syncPolicy.retry is not None:
            doc["syncPolicy"]["retry"] = self.syncPolicy.retry.to_doc()
        doc["ignoreDifferences"] = [dict(r) for r in self.ignoreDifferences]
        doc["watchPaths"] = list(self.watchPaths)
        doc["healthChecks"] = [dict(c) for c in self.healthChecks]
        if not self.chart:
            doc.pop("chart")
        doc["refSources"] = [dict(r) for r in self.refSources]
        if not self.refSources:
            doc.pop("refSources")
        return doc

    @classmethod
    def from_doc(cls, name: str, doc: dict[str, Any]) -> AppSpec:
        return cls(
            name=name,
            repoURL=doc["repoURL"],
            path=doc.get("path", "."),
            targetRevision=doc.get("targetRevision", "HEAD"),
            destination=Destination(**doc.get("destination", {})),
            syncPolicy=SyncPolicy(
                **{
                    **doc.get("syncPolicy", {}),
                    "syncOptions": tuple((doc.get("syncPolicy") or {}).get("syncOptions") or ()),
                    "retry": (
                        Retry.from_doc(retry)
                        if (retry := (doc.get("syncPolicy") or {}).get("retry"))
                        else None
                    ),
                }
            ),
            project=doc.get("project", "default"),
            ignoreDifferences=tuple(doc.get("ignoreDifferences") or ()),
            revisionHistoryLimit=int(doc.get("revisionHistoryLimit", 100)),
            watchPaths=tuple(doc.get("watchPaths") or ()),
            checks=dict(doc.get("checks") or {}),
            source=dict(doc.get("source") or {}),
            healthChecks=tuple(doc.get("healthChecks") or ()),
            chart=str(doc.get("chart") or ""),
            refSources=tuple(dict(r) for r in doc.get("refSources") or ()),
        )

    def head(self, refs: dict[str, str]) -> tuple[str, str] | None:
        """(ref, commit) the target revision points at in a remote's refs ('' ref for HEAD)."""
        target = self.targetRevision
        candidates = (
            ["HEAD"] if target in ("HEAD", "") else [target, f"refs/heads/{target}", f"refs/tags/{target}"]
        )
        found = next((c for c in candidates if c in refs), None)
        return None if found is None else ("" if found == "HEAD" else found, refs[found])

    def matches_ref(self, ref: str, default_branch: str | None) -> bool:
        """True when a pushed ref (refs/heads/x, refs/tags/y) is this app's target."""
        target = self.targetRevision
        if target in ("HEAD", ""):
            return default_branch is not None and ref == f"refs/heads/{default_branch}"
        if target.startswith("refs/"):
            return ref == target
        return ref in (f"refs/heads/{target}", f"refs/tags/{target}")


class RepoApps:
    """The applications on one repository, indexed to route a push: which of them a set of
    changed paths concerns, in one dictionary look-up per folder of each path rather than a
    comparison per application (a monorepo's index is built once per version of its routes).

    A change concerns an application when it is in the application's path or one of its
    watched paths, or in any folder under them; an application on the repository's root
    (path "" or ".") is concerned by every change."""

    def __init__(self, specs: tuple[AppSpec, ...]) -> None:
        self.specs = specs
        self._everything: set[str] = set()  # apps on the repository's root
        self._by_folder: dict[str, set[str]] = {}
        for spec in specs:
            folders = [monorepo.normal(p) for p in (spec.path, *spec.watchPaths)]
            if "" in folders:
                self._everything.add(spec.name)
            for f in folders:
                self._by_folder.setdefault(f, set()).add(spec.name)

    def concerned(self, changed: frozenset[str] | None) -> set[str] | None:
        """The names of the applications these changed paths concern; None (all of them)
        when the push does not say which paths it changed."""
        if changed is None:
            return None
        found = set(self._everything)
        for path in changed:
            # the path itself and each folder above it (a/b/c: a, a/b, a/b/c)
            ends = [i for i, ch in enumerate(path) if ch == "/"]
            for folder in (*(path[:i] for i in ends), path):
                found.update(self._by_folder.get(folder, ()))
        return found
