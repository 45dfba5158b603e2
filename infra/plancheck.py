"""Refuse a Terraform plan that would take the deployment down: one that destroys (or replaces) a
function, the render service or the Firestore database, or leaves the functions no destinations.

    terraform -chdir=infra plan -out=/abs/tfplan ...
    terraform -chdir=infra show -json /abs/tfplan > plan.json
    python -m infra.plancheck plan.json     # exit 1 with the reasons; 0: the plan may be applied

Cloud Build's deploy applies only a plan this passed (cloudbuild.yaml). An operator who means to
remove one of these runs Terraform by hand. Standard library only: it runs in python:3.11-slim.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from typing import Any

# resource type -> what destroying it loses
PROTECTED = {
    "google_cloudfunctions2_function": "function",
    "google_cloud_run_v2_service": "service",
    "google_cloud_run_service": "service",
    "google_firestore_database": "database (every application's state and history)",
}


def refusals(plan: dict[str, Any]) -> list[str]:
    """Why this plan (`terraform show -json` of a saved plan) must not be applied; [] if it may."""
    out = []
    for change in plan.get("resource_changes", []):
        actions = change["change"]["actions"]
        if change.get("mode", "managed") == "managed" and change["type"] in PROTECTED and "delete" in actions:
            verb = "replace" if "create" in actions else "destroy"
            out.append(f"{change['address']}: the plan would {verb} this {PROTECTED[change['type']]}")
    clusters = (plan.get("variables") or {}).get("clusters", {}).get("value")
    if not clusters:
        out.append("var.clusters is empty: every apply and audit would fail (pass the clusters tfvars file)")
    for address, destinations in planned_destinations(plan):
        if not destinations:
            out.append(f"{address}: GITOPS_CLUSTERS would be empty")
    return out


def planned_destinations(plan: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(address, GITOPS_CLUSTERS) of each function and service the plan creates or updates, where
    the value is known at plan time (it is not while a cluster's data source is still unread)."""
    for change in plan.get("resource_changes", []):
        actions = change["change"]["actions"]
        after = change["change"].get("after") or {}
        if change["type"] not in PROTECTED or not {"create", "update"} & set(actions):
            continue
        value = _env(change["type"], after).get("GITOPS_CLUSTERS")
        if isinstance(value, str):
            yield change["address"], json.loads(value)


def _env(kind: str, after: dict[str, Any]) -> dict[str, Any]:
    if kind == "google_cloudfunctions2_function":
        config = (after.get("service_config") or [{}])[0]
        return config.get("environment_variables") or {}
    if kind == "google_cloud_run_v2_service":
        template = (after.get("template") or [{}])[0]
        containers = template.get("containers") or [{}]
        return {e["name"]: e.get("value") for e in containers[0].get("env") or [] if "name" in e}
    return {}


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(
            "usage: python -m infra.plancheck PLAN.json  (terraform show -json of a saved plan)",
            file=sys.stderr,
        )
        return 2
    with open(argv[0]) as f:
        plan = json.load(f)
    reasons = refusals(plan)
    for reason in reasons:
        print(f"plancheck: refused: {reason}", file=sys.stderr)
    if not reasons:
        changes = [c for c in plan.get("resource_changes", []) if c["change"]["actions"] != ["no-op"]]
        print(f"plancheck: {len(changes)} changes, none destroys a function, service or the database")
    return 1 if reasons else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
