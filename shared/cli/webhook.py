"""`gitops webhook send`: a correctly signed GitHub push webhook, for testing an intake URL."""

from __future__ import annotations

import argparse
import urllib.error
import urllib.request
import uuid
from pathlib import Path

from shared.cli import output
from shared.cli.output import CliError
from shared.core import webhook
from shared.platform import config


def webhook_send(args: argparse.Namespace) -> int:
    """Send a correctly signed GitHub push webhook to an intake URL."""
    secret = args.secret or config.webhook_secret_text() or _read(config.webhook_secret_file())
    if not secret:
        raise CliError("no webhook secret: pass --secret or set GITHUB_WEBHOOK_SECRET")
    body = webhook.push_payload(args.repo, args.ref, args.before, args.sha, args.message)
    req = urllib.request.Request(
        args.url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "X-GitHub-Event": "push",
            "X-GitHub-Delivery": str(uuid.uuid4()),
            "X-Hub-Signature-256": webhook.sign(secret.encode(), body),
        },
    )
    try:
        with urllib.request.urlopen(req, timeout=15) as resp:
            status, answer = resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        status, answer = exc.code, exc.read().decode()
    except urllib.error.URLError as exc:
        raise CliError(f"cannot reach {args.url}: {exc.reason}") from exc
    output.print_result(args, {"status": status, "answer": answer}, lambda: [[str(status), answer]])
    return 0 if status < 300 else 1


def _read(path: str) -> str:
    return Path(path).read_text().strip() if path and Path(path).exists() else ""


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    wh = sub.add_parser("webhook", help="webhooks").add_subparsers(dest="command", required=True)
    ws = wh.add_parser("send", help="send a signed test push to an intake URL")
    ws.add_argument("url")
    ws.add_argument("--repo", required=True)
    ws.add_argument("--sha", required=True)
    ws.add_argument("--ref", default="refs/heads/main")
    ws.add_argument("--before", default=webhook.ZERO_SHA)
    ws.add_argument("--message", default="test push")
    ws.add_argument("--secret", default="")
    ws.set_defaults(func=webhook_send)
