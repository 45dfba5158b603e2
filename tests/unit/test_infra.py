"""infra/ without a cloud: every .tf parses, every reference resolves, the topology agrees,
IAM is least-privilege, every Firestore query is covered by an index, cloudbuild is sound."""

from __future__ import annotations

import json
import re

import hcl2
import pytest
import yaml

from shared.adapters import store
from shared.core import topology
from tests.unit.terraform import INFRA, RESOURCES, ROOT, TF_FILES, TFVARS, VARIABLES, blocks, unquote

STORE = ROOT / "shared" / "adapters" / "store"  # the store adapter, a package of modules


def _store_code() -> str:
    return "\n".join(path.read_text() for path in sorted(STORE.glob("*.py")))


def _locals() -> set[str]:
    names = set()
    for path in TF_FILES:
        for block in hcl2.load(path.open()).get("locals", []):
            names |= {unquote(k) for k in block if not k.startswith("__")}
    return names


TEXT = "\n".join(p.read_text() for p in TF_FILES)
DATA = {(t, n) for t, n, _ in blocks("data")}


def test_every_tf_file_parses():
    assert len(TF_FILES) >= 8
    for path in TF_FILES:
        hcl2.load(path.open())


def test_every_reference_resolves():
    code = re.sub(r"#.*", "", TEXT)
    for kind, name in re.findall(r"(?<![\w.])data\.(\w+)\.(\w+)", code):
        assert (kind, name) in DATA, f"data.{kind}.{name} is not declared"
    for kind, name in re.findall(r"(?<![\w.\"/-])(google_\w+)\.(\w+)", code):
        assert (kind, name) in RESOURCES, f"{kind}.{name} is not declared"
    for name in re.findall(r"(?<![\w.])var\.(\w+)", code):
        assert name in VARIABLES, f"var.{name} is not declared"
    for name in re.findall(r"(?<![\w.])local\.(\w+)", code):
        assert name in _locals(), f"local.{name} is not declared"


def test_generated_variables_are_declared_and_agree_with_the_topology():
    assert set(TFVARS) <= VARIABLES
    assert json.loads(json.dumps(topology.terraform_vars())) == TFVARS
    for sub in TFVARS["subscriptions"].values():
        assert sub["topic"] in TFVARS["topics"]
        assert sub["dead_letter_topic"] in TFVARS["dead_letter_topics"]
        assert sub["function"] in TFVARS["functions"]
    assert TFVARS["sweep_topic"] in TFVARS["topics"]


def test_subscriptions_carry_ordering_retry_and_dead_letter_policies():
    (body,) = [b for t, n, b in blocks("resource") if (t, n) == ("google_pubsub_subscription", "push")]
    assert body["enable_message_ordering"] == "${each.value.ordering}"
    assert "dead_letter_policy" in body and "retry_policy" in body
    assert "oidc_token" in json.dumps(body["push_config"])


def test_no_broad_roles_and_each_function_has_its_own_account():
    roles = set(re.findall(r'role\s*=\s*"([^"]+)"', TEXT))
    assert not roles & {
        "roles/owner",
        "roles/editor",
        "roles/container.admin",
        "roles/iam.serviceAccountAdmin",
        "roles/pubsub.admin",
    }
    (body,) = [b for t, n, b in blocks("resource") if (t, n) == ("google_service_account", "functions")]
    assert body["for_each"] == "${var.functions}"
    fns = {n: b for t, n, b in blocks("resource") if t == "google_cloudfunctions2_function"}
    assert set(fns) == {"functions", "intake", "api"}  # apply and audit; intake and api (own ingress)
    assert "google_service_account.functions[each.key].email" in json.dumps(fns["functions"])
    assert 'google_service_account.functions[\\"intake\\"].email' in json.dumps(fns["intake"])


def test_only_the_audit_function_reads_audit_logs_and_only_admin_activity():
    """Drift attribution on GKE: roles/logging.viewer (Admin Activity, where every Kubernetes
    write is) to the audit function alone; never privateLogViewer (Data Access: reads)."""
    grants = [
        b for t, n, b in blocks("resource") if t == "google_project_iam_member" and "logging" in json.dumps(b)
    ]
    assert [(unquote(b["role"]), unquote(b["member"])) for b in grants] == [
        ("roles/logging.viewer", '${local.sa["audit"]}')
    ]
    assert "privateLogViewer" not in re.sub(r"#.*", "", TEXT)
    (fns,) = [
        b for t, n, b in blocks("resource") if (t, n) == ("google_cloudfunctions2_function", "functions")
    ]
    assert "cloud-logging" in json.dumps(fns)
    assert "gke = { project" in TEXT  # GITOPS_CLUSTERS names each cluster's project, location, name


def test_only_intake_accepts_traffic_from_outside():
    fns = {n: b for t, n, b in blocks("resource") if t == "google_cloudfunctions2_function"}
    ingress = {n: unquote(b["service_config"][0]["ingress_settings"]) for n, b in fns.items()}
    assert ingress == {"functions": "ALLOW_INTERNAL_ONLY", "intake": "ALLOW_ALL", "api": "ALLOW_ALL"}
    (render,) = [b for t, n, b in blocks("resource") if t == "google_cloud_run_v2_service"]
    assert unquote(render["ingress"]) == "INGRESS_TRAFFIC_INTERNAL_ONLY"


def test_publisher_grants_are_exactly_what_the_code_publishes():
    for name, (source, _, _) in topology.FUNCTIONS.items():
        code = (ROOT / source).read_text()
        if name == "api":  # a thin transport: what people ask for is published by the operations
            code += "".join(p.read_text() for p in (ROOT / "shared/steps/operations").glob("*.py"))
        calls = re.findall(r"bus\.publish(?:_events)?\(topology\.([A-Z]+)\b", code)
        used = {getattr(topology, attr) for attr in calls}
        assert used == set(topology.PUBLISHES[name]), f"{name} publishes to {used}"
    assert TFVARS["function_publishes"] == {k: list(v) for k, v in topology.PUBLISHES.items()}


def test_only_intake_and_the_api_are_public():
    # the API: a browser's cookie-only request cannot pass Cloud Run IAM; the function's own
    # token check (every request) is the gate
    public = re.findall(r'resource "google_cloud_run_service_iam_member" "(\w+)" \{[^}]*allUsers', TEXT)
    assert sorted(public) == ["api_public", "intake_public"]


def test_the_api_accepts_its_own_url_and_explicit_audiences_only():
    (fn,) = [b for t, n, b in blocks("resource") if (t, n) == ("google_cloudfunctions2_function", "api")]
    assert "GITOPS_API_AUDIENCE" in json.dumps(fn["service_config"])
    (audiences,) = [b for t, _, b in blocks("variable") if t == "api_audiences"]
    assert audiences["default"] == []  # never gcloud's public client id by default
    assert "32555940559" in json.dumps(audiences["validation"])  # nor configured


def test_every_firestore_query_in_the_code_is_registered():
    code = _store_code()
    calls = len(re.findall(r"\.where\(|\.order_by\(", code))
    assert calls == sum(len(eq) + len(order) for _, eq, order in store.QUERIES)
    # and no other module queries Firestore
    for path in (ROOT / "shared").rglob("*.py"):
        if STORE not in path.parents:
            text = path.read_text()
            assert ".where(" not in text and "google.cloud import firestore" not in text, path


def _composite_indexes() -> set[tuple[str, tuple[str, ...]]]:
    out = set()
    for t, _, body in blocks("resource"):
        if t == "google_firestore_index":
            fields = tuple(unquote(f["field_path"]) for f in body["fields"])
            out.add((unquote(body["collection"]), fields))
    return out


@pytest.mark.parametrize("query", store.QUERIES, ids=lambda q: q[0])
def test_every_query_has_an_index(query):
    collection, equality, order = query
    fields = tuple(equality) + tuple(f for f in order if f not in equality)
    if len(fields) <= 1:
        return  # served by Firestore's automatic single-field index
    assert (collection, fields) in _composite_indexes(), f"declare a composite index for {query}"


def test_delivery_and_render_records_have_a_ttl_policy():
    bodies = [b for t, n, b in blocks("resource") if t == "google_firestore_field" and "ttl_config" in b]
    assert sorted((unquote(b["collection"]), unquote(b["field"])) for b in bodies) == [
        ("renders", "expireAt"),
        ("webhookDeliveries", "expireAt"),
    ]
    assert '"expireAt"' in _store_code()
    assert '"expireAt"' in (ROOT / "shared" / "render" / "cache.py").read_text()


def test_the_parts_json_is_not_indexed():
    """The parts documents' one big field (store/parts.py write_parts) is exempt from indexing."""
    bodies = [b for t, n, b in blocks("resource") if t == "google_firestore_field" and "ttl_config" not in b]
    assert [unquote(b["field"]) for b in bodies] == ["entries"] and "index_config" in bodies[0]
    code = _store_code()
    assert all(f'"{c}"' in code for c in ("inventory", "results", "parts"))
    assert '"entries": text' in code


def test_scheduler_publishes_a_valid_sweep_message():
    from shared.core import messages

    match = re.search(r"jsonencode\((\{[^)]*\})\)", (INFRA / "scheduler.tf").read_text())
    hcl_obj = match.group(1)
    as_json = re.sub(r"(\w+)\s*=", r'"\1":', hcl_obj).replace("[]", "[]")
    msg = messages.decode(json.dumps(json.loads(as_json)).encode(), messages.SweepRequest)
    assert msg == messages.SweepRequest()


def test_cloudbuild_steps_reference_what_exists():
    build = yaml.safe_load((ROOT / "cloudbuild.yaml").read_text())
    text = json.dumps(build)
    for path in re.findall(r"(?:bash |-chdir=)([\w./-]+)", text):
        assert (ROOT / path).exists(), path
    ids = [s["id"] for s in build["steps"]]
    assert ids.index("test") < ids.index("deploy")
    deploy = next(s for s in build["steps"] if s["id"] == "deploy")
    assert "test" in deploy["waitFor"]


def test_requirements_install_the_project_for_the_buildpack():
    lines = [
        ln.strip()
        for ln in (ROOT / "requirements.txt").read_text().splitlines()
        if ln.strip() and not ln.startswith("#")
    ]
    assert lines == ["."]


def test_cloudbuild_keeps_the_destinations_and_applies_only_a_checked_plan():
    build = yaml.safe_load((ROOT / "cloudbuild.yaml").read_text())
    steps = {s["id"]: s for s in build["steps"]}
    script = {name: " ".join(s["args"]) for name, s in steps.items()}
    assert (
        "gs://${_TF_STATE_BUCKET}/gitops/clusters.tfvars.json build/clusters.tfvars.json"
        in script["clusters"]
    )
    for name in ("registry", "plan"):  # every Terraform run that needs var.clusters gets the operator's
        assert "-var-file=/workspace/build/clusters.tfvars.json" in script[name], name
        assert "clusters" in steps[name]["waitFor"]
    assert "plan -input=false -out=/workspace/build/tfplan" in script["plan"]
    assert "show -json /workspace/build/tfplan > build/plan.json" in script["plan"]
    assert steps["plan-check"]["args"] == ["-m", "infra.plancheck", "build/plan.json"]
    assert script["deploy"].endswith("apply -input=false /workspace/build/tfplan")  # that plan, nothing else
    assert "plan-check" in steps["deploy"]["waitFor"] and "-auto-approve" not in script["deploy"]
    assert "-var=clusters" not in json.dumps(build)
    (clusters,) = [b for n, _, b in blocks("variable") if n == "clusters"]
    assert "default" not in clusters and "length(var.clusters) > 0" in json.dumps(clusters)
