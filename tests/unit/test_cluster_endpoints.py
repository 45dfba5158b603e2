"""Registered clusters as infra/ writes them into GITOPS_CLUSTERS: an IP endpoint with the
cluster's CA, or GKE's DNS-based endpoint with none (its certificate is publicly trusted)."""

from __future__ import annotations

import base64

from kubernetes import client as kclient

from shared.adapters import kube

PEM = b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"


def configured(cluster: dict[str, str], monkeypatch) -> kclient.Configuration:
    monkeypatch.setenv("TEST_CLUSTER_TOKEN", "t0ken")
    configuration = kclient.Configuration()
    kube._configure_registered(configuration, {**cluster, "tokenEnv": "TEST_CLUSTER_TOKEN"})
    return configuration


def test_an_ip_endpoint_is_verified_against_the_cluster_ca(monkeypatch):
    c = configured(
        {"endpoint": "https://10.0.0.2", "caCertificate": base64.b64encode(PEM).decode()}, monkeypatch
    )
    assert c.host == "https://10.0.0.2"
    with open(c.ssl_ca_cert, "rb") as f:
        assert f.read() == PEM


def test_a_dns_endpoint_is_verified_against_the_system_roots(monkeypatch):
    c = configured({"endpoint": "gke-0123abcd.europe-west1.gke.goog"}, monkeypatch)
    assert c.host == "https://gke-0123abcd.europe-west1.gke.goog"
    assert c.ssl_ca_cert is None and c.verify_ssl
    assert c.api_key == {"BearerToken": "t0ken"}
