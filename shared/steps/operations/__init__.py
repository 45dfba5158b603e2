"""What a person can do, once: register, change, sync, roll back, pin, delete, diff, sweep, and
the projects, clusters, repositories and RBAC policy around them.

The API (shared/api) calls these after it has verified the caller and checked the policy;
`actor` is always the verified principal, recorded in what the operation starts (the
history entry's triggeredBy, a pin's `by`). Nothing here authorizes: the caller has.

Modules: `apps` (applications), `settings` (projects, clusters, repositories, sweep),
`policy` (the RBAC policy: checked, stored, read back).
"""

from __future__ import annotations


class Refused(Exception):
    """The request cannot be done as asked: `status` is the HTTP answer (400, 404, 409)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
