"""The node agent the local stack starts: simulated nodes and the kubelet's part for their pods.

    python -m stack.simnodes --kubeconfig FILE [--nodes 3] [--capacity cpu=16,memory=64Gi,pods=110]
                             [--shards 4]

Runs until SIGTERM; logs one JSON object per line.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading

from kubernetes import client as kclient

from shared.platform import logs
from stack.simnodes import api, nodes, pods


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m stack.simnodes", description=__doc__.splitlines()[0])
    p.add_argument("--kubeconfig", default=os.environ.get("KUBECONFIG", ""))
    p.add_argument("--nodes", type=int, default=int(os.environ.get("GITOPS_SIM_NODES", "3")))
    p.add_argument(
        "--capacity",
        default=os.environ.get("GITOPS_SIM_NODE_CAPACITY", ""),
        help="each node's capacity, e.g. cpu=16,memory=64Gi,pods=110",
    )
    p.add_argument("--shards", type=int, default=4, help="threads writing pod status")
    args = p.parse_args(argv)
    shape = nodes.NodeShape.parse(args.nodes, args.capacity)
    client = api.api_client(args.kubeconfig, pool=args.shards + 2)
    heartbeats = nodes.Heartbeats(client, shape)
    heartbeats.ensure_nodes()
    host_ips = {name: nodes.host_ip(i) for i, name in enumerate(heartbeats.names)}
    core = kclient.CoreV1Api(client)
    shards = [pods.Shard(i, core, host_ips) for i in range(args.shards)]
    for shard in shards:
        shard.start()
    watcher = pods.PodWatch(core, shards)
    threading.Thread(target=heartbeats.run, name="heartbeats", daemon=True).start()
    done = threading.Event()

    def stop(*_: object) -> None:
        heartbeats.stop()
        watcher.stop()
        for shard in shards:
            shard.stop()
        done.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    threading.Thread(target=watcher.run, name="pod-watch", daemon=True).start()
    logs.info(
        "node agent ready",
        nodes=heartbeats.names,
        cpu=shape.cpu,
        memory=shape.memory,
        pods=shape.pods,
        shards=args.shards,
    )
    done.wait()
    logs.info("node agent stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
