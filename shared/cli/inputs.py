"""What the commands read besides their flags: manifest files and `--source` options."""

from __future__ import annotations

import sys
from typing import Any

import yaml

from shared.cli.output import CliError
from shared.core import healthcel, sourceopts
from shared.core.model import SpecError


def read_manifests(path: str) -> list[dict[str, Any]]:
    """The YAML documents of a file (- for stdin), empty ones left out."""
    try:
        with open(path) if path != "-" else sys.stdin as f:
            return [d for d in yaml.safe_load_all(f) if d]
    except OSError as exc:
        raise CliError(f"cannot read {path}: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise CliError(f"{path}: not valid YAML: {exc}") from exc


def source_options(text: str) -> dict[str, Any]:
    """A `--source` flag: source options as in spec.source, validated."""
    try:
        options = yaml.safe_load(text) or {}
        sourceopts.validate(options)
    except (yaml.YAMLError, SpecError) as exc:
        raise CliError(f"--source: {exc}") from None
    return options


def health_checks(text: str) -> list[dict[str, Any]]:
    """A `--health-checks` flag: custom health in CEL as a healthChecks list, every expression
    parsed (shared/core/healthcel.py)."""
    try:
        checks = yaml.safe_load(text) or []
        healthcel.parse(checks, "--health-checks")
    except (yaml.YAMLError, SpecError) as exc:
        raise CliError(f"invalid health checks: {exc}") from None
    return list(checks)
