"""Settings read from the environment, in one place: every os.environ read of shared/ and
functions/ is a function here (tests/unit/test_style.py checks), read when called, so a
changed variable counts from the next call (the one exception, GITOPS_LEASE_S, is read once
into store.LEASE_S). The pure core reads none: its callers pass the values in.

Also the names the functions write onto objects (field manager, label, annotations)."""

from __future__ import annotations

import os
import tempfile

FIELD_MANAGER = "gitops-apply"
LABEL_APP = "gitops.dev/app"
# a sync hook carries this label instead of LABEL_APP: it is run, never owned (shared/core/hooks.py)
LABEL_HOOK_OF = "gitops.dev/hook-of"
ANNOTATION_TRACKING = "gitops.dev/tracking-id"
ANNOTATION_WAVE = "gitops.dev/sync-wave"  # integer, default 0: lower waves apply first
ANNOTATION_OPTIONS = "gitops.dev/sync-options"  # CSV: Prune=false, Delete=false, Recreate=true
# Argo CD's own annotations are honoured too, so manifests migrate as they are
ARGO_ANNOTATION_WAVE = "argocd.argoproj.io/sync-wave"
ARGO_ANNOTATION_OPTIONS = "argocd.argoproj.io/sync-options"


# ---- the project and the webhook intake ------------------------------------------------


def project() -> str:
    value = os.environ.get("GOOGLE_CLOUD_PROJECT") or os.environ.get("PUBSUB_PROJECT_ID")
    if not value:
        raise RuntimeError("GOOGLE_CLOUD_PROJECT is not set (the local stack's env output sets it)")
    return value


def webhook_secret_text() -> str:
    """GITHUB_WEBHOOK_SECRET as set: one secret, or several comma-separated ('' when unset)."""
    return os.environ.get("GITHUB_WEBHOOK_SECRET", "")


def webhook_secrets() -> list[bytes]:
    """Accepted webhook secrets, comma-separated (several during a rotation)."""
    return [s.strip().encode() for s in webhook_secret_text().split(",") if s.strip()]


def webhook_secret_file() -> str:
    """GITOPS_WEBHOOK_SECRET_FILE: where `gitops webhook send` reads the secret ('' when unset)."""
    return os.environ.get("GITOPS_WEBHOOK_SECRET_FILE", "")


def max_webhook_bytes() -> int:
    """Largest webhook body accepted (GitHub caps payloads at 25 MB)."""
    return int(os.environ.get("GITOPS_MAX_WEBHOOK_BYTES", str(25 * 1024 * 1024)))


# ---- logs -------------------------------------------------------------------------------


def trace_project() -> str:
    """The project trace ids name when the caller names none ('' when unset: logs never fail)."""
    return os.environ.get("GOOGLE_CLOUD_PROJECT", "")


def log_level() -> str:
    """GITOPS_LOG_LEVEL, upper case: DEBUG, INFO (the default), WARNING or ERROR."""
    return os.environ.get("GITOPS_LOG_LEVEL", "INFO").upper()


# ---- Firestore and Pub/Sub ----------------------------------------------------------------


def firestore_max_bytes() -> int | None:
    """GITOPS_FIRESTORE_MAX_BYTES: a document bound below Firestore's own (a fault test)."""
    value = os.environ.get("GITOPS_FIRESTORE_MAX_BYTES")
    return int(value) if value else None


def routes_inline_bytes(default: int) -> int:
    """GITOPS_ROUTES_INLINE_BYTES: how many bytes of routes a repository's document holds."""
    return int(os.environ.get("GITOPS_ROUTES_INLINE_BYTES") or default)


def lease_seconds() -> int:
    """GITOPS_LEASE_S: how long a sync's lease lasts without renewal (60 s)."""
    return int(os.environ.get("GITOPS_LEASE_S", "60"))


def pubsub_emulator_host() -> str | None:
    return os.environ.get("PUBSUB_EMULATOR_HOST")


# ---- git and GitHub ---------------------------------------------------------------------


def git_cache_root() -> str:
    """Where fetched repositories are cached (GITOPS_GIT_CACHE, else gitops-git in the temp folder)."""
    return os.environ.get("GITOPS_GIT_CACHE") or os.path.join(tempfile.gettempdir(), "gitops-git")


def chart_cache_root() -> str:
    """Where fetched Helm charts are kept by digest (GITOPS_CHART_CACHE, else gitops-charts in
    the temp folder)."""
    return os.environ.get("GITOPS_CHART_CACHE") or os.path.join(tempfile.gettempdir(), "gitops-charts")


def repo_credentials() -> str:
    """GITOPS_REPO_CREDENTIALS: the credential store's JSON ('' when unset)."""
    return os.environ.get("GITOPS_REPO_CREDENTIALS", "")


def repo_credentials_file() -> str:
    """GITOPS_REPO_CREDENTIALS_FILE: a local credential store (`gitops repo add`; '' when unset)."""
    return os.environ.get("GITOPS_REPO_CREDENTIALS_FILE", "")


def github_api_url() -> str:
    return os.environ.get("GITOPS_GITHUB_API_URL", "https://api.github.com")


def github_token() -> str:
    """GITOPS_GITHUB_TOKEN: the token commit statuses are set with ('' when unset)."""
    return os.environ.get("GITOPS_GITHUB_TOKEN", "")


# ---- Kubernetes ---------------------------------------------------------------------------


def in_kubernetes() -> bool:
    """Whether this process runs in a Kubernetes pod (KUBERNETES_SERVICE_HOST is set)."""
    return bool(os.environ.get("KUBERNETES_SERVICE_HOST"))


def kubeconfig() -> str | None:
    return os.environ.get("KUBECONFIG")


def clusters_json() -> str:
    """GITOPS_CLUSTERS: the destination clusters infra/ registers, as JSON ('{}' when unset)."""
    return os.environ.get("GITOPS_CLUSTERS") or "{}"


def clusters_file() -> str | None:
    """GITOPS_CLUSTERS_FILE: a local cluster registry (`gitops cluster add`)."""
    return os.environ.get("GITOPS_CLUSTERS_FILE")


def kube_audit_log() -> str | None:
    """GITOPS_KUBE_AUDIT_LOG: the API server's audit log, where one is readable (the local stack)."""
    return os.environ.get("GITOPS_KUBE_AUDIT_LOG")


def project_impersonation() -> bool:
    """GITOPS_PROJECT_IMPERSONATION (on unless `off`): the apply and audit functions act on a
    cluster as each project's ServiceAccount (shared/core/kuberbac), so the API server enforces the
    project. `off` only for a cluster whose projects' RBAC is not installed yet: the functions'
    own identity then needs write access (infra/kubernetes/README.md)."""
    return os.environ.get("GITOPS_PROJECT_IMPERSONATION", "on").strip().lower() != "off"


def kube_audit_source() -> str:
    """GITOPS_KUBE_AUDIT_SOURCE: where drift attribution reads who wrote an object: `file`
    (GITOPS_KUBE_AUDIT_LOG, the default when that is set), `cloud-logging` (GKE's Cloud Audit
    Logs; infra/ sets it for the audit function) or `off` ('' = none readable)."""
    value = os.environ.get("GITOPS_KUBE_AUDIT_SOURCE", "").strip().lower()
    if value == "off":
        return ""
    if value in ("file", "cloud-logging"):
        return value
    if value:
        raise ValueError(f"GITOPS_KUBE_AUDIT_SOURCE={value!r}: expected file, cloud-logging or off")
    return "file" if kube_audit_log() else ""


def kube_version() -> str:
    """GITOPS_KUBE_VERSION: an explicit override of every destination's version (unset by
    default: the destination's own /version counts, shared/core/kubeversion)."""
    return os.environ.get("GITOPS_KUBE_VERSION", "")


def cluster_token_dir() -> str:
    """GITOPS_CLUSTER_TOKEN_DIR: the one directory a registered cluster's tokenFile may be in
    ('' when unset: no tokenFile can be registered through the API)."""
    return os.environ.get("GITOPS_CLUSTER_TOKEN_DIR", "")


def variable(name: str) -> str:
    """A variable whose name is data, not code (a registered cluster's tokenEnv, the CLI's local
    stores): '' when unset."""
    return os.environ.get(name, "")


# ---- rendering ----------------------------------------------------------------------------


def helm_path() -> str:
    """GITOPS_HELM: the helm binary to run before looking on PATH ('' when unset)."""
    return os.environ.get("GITOPS_HELM") or ""


def render_sandbox_off() -> bool:
    """GITOPS_RENDER_SANDBOX=off: renderers run without the sandbox (a development machine only)."""
    return os.environ.get("GITOPS_RENDER_SANDBOX", "").lower() == "off"


def render_tmp_root() -> str:
    """Where renders get their private folders (GITOPS_RENDER_TMP, default /tmp/gitops-render)."""
    return os.environ.get("GITOPS_RENDER_TMP") or "/tmp/gitops-render"


def sandbox_stage_root() -> str:
    """Where binaries the sandbox's uid cannot reach are copied (GITOPS_SANDBOX_STAGE)."""
    return os.environ.get("GITOPS_SANDBOX_STAGE") or "/var/cache/gitops-sandbox"


# ---- the command line ---------------------------------------------------------------------


def no_color() -> bool:
    """NO_COLOR is set (to anything but ''): no colours, even on a terminal."""
    return bool(os.environ.get("NO_COLOR"))


# ---- the API: who may call it, and how the CLI reaches it ----------------------------------

GOOGLE_ISSUERS = ("https://accounts.google.com", "accounts.google.com")
GOOGLE_CERTS_URL = "https://www.googleapis.com/oauth2/v1/certs"


def api_issuers() -> tuple[str, ...]:
    """GITOPS_OIDC_ISSUER: the accepted token issuers, comma-separated (Google's by default;
    the local stack's own issuer there)."""
    value = os.environ.get("GITOPS_OIDC_ISSUER", "")
    issuers = tuple(i.strip() for i in value.split(",") if i.strip())
    return issuers or GOOGLE_ISSUERS


def api_certs_url() -> str:
    """GITOPS_OIDC_CERTS_URL: where the issuer's public keys are ({kid: x509 PEM} or a JWKS)."""
    return os.environ.get("GITOPS_OIDC_CERTS_URL") or GOOGLE_CERTS_URL


def api_audiences() -> tuple[str, ...]:
    """GITOPS_API_AUDIENCE: the audiences a token must name, comma-separated (the API's URL on
    Cloud Run, and the client id of an OAuth client the operator owns; never gcloud's public
    one, which every service accepting gcloud's tokens shares). Empty: every token is refused."""
    value = os.environ.get("GITOPS_API_AUDIENCE", "")
    return tuple(a.strip() for a in value.split(",") if a.strip())


def api_url() -> str:
    """GITOPS_API_URL: where the CLI sends its requests ('' when unset: the saved login's)."""
    return os.environ.get("GITOPS_API_URL", "")


def api_token() -> str:
    """GITOPS_TOKEN: an ID token the CLI sends as is ('' when unset: the saved login's)."""
    return os.environ.get("GITOPS_TOKEN", "")


def cli_config_path() -> str:
    """GITOPS_CONFIG: the CLI's saved login contexts (default ~/.config/gitops/config.json)."""
    return os.environ.get("GITOPS_CONFIG") or os.path.join(
        os.path.expanduser("~"), ".config", "gitops", "config.json"
    )
