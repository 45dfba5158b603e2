"""Schema validation (SCH001/SCH002): one test per finding kind, each with its exact
file:line:col, field path and check id."""

import pytest

from shared.gate import checks, schema
from shared.render.parse import render_files

DEPLOY = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
        - name: app
          image: nginx:1.27
          imagePullPolicy: IfNotPresent
          ports:
            - containerPort: 80
"""


def schema_findings(text, version="1.25", file="k8s/web.yaml", **modes):
    rendered = render_files([(file, text.encode())])
    assert rendered.errors == []
    return [
        (
            f.check.id,
            f"{f.finding.file}:{f.finding.line}:{f.finding.column}",
            f.finding.field,
            f.finding.message,
            f.mode,
        )
        for f in checks.run(rendered, modes, kube_version=version)
        if f.check.id.startswith("SCH")
    ]


def test_a_valid_deployment_has_no_schema_findings():
    assert schema_findings(DEPLOY) == []


@pytest.mark.parametrize(
    "old,new,where,field,message",
    [
        # a misspelt field, with the closest known name
        (
            "imagePullPolicy: IfNotPresent",
            "imagePullPolicyy: IfNotPresent",
            "k8s/web.yaml:16:11",
            "spec.template.spec.containers[0].imagePullPolicyy",
            "unknown field (did you mean 'imagePullPolicy'?)",
        ),
        # a wrong type
        (
            "imagePullPolicy: IfNotPresent",
            "imagePullPolicy: 3",
            "k8s/web.yaml:16:11",
            "spec.template.spec.containers[0].imagePullPolicy",
            "expected string, got integer 3",
        ),
        (
            "containerPort: 80",
            "containerPort: '80'",
            "k8s/web.yaml:18:15",
            "spec.template.spec.containers[0].ports[0].containerPort",
            "expected integer, got string '80'",
        ),
        (
            "replicas: 2",
            "replicas: two",
            "k8s/web.yaml:6:3",
            "spec.replicas",
            "expected integer, got string 'two'",
        ),
        # a required field missing: named at its parent
        (
            "        - name: app\n          image",
            "        - image",
            "k8s/web.yaml:14:11",
            "spec.template.spec.containers[0].name",
            "required field is missing",
        ),
        # a mapping where a list belongs
        (
            "          ports:\n            - containerPort: 80\n",
            "          ports: {containerPort: 80}\n",
            "k8s/web.yaml:17:11",
            "spec.template.spec.containers[0].ports",
            "expected array, got object",
        ),
    ],
)
def test_schema_errors_name_the_field_path_and_position(old, new, where, field, message):
    found = schema_findings(DEPLOY.replace(old, new))
    assert len(found) == 1
    check_id, at, path, text, mode = found[0]
    assert (check_id, at, path, mode) == ("SCH001", where, field, "enforce")
    assert text.startswith(message)


def test_int_or_string_and_quantities_accept_both():
    text = DEPLOY.replace(
        "          ports:", "          resources: {limits: {cpu: 1, memory: 64Mi}}\n          ports:"
    )
    text += (
        "---\napiVersion: v1\nkind: Service\nmetadata: {name: web}\n"
        "spec: {ports: [{port: 80, targetPort: http}, {port: 81, targetPort: 8081}]}\n"
    )
    assert schema_findings(text) == []


def test_metadata_is_checked_too():
    text = DEPLOY.replace("  name: web\n", "  name: web\n  labels: {tier: 1}\n  annotation: {a: b}\n", 1)
    assert [(f[1], f[2], f[3]) for f in schema_findings(text)] == [
        ("k8s/web.yaml:5:12", "metadata.labels.tier", "expected string, got integer 1"),
        ("k8s/web.yaml:6:3", "metadata.annotation", "unknown field (did you mean 'annotations'?)"),
    ]


def test_the_nearest_bundled_version_is_used_and_said():
    assert schema.choose("1.30") == ("1.30", True)
    assert schema.choose("1.20") == ("1.25", False)  # older than any bundled: the oldest
    assert schema.choose("v1.99.3") == ("1.37", False)
    assert schema.choose("") == ("1.37", False)
    found = schema_findings(DEPLOY.replace("replicas: 2", "replicas: two"), version="1.20")
    assert "(Kubernetes 1.25 schema; the destination's 1.20 is not bundled)" in found[0][3]


def test_unknown_kinds_are_a_warning_not_validated():
    cr = "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\nspec: {size: 3}\n"
    found = schema_findings(cr)
    assert [(f[0], f[1], f[2], f[4]) for f in found] == [("SCH002", "k8s/web.yaml:1:1", "apiVersion", "warn")]
    assert "unknown kind Widget (example.com/v1)" in found[0][3]
    removed = "apiVersion: policy/v1beta1\nkind: PodDisruptionBudget\nmetadata: {name: p}\nspec: {}\n"
    found = schema_findings(removed, "1.30")
    assert [f[0] for f in found] == ["SCH002"]
    assert "is not in the Kubernetes 1.30 schema" in found[0][3]


CRD = """\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.com}
spec:
  group: example.com
  names: {kind: Widget, plural: widgets, singular: widget, listKind: WidgetList}
  scope: Namespaced
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          properties:
            spec:
              type: object
              required: [size]
              properties:
                size: {type: integer, minimum: 1}
                port: {x-kubernetes-int-or-string: true}
                mode: {type: string, enum: [fast, slow]}
                extra: {type: object, x-kubernetes-preserve-unknown-fields: true}
---
"""


def test_custom_resources_are_validated_against_crds_in_the_same_render():
    good = CRD + (
        "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\n"
        "spec: {size: 3, port: http, mode: fast, extra: {anything: [1]}}\n"
    )
    assert schema_findings(good) == []
    bad = CRD + (
        "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\nspec:\n"
        "  size: 0\n  port: [1]\n  mode: medium\n  colour: red\n"
    )
    found = {(f[1], f[2]): f[3] for f in schema_findings(bad)}
    assert found == {
        ("k8s/web.yaml:29:3", "spec.size"): "minimum is 1, got 0",
        ("k8s/web.yaml:30:3", "spec.port"): "expected integer or string, got array [1]",
        ("k8s/web.yaml:31:3", "spec.mode"): "'medium' is not one of 'fast', 'slow'",
        ("k8s/web.yaml:32:3", "spec.colour"): "unknown field",
    }
    missing = CRD + "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\nspec: {}\n"
    assert [(f[1], f[2], f[3]) for f in schema_findings(missing)] == [
        ("k8s/web.yaml:28:1", "spec.size", "required field is missing")
    ]


def test_schema_modes_and_opt_out():
    bad = DEPLOY.replace("replicas: 2", "replicas: two")
    assert [f[4] for f in schema_findings(bad, SCH001="warn")] == ["warn"]
    assert schema_findings(bad, SCH001="off") == []
    allowed = bad.replace(
        "  name: web\n",
        "  name: web\n  annotations:\n    gitops.dev/allow-SCH001: templated by a later step\n",
        1,
    )
    assert schema_findings(allowed) == []
    assert schema_findings(allowed.replace("templated by a later step", "''")) != []  # a reason is required


@pytest.mark.parametrize(
    ("annotation", "app_options", "validated"),
    [
        ("", (), True),
        ("argocd.argoproj.io/sync-options: Validate=false", (), False),  # Argo CD's annotation
        ("gitops.dev/sync-options: Prune=false, Validate=false", (), False),  # ours, with others
        ("", ("Validate=false",), False),  # the whole application
        ("argocd.argoproj.io/sync-options: Validate=true", ("Validate=false",), True),  # the object wins
    ],
)
def test_validate_false_skips_the_schema_checks(annotation, app_options, validated):
    """Argo CD's Validate=false sync option, as `kubectl apply --validate=false`: the schema
    checks skip the object (a partial object patched with server-side apply, a RawExtension)."""
    bad = DEPLOY.replace("replicas: 2", "replicas: two")
    if annotation:
        bad = bad.replace("  name: web\n", f"  name: web\n  annotations:\n    {annotation}\n", 1)
    rendered = render_files([("k8s/web.yaml", bad.encode())])
    found = [f for f in checks.run(rendered, {}, sync_options=app_options) if f.check.id.startswith("SCH")]
    assert bool(found) is validated


def test_an_object_has_at_most_max_problems_findings_the_first_ones():
    fields = "".join(f"field{i}: x\n" for i in range(schema.MAX_PROBLEMS + 5))
    text = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n" + fields + "data: [1]\n"
    found = schema_findings(text)
    assert [(f[1], f[2], f[3]) for f in found] == [
        (f"k8s/web.yaml:{i + 4}:1", f"field{i}", "unknown field") for i in range(schema.MAX_PROBLEMS)
    ]
