"""The CLI's way to the API: the URL and the caller's ID token, from `gitops login`'s saved
context (or GITOPS_API_URL and GITOPS_TOKEN, which win, like ARGOCD_SERVER/ARGOCD_AUTH_TOKEN).

How a context gets its token (`auth.kind`):
- `gcloud`: `gcloud auth print-identity-token --audiences=<API URL> --include-email` (a
  service account gcloud is authenticated as or impersonates: `--audiences` works for service
  accounts only, and the API accepts only its own URL or a client id the operator configured;
  people use a token from the operator's OAuth client, in GITOPS_TOKEN, README "Who may call
  the API");
- `adc`: application-default credentials through google-auth's `fetch_id_token` (a service
  account, e.g. in CI), for the API's URL as audience;
- `local`: the local stack's issuer (`gitops login --local-user EMAIL`), for development.
A token is asked for once per process and kept until a minute before it expires.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from shared.cli.output import CliError
from shared.platform import config

TIMEOUT_S = 300  # a cascade delete or a dry run may take a while
_token: dict[str, tuple[float, str]] = {}


def load_config() -> dict[str, Any]:
    path = Path(config.cli_config_path())
    if not path.exists():
        return {"contexts": {}, "current": ""}
    try:
        return dict(json.loads(path.read_text()))
    except ValueError as exc:
        raise CliError(f"{path}: not valid JSON ({exc}); log in again (gitops login)") from exc


def save_config(data: dict[str, Any]) -> Path:
    path = Path(config.cli_config_path())
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(data, f, indent=2)
    return path


def context() -> dict[str, Any]:
    data = load_config()
    return dict((data.get("contexts") or {}).get(data.get("current") or "", {}))


def api_url() -> str:
    url = config.api_url() or context().get("api", "")
    if not url:
        raise CliError("no API to talk to (hint: gitops login --api-url URL, or set GITOPS_API_URL)")
    return str(url).rstrip("/")


def fetch_token(auth: dict[str, Any], audience: str) -> tuple[str, float]:
    """(token, seconds it stays valid) for a context's auth."""
    kind = auth.get("kind")
    if kind == "local":
        body = json.dumps({"email": auth["email"], "groups": auth.get("groups") or [], "audience": audience})
        req = urllib.request.Request(
            f"{auth['issuer']}/token", data=body.encode(), headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                answer = json.loads(resp.read())
        except OSError as exc:
            raise CliError(
                f"the local issuer {auth['issuer']} did not answer: {exc} (is the stack up?)"
            ) from exc
        return str(answer["id_token"]), float(answer.get("expires_in") or 3600)
    if kind == "gcloud":
        try:
            out = subprocess.run(
                ["gcloud", "auth", "print-identity-token", f"--audiences={audience}", "--include-email"],
                check=True,
                capture_output=True,
                text=True,
                timeout=60,
            )
        except (OSError, subprocess.SubprocessError) as exc:
            raise CliError(
                f"gcloud auth print-identity-token --audiences={audience} failed: {exc} (it needs a "
                "service account: gcloud auth activate-service-account, or --impersonate-service-account; "
                "people: GITOPS_TOKEN from the operator's OAuth client)"
            ) from exc
        return out.stdout.strip(), 3000.0
    if kind == "adc":
        import google.auth.exceptions
        import google.auth.transport.requests
        from google.oauth2 import id_token

        try:
            token = id_token.fetch_id_token(google.auth.transport.requests.Request(), audience)
        except google.auth.exceptions.GoogleAuthError as exc:
            raise CliError(f"no ID token from application-default credentials: {exc}") from exc
        return str(token), 3000.0
    raise CliError("not logged in (hint: gitops login --api-url URL)")


def token() -> str:
    if config.api_token():
        return config.api_token()
    url = api_url()
    kept = _token.get(url)
    if kept and kept[0] > time.monotonic():
        return kept[1]
    value, valid_s = fetch_token(context().get("auth") or {}, url)
    _token[url] = (time.monotonic() + max(0.0, valid_s - 60), value)
    return value


def request(method: str, path: str, body: Any = None, query: dict[str, Any] | None = None) -> Any:
    """METHOD PATH on the API; the JSON answer, or CliError with the API's message."""
    url = api_url() + path
    if query:
        url += "?" + urllib.parse.urlencode({k: v for k, v in query.items() if v not in (None, "", False)})
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header("Authorization", f"Bearer {token()}")
    req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=TIMEOUT_S) as resp:
            return json.loads(resp.read() or b"{}")
    except urllib.error.HTTPError as exc:
        raw = exc.read()
        try:
            message = json.loads(raw).get("error") or raw.decode(errors="replace")
        except ValueError:
            message = raw.decode(errors="replace")[:500]
        if exc.code == 401:
            message += " (hint: gitops login)"
        raise CliError(message) from None
    except OSError as exc:
        raise CliError(f"the API at {api_url()} did not answer: {exc}") from exc


def get(path: str, **query: Any) -> Any:
    return request("GET", path, query=query)


def post(path: str, body: Any = None, **query: Any) -> Any:
    return request("POST", path, body if body is not None else {}, query)


def put(path: str, body: Any) -> Any:
    return request("PUT", path, body)


def delete(path: str, **query: Any) -> Any:
    return request("DELETE", path, query=query)


def quote(name: str) -> str:
    return urllib.parse.quote(name, safe="")
