"""apply: our sync engine vs `kubectl apply --server-side`, same 500 objects, same run.

Three phases on fresh namespaces, alternating ours and kubectl, repeated: (a) first sync,
(b) no-op sync, (c) sync with 10% of the objects changed. Wall time, and write requests
counted at the API server (its audit log). Plus the raw rate of a tight server-side apply
loop from one client, the physical limit for writing objects one by one.
"""

from __future__ import annotations

import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import yaml

from bench import report, workload
from bench.stack import WriteCounter, running

OBJECTS = 500
REPEAT = 3
CHANGED = OBJECTS // 10


def manifests(version: int = 0, changed: int = 0) -> list[dict[str, Any]]:
    """500 objects: Deployments (0 replicas), Services and ConfigMaps; `changed` ConfigMaps differ."""
    objs: list[dict[str, Any]] = []
    per_kind = OBJECTS // 3 + 1
    for i in range(per_kind):
        name = f"app-{i:03d}"
        config_version = version if i < changed else 0
        objs += [
            workload.deployment(name, {"ports": workload.PORTS}),
            workload.service(name),
            workload.configmap(name, greeting=f"hello {config_version}"),
        ]
    return objs[:OBJECTS]


def write_dir(objs: list[dict[str, Any]]) -> Path:
    folder = Path(tempfile.mkdtemp(prefix="bench-apply-"))
    for i in range(0, len(objs), 50):
        (folder / f"part-{i // 50:02d}.yaml").write_text(yaml.safe_dump_all(objs[i : i + 50]))
    return folder


def kubectl(*args: str) -> None:
    subprocess.run(["kubectl", *args], check=True, capture_output=True)


def run() -> list[report.Record]:
    from shared.adapters import kube
    from shared.core.model import AppSpec, Destination, SyncPolicy
    from shared.sync.engine import Options, apply_all
    from shared.sync.prepare import prepare

    print(f"[bench apply] {OBJECTS} objects, {REPEAT} rounds, ours and kubectl alternating", flush=True)
    timings: dict[str, list[float]] = {
        k: []
        for k in (
            "ours.first",
            "kubectl.first",
            "ours.noop",
            "kubectl.noop",
            "ours.changed",
            "kubectl.changed",
            "raw",
        )
    }
    writes: dict[str, list[int]] = {k: [] for k in timings if k != "raw"}
    requests: dict[str, dict[str, int]] = {}
    with running() as st:
        cluster = kube.cluster()
        counter = WriteCounter(st.env["GITOPS_KUBE_AUDIT_LOG"])
        base, changed = manifests(), manifests(version=1, changed=CHANGED)
        base_dir, changed_dir = write_dir(base), write_dir(changed)
        for round_no in range(REPEAT):
            ours_ns, theirs_ns = f"ours-{uuid.uuid4().hex[:6]}", f"kubectl-{uuid.uuid4().hex[:6]}"
            kubectl("create", "namespace", ours_ns)
            kubectl("create", "namespace", theirs_ns)
            spec = AppSpec(
                name=f"bench-{ours_ns}",
                repoURL="bench",
                destination=Destination(namespace=ours_ns),
                syncPolicy=SyncPolicy(automated=True),
            )
            inventory: list[dict[str, str]] = []
            for phase, objs, folder in (
                ("first", base, base_dir),
                ("noop", base, base_dir),
                ("changed", changed, changed_dir),
            ):
                desired = prepare(spec, objs, cluster)
                counter.mark()
                t0 = time.perf_counter()
                result = apply_all(cluster, spec, desired, inventory, Options())
                timings[f"ours.{phase}"].append(time.perf_counter() - t0)
                assert not result.failed, [r.message for r in result.objects if r.message][:3]
                inventory = result.inventory
                requests[phase] = result.requests
                writes[f"ours.{phase}"].append(counter.since_mark("gitops/", ours_ns))
                counter.mark()
                t0 = time.perf_counter()
                kubectl("apply", "--server-side", "--force-conflicts", "-n", theirs_ns, "-f", str(folder))
                timings[f"kubectl.{phase}"].append(time.perf_counter() - t0)
                writes[f"kubectl.{phase}"].append(counter.since_mark("kubectl/", theirs_ns))
                if phase == "noop":
                    time.sleep(0.5)
            # the physical limit: one client applying every object in a tight loop
            t0 = time.perf_counter()
            for obj in prepare(spec, changed, cluster):
                cluster.apply(obj, field_manager="bench-raw")
            timings["raw"].append(time.perf_counter() - t0)
            print(
                f"[bench apply] round {round_no + 1}/{REPEAT}: "
                + ", ".join(f"{k} {v[-1]:.2f}s" for k, v in timings.items()),
                flush=True,
            )
            for ns in (ours_ns, theirs_ns):
                kubectl("delete", "namespace", ns, "--wait=false")

    med = {k: report.summary(v) for k, v in timings.items()}
    m = {k: v["median"] for k, v in med.items()}
    raw_rate = OBJECTS / m["raw"]
    ours_changed_rate = OBJECTS / m["ours.changed"]
    common = {"objects": OBJECTS, "rounds": REPEAT, "timings_s": med}
    return [
        report.Record(
            "apply.first.speedup_vs_kubectl",
            round(m["kubectl.first"] / m["ours.first"], 2),
            "x",
            {
                **common,
                "ours_s": m["ours.first"],
                "baseline": f"kubectl {m['kubectl.first']:.2f} s",
                "writes_ours": writes["ours.first"],
                "writes_kubectl": writes["kubectl.first"],
            },
        ),
        report.Record(
            "apply.noop.writes",
            max(writes["ours.noop"]),
            "requests",
            {
                **common,
                "baseline": f"kubectl {max(writes['kubectl.noop'])} writes",
                "requests_ours": requests["noop"],
                "writes_kubectl": writes["kubectl.noop"],
            },
        ),
        report.Record(
            "apply.noop.speedup_vs_kubectl",
            round(m["kubectl.noop"] / m["ours.noop"], 1),
            "x",
            {**common, "ours_s": m["ours.noop"], "baseline": f"kubectl {m['kubectl.noop']:.2f} s"},
        ),
        report.Record(
            "apply.changed.fraction_of_raw",
            round(ours_changed_rate / raw_rate, 2),
            "ratio",
            {
                **common,
                "ours_objects_per_s": round(ours_changed_rate, 1),
                "raw_objects_per_s": round(raw_rate, 1),
                "changed_objects": CHANGED,
                "baseline": f"raw SSA loop {raw_rate:.0f} objects/s",
                "note": "objects synced per second (500, 10% changed) / raw applies per second",
                "writes_ours": writes["ours.changed"],
                "writes_kubectl": writes["kubectl.changed"],
                "requests_ours": requests["changed"],
                "kubectl_changed_s": m["kubectl.changed"],
            },
        ),
    ]
