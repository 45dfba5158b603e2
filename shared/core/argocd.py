"""Argo CD manifests accepted as they are: Application and AppProject (argoproj.io/v1alpha1).

`application(doc)` and `project(doc)` translate a manifest into our model and name every
field we do not support as a warning (never dropped silently). Our own manifest form,
`apiVersion: gitops.dev/v1`, `kind: Application`, with the spec as stored in Firestore, is
accepted by the same entry point.
"""

from __future__ import annotations

from typing import Any

from shared.core import healthcel, ignorediff, monorepo, names, orphans, rbac, sourceopts, syncoptions
from shared.core.errors import SpecError
from shared.core.model import IN_CLUSTER, AppSpec, Destination, Retry, SyncPolicy

ARGO_API = "argoproj.io/v1alpha1"
OUR_API = "gitops.dev/v1"
IN_CLUSTER_SERVER = "https://kubernetes.default.svc"
# sync options that describe what this engine always does
ALWAYS = {"ApplyOutOfSyncOnly=true", "ServerSideApply=true"}
# Argo CD's application-level sync options we honour, with their own names (shared/core/syncoptions.py)
SUPPORTED_OPTIONS = ("CreateNamespace", *syncoptions.ARGO_OPTIONS)
IGNORE_FIELDS = ignorediff.RULE_FIELDS


def is_application(obj: dict[str, Any]) -> bool:
    """An Application manifest (Argo CD's or ours): what an app of apps registers."""
    return obj.get("kind") == "Application" and obj.get("apiVersion") in (ARGO_API, OUR_API)


def _unknown(doc: dict[str, Any], known: set[str], prefix: str, warnings: list[str]) -> None:
    for key in doc:
        if key not in known:
            warnings.append(f"{prefix}{key}: not supported (ignored)")


def application(doc: dict[str, Any]) -> tuple[AppSpec, list[str]]:
    """An Application manifest (Argo CD's or ours) as an AppSpec, and warnings by field name."""
    api, kind = doc.get("apiVersion"), doc.get("kind")
    if kind != "Application" or api not in (ARGO_API, OUR_API):
        raise SpecError(f"apiVersion/kind: expected {ARGO_API} or {OUR_API} Application, got {api}/{kind}")
    meta = doc.get("metadata") or {}
    if not meta.get("name"):
        raise SpecError("metadata.name: required")
    spec = doc.get("spec") or {}
    if api == OUR_API:
        return AppSpec.from_doc(meta["name"], spec).validate(), []
    warnings: list[str] = []
    _unknown(meta, {"name", "namespace", "labels", "annotations"}, "metadata.", warnings)
    _unknown(
        spec,
        {
            "project",
            "source",
            "sources",
            "destination",
            "syncPolicy",
            "ignoreDifferences",
            "revisionHistoryLimit",
        },
        "spec.",
        warnings,
    )
    source = spec.get("source") or {}
    refs: list[dict[str, str]] = []
    if not source and spec.get("sources"):
        source, refs = _multi_source(spec["sources"], warnings)
    if "plugin" in source:
        raise SpecError("spec." + sourceopts.plugin_refusal(source["plugin"]))
    _unknown(
        source,
        {"repoURL", "targetRevision", "path", "chart", "directory", "kustomize", "helm"},
        "spec.source.",
        warnings,
    )
    options = _source_options(source, warnings)
    destination = spec.get("destination") or {}
    _unknown(destination, {"server", "name", "namespace"}, "spec.destination.", warnings)
    cluster = destination.get("name") or destination.get("server") or IN_CLUSTER
    if cluster in (IN_CLUSTER_SERVER, "in-cluster"):
        cluster = IN_CLUSTER
    policy = spec.get("syncPolicy") or {}
    _unknown(policy, {"automated", "syncOptions", "retry"}, "spec.syncPolicy.", warnings)
    retry = policy.get("retry")
    if isinstance(retry, dict):
        _unknown(retry, {"limit", "backoff"}, "spec.syncPolicy.retry.", warnings)
        _unknown(
            retry.get("backoff") or {},
            {"duration", "factor", "maxDuration"},
            "spec.syncPolicy.retry.backoff.",
            warnings,
        )
    automated = policy.get("automated")
    if isinstance(automated, dict):
        _unknown(automated, {"prune", "selfHeal", "allowEmpty"}, "spec.syncPolicy.automated.", warnings)
    sync_options = _sync_options(policy.get("syncOptions") or [], warnings)
    ignore = []
    for i, rule in enumerate(spec.get("ignoreDifferences") or []):
        _unknown(rule, set(IGNORE_FIELDS), f"spec.ignoreDifferences[{i}].", warnings)
        kept = {k: v for k, v in rule.items() if k in IGNORE_FIELDS}
        if kept.get("jsonPointers") or kept.get("jqPathExpressions") or kept.get("managedFieldsManagers"):
            ignore.append(kept)
    app = AppSpec(
        name=meta["name"],
        repoURL=source.get("repoURL", ""),
        path=source.get("path") or ".",
        targetRevision=source.get("targetRevision") or "HEAD",
        destination=Destination(cluster=cluster, namespace=destination.get("namespace") or "default"),
        syncPolicy=SyncPolicy(
            automated=automated is not None,
            prune=bool((automated or {}).get("prune")),
            selfHeal=bool((automated or {}).get("selfHeal")),
            allowEmpty=bool((automated or {}).get("allowEmpty")),
            syncOptions=tuple(sync_options),
            retry=Retry.from_doc(retry) if isinstance(retry, dict) else None,
        ),
        project=spec.get("project") or "default",
        ignoreDifferences=tuple(ignore),
        revisionHistoryLimit=int(spec.get("revisionHistoryLimit") or 100),
        # Argo CD's manifest-generate-paths annotation: what else a change must touch to concern it
        watchPaths=monorepo.generate_paths(
            str((meta.get("annotations") or {}).get(monorepo.ANNOTATION) or ""), source.get("path") or "."
        ),
        source=options,
        chart=str(source.get("chart") or ""),
        refSources=tuple(refs),
    )
    return app.validate(), warnings


def _sync_options(given: list[Any], warnings: list[str]) -> list[str]:
    """spec.syncPolicy.syncOptions we honour, in Argo CD's spelling; every other one is named."""
    out = []
    for option in given:
        name, _, value = str(option).strip().partition("=")
        if str(option).strip() in ALWAYS:
            continue
        problem = (
            syncoptions.problem(name, value) if name in SUPPORTED_OPTIONS or name == "ServerSideApply" else ""
        )
        if name in SUPPORTED_OPTIONS and value and not problem:
            out.append(f"{name}={value}")
        else:
            why = problem or f"{option} is not supported"
            warnings.append(f"spec.syncPolicy.syncOptions: {why} (ignored)")
    return out


def _multi_source(sources: Any, warnings: list[str]) -> tuple[dict[str, Any], list[dict[str, str]]]:
    """spec.sources as (the chart source, its ref sources): Argo CD's "Helm value files from
    an external Git repository" (multiple_sources.md). Other combinations are refused."""
    if not isinstance(sources, list) or not all(isinstance(s, dict) for s in sources):
        raise SpecError("spec.sources: must be a list of sources")
    charts = [s for s in sources if s.get("chart")]
    refs = [s for s in sources if not s.get("chart")]
    if len(charts) != 1 or any(not r.get("ref") or r.get("path") for r in refs):
        raise SpecError(
            "spec.sources: supported is one chart source and ref sources (ref, repoURL, "
            "targetRevision; no path) for its value files"
        )
    out = []
    for i, ref in enumerate(refs):
        _unknown(ref, {"repoURL", "targetRevision", "ref"}, f"spec.sources[{i}].", warnings)
        out.append(
            {
                "ref": str(ref["ref"]),
                "repoURL": str(ref.get("repoURL") or ""),
                "targetRevision": str(ref.get("targetRevision") or "HEAD"),
            }
        )
    return charts[0], out


# Argo CD's source fields we render with, by source kind (shared/core/sourceopts.py)
SOURCE_FIELDS = {
    "directory": ("recurse", "include", "exclude"),
    "kustomize": ("namePrefix", "nameSuffix", "images", "commonLabels", "commonAnnotations", "namespace"),
    "helm": ("valueFiles", "values", "parameters", "releaseName", "namespace"),
}


def _source_options(source: dict[str, Any], warnings: list[str]) -> dict[str, dict[str, Any]]:
    """spec.source.{directory,kustomize,helm} as our source options (directory.jsonnet -> jsonnet)."""
    out: dict[str, dict[str, Any]] = {}
    for kind, fields in SOURCE_FIELDS.items():
        given = dict(source.get(kind) or {}) if kind in source else None
        if given is None:
            continue
        if kind == "helm" and "valuesObject" in given:
            given["values"] = given.pop("valuesObject")
        jsonnet = given.pop("jsonnet", None) if kind == "directory" else None
        _unknown(given, set(fields), f"spec.source.{kind}.", warnings)
        out[kind] = {k: v for k, v in given.items() if k in fields}
        if jsonnet:
            _unknown(jsonnet, {"extVars", "tlas"}, "spec.source.directory.jsonnet.", warnings)
            out["jsonnet"] = {k: jsonnet[k] for k in ("extVars", "tlas") if jsonnet.get(k)}
    return out


# an AppProject's list fields we keep (and `gitops project set` may replace)
PROJECT_LISTS = (
    "sourceRepos",
    "destinations",
    "clusterResourceWhitelist",
    "clusterResourceBlacklist",
    "namespaceResourceWhitelist",
    "namespaceResourceBlacklist",
)


def project(doc: dict[str, Any]) -> tuple[str, dict[str, Any], list[str]]:
    """An AppProject manifest as (name, project document, warnings)."""
    if doc.get("kind") != "AppProject" or doc.get("apiVersion") not in (ARGO_API, OUR_API):
        raise SpecError(f"apiVersion/kind: expected {ARGO_API} AppProject")
    meta, spec = doc.get("metadata") or {}, doc.get("spec") or {}
    if not meta.get("name"):
        raise SpecError("metadata.name: required")
    problem = names.project_name_problem(str(meta["name"]))
    if problem:
        raise SpecError(f"metadata.name: {meta['name']!r} {problem}")
    warnings: list[str] = []
    lists = PROJECT_LISTS
    _unknown(spec, {*lists, "description", "roles", "orphanedResources", "healthChecks"}, "spec.", warnings)
    out: dict[str, Any] = {"description": spec.get("description", "")}
    if spec.get("roles"):
        out["roles"] = _roles(meta["name"], spec["roles"])
    if "orphanedResources" in spec:  # Argo CD's opt-in: set at all, orphans are listed
        orphaned = spec["orphanedResources"] or {}
        try:
            orphans.validate(orphaned)
        except SpecError as exc:
            raise SpecError(f"spec.{exc}") from None
        out["orphanedResources"] = orphaned
    if spec.get("healthChecks"):  # ours: custom health in CEL for the project's applications
        healthcel.parse(spec["healthChecks"], "spec.healthChecks")
        out["healthChecks"] = list(spec["healthChecks"])
    for key in lists:
        if key in spec:
            out[key] = list(spec[key] or [])
    out["destinations"] = [
        {
            "cluster": IN_CLUSTER
            if (d.get("name") or d.get("server")) in (IN_CLUSTER_SERVER, None)
            else (d.get("name") or d.get("server")),
            "namespace": d.get("namespace", "*"),
        }
        for d in spec.get("destinations") or []
    ]
    return meta["name"], out, warnings


def _roles(project: str, roles: Any) -> list[dict[str, Any]]:
    """spec.roles[] (name, description, policies, groups), each policy confined to the project."""
    if not isinstance(roles, list) or not all(isinstance(r, dict) for r in roles):
        raise SpecError("spec.roles: a list of roles (name, policies, groups)")
    try:
        rbac.project_policy(project, roles)
    except rbac.PolicyError as exc:
        raise SpecError(str(exc)) from exc
    return [
        {
            "name": str(r["name"]),
            "description": str(r.get("description") or ""),
            "policies": [str(p) for p in r.get("policies") or []],
            "groups": [str(g) for g in r.get("groups") or []],
        }
        for r in roles
    ]


def registration_problems(objs: list[dict[str, Any]]) -> list[tuple[int, str]]:
    """(index, problem) of the Application manifests among `objs` that an app of apps could
    not register (refused) or registers with fields ignored; a name given twice is refused."""
    out: list[tuple[int, str]] = []
    seen: dict[str, int] = {}
    for i, obj in enumerate(objs):
        if not is_application(obj):
            continue
        name = str((obj.get("metadata") or {}).get("name") or "?")
        try:
            _, warnings = application(obj)
        except SpecError as exc:
            out.append((i, f"Application {name} cannot be registered: {exc}"))
            continue
        if name in seen:
            out.append(
                (
                    i,
                    f"Application {name} cannot be registered: object {seen[name] + 1} has the same name",
                )
            )
            continue
        seen[name] = i
        out += [(i, f"Application {name}: {w}") for w in warnings]
    return out
