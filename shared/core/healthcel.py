"""Custom health as CEL expressions per group and kind: an application's or its project's
`healthChecks` (the application's entry for a group and kind overrides the project's).

The shape is Flux's `healthCheckExprs` (kustomize-controller, Kustomization
.spec.healthCheckExprs): per kind, `current` (required), `inProgress` and `failed`
(optional) boolean expressions over the object, whose top-level fields (`metadata`, `spec`,
`status`...) are the variables. As Flux evaluates them: a spec the controller has not yet
observed (status.observedGeneration < metadata.generation) is in progress; then
`inProgress`, `failed` and `current`, in that order: the first that is true decides
(Progressing, Degraded, Healthy); none true is in progress. An expression that cannot be
evaluated (a field not there yet) leaves the object in progress, naming the error, as Flux
waits on it.

CEL (cel-python, a pure interpreter) is sandboxed by construction: no I/O, no Python, no
unbounded loops, and every expression is parsed when the application is saved, so a typo is
a SpecError naming the field (`healthChecks[0].current: ...`) rather than a silent Unknown.
cel-python is imported on first use: applications without custom checks never load it.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from shared.core.errors import SpecError
from shared.core.health import Health, group_of
from shared.core.status import HealthStatus

MAX_EXPRESSION = 2000  # characters: an expression is a rule, not a program
EXPRESSIONS = ("inProgress", "failed", "current")  # Flux's evaluation order
OUTCOME = {
    "inProgress": HealthStatus.PROGRESSING,
    "failed": HealthStatus.DEGRADED,
    "current": HealthStatus.HEALTHY,
}


@functools.lru_cache(maxsize=512)
def _program(source: str) -> Any:
    """The compiled program of an expression (cached per process); raises ValueError with
    the parser's message when it does not parse."""
    import celpy  # 0.25 s of import: only for applications that use CEL

    env = celpy.Environment()
    try:
        return env.program(env.compile(source))
    except celpy.CELParseError as exc:
        raise ValueError(" ".join(str(exc).split())) from None


def _evaluate(source: str, obj: dict[str, Any]) -> bool:
    import celpy

    activation = {k: celpy.json_to_cel(v) for k, v in obj.items()}
    for name in ("metadata", "spec", "status"):
        activation.setdefault(name, celpy.json_to_cel({}))
    try:
        result = _program(source).evaluate(activation)
    except celpy.CELEvalError as exc:
        raise ValueError(exc.args[0] if exc.args else str(exc)) from None
    if isinstance(result, celpy.CELEvalError):
        raise ValueError(result.args[0] if result.args else str(result))
    if not isinstance(result, celpy.celtypes.BoolType):
        raise ValueError(f"returned {type(result).__name__}, not a bool")
    return bool(result)


@dataclass(frozen=True)
class HealthCheck:
    """One group and kind's expressions ('' when not given)."""

    group: str
    kind: str
    current: str
    inProgress: str = ""
    failed: str = ""

    def evaluate(self, obj: dict[str, Any]) -> Health:
        status = obj.get("status") or {}
        generation = (obj.get("metadata") or {}).get("generation", 0)
        if "observedGeneration" in status and status["observedGeneration"] < generation:
            return Health(HealthStatus.PROGRESSING, "waiting for the spec to be observed")
        for name in EXPRESSIONS:
            source = getattr(self, name)
            if not source:
                continue
            try:
                matched = _evaluate(source, obj)
            except ValueError as exc:
                return Health(HealthStatus.PROGRESSING, f"healthChecks {name}: {exc}")
            if matched:
                return Health(OUTCOME[name], f"healthChecks {name}: {source}")
        return Health(HealthStatus.PROGRESSING, "no health check expression is true yet")


@dataclass(frozen=True)
class HealthChecks:
    """An application's custom rules, by group and kind (the first for a kind wins)."""

    checks: tuple[HealthCheck, ...] = ()

    def find(self, group: str, kind: str) -> HealthCheck | None:
        return next((c for c in self.checks if c.group == group and c.kind == kind), None)

    def __bool__(self) -> bool:
        return bool(self.checks)

    def over(self, project: HealthChecks) -> HealthChecks:
        """These checks (an application's) with the project's for the kinds they do not name:
        the application's entry for a group and kind overrides the project's."""
        own = {(c.group, c.kind) for c in self.checks}
        return HealthChecks(self.checks + tuple(c for c in project.checks if (c.group, c.kind) not in own))


def _group(doc: dict[str, Any]) -> str:
    if "group" in doc:
        return str(doc["group"] or "")
    return group_of({"apiVersion": doc.get("apiVersion", "")})


def parse(docs: Iterable[dict[str, Any]], field: str = "healthChecks") -> HealthChecks:
    """The checks of a spec's `healthChecks` list, every expression parsed; SpecError names
    the first field that is wrong. Each item: `kind`, `group` (or Flux's `apiVersion`, whose
    group is used; '' is the core group), `current`, and optionally `inProgress`, `failed`.
    `field` names the list in errors (a project's: spec.healthChecks)."""
    if not isinstance(docs, list | tuple):
        raise SpecError(f"{field}: must be a list of {{kind, group or apiVersion, current}}")
    checks = []
    for i, doc in enumerate(docs):
        where = f"{field}[{i}]"
        if not isinstance(doc, dict):
            raise SpecError(f"{where}: must be a mapping with kind, group or apiVersion, and current")
        unknown = set(doc) - {"group", "apiVersion", "kind", *EXPRESSIONS}
        if unknown:
            raise SpecError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
        if not doc.get("kind"):
            raise SpecError(f"{where}.kind: required")
        if not doc.get("current"):
            raise SpecError(f"{where}.current: required (the expression that says Healthy)")
        for name in EXPRESSIONS:
            source = doc.get(name) or ""
            if not isinstance(source, str):
                raise SpecError(f"{where}.{name}: must be a CEL expression (a string)")
            if len(source) > MAX_EXPRESSION:
                raise SpecError(f"{where}.{name}: longer than {MAX_EXPRESSION} characters")
            if source:
                try:
                    _program(source)
                except ValueError as exc:
                    raise SpecError(f"{where}.{name}: {exc}") from None
        checks.append(
            HealthCheck(
                group=_group(doc),
                kind=str(doc["kind"]),
                current=doc["current"],
                inProgress=doc.get("inProgress") or "",
                failed=doc.get("failed") or "",
            )
        )
    return HealthChecks(tuple(checks))


def of_project(project: dict[str, Any] | None) -> HealthChecks:
    """A project document's healthChecks (validated when it was saved)."""
    return parse((project or {}).get("healthChecks") or [], "project healthChecks")
