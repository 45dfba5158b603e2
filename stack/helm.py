"""Install the helm binary Helm sources render with: `python -m stack.helm [DEST]`.

The same pinned and checksum-verified helm the render runtime's image carries
(infra/runtime.py), cached in ~/.cache/gitops/bin. Idempotent.
"""

from __future__ import annotations

import sys
from pathlib import Path

from infra import runtime

DEST = runtime.CACHE / "bin" / "helm"


def install(dest: Path = DEST) -> Path:
    return runtime.tools(dest.parent, ("helm",))["helm"]


if __name__ == "__main__":
    print(install(Path(sys.argv[1]) if len(sys.argv) > 1 else DEST))
