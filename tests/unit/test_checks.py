"""The security gate: one test per finding kind, each with its exact file:line:col and check id."""

import pytest

from shared.gate import checks
from shared.render.parse import render_files

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
    return {
        (f.check.id, f"{f.finding.file}:{f.finding.line}:{f.finding.column}", f.mode)
        for f in checks.run(render_files([("k8s/web.yaml", text.encode())]), modes)
    }


@pytest.mark.parametrize(
    "check_id,where,mode",
    [
        ("SEC001", "k8s/web.yaml:19:13", "enforce"),  # privileged: true
        ("SEC002", "k8s/web.yaml:20:13", "warn"),  # allowPrivilegeEscalation: true
        ("SEC003", "k8s/web.yaml:16:11", "warn"),  # runAsNonRoot unset: the container
        ("SEC004", "k8s/web.yaml:16:11", "warn"),  # readOnlyRootFilesystem unset
        ("SEC005", "k8s/web.yaml:11:7", "enforce"),  # hostNetwork: true
        ("SEC006", "k8s/web.yaml:14:11", "enforce"),  # hostPath volume
        ("RES001", "k8s/web.yaml:16:11", "warn"),  # no requests/limits
        ("IMG001", "k8s/web.yaml:17:11", "warn"),  # untagged image
        ("NET001", "k8s/web.yaml:1:1", "warn"),  # namespace shop has no NetworkPolicy
    ],
)
def test_each_check_names_the_exact_position(check_id, where, mode):
    assert (check_id, where, mode) in findings(POD)


def test_a_hardened_workload_with_a_network_policy_is_clean():
    assert findings(SAFE) == set()


def test_modes_per_check_and_a_reasoned_opt_out():
    assert ("SEC001", "k8s/web.yaml:19:13", "warn") in findings(POD, SEC001="warn")
    assert not any(f[0] == "SEC001" for f in findings(POD, SEC001="off"))
    allowed = POD.replace(
        "  namespace: shop\n",
        "  namespace: shop\n  annotations:\n    gitops.dev/allow-SEC006: node exporter reads /var/run\n",
    )
    assert not any(f[0] == "SEC006" for f in findings(allowed))
    blocking = checks.blocking(checks.run(render_files([("a.yaml", POD.encode())]), {}))
    assert {f.check.id for f in blocking} == {"SEC001", "SEC005", "SEC006"}


def test_latest_and_digests():
    text = SAFE.replace("nginx:1.27", "registry.local:5000/team/nginx:latest")
    assert ("IMG001", "k8s/web.yaml:11:11", "warn") in findings(text)
    pinned = SAFE.replace("nginx:1.27", "registry.local:5000/nginx@sha256:" + "a" * 64)
    assert findings(pinned) == set()


def test_cross_references_inside_the_application():
    text = (
        SAFE
        + """\
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
    )
    found = findings(text)
    assert ("XREF001", "k8s/web.yaml:27:3", "warn") in found  # selector {app: nobody}
    assert ("XREF003", "k8s/web.yaml:44:51", "warn") in found  # port 81 on Service safe
    assert ("XREF003", "k8s/web.yaml:45:52", "warn") in found  # Service gone
    assert not any(f[0] == "XREF001" and f[1].startswith("k8s/web.yaml:34") for f in found)
    mismatch = SAFE.replace("selector: {matchLabels: {app: safe}}", "selector: {matchLabels: {app: other}}")
    assert ("XREF002", "k8s/web.yaml:5:14", "enforce") in findings(mismatch)


def test_api_versions_against_the_destination_version():
    def api(text, version):
        return {
            (f.check.id, f.finding.line, f.mode)
            for f in checks.run(render_files([("a.yaml", text.encode())]), {}, kube_version=version)
            if f.check.id.startswith("API")
        }

    pdb = "apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata: {name: p}\nspec: {}\n"
    assert api(pdb, "1.20") == {("API001", 1, "enforce")}  # not served before 1.21
    assert api(pdb, "1.29") == set()
    old = pdb.replace("policy/v1", "policy/v1beta1")
    assert api(old, "1.20") == set()
    assert api(old, "1.21") == {("API002", 1, "warn")}
    assert api(old, "1.25") == {("API001", 1, "enforce")}
    ingress = "apiVersion: extensions/v1beta1\nkind: Ingress\nmetadata: {name: i}\nspec: {}\n"
    assert api(ingress, "1.20") == {("API002", 1, "warn")}
    # no destination version: judged against the newest version known, and the finding says so
    assert api(ingress, "") == {("API001", 1, "enforce")}
    assert api(pdb, "") == set()
    (found,) = [
        f for f in checks.run(render_files([("a.yaml", ingress.encode())]), {}) if f.check.id == "API001"
    ]
    newest = checks.newest_known()
    assert found.finding.message == (
        "extensions/v1beta1 Ingress was removed in Kubernetes 1.22 (no destination version given: "
        f"judged against Kubernetes {newest}, the newest this tool knows)"
    )
    assert tuple(int(n) for n in newest.split(".")) >= (1, 37)


REFERENCES = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: refs, namespace: shop}
spec:
  selector: {matchLabels: {app: refs}}
  template:
    metadata: {labels: {app: refs}}
    spec:
      serviceAccountName: robot
      imagePullSecrets: [{name: registry}]
      volumes:
        - {name: a, configMap: {name: settings}}
        - {name: b, secret: {secretName: tls}}
        - {name: c, persistentVolumeClaim: {claimName: data}}
        - name: d
          projected:
            sources: [{configMap: {name: extra}}, {secret: {name: extra-secret, optional: true}}]
      containers:
        - name: app
          image: nginx:1.27
          envFrom: [{configMapRef: {name: env}}, {secretRef: {name: here}}]
          env:
            - {name: A, valueFrom: {secretKeyRef: {name: password, key: p}}}
            - {name: B, valueFrom: {configMapKeyRef: {name: maybe, key: k, optional: true}}}
---
apiVersion: v1
kind: Secret
metadata: {name: here, namespace: shop}
"""


def test_references_to_objects_not_in_the_application_are_warnings():
    found = {
        (f"{f.finding.line}:{f.finding.column}", f.finding.field, f.finding.message.split(" is not")[0])
        for f in checks.run(render_files([("k8s/refs.yaml", REFERENCES.encode())]), {})
        if f.check.id == "XREF004"
        and f.mode == "warn"
        and f.finding.message.endswith(" is not in this application (it may exist in the cluster)")
    }
    pod = "spec.template.spec."
    assert found == {  # the Secret 'here' is in the app; optional references are left out
        ("9:7", pod + "serviceAccountName", "ServiceAccount 'robot'"),
        ("10:27", pod + "imagePullSecrets[0].name", "Secret 'registry'"),
        ("12:33", pod + "volumes[0].configMap.name", "ConfigMap 'settings'"),
        ("13:30", pod + "volumes[1].secret.secretName", "Secret 'tls'"),
        ("14:45", pod + "volumes[2].persistentVolumeClaim.claimName", "PersistentVolumeClaim 'data'"),
        ("17:36", pod + "volumes[3].projected.sources[0].configMap.name", "ConfigMap 'extra'"),
        ("21:37", pod + "containers[0].envFrom[0].configMapRef.name", "ConfigMap 'env'"),
        ("23:52", pod + "containers[0].env[0].valueFrom.secretKeyRef.name", "Secret 'password'"),
    }


def test_ingress_backends_in_the_v1beta1_shape_and_by_port_name():
    text = (
        SAFE
        + """\
---
apiVersion: v1
kind: Service
metadata: {name: safe, namespace: shop}
spec:
  selector: {app: safe}
  ports: [{name: http, port: 80}]
---
apiVersion: networking.k8s.io/v1beta1
kind: Ingress
metadata: {name: old, namespace: shop}
spec:
  backend: {serviceName: safe, servicePort: http}
  rules:
    - http:
        paths:
          - {path: /, backend: {serviceName: safe, servicePort: 8080}}
          - {path: /x, backend: {serviceName: gone, servicePort: 80}}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: new, namespace: shop}
spec:
  defaultBackend: {service: {name: safe, port: {name: https}}}
"""
    )
    found = {
        (f.check.id, f"{f.finding.line}:{f.finding.column}", f.finding.message)
        for f in checks.run(render_files([("k8s/web.yaml", text.encode())]), {})
        if f.check.id == "XREF003"
    }
    assert found == {
        ("XREF003", "38:33", "Service 'safe' has no port 8080"),  # serviceName/servicePort (v1beta1)
        ("XREF003", "39:34", "Service 'gone' is not in this application"),
        ("XREF003", "45:20", "Service 'safe' has no port 'https'"),  # v1 defaultBackend, port by name
    }


@pytest.mark.parametrize(
    "api,kind,version,expected",
    [
        ("flowcontrol.apiserver.k8s.io/v1beta3", "FlowSchema", "1.32", "API001"),
        ("flowcontrol.apiserver.k8s.io/v1beta3", "FlowSchema", "1.29", "API002"),
        ("storage.k8s.io/v1beta1", "CSIStorageCapacity", "1.27", "API001"),
        ("events.k8s.io/v1beta1", "Event", "1.25", "API001"),
        ("node.k8s.io/v1beta1", "RuntimeClass", "1.20", "API002"),
        ("certificates.k8s.io/v1beta1", "CertificateSigningRequest", "1.22", "API001"),
        ("scheduling.k8s.io/v1beta1", "PriorityClass", "1.21", "API002"),
        ("networking.k8s.io/v1", "IngressClass", "1.18", "API001"),  # not served yet
        ("apps/v1", "Deployment", "1.16", None),
    ],
)
def test_the_api_table_covers_removals_from_1_16_to_1_32(api, kind, version, expected):
    text = f"apiVersion: {api}\nkind: {kind}\nmetadata: {{name: x}}\n"
    found = [
        f.check.id
        for f in checks.run(render_files([("a.yaml", text.encode())]), {}, kube_version=version)
        if f.check.id.startswith("API")
    ]
    assert found == ([expected] if expected else [])


def test_every_check_has_a_unique_stable_id_and_a_severity():
    assert set(checks.BY_ID) == {
        "SEC001",
        "SEC002",
        "SEC003",
        "SEC004",
        "SEC005",
        "SEC006",
        "SEC007",
        "RES001",
        "IMG001",
        "NET001",
        "XREF001",
        "XREF002",
        "XREF003",
        "XREF004",
        "API001",
        "API002",
        "SCH001",
        "SCH002",
    }
    assert all(
        c.severity in ("error", "warning") and c.default in ("enforce", "warn") for c in checks.BY_ID.values()
    )


@pytest.mark.parametrize(
    "old,new,check_id",
    [
        ("            allowPrivilegeEscalation: false\n", "", "SEC002"),  # unset
        ("            runAsNonRoot: true\n", "", "SEC003"),
        ("            readOnlyRootFilesystem: true\n", "", "SEC004"),
        ("limits: {cpu: 100m, memory: 64Mi}", "limits: {cpu: 100m}", "RES001"),
    ],
)
def test_each_unset_hardening_field_is_named(old, new, check_id):
    found = {
        (f.check.id, f.finding.field, f.finding.line)
        for f in checks.run(render_files([("a.yaml", SAFE.replace(old, new).encode())]), {})
    }
    assert found == {(check_id, "spec.template.spec.containers[0]", 10)}


@pytest.mark.parametrize("field", ["hostPID", "hostIPC"])
def test_host_pid_and_ipc(field):
    text = POD.replace("hostNetwork: true", f"{field}: true")
    assert ("SEC005", "k8s/web.yaml:11:7", "enforce") in findings(text)


def test_run_as_non_root_false_at_pod_level():
    text = SAFE.replace("            runAsNonRoot: true\n", "").replace(
        "    spec:\n      containers:",
        "    spec:\n      securityContext: {runAsNonRoot: false}\n      containers:",
    )
    found = [
        f.finding.message
        for f in checks.run(render_files([("a.yaml", text.encode())]), {})
        if f.check.id == "SEC003"
    ]
    assert found == ["container app: runAsNonRoot is false"]


def test_a_secret_in_plain_text_is_warned_by_key_names_never_values():
    text = (
        "apiVersion: v1\nkind: Secret\nmetadata: {name: db}\n"
        "data:\n  password: aHVudGVyMg==\nstringData:\n  token: s3cr3t-value\n"
    )
    found = [
        f
        for f in checks.run(render_files([("k8s/secret.yaml", text.encode())]), {})
        if f.check.id == "SEC007"
    ]
    assert [(f.finding.file, f.finding.line, f.finding.column, f.finding.field) for f in found] == [
        ("k8s/secret.yaml", 4, 1, "data"),
        ("k8s/secret.yaml", 6, 1, "stringData"),
    ]
    assert "password" in found[0].finding.message and not checks.blocking(found)
    assert not any("aHVudGVyMg" in str(f) or "s3cr3t" in str(f) for f in found)


def _template(name, labels, namespace="shop", kind="Deployment"):
    meta = f"metadata: {{name: {name}, namespace: {namespace}"
    if kind == "Pod":
        return f"apiVersion: v1\nkind: Pod\n{meta}, labels: {labels}}}\n"
    template = f"spec:\n  template:\n    metadata: {{labels: {labels}}}\n"
    return f"apiVersion: apps/v1\nkind: Deployment\n{meta}}}\n{template}"


def _service(name, selector, namespace="shop"):
    spec = f"spec: {{selector: {selector}}}" if selector is not None else "spec: {}"
    return f"apiVersion: v1\nkind: Service\nmetadata: {{name: {name}, namespace: {namespace}}}\n{spec}\n"


SHOP = [_template("a", "{app: shop, tier: web}"), _template("b", "{app: shop, tier: db, zone: x}")]


@pytest.mark.parametrize(
    "docs,selects_nothing",
    [
        # several labels, all on one template (the first one, `app: shop`, is on every template)
        ([*SHOP, _service("s", "{app: shop, tier: db}")], []),
        ([*SHOP, _service("s", "{tier: db, zone: x, app: shop}")], []),
        # each pair is on some template, but no template carries all of them
        ([*SHOP, _service("s", "{tier: web, zone: x}")], ["s"]),
        ([*SHOP, _service("s", "{app: shop, tier: cache}")], ["s"]),
        ([*SHOP, _service("s", "{app: nobody}")], ["s"]),  # matching nothing at all
        ([*SHOP, _service("s", "{}")], []),  # an empty selector selects by hand (Endpoints)
        ([*SHOP, _service("s", None)], []),  # no selector
        ([*SHOP, _service("s", "{app: shop}", namespace="other")], ["s"]),  # another namespace
        ([_template("p", "{app: shop}", kind="Pod"), _service("s", "{app: shop}")], []),  # a Pod's own
        ([_template("a", "{v: '1'}"), _service("s", "{v: 1}")], ["s"]),  # the number 1 is not "1"
        ([_template("a", "{v: 1}"), _service("s", "{v: 1}")], []),
        ([_template("a", "{app: [shop]}"), _service("s", "{app: shop}")], ["s"]),  # no label: no crash
        ([*SHOP, _service("s", "{app: [shop]}")], ["s"]),
        ([_template("a", "{app: [shop]}"), _service("s", "{app: [shop]}")], []),  # equal, as before
        ([_service("s", "{app: nobody}")], []),  # no pod template in the app: nothing to select
        (  # in file order, several at once
            [
                *SHOP,
                _service("s1", "{app: shop, tier: cache}"),
                _service("s2", "{app: shop}"),
                _service("s3", "{zone: x, tier: web}"),
                _service("s4", "{zone: x, tier: db}"),
            ],
            ["s1", "s3"],
        ),
        (  # Services sharing a selector get the same answer (found once); 1 and "1" differ
            [
                *SHOP,
                _template("c", "{v: 1}"),
                _service("s1", "{tier: web, zone: x}"),
                _service("s2", "{zone: x, tier: web}"),
                _service("s3", "{v: 1}"),
                _service("s4", "{v: '1'}"),
                _service("s5", "{v: 1}", namespace="other"),
            ],
            ["s1", "s2", "s4", "s5"],
        ),
    ],
)
def test_a_service_selects_a_template_carrying_every_pair_of_its_selector(docs, selects_nothing):
    rendered = render_files([("k8s/app.yaml", "---\n".join(docs).encode())])
    found = [
        (f.object, f.finding.field, f.finding.message)
        for f in checks.run(rendered, {"SCH001": "off"})
        if f.check.id == "XREF001"
    ]
    services = {str(o["metadata"]["name"]): o for o in rendered.objects if o["kind"] == "Service"}
    assert found == [
        (
            f"Service/{services[name]['metadata']['namespace']}/{name}",
            "spec.selector",
            f"selector {services[name]['spec']['selector']} matches no pod template in this application",
        )
        for name in selects_nothing
    ]


def test_findings_over_several_files_keep_their_order_and_positions_and_no_yaml_is_kept():
    other = SAFE.replace("namespace: shop", "namespace: a-first").replace(
        "            runAsNonRoot: true\n", ""
    )
    files = [("k8s/a.yaml", POD.encode()), ("k8s/b.yaml", other.encode())]
    rendered = render_files(files)
    found = [
        (f.check.id, f"{f.finding.file}:{f.finding.line}:{f.finding.column}")
        for f in checks.run(rendered, {})
        if f.check.id in ("SEC001", "SEC003", "NET001")
    ]
    # in the order found: object by object, then the namespaces (a-first's policy is in b.yaml)
    assert found == [
        ("SEC001", "k8s/a.yaml:19:13"),
        ("SEC003", "k8s/a.yaml:16:11"),
        ("SEC003", "k8s/b.yaml:10:11"),
        ("NET001", "k8s/a.yaml:1:1"),
    ]
    # the files' composed nodes are let go once placed (a large render would hold them all)
    assert all(src.where is None or src.where.text._documents is None for src in rendered.sources)
