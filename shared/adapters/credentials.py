"""Repository credentials, by repository URL or URL prefix, from the secret store.

The store is a JSON object: normalised URL prefix -> {"username", "password"} (HTTPS token
or basic auth) or {"sshPrivateKey", "knownHosts"}. In production it is the Secret Manager
secret `gitops-repo-credentials`, which Cloud Run injects as GITOPS_REPO_CREDENTIALS; the
local stack keeps a file (GITOPS_REPO_CREDENTIALS_FILE, mode 600). The longest matching
prefix wins. Credentials are handed to dulwich and nowhere else: never logged, never
stored in Firestore, never part of an error message.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field

from shared.core import repourl
from shared.platform import config


@dataclass(frozen=True)
class Credential:
    username: str = ""
    password: str = field(default="", repr=False)
    ssh_private_key: str = field(default="", repr=False)
    known_hosts: str = ""


def _store() -> dict[str, dict[str, str]]:
    raw = config.repo_credentials()
    path = config.repo_credentials_file()
    if not raw and path and os.path.exists(path):
        with open(path) as f:
            raw = f.read()
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except ValueError:
        raise RuntimeError("the repository credential store is not valid JSON") from None
    return data if isinstance(data, dict) else {}


def for_url(url: str) -> Credential | None:
    """The credential registered for a repository URL (or the longest matching prefix)."""
    key = repourl.normalize(url)
    best, best_len = None, -1
    for prefix, value in _store().items():
        p = repourl.normalize(prefix)
        if (key == p or key.startswith(p.rstrip("/") + "/")) and len(p) > best_len:
            best, best_len = value, len(p)
    if best is None:
        return None
    return Credential(
        username=best.get("username", ""),
        password=best.get("password", ""),
        ssh_private_key=best.get("sshPrivateKey", ""),
        known_hosts=best.get("knownHosts", ""),
    )


def redact(text: str, credential: Credential | None) -> str:
    """Remove a credential's secrets from a message before it is logged or recorded."""
    if credential is None:
        return text
    for secret in (credential.password, credential.ssh_private_key):
        if secret:
            text = text.replace(secret, "***")
    return text
