"""Commit statuses on GitHub (or GitHub Enterprise): the only module that calls GitHub's API.

Render marks the pushed commit `pending`; apply marks it `success` or `failure` with a
sentence a person can read in the pull request. Best effort: a GitHub outage or a missing
token is logged and never fails a sync. The token comes from the secret store
(GITOPS_GITHUB_TOKEN, injected from Secret Manager; or the repository's credential).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request

from shared.adapters import credentials
from shared.platform import config, logs

STATES = ("pending", "success", "failure", "error")


def api_url() -> str:
    return config.github_api_url().rstrip("/")


def owner_repo(repo_url: str) -> str | None:
    """`owner/name` of a GitHub repository URL (https, ssh or scp form), or None."""
    url = repo_url.strip()
    if "://" not in url and ":" in url:
        url = "ssh://" + url.replace(":", "/", 1)
    parts = [p for p in urllib.parse.urlparse(url).path.split("/") if p]
    if len(parts) < 2:
        return None
    return f"{parts[-2]}/{parts[-1].removesuffix('.git')}"


def status_request(
    repo_url: str, sha: str, state: str, description: str, context: str
) -> tuple[str, dict[str, str]] | None:
    """The REST call that sets a commit status: (URL, JSON body); None for a non-GitHub URL."""
    repo = owner_repo(repo_url)
    if repo is None or state not in STATES:
        return None
    return (
        f"{api_url()}/repos/{repo}/statuses/{sha}",
        {"state": state, "description": description[:140], "context": context},
    )


def set_status(repo_url: str, sha: str, state: str, description: str, app: str) -> bool:
    cred = credentials.for_url(repo_url)
    token = config.github_token().strip()
    if token.lower() in ("", "none", "-"):  # a placeholder secret: statuses are off
        token = cred.password if cred else ""
    request = status_request(repo_url, sha, state, description, f"gitops/{app}")
    if not token or request is None:
        return False
    url, body = request
    req = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        method="POST",
        headers={
            "Authorization": f"Bearer {token}",
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": "2022-11-28",
            "Content-Type": "application/json",
            "User-Agent": "gitops/0.1",
        },
    )
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return 200 <= resp.status < 300
    except (urllib.error.URLError, OSError) as exc:
        logs.warning(
            "commit status not set",
            app=app,
            commit=sha,
            state=state,
            reason=credentials.redact(str(exc), cred),
        )
        return False
