"""Application names and the label value that marks an application's objects.

Argo CD's rule for application names is Kubernetes' for object names: a DNS-1123 subdomain,
lowercase letters, digits, '-' and '.', starting and ending with a letter or digit, at most
253 characters (its app of apps example names children `example.guestbook`).

A label value holds at most 63 characters. Argo CD truncates a longer name in its instance
label (resource_tracking.md: "Labels are truncated to 63 characters"), so two applications
sharing a 63-character prefix share the label. Here the label selects an application's
objects and guards prune, so a longer name keeps its first 52 characters and adds a hash of
the whole name: distinct names give distinct labels. The tracking annotation keeps the full
name either way.
"""

from __future__ import annotations

import hashlib
import re

MAX_NAME = 253
MAX_LABEL = 63
_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\Z")
_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\Z")
_HASH = 10


def app_name_problem(name: str) -> str | None:
    """Why `name` is not a valid application name, or None."""
    if len(name) > MAX_NAME:
        return f"is longer than {MAX_NAME} characters"
    if not _SUBDOMAIN.match(name):
        return (
            "is not a valid application name (lowercase letters, digits, '-' and '.', "
            "starting and ending with a letter or digit)"
        )
    return None


def project_name_problem(name: str) -> str | None:
    """Why `name` is not a valid project name, or None. A project is a DNS-1123 label (as an
    AppProject's metadata.name in a namespace): no glob character can ever be in one, so a
    project named in a policy object (`<project>/...`) is always matched literally."""
    if not is_label(name):
        return (
            "is not a valid project name (a DNS-1123 label: at most 63 lowercase letters, "
            "digits and '-', starting and ending with a letter or digit)"
        )
    return None


def is_label(name: str) -> bool:
    """A DNS-1123 label: a namespace, a Helm release name."""
    return bool(_LABEL.match(name))


def label_value(app: str) -> str:
    """The value of the app label on the application's objects: the name when it fits,
    else its first characters, '-' and a hash of the whole name (a valid label value)."""
    if len(app) <= MAX_LABEL:
        return app
    digest = hashlib.sha256(app.encode()).hexdigest()[:_HASH]
    head = app[: MAX_LABEL - _HASH - 1].rstrip("-.")
    return f"{head}-{digest}"
