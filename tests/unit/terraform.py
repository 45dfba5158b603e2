"""infra/'s Terraform, parsed (python-hcl2) for the tests that check it: test_infra, test_readme."""

from __future__ import annotations

import json
from pathlib import Path

import hcl2

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"
TF_FILES = sorted(INFRA.glob("*.tf"))


def unquote(key: str) -> str:
    return key.strip('"')


def blocks(kind: str) -> list[tuple[str, str, dict]]:
    """(type, name, body) of every resource/data block; (name, '', body) for variables/outputs."""
    out = []
    for path in TF_FILES:
        parsed = hcl2.load(path.open())
        for block in parsed.get(kind, []):
            for first, rest in block.items():
                if kind in ("resource", "data"):
                    for name, body in rest.items():
                        out.append((unquote(first), unquote(name), body))
                else:
                    out.append((unquote(first), "", rest))
    return out


VARIABLES = {n for n, _, _ in blocks("variable")}
RESOURCES = {(t, n) for t, n, _ in blocks("resource")}
TFVARS = json.loads((INFRA / "topology.auto.tfvars.json").read_text())
