"""Who may do what: Argo CD's RBAC model (its `argocd-rbac-cm` policy.csv), pure.

    p, <subject>, <resource>, <action>, <object>, allow|deny
    g, <user-or-group>, <role>

- Objects: `<project>/<app>` for applications and logs, the project's name for projects, the
  server or name for clusters, the URL for repositories. Action and object are globs (`*`
  matches any run of characters, `/` included, as Argo CD's globs do); the resource is a name
  or `*`.
- A subject is a verified principal (its e-mail; `sub:<subject>` for a token without
  one), one of its token's groups written `group:<name>` (`g, group:devs, role:dev`:
  groups and e-mails never share a namespace), or a role that one of them is bound to
  with `g` (bindings nest). An AppProject role's `groups` are token group names.
  `policy.default` is a role every authenticated caller has (Argo CD's `policy.default`,
  e.g. `role:readonly`); empty, nobody has one.
- Deny wins over allow; with no matching allow the answer is no (deny by default).
- Built-in roles: `role:readonly` (get everything) and `role:admin` (everything).
- Project roles (an AppProject's `spec.roles[]`: name, policies, groups) are named
  `proj:<project>:<role>`; their policies may name only that subject and only objects of that
  project (`<project>/...`), so a project's owner cannot grant anything outside it.

A malformed line is refused with its source, line and field.
"""

from __future__ import annotations

import dataclasses
import fnmatch
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from shared.core import names

RESOURCES = ("applications", "projects", "clusters", "repositories", "logs")
ACTIONS = ("get", "create", "update", "delete", "sync", "rollback", "override", "action")
EFFECTS = ("allow", "deny")
# the destination of the config application whose manifests are the policy (its ConfigMap
# is put in force by the apply step, not applied to a cluster)
CONTROL_PLANE = "gitops-control-plane"
READONLY = "role:readonly"
ADMIN = "role:admin"
# the resources whose objects are <project>/<name>
PROJECT_SCOPED = ("applications", "logs")
# what a project role may grant (Argo CD: applications, logs, exec; ours: no exec)
PROJECT_ROLE_RESOURCES = ("applications", "logs")

ROLE_PREFIXES = ("role:", "proj:")
# a token's groups are held as group:<name> (a g line binds `group:devs`), never in the
# namespace of principals (e-mails): a group named like someone's e-mail is not that person
GROUP_PREFIX = "group:"
RESERVED_PREFIXES = (*ROLE_PREFIXES, GROUP_PREFIX)
P_FIELDS = ("type", "subject", "resource", "action", "object", "effect")
G_FIELDS = ("type", "member", "role")


class PolicyError(ValueError):
    """A malformed policy: `<source>:<line>: field <n> (<name>): <why>`."""


@dataclass(frozen=True)
class Rule:
    subject: str
    resource: str
    action: str
    object: str
    effect: str

    def matches(self, resource: str, action: str, obj: str) -> bool:
        return (
            self.resource in ("*", resource)
            and fnmatch.fnmatchcase(action, self.action)
            and fnmatch.fnmatchcase(obj, self.object)
        )


@dataclass(frozen=True)
class Policy:
    rules: tuple[Rule, ...] = ()
    bindings: tuple[tuple[str, str], ...] = ()  # (member, role)
    default: str = ""

    def merged(self, *others: Policy) -> Policy:
        return Policy(
            self.rules + tuple(r for o in others for r in o.rules),
            self.bindings + tuple(b for o in others for b in o.bindings),
            self.default,
        )

    def to_doc(self) -> dict[str, Any]:
        return {
            # maps, not lists: Firestore keeps no array in an array
            "rules": [dataclasses.asdict(r) for r in self.rules],
            "bindings": [{"member": m, "role": r} for m, r in self.bindings],
            "default": self.default,
        }

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> Policy:
        return cls(
            tuple(Rule(**r) for r in doc.get("rules") or []),
            tuple((str(b["member"]), str(b["role"])) for b in doc.get("bindings") or []),
            str(doc.get("default") or ""),
        )


def _fields(line: str) -> list[str]:
    return [f.strip() for f in line.split(",")]


def _fail(source: str, number: int, index: int, names: Sequence[str], why: str) -> PolicyError:
    name = names[index] if index < len(names) else "?"
    return PolicyError(f"{source}:{number}: field {index + 1} ({name}): {why}")


def _rule(fields: list[str], source: str, number: int) -> Rule:
    if len(fields) != len(P_FIELDS):
        raise PolicyError(
            f"{source}:{number}: a p line has {len(P_FIELDS)} fields "
            f"({', '.join(P_FIELDS[1:])}), this one has {len(fields)}"
        )
    _, subject, resource, action, obj, effect = fields
    for index, value in enumerate(fields):
        if not value:
            raise _fail(source, number, index, P_FIELDS, "empty")
    if resource != "*" and resource not in RESOURCES:
        raise _fail(source, number, 2, P_FIELDS, f"{resource!r} is not one of {', '.join(RESOURCES)} or *")
    base = action.split("/", 1)[0]
    if action != "*" and base not in ACTIONS:
        raise _fail(source, number, 3, P_FIELDS, f"{action!r} is not one of {', '.join(ACTIONS)} or *")
    if resource in PROJECT_SCOPED and obj != "*" and "/" not in obj:
        raise _fail(source, number, 4, P_FIELDS, f"{obj!r}: {resource} objects are <project>/<app>")
    if effect not in EFFECTS:
        raise _fail(source, number, 5, P_FIELDS, f"{effect!r} is not allow or deny")
    return Rule(subject, resource, action, obj, effect)


def _binding(fields: list[str], source: str, number: int) -> tuple[str, str]:
    if len(fields) != len(G_FIELDS):
        raise PolicyError(
            f"{source}:{number}: a g line has {len(G_FIELDS)} fields (member, role), "
            f"this one has {len(fields)}"
        )
    for index, value in enumerate(fields):
        if not value:
            raise _fail(source, number, index, G_FIELDS, "empty")
    return fields[1], fields[2]


def parse(text: str, *, source: str = "policy.csv", default: str = "") -> Policy:
    """policy.csv as a Policy; comments (#) and blank lines are skipped."""
    rules: list[Rule] = []
    bindings: list[tuple[str, str]] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        fields = _fields(line)
        if fields[0] == "p":
            rules.append(_rule(fields, source, number))
        elif fields[0] == "g":
            bindings.append(_binding(fields, source, number))
        else:
            raise _fail(source, number, 0, P_FIELDS, f"{fields[0]!r} is not p or g")
    return Policy(tuple(rules), tuple(bindings), default.strip())


BUILTIN = parse(
    "\n".join(
        [f"p, {READONLY}, {r}, get, *, allow" for r in RESOURCES]
        + [f"p, {ADMIN}, {r}, *, *, allow" for r in RESOURCES]
    ),
    source="built-in",
)


def project_role_subject(project: str, role: str) -> str:
    return f"proj:{project}:{role}"


def project_policy(project: str, roles: Iterable[Mapping[str, Any]]) -> Policy:
    """The policy of a project's roles (AppProject spec.roles[]), each line checked to stay
    inside the project: its subject is the role itself, its objects `<project>/...`."""
    problem = names.project_name_problem(project)
    if problem:  # a label holds no glob character: the project part of an object is literal
        raise PolicyError(f"project {project!r} {problem}")
    rules: list[Rule] = []
    bindings: list[tuple[str, str]] = []
    for index, role in enumerate(roles):
        name = str(role.get("name") or "")
        where = f"project {project} spec.roles[{index}]"
        if not name:
            raise PolicyError(f"{where}.name: required")
        subject = project_role_subject(project, name)
        for n, line in enumerate(role.get("policies") or []):
            source = f"{where}.policies[{n}]"
            fields = _fields(str(line))
            if fields[0] != "p":
                raise _fail(source, 1, 0, P_FIELDS, "a project role's policies are p lines")
            rule = _rule(fields, source, 1)
            if rule.subject != subject:
                raise _fail(
                    source, 1, 1, P_FIELDS, f"{rule.subject!r}: a policy of this role names {subject}"
                )
            if rule.resource not in PROJECT_ROLE_RESOURCES:
                raise _fail(
                    source,
                    1,
                    2,
                    P_FIELDS,
                    f"{rule.resource!r}: a project role grants only applications, logs",
                )
            app = rule.object.split("/", 1)
            if len(app) != 2 or app[0] != project or not app[1]:
                raise _fail(
                    source,
                    1,
                    4,
                    P_FIELDS,
                    f"{rule.object!r}: a role of project {project} names {project}/...",
                )
            rules.append(rule)
        # the token's groups (an AppProject role's groups are group names, as in Argo CD)
        bindings += [(GROUP_PREFIX + str(g), subject) for g in role.get("groups") or [] if str(g)]
    return Policy(tuple(rules), tuple(bindings))


@dataclass(frozen=True)
class Subject:
    """A verified caller: the principal (e-mail or subject) and its groups."""

    principal: str
    groups: tuple[str, ...] = ()
    roles: frozenset[str] = field(default_factory=frozenset)


def subject(policy: Policy, principal: str, groups: Sequence[str] = ()) -> Subject:
    """The caller with every role it holds: bindings of its principal and groups, nested, and
    policy.default. A principal or group spelled like a role (role:..., proj:...) holds nothing
    by that name: only a binding gives a role."""
    held = {GROUP_PREFIX + g for g in groups if g}
    if principal and not principal.startswith(RESERVED_PREFIXES):
        held.add(principal)
    if policy.default:
        held.add(policy.default)
    members: dict[str, set[str]] = {}
    for member, role in policy.bindings:
        members.setdefault(member, set()).add(role)
    todo = list(held)
    while todo:
        for role in members.get(todo.pop(), ()):
            if role not in held:
                held.add(role)
                todo.append(role)
    return Subject(principal, tuple(groups), frozenset(held))


def allowed(policy: Policy, who: Subject, resource: str, action: str, obj: str) -> bool:
    """Whether WHO may do ACTION on RESOURCE's OBJ: some allow matches and no deny does."""
    allow = False
    for rule in (*BUILTIN.rules, *policy.rules):
        if rule.subject in who.roles and rule.matches(resource, action, obj):
            if rule.effect == "deny":
                return False
            allow = True
    return allow


def app_object(project: str, app: str) -> str:
    return f"{project}/{app}"


def write_checks(project: str, app: str, cluster: str, action: str) -> list[tuple[str, str, str]]:
    """What a caller must be allowed to write an application: ACTION on `<project>/<app>`, and
    for the control-plane destination (what such an application applies is the policy
    itself) clusters/update on it."""
    checks = [("applications", action, app_object(project, app))]
    if cluster == CONTROL_PLANE:
        checks.append(("clusters", "update", CONTROL_PLANE))
    return checks


def child_problem(parent: str, parent_project: str, child: str, project: str, cluster: str) -> str | None:
    """Why an app-of-apps child may not be registered from Git, or None. A push has no caller
    to check clusters/update on the control plane for, so no child may target it (only a
    config application registered through the API by someone allowed may); and a child stays
    in its parent's project."""
    if cluster == CONTROL_PLANE:
        return (
            f"Application {child} targets {CONTROL_PLANE}: only an application registered through "
            "the API by someone allowed clusters/update on it may (a child from Git may not)"
        )
    if project != parent_project:
        return (
            f"Application {child} asks for project {project!r}; the children of "
            f"{parent} belong to its project {parent_project!r}"
        )
    return None
