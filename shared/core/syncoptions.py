"""Argo CD's sync options, with its names and meanings (its "Sync Options" page), decided per
application (`syncPolicy.syncOptions`) and per object (the `argocd.argoproj.io/sync-options`
annotation, or ours, `gitops.dev/sync-options`: comma-separated, white space trimmed).

An object's own option overrides the application's, for the options Argo CD reads on objects:

| option                           | app | object | meaning here                                      |
|----------------------------------|-----|--------|---------------------------------------------------|
| RespectIgnoreDifferences=true    | yes | yes    | ignored fields keep their live values on apply    |
| SkipDryRunOnMissingResource=true | yes | yes    | an unknown kind is not dry-run (CRD comes later)  |
| Replace=true                     | yes | yes    | replace (PUT), or create, instead of apply        |
| PruneLast=true                   | yes | yes    | pruned after every wave is written and Healthy    |
| Validate=false                   | yes | yes    | kubectl --validate=false: no schema checks |
| ServerSideApply=true             | yes | yes    | what this engine always does                      |
| FailOnSharedResource=true        | yes | no     | another application's object fails the sync       |
| PrunePropagationPolicy=X         | yes | no     | a prune's propagation: foreground|background|orphan |

Without FailOnSharedResource, an object another application owns is still taken, as Argo CD
does, but never silently: the sync names both applications (Argo CD's SharedResourceWarning).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

# Argo CD's application-level sync options honoured here, by name
ARGO_OPTIONS = (
    "RespectIgnoreDifferences",
    "SkipDryRunOnMissingResource",
    "Replace",
    "PruneLast",
    "FailOnSharedResource",
    "PrunePropagationPolicy",
    "Validate",
)
BOOLEAN = (
    "RespectIgnoreDifferences",
    "SkipDryRunOnMissingResource",
    "Replace",
    "PruneLast",
    "Validate",
    "FailOnSharedResource",
    "ServerSideApply",
)
PER_OBJECT = (
    "RespectIgnoreDifferences",
    "SkipDryRunOnMissingResource",
    "Replace",
    "PruneLast",
    "Validate",
    "ServerSideApply",
)
PROPAGATION = {"foreground": "Foreground", "background": "Background", "orphan": "Orphan"}
DEFAULT_PROPAGATION = "background"  # ours (Argo CD's is foreground): a prune never waits for dependents


def parse(text: str) -> dict[str, str]:
    """`Prune=false, Replace=true` as {name: value}; an item without '=' is kept with value ''."""
    out: dict[str, str] = {}
    for item in text.split(","):
        name, _, value = item.strip().partition("=")
        if name.strip():
            out[name.strip()] = value.strip()
    return out


def of_annotations(annotations: Mapping[str, str] | None, keys: Iterable[str]) -> dict[str, str]:
    """The options an object's annotations set (later keys win)."""
    out: dict[str, str] = {}
    for key in keys:
        out.update(parse(str((annotations or {}).get(key) or "")))
    return out


def value(name: str, app: Iterable[str], obj: Mapping[str, str] | None = None) -> str | None:
    """The option's value for an object: its own when it sets one (for the options objects can
    set), else the application's, else None."""
    if obj and name in PER_OBJECT and name in obj:
        return obj[name]
    return parse(",".join(app)).get(name)


def enabled(name: str, app: Iterable[str], obj: Mapping[str, str] | None = None) -> bool:
    return (value(name, app, obj) or "").lower() == "true"


def disabled(name: str, app: Iterable[str], obj: Mapping[str, str] | None = None) -> bool:
    return (value(name, app, obj) or "").lower() == "false"


def propagation(app: Iterable[str]) -> str:
    """The deletion propagation policy of a prune, as the API wants it (Foreground, ...)."""
    return PROPAGATION[(value("PrunePropagationPolicy", app) or DEFAULT_PROPAGATION).lower()]


def problem(name: str, given: str) -> str:
    """Why an application-level option's value is not valid ('' when it is)."""
    if name in BOOLEAN and given.lower() not in ("true", "false"):
        return f"{name}={given}: must be true or false"
    if name == "PrunePropagationPolicy" and given.lower() not in PROPAGATION:
        return f"{name}={given}: must be one of {', '.join(PROPAGATION)}"
    if name == "ServerSideApply" and given.lower() == "false":
        return (
            "ServerSideApply=false: objects are always applied server-side here (there is no "
            "client-side apply); use Replace=true to replace objects instead"
        )
    return ""


def owner_of(tracking_id: str | None, label: str | None) -> str:
    """The application a live object belongs to: from the tracking id `app:group/kind:ns/name`
    (ours and Argo CD's annotation form), else the app label; '' when none."""
    if tracking_id and ":" in tracking_id:
        return tracking_id.split(":", 1)[0]
    return label or ""


def other_owner(app: str, app_label: str, tracking_id: str | None, label: str | None) -> str:
    """Another application's name when the live object is that application's, else ''.
    `app_label` is this application's label value (it may be a shortened form of the name)."""
    if label == app_label and (not tracking_id or owner_of(tracking_id, None) == app):
        return ""
    owner = owner_of(tracking_id, label)
    return "" if owner in ("", app) else owner


def shared_message(object_name: str, app: str, other: str) -> str:
    """Argo CD's SharedResourceWarning wording: both applications named."""
    return f"SharedResourceWarning: {object_name} is part of applications {other} and {app}"


def shared_refusal(object_name: str, app: str, other: str) -> str:
    """FailOnSharedResource=true: the object is refused, both applications named."""
    return (
        f"Shared resource found: {object_name} is part of applications {other} and {app} "
        "(FailOnSharedResource=true: not taken)"
    )
