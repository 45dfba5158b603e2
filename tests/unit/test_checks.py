"""The security gate: one test per finding kind, each with its exact file:line:col and check id."""

import pytest

from shared import checks
from shared.render import render_files

POD = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      hostNetwork: true
      volumes:
        - name: host
          hostPath: {path: /var/run}
      containers:
        - name: app
          image: nginx
          securityContext:
            privileged: true
            allowPrivilegeEscalation: true
"""

SAFE = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: safe, namespace: shop}
spec:
  selector: {matchLabels: {app: safe}}
  template:
    metadata: {labels: {app: safe}}
    spec:
      containers:
        - name: app
          image: nginx:1.27
          resources: {requests: {cpu: 10m, memory: 16Mi}, limits: {cpu: 100m, memory: 64Mi}}
          securityContext:
            allowPrivilegeEscalation: false
            runAsNonRoot: true
            readOnlyRootFilesystem: true
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: default-deny, namespace: shop}
spec: {podSelector: {}}
"""


def findings(text, **modes):
    return {(f.check.id, f"{f.finding.file}:{f.finding.line}:{f.finding.column}", f.mode)
            for f in checks.run(render_files([("k8s/web.yaml", text.encode())]), modes)}


@pytest.mark.parametrize("check_id,where,mode", [
    ("SEC001", "k8s/web.yaml:19:13", "enforce"),   # privileged: true
    ("SEC002", "k8s/web.yaml:20:13", "warn"),      # allowPrivilegeEscalation: true
    ("SEC003", "k8s/web.yaml:16:11", "warn"),      # runAsNonRoot unset: the container
    ("SEC004", "k8s/web.yaml:16:11", "warn"),      # readOnlyRootFilesystem unset
    ("SEC005", "k8s/web.yaml:11:7", "enforce"),    # hostNetwork: true
    ("SEC006", "k8s/web.yaml:14:11", "enforce"),   # hostPath volume
    ("RES001", "k8s/web.yaml:16:11", "warn"),      # no requests/limits
    ("IMG001", "k8s/web.yaml:17:11", "warn"),      # untagged image
    ("NET001", "k8s/web.yaml:1:1", "warn"),        # namespace shop has no NetworkPolicy
])
def test_each_check_names_the_exact_position(check_id, where, mode):
    assert (check_id, where, mode) in findings(POD)


def test_a_hardened_workload_with_a_network_policy_is_clean():
    assert findings(SAFE) == set()


def test_modes_per_check_and_a_reasoned_opt_out():
    assert ("SEC001", "k8s/web.yaml:19:13", "warn") in findings(POD, SEC001="warn")
    assert not any(f[0] == "SEC001" for f in findings(POD, SEC001="off"))
    allowed = POD.replace("  namespace: shop\n", "  namespace: shop\n  annotations:\n"
                          "    gitops.dev/allow-SEC006: node exporter reads /var/run\n")
    assert not any(f[0] == "SEC006" for f in findings(allowed))
    blocking = checks.blocking(checks.run(render_files([("a.yaml", POD.encode())]), {}))
    assert {f.check.id for f in blocking} == {"SEC001", "SEC005", "SEC006"}


def test_latest_and_digests():
    text = SAFE.replace("nginx:1.27", "registry.local:5000/team/nginx:latest")
    assert ("IMG001", "k8s/web.yaml:11:11", "warn") in findings(text)
    pinned = SAFE.replace("nginx:1.27", "registry.local:5000/nginx@sha256:" + "a" * 64)
    assert findings(pinned) == set()


def test_cross_references_inside_the_application():
    text = SAFE + """\
---
apiVersion: v1
kind: Service
metadata: {name: lost, namespace: shop}
spec:
  selector: {app: nobody}
  ports: [{port: 80}]
---
apiVersion: v1
kind: Service
metadata: {name: safe, namespace: shop}
spec:
  selector: {app: safe}
  ports: [{port: 80}]
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: web, namespace: shop}
spec:
  rules:
    - http:
        paths:
          - {path: /, pathType: Prefix, backend: {service: {name: safe, port: {number: 81}}}}
          - {path: /x, pathType: Prefix, backend: {service: {name: gone, port: {number: 80}}}}
"""
    found = findings(text)
    assert ("XREF001", "k8s/web.yaml:27:3", "warn") in found      # selector {app: nobody}
    assert ("XREF003", "k8s/web.yaml:44:51", "warn") in found     # port 81 on Service safe
    assert ("XREF003", "k8s/web.yaml:45:52", "warn") in found     # Service gone
    assert not any(f[0] == "XREF001" and f[1].startswith("k8s/web.yaml:34") for f in found)
    mismatch = SAFE.replace("selector: {matchLabels: {app: safe}}", "selector: {matchLabels: {app: other}}")
    assert ("XREF002", "k8s/web.yaml:5:14", "enforce") in findings(mismatch)


def test_api_versions_against_the_destination_version():
    def api(text, version):
        return {(f.check.id, f.finding.line, f.mode) for f in checks.run(
            render_files([("a.yaml", text.encode())]), {}, kube_version=version)
            if f.check.id.startswith("API")}

    pdb = "apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata: {name: p}\nspec: {}\n"
    assert api(pdb, "1.20") == {("API001", 1, "enforce")}  # not served before 1.21
    assert api(pdb, "1.29") == set()
    old = pdb.replace("policy/v1", "policy/v1beta1")
    assert api(old, "1.20") == set()
    assert api(old, "1.21") == {("API002", 1, "warn")}
    assert api(old, "1.25") == {("API001", 1, "enforce")}
    ingress = "apiVersion: extensions/v1beta1\nkind: Ingress\nmetadata: {name: i}\nspec: {}\n"
    assert api(ingress, "1.20") == {("API002", 1, "warn")}
    assert api(ingress, "") == set()
