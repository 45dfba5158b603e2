"""Errors of the pure core that callers catch by type."""

from __future__ import annotations


class SpecError(ValueError):
    """An application spec that cannot be accepted; the message names the field."""
