"""What a sync whose record was refused keeps, so the next one starts from the cluster
(shared/steps/apply.py unrecorded_inventory, kinds_of; shared/adapters/store/inventories.py unrecorded)."""

from __future__ import annotations

import pytest

from shared.adapters import store
from shared.steps import apply


def cm(name: str, namespace: str = "a") -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": namespace}}


CRB = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": {"name": "x"}}
POINTER = {"generation": "000003-abcdef01", "parts": 2, "count": 900, "sha256": "f" * 64}


def test_kinds_of_groups_objects_by_api_version_kind_and_namespace():
    assert apply.kinds_of([cm("x"), cm("y"), cm("z", "b"), CRB]) == [
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "namespace": ""},
        {"apiVersion": "v1", "kind": "ConfigMap", "namespace": "a"},
        {"apiVersion": "v1", "kind": "ConfigMap", "namespace": "b"},
    ]


@pytest.mark.parametrize(
    ("status", "desired", "pointer", "kinds"),
    [
        # the pointer as it was, plus where the sync wrote
        ({"inventory": POINTER}, [cm("x")], POINTER, [("v1", "ConfigMap", "a")]),
        # no inventory yet
        (
            {},
            [cm("x", "b")],
            {"generation": "", "parts": 0, "count": 0, "sha256": ""},
            [("v1", "ConfigMap", "b")],
        ),
        # an earlier refusal's kinds are kept
        (
            {
                "inventory": {
                    **POINTER,
                    "unrecorded": [{"apiVersion": "v1", "kind": "Secret", "namespace": "a"}],
                }
            },
            [cm("x")],
            POINTER,
            [("v1", "ConfigMap", "a"), ("v1", "Secret", "a")],
        ),
        # the inline list of the old layout: its own kinds are looked up again too
        (
            {"inventory": [{"apiVersion": "v1", "kind": "Service", "namespace": "c", "name": "s"}]},
            [cm("x")],
            {"generation": "", "parts": 0, "count": 0, "sha256": ""},
            [("v1", "ConfigMap", "a"), ("v1", "Service", "c")],
        ),
    ],
)
def test_unrecorded_inventory(status, desired, pointer, kinds):
    out = apply.unrecorded_inventory(status, desired)
    assert {k: v for k, v in out.items() if k != "unrecorded"} == pointer
    assert [(k["apiVersion"], k["kind"], k["namespace"]) for k in out["unrecorded"]] == kinds
    assert store.unrecorded({"inventory": out}) == out["unrecorded"]


@pytest.mark.parametrize("status", [{}, {"inventory": None}, {"inventory": []}, {"inventory": POINTER}])
def test_nothing_unrecorded(status):
    assert store.unrecorded(status) == []
