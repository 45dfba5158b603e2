"""The caller as the web pages see it: who, and what it may do."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Viewer:
    """A verified caller. `can(resource, action, object)`: whether the policy in force lets it,
    e.g. `can("applications", "sync", "default/guestbook")` (objects as in shared/core/rbac.py)."""

    principal: str  # the verified e-mail (or subject)
    groups: tuple[str, ...]
    can: Callable[[str, str, str], bool]
