"""audit: our drift audit vs `kubectl diff --server-side`, 10 applications, 1,000 live objects.

The applications are synced first through the real apply step (Firestore emulator + API
server). Then, alternating and repeated: our audit of all 10 (the per-application work of
the audit function, one after the other), and kubectl diff --server-side over the same
manifests. Also: false positives right after a fresh sync, and the audit when every object
must be confirmed by a dry-run (no inventory shortcut), for a fair worst case.
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
from bench.stack import running
from shared.core.status import StatusUpdate

APPS = 10
PER_APP = 100
REPEAT = 3


def app_objects(i: int) -> list[dict[str, Any]]:
    objs: list[dict[str, Any]] = []
    for j in range(PER_APP // 3 + 1):
        name = f"svc-{i}-{j:02d}"
        objs += [
            workload.deployment(name, {"ports": [{"containerPort": 80}]}),
            workload.service(name, {"port": 80}),
            workload.configmap(name, greeting="hello"),
        ]
    return objs[:PER_APP]


def run() -> list[report.Record]:
    from shared.adapters import kube, store
    from shared.core import manifests
    from shared.core.messages import ApplyRequest, AuditRequest
    from shared.core.model import AppSpec, Destination, SyncPolicy
    from shared.steps import apply, audit
    from shared.sync.prepare import prepare

    print(f"[bench audit] {APPS} apps x {PER_APP} objects, {REPEAT} rounds", flush=True)
    with running():
        cluster = kube.cluster()
        run_id = uuid.uuid4().hex[:6]
        names, dirs = [], []
        for i in range(APPS):
            name = f"audit-{run_id}-{i}"
            ns = name
            subprocess.run(["kubectl", "create", "namespace", ns], check=True, capture_output=True)
            spec = AppSpec(
                name=name,
                repoURL=f"http://127.0.0.1/bench-{run_id}.git",
                path=".",
                destination=Destination(namespace=ns),
                syncPolicy=SyncPolicy(automated=True, prune=True),
            )
            store.put_app(spec, create=True)
            objs = app_objects(i)
            store.put_revision(
                name,
                "r1",
                {
                    "commit": "0" * 40,
                    "committedAt": store.now(),
                    "manifests": manifests.dump(objs),
                    "renderedAt": store.now(),
                },
            )
            outcome = apply.apply(
                ApplyRequest(app=name, revision="r1", initiator="manual", operation=f"bench-{run_id}-{i}")
            )
            assert outcome.action == "synced", outcome
            folder = Path(tempfile.mkdtemp(prefix="bench-audit-"))
            (folder / "all.yaml").write_text(yaml.safe_dump_all(prepare(spec, objs, cluster)))
            names.append(name)
            dirs.append((ns, folder))
        time.sleep(2)  # let the deployment controller settle

        def ours() -> tuple[float, int, dict[str, int]]:
            before = cluster.request_counts()
            t0 = time.perf_counter()
            found = sum(
                len(audit.audit(AuditRequest(app=n, operation=uuid.uuid4().hex)).drifted) for n in names
            )
            elapsed = time.perf_counter() - t0
            after = cluster.request_counts()
            return (
                elapsed,
                found,
                {k: after[k] - before.get(k, 0) for k in after if after[k] != before.get(k, 0)},
            )

        def kubectl() -> tuple[float, int]:
            t0 = time.perf_counter()
            differing = 0
            for ns, folder in dirs:
                proc = subprocess.run(
                    [
                        "kubectl",
                        "diff",
                        "--server-side",
                        "--force-conflicts",
                        "--field-manager=gitops-apply",
                        "-n",
                        ns,
                        "-f",
                        str(folder),
                    ],
                    capture_output=True,
                    text=True,
                )
                if proc.returncode > 1:
                    raise RuntimeError(proc.stderr)
                differing += proc.stdout.count("\ndiff -u ") + proc.stdout.startswith("diff -u ")
            return time.perf_counter() - t0, differing

        ours_t, theirs_t, fps, kubectl_fps, requests = [], [], [], [], {}
        for round_no in range(REPEAT):
            t, found, requests = ours()
            ours_t.append(t)
            fps.append(found)
            kt, kd = kubectl()
            theirs_t.append(kt)
            kubectl_fps.append(kd)
            print(
                f"[bench audit] round {round_no + 1}/{REPEAT}: ours {t:.3f}s ({found} drifted), "
                f"kubectl diff {kt:.2f}s ({kd} differing)",
                flush=True,
            )
        # worst case: no inventory shortcut, every object confirmed by a dry-run
        for n in names:
            store.update_status(n, StatusUpdate(inventory=[]))
        full_t, full_found, full_requests = ours()

    ours_s = report.summary(ours_t)
    theirs_s = report.summary(theirs_t)
    common = {"apps": APPS, "objects": APPS * PER_APP, "rounds": REPEAT}
    return [
        report.Record(
            "audit.seconds",
            ours_s["median"],
            "s",
            {
                **common,
                "timings_s": ours_s,
                "requests_ours": requests,
                "baseline": f"kubectl diff --server-side {theirs_s['median']:.2f} s",
                "note": "10 audits one after the other in one process (the sweep runs them in parallel)",
                "without_inventory_shortcut_s": round(full_t, 3),
                "without_inventory_shortcut_requests": full_requests,
                "without_inventory_shortcut_drifted": full_found,
            },
        ),
        report.Record(
            "audit.speedup_vs_kubectl_diff",
            round(theirs_s["median"] / ours_s["median"], 1),
            "x",
            {
                **common,
                "ours_s": ours_s,
                "kubectl_s": theirs_s,
                "baseline": f"kubectl {theirs_s['median']:.2f} s",
                "without_inventory_shortcut_speedup": round(theirs_s["median"] / full_t, 1),
            },
        ),
        report.Record(
            "audit.false_positives",
            max([*fps, full_found]),
            "objects",
            {
                **common,
                "baseline": f"kubectl diff reports {max(kubectl_fps)} objects differing",
                "per_round": fps,
                "without_inventory_shortcut": full_found,
            },
        ),
    ]
