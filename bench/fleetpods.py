"""fleetpods: the fleet benchmark (bench/fleet.py) with one replica per application, so the
changing push is a real rollout of 1,000 pods on the simulated nodes: each application is
Healthy only when its new pod is Ready and the old one gone. The fleet group's 0-replica
figures stay for comparison.

The nodes are sized for the fleet's pods during the rollover (two per application at the
peak, 100m cpu each): 4 simulated nodes, set through GITOPS_SIM_NODES and
GITOPS_SIM_NODE_CAPACITY for the stack this group starts.
"""

from __future__ import annotations

import math
import os

from bench import fleet, report

NODES = 4


def capacity(apps: int) -> str:
    """Each node's share of 2 pods per application (100m cpu, 64Mi each), with room to spare."""
    pods = math.ceil(2 * apps / NODES) + 50
    return f"cpu={math.ceil(pods * 0.1) + 4},memory={pods * 64 // 1024 + 8}Gi,pods={pods}"


def run() -> list[report.Record]:
    saved = {k: os.environ.get(k) for k in ("GITOPS_SIM_NODES", "GITOPS_SIM_NODE_CAPACITY")}
    os.environ["GITOPS_SIM_NODES"] = str(NODES)
    shape = os.environ["GITOPS_SIM_NODE_CAPACITY"] = capacity(fleet.apps())
    try:
        records = fleet.fleet_records(replicas=1, prefix="fleet.replicas1", save=False)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    for r in records:
        r.detail["nodes"] = f"{NODES} simulated, each {shape}"
    return records
