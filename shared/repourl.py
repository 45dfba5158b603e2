"""Repository URL normalisation: https, ssh and `.git` forms of one repo are equal."""

from __future__ import annotations

import re

_SCP_LIKE = re.compile(r"^(?:[\w.-]+@)?([\w.-]+):(?!//)(.+)$")


def normalize(url: str) -> str:
    """Return `host[:port]/owner/repo` in lower case, without scheme, user or `.git`.

    >>> normalize("git@github.com:Org/Repo.git")
    'github.com/org/repo'
    >>> normalize("https://github.com/org/repo/")
    'github.com/org/repo'
    """
    url = url.strip()
    if "://" in url:
        rest = url.split("://", 1)[1]
        rest = rest.split("@", 1)[-1] if "@" in rest.split("/", 1)[0] else rest
    else:
        m = _SCP_LIKE.match(url)
        rest = f"{m.group(1)}/{m.group(2)}" if m else url
    rest = rest.rstrip("/")
    if rest.endswith(".git"):
        rest = rest[:-4]
    return rest.lower()
