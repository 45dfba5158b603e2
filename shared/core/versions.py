"""Chart version constraints as Helm reads them, and the version they resolve to.

Helm (and Argo CD's targetRevision for a chart) uses the Masterminds/semver v3 constraint
grammar (helm.sh/docs/chart_best_practices/dependencies, "Versions"):

- `||` separates alternatives; inside one, `,` or spaces join terms that must all hold;
- operators `=` (or none), `!=`, `>`, `<`, `>=`, `<=`/`=<`;
- `~1.2.3` is `>=1.2.3 <1.3.0` (`~1` is `>=1 <2`); `^1.2.3` is `>=1.2.3 <2.0.0`, and below 1.0
  the first non-zero part is fixed (`^0.2.3` is `>=0.2.3 <0.3.0`);
- `1.2 - 1.4.5` is `>=1.2 <=1.4.5`; `1.2.x`, `1.2.*`, `1.2` and `*` are wildcards;
- a pre-release version satisfies a term only if the term names a pre-release (`>=1.2.3-0`).

Versions are parsed and ordered with the `semver` package (python-semver, SemVer 2.0
precedence), loosely as Masterminds does (a leading `v`, missing minor and patch). No PyPI
package implements this grammar: npm ranges (node-semver) differ on `,` and pre-releases.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

import semver

Check = Callable[[semver.Version], bool]
_TERM = re.compile(r"^(?P<op>!=|>=|<=|=<|=>|>|<|=|~>|~|\^)?\s*v?(?P<ver>[0-9xX*][0-9A-Za-z.*+-]*|\*)\Z")
_WILD = ("x", "X", "*")


class ConstraintError(ValueError):
    """A constraint Helm would not accept."""


def parse_version(text: str) -> semver.Version | None:
    """A version, loosely (v1.2, 1.2.3-rc.1+build); None when it is not one."""
    try:
        return semver.Version.parse(text.strip().removeprefix("v"), optional_minor_and_patch=True)
    except (ValueError, TypeError):
        return None


def _parts(text: str) -> tuple[list[int], str]:
    """(the numeric parts given before a wildcard or the end, the pre-release); 1.2.x -> [1, 2]."""
    core, _, _build = text.partition("+")
    core, _, pre = core.partition("-")
    nums: list[int] = []
    for part in core.split("."):
        if part in _WILD:
            break
        if not part.isdigit() or len(part) > MAX_NUMBER_DIGITS:
            raise ConstraintError(f"{text[:40]!r} is not a version")
        nums.append(int(part))
    if len(core.split(".")) > 3:
        raise ConstraintError(f"{text!r} is not a version")
    return nums, pre


def _version(nums: list[int], pre: str = "") -> semver.Version:
    major, minor, patch = [*nums, 0, 0, 0][:3]
    return semver.Version(major, minor, patch, prerelease=pre or None)


def _upper(nums: list[int]) -> semver.Version:
    """The first version past a partial one: 1.2 -> 1.3.0, 1 -> 2.0.0."""
    bumped = [*nums[:-1], nums[-1] + 1]
    return _version(bumped)


def _term(op: str, text: str) -> list[Check]:
    checks = _bounds(op, text)
    if _parts(text)[1]:
        return checks
    return [lambda v: not v.prerelease, *checks]


def _bounds(op: str, text: str) -> list[Check]:
    nums, pre = _parts(text)
    if not nums:  # *, x: any version
        return [lambda v: True] if op in ("", "=", ">=", "<=", "=<", "~", "^") else [lambda v: False]
    low = _version(nums, pre)
    partial = len(nums) < 3
    if op in ("", "="):
        if partial:
            high = _upper(nums)
            return [lambda v: v >= low, lambda v: v < high]
        return [lambda v: v.compare(low) == 0]
    if op == "!=":
        if partial:
            high = _upper(nums)
            return [lambda v: v < low or v >= high]
        return [lambda v: v.compare(low) != 0]
    if op == ">":
        if partial:
            high = _upper(nums)
            return [lambda v: v >= high]
        return [lambda v: v > low]
    if op in (">=", "=>"):
        return [lambda v: v >= low]
    if op == "<":
        return [lambda v: v < low]
    if op in ("<=", "=<"):
        if partial:
            high = _upper(nums)
            return [lambda v: v < high]
        return [lambda v: v <= low]
    if op in ("~", "~>"):
        high = _upper(nums[:2]) if len(nums) >= 2 else _upper(nums[:1])
        return [lambda v: v >= low, lambda v: v < high]
    if op == "^":
        first = next((i for i, n in enumerate(nums) if n != 0), len(nums) - 1)
        high = _upper(nums[: first + 1])
        return [lambda v: v >= low, lambda v: v < high]
    raise ConstraintError(f"unknown operator {op!r}")


def _group(text: str) -> list[Check]:
    """The checks of one alternative: terms joined by `,` or spaces, all of which must hold."""
    text = re.sub(r"\s+-\s+", " HYPHEN ", text.strip())
    tokens = _join_operators([t for t in re.split(r"[\s,]+", text) if t])
    checks: list[Check] = []
    i = 0
    while i < len(tokens):
        if i + 2 < len(tokens) and tokens[i + 1] == "HYPHEN":
            checks += _term(">=", tokens[i].removeprefix("v")) + _term("<=", tokens[i + 2].removeprefix("v"))
            i += 3
            continue
        match = _TERM.match(tokens[i])
        if match is None:
            raise ConstraintError(f"{tokens[i]!r} is not a version constraint")
        checks += _term(match["op"] or "", match["ver"])
        i += 1
    if not checks:
        raise ConstraintError("empty constraint")
    return checks


def _join_operators(tokens: list[str]) -> list[str]:
    """`>= 1.2` written with a space: the operator joined to its version."""
    out: list[str] = []
    for token in tokens:
        if out and re.fullmatch(r"!=|>=|<=|=<|=>|>|<|=|~>|~|\^", out[-1]):
            out[-1] += token
        else:
            out.append(token)
    return out


MAX_CONSTRAINT_CHARS = 256  # a constraint is checked against every version an index lists:
MAX_ALTERNATIVES = 16  # its size bounds the work (alternatives x terms x versions)
MAX_VERSIONS = 10_000  # versions of one chart considered; an index listing more is refused
MAX_NUMBER_DIGITS = 10


def constraint(text: str) -> Check:
    """A check of versions against a constraint; raises ConstraintError when it is not one."""
    if len(text or "") > MAX_CONSTRAINT_CHARS:
        raise ConstraintError(f"longer than {MAX_CONSTRAINT_CHARS} characters")
    alternatives = (text or "*").split("||")
    if len(alternatives) > MAX_ALTERNATIVES:
        raise ConstraintError(f"more than {MAX_ALTERNATIVES} alternatives (||)")
    groups = [_group(alt) for alt in alternatives]

    def check(v: semver.Version) -> bool:
        return any(all(c(v) for c in checks) for checks in groups)

    return check


def resolve(text: str, available: Iterable[str]) -> str | None:
    """The highest of the available versions (as written) the constraint allows; None if none."""
    check = constraint(text)
    available = list(available)
    if len(available) > MAX_VERSIONS:
        raise ConstraintError(f"the repository lists {len(available):,} versions (at most {MAX_VERSIONS:,})")
    best: tuple[semver.Version, str] | None = None
    for raw in available:
        v = parse_version(raw)
        if v is not None and check(v) and (best is None or v > best[0]):
            best = (v, raw)
    return best[1] if best else None
