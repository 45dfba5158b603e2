"""The reliability and security suite: adversarial inputs, injected faults, tenant escapes.

It runs on the session's one stack (tests/integration/conftest.py `session_stack`), whichever
suite started it; GITOPS_TEST_STACK_DIR reuses a stack already running.

Every test is tagged `adversarial`, `fault` or `escape`; the run ends with one count line:
`reliability: N cases tried, F faults survived, E escapes refused, X failures`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from stack import local
from tests.integration.conftest import (  # noqa: F401 - fixtures, used by name
    namespace,
    observe,
    repo,
    secret,
    serve_function,
    session_stack,
    uid,
)

MARKERS = {
    "adversarial": "reliability: a hostile or broken input, refused with a clear recorded error",
    "fault": "reliability: an injected fault (crash, restart, outage, redelivery) the system survives",
    "escape": "reliability: a tenancy or secret escape that is refused",
}
_counts: dict[str, int] = {"tried": 0, "fault": 0, "escape": 0, "failed": 0}


def pytest_configure(config: pytest.Config) -> None:
    for name, doc in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {doc}")


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[local.Stack]:
    yield from session_stack(tmp_path_factory)


def _kind(item: pytest.Item) -> str:
    for name in MARKERS:
        if item.get_closest_marker(name) is not None:
            return name
    return ""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = str(Path(__file__).parent)
    for item in items:
        if str(item.path).startswith(here):
            item.add_marker(pytest.mark.integration)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: Any) -> Any:
    report = yield
    kind = _kind(item)
    if kind:
        if report.when == "call" or (report.when == "setup" and not report.passed):
            _counts["tried"] += 1 if not report.skipped else 0
        if report.failed:
            _counts["failed"] += 1
        elif report.when == "call" and report.passed and kind in ("fault", "escape"):
            _counts[kind] += 1
    return report


@pytest.hookimpl(wrapper=True)
def pytest_terminal_summary(terminalreporter: Any) -> Iterator[None]:
    """After pytest's own summary (failures, short test summary): the count line."""
    yield
    if _counts["tried"] or _counts["failed"]:
        terminalreporter.write_line(
            f"reliability: {_counts['tried']} cases tried, {_counts['fault']} faults survived, "
            f"{_counts['escape']} escapes refused, {_counts['failed']} failures"
        )
