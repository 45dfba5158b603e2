"""Drift detection on plain objects, and attribution from managedFields."""

from shared.core import drift, secrets


def deployment(replicas=2, image="nginx:1", extra_meta=None):
    meta = {
        "name": "web",
        "namespace": "default",
        "resourceVersion": "7",
        "generation": 3,
        "uid": "u",
        "creationTimestamp": "t",
        "labels": {"app": "web"},
    }
    meta.update(extra_meta or {})
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": meta,
        "spec": {
            "replicas": replicas,
            "template": {
                "spec": {
                    "containers": [
                        {
                            "name": "nginx",
                            "image": image,
                            "ports": [{"containerPort": 80, "protocol": "TCP"}],
                        },
                        {"name": "sidecar", "image": "busybox"},
                    ]
                }
            },
        },
        "status": {"replicas": replicas, "observedGeneration": 3},
    }


def test_identical_objects_have_no_drift_whatever_the_server_bookkeeping():
    live = deployment(
        extra_meta={
            "resourceVersion": "99",
            "managedFields": [{"manager": "x"}],
            "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}"},
        }
    )
    live["status"] = {"replicas": 5}
    assert drift.changes(deployment(), live) == []


def test_changed_fields_are_named_with_keyed_list_paths():
    found = drift.changes(deployment(), deployment(replicas=5, image="nginx:2"))
    assert [(c.field, c.desired, c.live) for c in found] == [
        ("spec.replicas", 2, 5),
        ("spec.template.spec.containers[name=nginx].image", "nginx:1", "nginx:2"),
    ]


def test_added_and_removed_fields_and_reordered_keyed_lists():
    want = deployment()
    live = deployment(extra_meta={"labels": {"app": "web", "hand": "made"}})
    live["spec"]["template"]["spec"]["containers"].reverse()
    assert [(c.field, c.desired, c.live) for c in drift.changes(want, live)] == [
        ("metadata.labels.hand", None, "made")
    ]


def test_owners_reads_managed_fields_for_a_keyed_path():
    live = deployment(
        extra_meta={
            "managedFields": [
                {
                    "manager": "gitops-apply",
                    "operation": "Apply",
                    "time": "2026-01-01T00:00:00Z",
                    "fieldsV1": {
                        "f:spec": {
                            "f:replicas": {},
                            "f:template": {
                                "f:spec": {"f:containers": {'k:{"name":"nginx"}': {"f:image": {}}}}
                            },
                        }
                    },
                },
                {
                    "manager": "kubectl-set",
                    "operation": "Update",
                    "time": "2026-01-02T00:00:00Z",
                    "fieldsV1": {
                        "f:spec": {
                            "f:template": {
                                "f:spec": {"f:containers": {'k:{"name":"nginx"}': {"f:image": {}}}}
                            }
                        }
                    },
                },
            ]
        }
    )
    path = ("spec", "template", "spec", "containers", ("name", "nginx"), "image")
    assert [o.manager for o in drift.owners(live, path)] == ["kubectl-set", "gitops-apply"]
    assert [o.manager for o in drift.owners(live, ("spec", "replicas"))] == ["gitops-apply"]
    assert drift.owners(live, ("spec", "paused")) == []


def test_secret_values_are_masked():
    change = drift.Change(("data", "password"), "c2VjcmV0", "b3RoZXI=")
    masked = drift.mask("Secret", change)
    assert (masked.desired, masked.live) == (secrets.MASK, secrets.MASK) == ("***", "***")
    assert drift.mask("ConfigMap", change) == change
