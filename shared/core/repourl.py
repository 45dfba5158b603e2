"""Repository URL normalisation: https, ssh and `.git` forms of one repo are equal."""

from __future__ import annotations

import re
from urllib.parse import SplitResult, urlsplit

_SCP_LIKE = re.compile(r"^(?:[\w.-]+@)?([\w.-]+):(?!//)(.+)\Z")


def normalize(url: str) -> str:
    """Return `host[:port]/owner/repo` in lower case, without scheme, user or `.git`.

    >>> normalize("git@github.com:Org/Repo.git")
    'github.com/org/repo'
    >>> normalize("https://github.com/org/repo/")
    'github.com/org/repo'
    """
    url = url.strip()
    if "://" in url:
        # the host a client connects to, as urllib (and so dulwich) reads it: a '?' or '#'
        # before an '@' ends the authority, so `http://evil?@github.com/victim/repo` is evil's
        # URL, never the victim's key (a credential or a project rule found by this key would
        # otherwise go to evil)
        parts = urlsplit(url)
        host = (parts.hostname or "") + (f":{parts.port}" if _port(parts) else "")
        rest = host + parts.path
        if parts.query or parts.fragment or "\\" in url:
            rest += "?" + parts.query + "#" + parts.fragment + ("\\" if "\\" in url else "")
    else:
        m = _SCP_LIKE.match(url)
        rest = f"{m.group(1)}/{m.group(2)}" if m else url
    rest = rest.rstrip("/")
    if rest.endswith(".git"):
        rest = rest[:-4]
    return rest.lower()


def _port(parts: SplitResult) -> int | None:
    try:
        return parts.port
    except ValueError:  # not a number: keep it visible in the key rather than drop it
        return None


_SCHEMES = ("https://", "http://", "ssh://", "git://")
_NETWORK_ONLY = "must be an https, http, ssh or git URL (local paths and file:// are not repositories here)"
_CONTROL = re.compile(r"[\x00-\x20\x7f\\]")


def problem(url: str) -> str | None:
    """Why a repository URL is refused, or None: only network repositories (https, http, ssh,
    git, or scp-like user@host:path), no local paths or file://, no query, fragment, dot
    segments, spaces, backslashes or control characters (each would let a URL name one
    repository to our checks and another to the client)."""
    if _CONTROL.search(url):
        return "holds a space, a backslash or a control character"
    if "://" in url:
        if not url.lower().startswith(_SCHEMES):
            return _NETWORK_ONLY
        parts = urlsplit(url)
        if not parts.hostname:
            return "has no host"
        if parts.query or parts.fragment or "?" in url or "#" in url:
            return "must not have a query or a fragment"
        path = parts.path
    else:
        m = _SCP_LIKE.match(url)
        if not m or url.startswith(("/", ".", "-")):
            return _NETWORK_ONLY
        path = m.group(2)
    if any(seg in (".", "..") for seg in path.split("/")):
        return "must not have '.' or '..' segments"
    return None
