"""Write infra/topology.auto.tfvars.json from shared/core/topology.py (the one definition).

python -m infra.generate
"""

from __future__ import annotations

import json
from pathlib import Path

from shared.core import topology

TFVARS = Path(__file__).with_name("topology.auto.tfvars.json")


def render() -> str:
    return json.dumps(topology.terraform_vars(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    TFVARS.write_text(render())
    print(f"wrote {TFVARS}")
