"""GitHub webhooks: signature check and push-event parsing (pure logic)."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import urllib.parse
from dataclasses import dataclass
from typing import Any

ZERO_SHA = "0" * 40
_SHA = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")


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


MAX_COMMITS = 2048  # GitHub lists at most this many commits in a push payload


def payload_of(mimetype: str, body: bytes) -> bytes:
    """The JSON payload: the body itself, or the `payload` field of a form post."""
    if mimetype == "application/json":
        return body
    if mimetype == "application/x-www-form-urlencoded":
        try:
            fields = urllib.parse.parse_qs(body.decode("utf-8"), strict_parsing=True)
        except (UnicodeDecodeError, ValueError) as exc:
            raise WebhookError(400, f"form body cannot be parsed: {exc}") from exc
        if "payload" not in fields:
            raise WebhookError(400, "form body has no payload field")
        return fields["payload"][0].encode()
    raise WebhookError(
        415,
        f"content type {mimetype or 'none'!r} is not application/json or application/x-www-form-urlencoded",
    )


@dataclass(frozen=True)
class Push:
    repo_urls: tuple[str, ...]  # every URL form GitHub gives for the repository
    ref: str
    after: str
    default_branch: str | None
    deleted: bool
    pusher: str
    head_message: str
    # every path the pushed commits added, modified or removed; None when the payload
    # cannot tell (no or too many commits listed, a new branch): then every app matches
    changed_paths: frozenset[str] | None = None
    before: str = ""  # the ref's commit before the push (ZERO_SHA: the push created it)


def hook_id(payload: bytes) -> int | None:
    try:
        value = json.loads(payload).get("hook_id")
    except (ValueError, AttributeError):
        return None
    return value if isinstance(value, int) else None


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
        u
        for u in (repo.get(k) for k in ("clone_url", "html_url", "ssh_url", "git_url", "url"))
        if isinstance(u, str) and u
    )
    if not urls:
        raise WebhookError(400, "push payload's repository has no URL")
    if not _SHA.fullmatch(after):
        raise WebhookError(400, f"after: {after[:80]!r} is not a commit id (40 or 64 hex digits)")
    if not ref.startswith("refs/"):
        raise WebhookError(400, f"ref: {ref[:80]!r} is not a full ref name (refs/heads/..., refs/tags/...)")
    head = payload.get("head_commit") or {}
    pusher = payload.get("pusher") or {}
    before = payload.get("before")
    return Push(
        repo_urls=urls,
        ref=ref,
        after=after,
        default_branch=repo.get("default_branch") or repo.get("master_branch"),
        deleted=bool(payload.get("deleted")) or after == ZERO_SHA,
        pusher=str(pusher.get("name") or ""),
        head_message=str(head.get("message") or "")[:200],
        changed_paths=None if before in (None, ZERO_SHA) else _changed_paths(payload.get("commits")),
        before=before if isinstance(before, str) and _SHA.fullmatch(before) else "",
    )


def _changed_paths(commits: Any) -> frozenset[str] | None:
    if not isinstance(commits, list) or not commits or len(commits) >= MAX_COMMITS:
        return None
    paths: set[str] = set()
    for commit in commits:
        lists = [commit.get(k) for k in ("added", "modified", "removed")] if isinstance(commit, dict) else []
        file_lists = [x for x in lists if isinstance(x, list)]
        if not lists or len(file_lists) < len(lists):
            return None  # a commit without its file lists: the payload cannot tell
        paths.update(str(p) for x in file_lists for p in x)
    return frozenset(paths)


def push_payload(
    repo_url: str,
    ref: str,
    before: str,
    after: str,
    message: str = "",
    pusher: str = "dana",
    default_branch: str = "main",
    changed: dict[str, list[str]] | None = None,
) -> bytes:
    """A push event body shaped like GitHub's (the fields intake reads, and more)."""
    name = repo_url.rstrip("/").rsplit("/", 1)[-1].removesuffix(".git")
    return json.dumps(
        {
            "ref": ref,
            "before": before,
            "after": after,
            "created": before == ZERO_SHA,
            "deleted": after == ZERO_SHA,
            "forced": False,
            "compare": "",
            "repository": {
                "name": name,
                "full_name": f"local/{name}",
                "clone_url": repo_url,
                "html_url": repo_url.removesuffix(".git"),
                "default_branch": default_branch,
            },
            "pusher": {"name": pusher, "email": f"{pusher}@example.com"},
            "head_commit": {"id": after, "message": message},
            # file lists only when the caller knows them (GitHub omits nothing, but a caller
            # that does not say which files changed must not make the push look empty)
            "commits": [{"id": after, "message": message, **(changed or {})}],
        }
    ).encode()
