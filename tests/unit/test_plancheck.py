"""infra/plancheck.py on plans shaped like `terraform show -json` of a saved plan: what it lets
Cloud Build apply and what it refuses."""

from __future__ import annotations

import json

import pytest

from infra import plancheck

CLUSTERS = {"in-cluster": {"name": "prod", "location": "europe-west1", "project": None, "endpoint": "public"}}
ENV = json.dumps({"in-cluster": {"endpoint": "https://34.1.2.3", "caCertificate": "LS0t"}})


def function(address: str, actions: list[str], env: str | None = ENV) -> dict:
    kind, name = address.split(".", 1)
    after = {"name": "gitops-apply", "service_config": [{"environment_variables": {"GITOPS_CLUSTERS": env}}]}
    return {
        "address": address,
        "mode": "managed",
        "type": kind,
        "name": name.split("[")[0],
        "change": {"actions": actions, "before": None, "after": None if actions == ["delete"] else after},
    }


def render(actions: list[str], env: str | None = ENV) -> dict:
    after = {"template": [{"containers": [{"env": [{"name": "GITOPS_CLUSTERS", "value": env}]}]}]}
    return {
        "address": "google_cloud_run_v2_service.render",
        "mode": "managed",
        "type": "google_cloud_run_v2_service",
        "name": "render",
        "change": {"actions": actions, "after": after},
    }


def other(address: str, actions: list[str], mode: str = "managed") -> dict:
    kind, name = address.split(".", 1)
    return {"address": address, "mode": mode, "type": kind, "name": name, "change": {"actions": actions}}


def plan(*changes: dict, clusters: dict | None = CLUSTERS) -> dict:
    variables = {"project_id": {"value": "p"}}
    if clusters is not None:
        variables["clusters"] = {"value": clusters}
    return {"format_version": "1.2", "variables": variables, "resource_changes": list(changes)}


APPLY = 'google_cloudfunctions2_function.functions["apply"]'
AUDIT = 'google_cloudfunctions2_function.functions["audit"]'
INTAKE = "google_cloudfunctions2_function.intake"

CASES = [
    # (id, plan, refusals (substrings, in order))
    ("nothing to do", plan(function(APPLY, ["no-op"])), []),
    ("first deploy creates everything", plan(function(INTAKE, ["create"]), render(["create"])), []),
    ("a new source updates functions in place", plan(function(AUDIT, ["update"])), []),
    (
        "a topic or an IAM member may go",
        plan(
            other("google_pubsub_topic.topics", ["delete"]),
            other("google_project_iam_member.x", ["delete", "create"]),
        ),
        [],
    ),
    (
        "reading a cluster's data source is no change",
        plan(other("google_container_cluster.destinations", ["read"], mode="data")),
        [],
    ),
    ("destinations unknown until the clusters are read", plan(function(APPLY, ["update"], env=None)), []),
    (
        "a function destroyed",
        plan(function(APPLY, ["delete"])),
        ['functions["apply"]: the plan would destroy this function'],
    ),
    (
        "a function replaced",
        plan(function(INTAKE, ["delete", "create"])),
        ["intake: the plan would replace this function"],
    ),
    (
        "a function replaced create-before-destroy",
        plan(function(INTAKE, ["create", "delete"])),
        ["would replace this function"],
    ),
    (
        "the render service destroyed",
        plan(render(["delete"])),
        ["render: the plan would destroy this service"],
    ),
    (
        "the database replaced",
        plan(other("google_firestore_database.default", ["delete", "create"])),
        ["would replace this database"],
    ),
    ("no clusters variable", plan(render(["update"]), clusters=None), ["var.clusters is empty"]),
    ("clusters emptied", plan(render(["update"]), clusters={}), ["var.clusters is empty"]),
    (
        "a function left without destinations",
        plan(function(AUDIT, ["update"], env="{}")),
        ['functions["audit"]: GITOPS_CLUSTERS would be empty'],
    ),
    (
        "render left without destinations",
        plan(render(["update"], env="{}")),
        ["render: GITOPS_CLUSTERS would be empty"],
    ),
    (
        "every reason at once",
        plan(function(INTAKE, ["delete"]), render(["update"], env="{}"), clusters={}),
        ["intake: the plan would destroy", "var.clusters is empty", "render: GITOPS_CLUSTERS"],
    ),
]


@pytest.mark.parametrize(("the_plan", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_refusals(the_plan, expected):
    got = plancheck.refusals(the_plan)
    assert len(got) == len(expected), got
    for reason, part in zip(got, expected, strict=True):
        assert part in reason


def test_main_exits_non_zero_and_says_why(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(plan(render(["delete"]))))
    assert plancheck.main([str(bad)]) == 1
    assert "refused: google_cloud_run_v2_service.render" in capsys.readouterr().err
    good = tmp_path / "good.json"
    good.write_text(json.dumps(plan(render(["update"]))))
    assert plancheck.main([str(good)]) == 0
    assert "1 changes" in capsys.readouterr().out
    assert plancheck.main([]) == 2


def test_every_protected_type_is_one_infra_declares():
    from tests.unit.terraform import RESOURCES

    declared = {kind for kind, _ in RESOURCES}
    assert set(plancheck.PROTECTED) - declared == {"google_cloud_run_service"}  # v1, should render move back
