"""Apply order: definitions first, webhooks last, deterministic within a kind."""

from shared.core.ordering import in_apply_order


def obj(kind, name="x", api="v1", ns=""):
    return {"apiVersion": api, "kind": kind, "metadata": {"name": name, "namespace": ns}}


def test_order_is_by_kind_table_then_name():
    objs = [
        obj("Deployment", "b", "apps/v1"),
        obj("ValidatingWebhookConfiguration"),
        obj("Widget", api="example.com/v1"),
        obj("Deployment", "a", "apps/v1"),
        obj("Namespace"),
        obj("CustomResourceDefinition", api="apiextensions.k8s.io/v1"),
        obj("Service"),
        obj("ConfigMap"),
    ]
    assert [(o["kind"], o["metadata"]["name"]) for o in in_apply_order(objs)] == [
        ("CustomResourceDefinition", "x"),
        ("Namespace", "x"),
        ("ConfigMap", "x"),
        ("Service", "x"),
        ("Deployment", "a"),
        ("Deployment", "b"),
        ("Widget", "x"),
        ("ValidatingWebhookConfiguration", "x"),
    ]
