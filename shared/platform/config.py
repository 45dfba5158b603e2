"""Settings read from the environment, in one place."""

from __future__ import annotations

import os

FIELD_MANAGER = "gitops-apply"
LABEL_APP = "gitops.dev/app"
ANNOTATION_TRACKING = "gitops.dev/tracking-id"
ANNOTATION_WAVE = "gitops.dev/sync-wave"  # integer, default 0: lower waves apply first
ANNOTATION_OPTIONS = "gitops.dev/sync-options"  # CSV: Prune=false, Delete=false, Recreate=true
# Argo CD's own annotations are honoured too, so manifests migrate as they are
ARGO_ANNOTATION_WAVE = "argocd.argoproj.io/sync-wave"
ARGO_ANNOTATION_OPTIONS = "argocd.argoproj.io/sync-options"


def project() -> str:
    value = os.environ.get("GOOGLE_CLOUD_PROJECT") or os.environ.get("PUBSUB_PROJECT_ID")
    if not value:
        raise RuntimeError("GOOGLE_CLOUD_PROJECT is not set (the local stack's env output sets it)")
    return value


def webhook_secrets() -> list[bytes]:
    """Accepted webhook secrets, comma-separated (several during a rotation)."""
    raw = os.environ.get("GITHUB_WEBHOOK_SECRET", "")
    return [s.strip().encode() for s in raw.split(",") if s.strip()]


def history_limit() -> int:
    return int(os.environ.get("GITOPS_HISTORY_LIMIT", "100"))


def max_webhook_bytes() -> int:
    """Largest webhook body accepted (GitHub caps payloads at 25 MB)."""
    return int(os.environ.get("GITOPS_MAX_WEBHOOK_BYTES", str(25 * 1024 * 1024)))
