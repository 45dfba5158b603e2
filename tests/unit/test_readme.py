"""The README's commands stay true: the two first-line commands, and every deploy command's
files, Terraform names and CLI flags exist."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from shared.cli import app, main, project
from tests.unit.terraform import INFRA, VARIABLES, blocks

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()
BLOCKS = re.findall(r"```\n(.*?)```", README, re.S)


def test_first_block_is_exactly_the_demo_and_test_commands():
    lines = BLOCKS[0].strip().splitlines()
    assert lines == [
        "bash stack/setup.sh && .venv/bin/python -m stack.demo",
        "bash stack/setup.sh && bash .ci/fast"
        " && .venv/bin/python -m pytest tests/integration tests/reliability",
    ]
    assert (ROOT / "stack" / "setup.sh").exists() and (ROOT / "stack" / "demo.py").exists()
    assert "sed -n 2p" in (ROOT / ".ci" / "run").read_text()
    assert (ROOT / ".ci" / "fast").exists()


def deploy_commands() -> list[list[str]]:
    section = README.split("## Deploy to Google Cloud", 1)[1]
    commands = []
    for block in re.findall(r"```\n(.*?)```", section, re.S):
        for line in block.strip().splitlines():
            for part in line.split("|"):
                commands.append(shlex.split(part))
    return commands


def test_deploy_commands_refer_to_what_exists():
    secrets = {
        b["secret_id"].strip('"') for t, _, b in blocks("resource") if t == "google_secret_manager_secret"
    }
    outputs = {n for n, _, _ in blocks("output")}
    resources = {f"{t}.{n}" for t, n, _ in blocks("resource")}
    seen = set()
    for argv in deploy_commands():
        env = [a for a in argv if re.match(r"^[A-Z_]+=", a)]
        argv = argv[len(env) :]
        if not argv:  # a variable set for the commands below
            continue
        if argv[0] == "export":
            assert {a.split("=")[0] for a in argv[1:]} == {"PROJECT_ID", "BUCKET"}
        elif argv[0] == "terraform":
            assert argv[1] == "-chdir=infra" and INFRA.is_dir()
            for arg in argv:
                if arg.startswith("-var="):
                    assert arg[5:].split("=")[0] in VARIABLES, arg
                if arg.startswith("-target="):
                    assert arg[8:] in resources, arg
                if argv[2] in ("plan", "apply") and not arg.startswith("$PWD/build/tfplan"):
                    assert not arg.startswith("-var=clusters"), "clusters come from the operator's file"
            if argv[2] == "plan" or (argv[2] == "apply" and "$PWD/build/tfplan" not in argv):
                assert "-var-file=$PWD/clusters.tfvars.json" in argv, argv
            if argv[2] == "output":
                assert argv[3] in outputs
            seen.add(f"terraform {argv[2]}")
        elif argv[:3] == ["gcloud", "secrets", "versions"]:
            assert argv[4] in secrets
            seen.add("secret")
        elif argv[0] == "sed":
            assert (ROOT / argv[-1]).exists()
            seen.add("rbac")
        elif argv[:2] == ["python", "-m"]:
            assert (ROOT / (argv[2].replace(".", "/") + ".py")).exists(), argv
            seen.add("python")
        elif argv[:2] == ["docker", "build"]:
            assert (ROOT / argv[argv.index("-f") + 1]).exists()
            seen.add("image")
        elif argv[0] == "gitops":
            assert main.parser().parse_args(argv[1:]).func in (app.app_create, project.project_rbac)
            seen.add("gitops")
    assert seen >= {"terraform init", "terraform apply", "terraform output", "secret", "rbac", "gitops"}
    assert seen >= {"python", "image"}  # the render image is built before the apply that needs it
    assert seen >= {"terraform plan", "terraform show"}  # the last apply applies a checked plan
    assert "python -m infra.plancheck build/plan.json" in README
