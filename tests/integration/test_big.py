"""Big applications within every Firestore limit (issue 23).

One automated application of 5,000 ConfigMaps, one push: every object applied, the sync
recorded once (before, the application document passed 1 MiB with its inventory, the
write was refused as if retryable and Pub/Sub redelivered the apply again and again).
The emulator does not enforce Firestore's limits, so the test checks every document the
sync wrote against them (shared/core/docsize.py).
"""

from __future__ import annotations

import json
import time

from shared.adapters import store
from shared.core import docsize
from shared.core.status import Phase, StatusUpdate
from tests.integration import manifests
from tests.integration.conftest import create_app, function_log, history_count, kubectl, push, wait_history


def configmaps(count: int) -> str:
    return "---\n".join(manifests.configmap(f"cm-{i:05d}") for i in range(count))


def _documents(app: str) -> list[tuple[str, dict]]:
    """Every document under applications/{app}, with its path relative to the database."""
    out = []
    ref = store.client().collection(store.APPS).document(app)

    def walk(doc_ref) -> None:
        snap = doc_ref.get()
        if snap.exists:
            out.append((doc_ref.path, snap.to_dict() or {}))
        for sub in doc_ref.collections():
            for child in sub.list_documents():
                walk(child)

    walk(ref)
    return out


def test_5000_configmaps_one_push_ends_synced_with_one_history_entry(stack, secret, uid, repo, namespace):
    app = f"huge-{uid}"
    create_app(app, repo, namespace)
    sha = push(stack, secret, repo, "5,000 configmaps", {"app/cms.yaml": configmaps(5000)})
    entry = wait_history(app, 1, timeout=900)
    assert (entry["commit"], entry["phase"]) == (sha, "Succeeded"), entry["summary"]
    assert entry["counts"] == {"created": 5000}
    assert len(entry["resources"]) == 5000  # read back from the entry's parts
    assert "resources" not in store.history(app)[0]  # the entry itself keeps summary and counts
    status = store.get_app(app).status
    assert status["sync"]["status"] == "Synced" and status["operation"]["phase"] == "Succeeded"
    assert status["inventory"]["count"] == 5000 and status["inventory"]["parts"] >= 2
    assert len(store.inventory(app, status)) == 5000
    listed = kubectl("get", "configmap", "-n", namespace, "-l", f"gitops.dev/app={app}", "-o", "name")
    assert len(listed.split()) == 5000
    # every document is one Firestore would store
    documents = _documents(app)
    assert len(documents) >= 6  # the app, its revision, history entry, inventory and results parts
    for path, data in documents:
        assert docsize.problems(path, data) == [], path
    # applied and recorded once; no redelivery follows
    summaries = [
        line
        for line in function_log(stack, "apply").splitlines()
        if f'"app":"{app}"' in line and '"message":"sync 1 of' in line
    ]
    assert len(summaries) == 1
    handled = function_log(stack, "apply").count(f'"app":"{app}"')
    time.sleep(5)
    assert function_log(stack, "apply").count(f'"app":"{app}"') == handled
    assert history_count(app) == 1


def test_a_monorepo_past_the_inline_routes_is_routed_from_folder_shards(
    stack, secret, uid, repo, observe, monkeypatch
):
    """Routes beyond GITOPS_ROUTES_INLINE_BYTES (here 2 KB: about 8 applications) go to one
    document per watched folder; a push reads those above its changed paths."""
    import dataclasses

    from shared.core import topology
    from shared.core import webhook as github
    from shared.core.model import AppSpec
    from shared.steps.operations import apps as operations
    from tests.integration.conftest import webhook

    monkeypatch.setenv("GITOPS_ROUTES_INLINE_BYTES", "2000")
    names = [f"shard{i:02d}-{uid}" for i in range(30)]
    # registered by the API's operation in this process (the bound is this process's setting;
    # `gitops app create` runs the same operation in the API function)
    for i, name in enumerate(names):
        spec = AppSpec(name=name, repoURL=repo.url, path=f"apps/app{i:02d}", targetRevision="main")
        operations.create([spec.validate()], upsert=False)
    head = store.repo_ref(AppSpec(name="x", repoURL=repo.url).repo_key).get().to_dict()
    inline = sorted(json.loads(head["routes"]))
    assert head["sharded"] and 0 < len(inline) < 30 and len(head["routes"]) <= 2000
    sharded = [n for n in names if n not in inline]
    in_shard = names.index(sharded[-1])
    files = {f"apps/app{i:02d}/cm.yaml": manifests.configmap(f"c{i}") for i in range(30)}
    first = repo.commit_and_push("all", files)
    seen = observe(topology.RENDER)

    def push_one(i: int, before: str) -> tuple[str, list[str]]:
        path = f"apps/app{i:02d}/cm.yaml"
        sha = repo.commit_and_push(f"app{i}", {path: manifests.configmap(f"c{i}", "changed")})
        body = github.push_payload(
            repo.url,
            "refs/heads/main",
            before,
            sha,
            "one",
            changed={"added": [], "modified": [path], "removed": []},
        )
        status, answer = webhook(stack, secret, body)
        assert status == 200
        return sha, answer["apps"]

    second, apps = push_one(in_shard, first)
    assert apps == [names[in_shard]]
    third, apps = push_one(0, second)
    assert apps == [names[0]]
    body = github.push_payload(repo.url, "refs/heads/main", second, third, "no file lists")
    assert sorted(webhook(stack, secret, body)[1]["apps"]) == sorted(names)
    assert sorted(m["app"] for m in seen.drain()) == sorted([names[in_shard], names[0], *names])
    # moving an application's path moves its route; deleting it removes it
    moved = store.get_app(names[in_shard])
    operations.update(dataclasses.replace(moved.spec, path="apps/moved"))  # `gitops app set --path`
    _, apps = push_one(in_shard, third)
    assert apps == []
    operations.delete(store.get_app(sharded[0]), cascade=False)  # `gitops app delete`
    folders = store.repo_ref(AppSpec(name="x", repoURL=repo.url).repo_key).collection(store.FOLDERS)
    shards = {s.get("folder"): json.loads(s.get("routes")) for s in folders.stream()}
    assert names[in_shard] in shards["apps/moved"] and f"apps/app{in_shard:02d}" not in shards
    assert all(sharded[0] not in routes for routes in shards.values())
    for ref_path, data in [(s.reference.path, s.to_dict()) for s in folders.stream()]:
        assert docsize.problems(ref_path, data) == []


def test_a_folder_every_application_reads_overflows_into_a_route_document_each(stack, uid, monkeypatch):
    """300 applications whose renders read one Kustomize base: the base folder's document
    stops growing at its inline bound (here 4 KB: about 25 routes) and every further route
    is its own small document. A push changing the base finds all 300, one changing an
    application's folder finds that one, and every document under the repository stays
    within its bound (with the old layout's inline routes read as before)."""
    from shared.core.model import AppSpec
    from shared.core.webhook import Push
    from shared.platform import metering
    from shared.steps import intake

    monkeypatch.setenv("GITOPS_ROUTES_INLINE_BYTES", "4000")
    url = f"http://127.0.0.1:1/fleet-{uid}"
    specs = [
        AppSpec(name=f"f{i:03d}-{uid}", repoURL=url, path=f"apps/a{i:03d}", targetRevision="main")
        for i in range(300)
    ]
    names = [s.name for s in specs]
    store.put_apps(specs, create=True)
    for spec in specs:
        store.set_reads(spec, ["base"])  # what each one's first render records (shared/steps/render.py)

    def plan(*changed: str) -> list[str]:
        push = Push((url,), "refs/heads/main", "1" * 40, "main", False, "t", "m", frozenset(changed))
        return sorted(r.app for r in intake.plan_push(push, "", timeout=60).requests)

    folders = store.repo_ref(specs[0].repo_key).collection(store.FOLDERS)
    base = next(s for s in folders.stream() if s.get("folder") == "base")
    inline = json.loads(base.get("routes"))
    singles = [s.id for s in base.reference.collection("routes").stream()]
    assert base.get("overflow") and 0 < len(inline) < 50 and len(base.get("routes")) <= 4000
    assert sorted([*inline, *singles]) == sorted(names)
    metering.reset()
    assert plan("base/kustomization.yaml") == sorted(names)
    base_reads = metering.snapshot()["fs_reads"]
    metering.reset()
    assert plan("apps/a007/cm.yaml") == [names[7]]
    # a push reads the folders above its paths, and the route documents of the base only
    # when it changes the base (the applications it concerns)
    assert metering.snapshot()["fs_reads"] <= 5 and base_reads <= 5 + 300
    # a render that stops reading the base (one routed inline, one in its own document)
    single, kept_inline = specs[names.index(singles[-1])], specs[names.index(sorted(inline)[0])]
    store.set_reads(single, [])
    store.set_reads(kept_inline, [])
    assert plan("base/x.yaml") == sorted(set(names) - {single.name, kept_inline.name})
    assert plan(f"{single.path}/x.yaml") == [single.name]
    store.delete_app(names[299])
    assert names[299] not in plan("base/x.yaml") and plan("apps/a299/x.yaml") == []
    head = store.repo_ref(specs[0].repo_key).get()
    documents = [(head.reference.path, head.to_dict() or {})]
    for folder in folders.stream():
        documents.append((folder.reference.path, folder.to_dict() or {}))
        assert len(folder.get("routes")) <= 4000
        documents += [
            (s.reference.path, s.to_dict() or {}) for s in folder.reference.collection("routes").stream()
        ]
    assert len(documents) > 300 and len(head.get("routes")) <= 4000
    for path, data in documents:
        assert docsize.problems(path, data) == [], path


def test_status_updates_of_many_applications_are_batched_and_skip_the_deleted(stack, uid):
    """What a sweep records for every head it saw (store.update_statuses): batched writes;
    an application deleted meanwhile is skipped, the others of its batch still written."""
    from shared.core.model import AppSpec
    from shared.core.status import SeenHead

    names = [f"seen{i}-{uid}" for i in range(3)]
    store.put_apps([AppSpec(name=n, repoURL=f"http://127.0.0.1:1/seen-{uid}", path=n) for n in names])
    store.delete_app(names[1])
    seen = StatusUpdate(sync_seen=SeenHead(commit="2" * 40, base="1" * 40, at=store.now()))
    store.update_statuses(dict.fromkeys(names, seen))
    assert [store.get_app(n).status["sync"]["seen"]["commit"] for n in (names[0], names[2])] == ["2" * 40] * 2
    assert store.get_apps(names).keys() == {names[0], names[2]}


def test_a_20000_object_record_round_trips_within_every_limit(stack, uid):
    """The store alone (no cluster): a sync record of 20,000 objects, its inventory and
    per-object results in parts, written in commits under the emulator's 4 MiB gRPC limit
    and read back exactly."""
    from shared.core.model import AppSpec

    app = f"record-{uid}"
    store.put_app(AppSpec(name=app, repoURL=f"http://127.0.0.1:1/{app}", path="app"), create=True)
    entries = [
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "namespace": "big",
            "name": f"cm-{i:05d}",
            "digest": f"{i:064x}",
            "liveDigest": f"{i * 7:064x}",
        }
        for i in range(20_000)
    ]
    results = [
        {
            "group": "",
            "kind": "ConfigMap",
            "namespace": "big",
            "name": e["name"],
            "action": "created",
            "health": "Healthy",
        }
        for e in entries
    ]
    begun = store.begin_operation(app, "op-1", "holder-1")
    entry = {
        "sequence": begun.sequence,
        "summary": "sync 1 of 0000000 by test: 20000 created",
        "counts": {"created": 20_000},
        "resources": results,
    }
    store.finish_operation(
        app,
        "op-1",
        "holder-1",
        begun.sequence,
        entry,
        StatusUpdate(inventory=entries, operation={"phase": Phase.SUCCEEDED}),
    )
    status = store.get_app(app).status
    assert status["inventory"]["count"] == 20_000 and status["inventory"]["parts"] >= 5
    assert store.inventory(app, status) == entries
    assert store.get_history(app, 1)["resources"] == results
    assert store.history(app)[0]["results"]["count"] == 20_000
    for path, data in _documents(app):
        assert docsize.problems(path, data) == [], path
    # the same inventory again writes no parts; a new one replaces the old generation
    begun = store.begin_operation(app, "op-2", "holder-2")
    store.finish_operation(
        app,
        "op-2",
        "holder-2",
        begun.sequence,
        None,
        StatusUpdate(inventory=entries),
        previous_inventory=status["inventory"],
    )
    assert store.get_app(app).status["inventory"] == status["inventory"]
    begun = store.begin_operation(app, "op-3", "holder-3")
    store.finish_operation(
        app,
        "op-3",
        "holder-3",
        begun.sequence,
        None,
        StatusUpdate(inventory=entries[:10]),
        previous_inventory=status["inventory"],
    )
    refs = store.client().collection(store.APPS).document(app).collection(store.INVENTORY).list_documents()
    assert [r.id for r in refs] == [f"{begun.sequence:06d}-holder-3-000"]
    store.delete_app(app)


def test_a_drift_record_of_5000_objects_keeps_100_inline_and_the_rest_in_parts(stack, uid):
    from shared.core.model import AppSpec

    app = f"drift-{uid}"
    store.put_app(AppSpec(name=app, repoURL=f"http://127.0.0.1:1/{app}", path="app"), create=True)
    objects = [
        {
            "object": f"ConfigMap/big/cm-{i:05d}",
            "drift": "modified",
            "fields": [
                {
                    "path": "data.greeting",
                    "desired": "hello",
                    "live": "changed " * 20,
                    "manager": "kubectl-edit",
                    "time": "2026-11-30T01:00:00Z",
                }
            ],
        }
        for i in range(5_000)
    ]
    when = store.now()
    record_id = store.put_drift(app, {"detectedAt": when, "objects": objects, "summary": "5,000 modified"})
    (stored,) = store.drift_records(app)
    assert len(stored["objects"]) == store.DRIFT_INLINE and stored["objectCount"] == 5_000
    (complete,) = store.drift_records(app, complete=True)
    assert complete["objects"] == objects
    for path, data in _documents(app):
        assert docsize.problems(path, data) == [], path
    assert record_id and stored["parts"] >= 2
    store.delete_app(app)
    assert _documents(app) == []


def test_app_create_from_one_file_registers_250_applications_in_transactions_of_100(
    stack, uid, tmp_path, monkeypatch
):
    import yaml

    from shared.core import argocd
    from shared.core.model import AppSpec
    from shared.steps.operations import apps as operations

    monkeypatch.setenv("GITOPS_ROUTES_INLINE_BYTES", "4000")
    url = f"http://127.0.0.1:1/fleet-{uid}"
    names = [f"fleet{i:03d}-{uid}" for i in range(250)]
    manifest = tmp_path / "apps.yaml"
    manifest.write_text(
        yaml.safe_dump_all(
            [
                {
                    "apiVersion": "argoproj.io/v1alpha1",
                    "kind": "Application",
                    "metadata": {"name": n},
                    "spec": {
                        "source": {"repoURL": url, "path": f"apps/a{i:03d}", "targetRevision": "main"},
                        "destination": {"server": "https://kubernetes.default.svc", "namespace": "default"},
                    },
                }
                for i, n in enumerate(names)
            ]
        )
    )
    # what `gitops app create -f` asks the API for, run here, where the bound is set
    specs = [argocd.application(doc)[0] for doc in yaml.safe_load_all(manifest.read_text())]
    operations.create(specs, upsert=False)
    key = AppSpec(name="x", repoURL=url).repo_key
    inline = json.loads(store.repo_ref(key).get().to_dict()["routes"])
    assert 0 < len(inline) < 250
    every = store.apps_for_repo(key, changed=None)
    assert sorted(s.name for s in every.specs) == names
    one = store.apps_for_repo(key, changed=frozenset({"apps/a249/cm.yaml"}))
    assert {s.name for s in one.specs} == {*inline, names[249]}
    assert one.concerned(frozenset({"apps/a249/cm.yaml"})) == {names[249]}


def test_5000_configmaps_prune_diff_and_rollback_within_the_bounds(stack, secret, uid, repo, namespace):
    """A second push dropping 1,000 and changing 100 prunes and configures from the
    inventory's parts; `app diff` finds nothing; a rollback to the first entry brings the
    1,000 back from the stored revision."""
    from shared.cli import main

    app = f"huge2-{uid}"
    create_app(app, repo, namespace)
    v1 = push(stack, secret, repo, "5,000", {"app/cms.yaml": configmaps(5000)})
    assert wait_history(app, 1, timeout=900)["phase"] == "Succeeded"
    cms = "---\n".join(
        manifests.configmap(f"cm-{i:05d}", "changed" if i < 100 else "hello") for i in range(4000)
    )
    push(stack, secret, repo, "4,000", {"app/cms.yaml": cms}, v1)
    entry = wait_history(app, 2, timeout=900)
    assert entry["counts"] == {"configured": 100, "unchanged": 3900, "pruned": 1000}, entry["summary"]
    assert (
        store.inventory(app, store.get_app(app).status) != []
        and store.get_app(app).status["inventory"]["count"] == 4000
    )
    listed = kubectl("get", "configmap", "-n", namespace, "-l", f"gitops.dev/app={app}", "-o", "name")
    assert len(listed.split()) == 4000
    assert main.main(["app", "diff", app]) == 0  # live is what applying the revision would make
    assert main.main(["app", "rollback", app, "1", "--wait", "--timeout", "900"]) == 0
    entry = store.get_history(app, 3)
    assert (entry["initiator"], entry["phase"]) == ("rollback", "Succeeded")
    assert entry["counts"] == {"created": 1000, "configured": 100, "unchanged": 3900}
    listed = kubectl("get", "configmap", "-n", namespace, "-l", f"gitops.dev/app={app}", "-o", "name")
    assert len(listed.split()) == 5000
    for path, data in _documents(app):
        assert docsize.problems(path, data) == [], path
