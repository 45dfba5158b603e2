"""GitHub webhooks: signature check and push-event parsing (pure logic)."""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any

ZERO_SHA = "0" * 40


class WebhookError(ValueError):
    """A webhook request that is refused; `status` is the HTTP status to answer."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def sign(secret: bytes, body: bytes) -> str:
    """The `X-Hub-Signature-256` value GitHub sends for a body."""
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def verify_signature(secrets: list[bytes], body: bytes, header: str | None) -> None:
    """Raise WebhookError(401) unless the header is a valid signature under one secret."""
    if not secrets:
        raise WebhookError(500, "no webhook secret is configured")
    if not header or not header.startswith("sha256="):
        raise WebhookError(401, "missing or malformed X-Hub-Signature-256")
    # compare every secret, in constant time, without stopping at the first match
    ok = False
    for secret in secrets:
        ok |= hmac.compare_digest(sign(secret, body), header)
    if not ok:
        raise WebhookError(401, "signature does not match")


@dataclass(frozen=True)
class Push:
    repo_urls: tuple[str, ...]  # every URL form GitHub gives for the repository
    ref: str
    after: str
    default_branch: str | None
    deleted: bool
    pusher: str
    head_message: str


def parse_push(body: bytes) -> Push:
    try:
        payload: Any = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise WebhookError(400, f"body is not JSON: {exc}") from exc
    if not isinstance(payload, dict):
        raise WebhookError(400, "body is not a JSON object")
    repo = payload.get("repository")
    ref, after = payload.get("ref"), payload.get("after")
    if not isinstance(repo, dict) or not isinstance(ref, str) or not isinstance(after, str):
        raise WebhookError(400, "push payload needs repository, ref and after")
    urls = tuple(
        u for u in (repo.get(k) for k in ("clone_url", "html_url", "ssh_url", "git_url", "url"))
        if isinstance(u, str) and u
    )
    if not urls:
        raise WebhookError(400, "push payload's repository has no URL")
    head = payload.get("head_commit") or {}
    pusher = payload.get("pusher") or {}
    return Push(
        repo_urls=urls,
        ref=ref,
        after=after,
        default_branch=repo.get("default_branch") or repo.get("master_branch"),
        deleted=bool(payload.get("deleted")) or after == ZERO_SHA,
        pusher=str(pusher.get("name") or ""),
        head_message=str(head.get("message") or "")[:200],
    )


def push_payload(repo_url: str, ref: str, before: str, after: str, message: str = "",
                 pusher: str = "dana", default_branch: str = "main") -> bytes:
    """A push event body shaped like GitHub's (the fields intake reads, and more)."""
    name = repo_url.rstrip("/").rsplit("/", 1)[-1].removesuffix(".git")
    return json.dumps({
        "ref": ref, "before": before, "after": after, "created": before == ZERO_SHA,
        "deleted": after == ZERO_SHA, "forced": False, "compare": "",
        "repository": {"name": name, "full_name": f"local/{name}", "clone_url": repo_url,
                       "html_url": repo_url.removesuffix(".git"), "default_branch": default_branch},
        "pusher": {"name": pusher, "email": f"{pusher}@example.com"},
        "head_commit": {"id": after, "message": message},
        "commits": [{"id": after, "message": message, "added": [], "modified": [], "removed": []}],
    }).encode()
