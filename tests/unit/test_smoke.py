"""infra/smoke.sh cannot run here (it deploys to a real project), so its commands are checked as
written: the shell parses it, every gitops command parses with the CLI's own parser, and every
Terraform variable, target, output, module and file it names exists."""

from __future__ import annotations

import re
import shlex
import subprocess
from pathlib import Path

from shared.cli import main
from tests.unit.terraform import VARIABLES, blocks

ROOT = Path(__file__).resolve().parents[2]
SMOKE = ROOT / "infra" / "smoke.sh"
LINES = [ln.strip() for ln in SMOKE.read_text().splitlines() if ln.strip() and not ln.strip().startswith("#")]


def commands(tool: str) -> list[list[str]]:
    """Each invocation of `tool`, at the start of a line, after && / || or inside $( )."""
    found = []
    for line in LINES:
        for match in re.finditer(rf"(?:^|\$\(|[{{]|&&|\|\|)\s*{tool}\s+([^)|;&]*)", line):
            if not line.startswith(f"{tool}()"):
                found.append(shlex.split(match.group(1)))
    return found


def test_the_script_parses():
    subprocess.run(["bash", "-n", str(SMOKE)], check=True)
    assert SMOKE.stat().st_mode & 0o111, "infra/smoke.sh is executable"


def test_every_gitops_command_parses_with_the_cli():
    seen = set()
    for argv in commands("gitops"):
        args = main.parser().parse_args(argv)  # an unknown flag or command exits here
        seen.add(f"{args.group} {getattr(args, 'command', '')}".strip())
        if args.output != "table":
            assert args.output == "json"
    assert seen >= {
        "app create",
        "webhook send",
        "app history",
        "app wait",
        "sweep",
        "app diff",
        "app rollback",
        "app get",
        "app delete",
    }


def test_every_terraform_command_names_what_infra_declares():
    resources = {f"{t}.{n}" for t, n, _ in blocks("resource")}
    outputs = {n for n, _, _ in blocks("output")}
    verbs = []
    for argv in commands("terraform"):
        assert argv[0] == "-chdir=infra"
        verbs.append(argv[1])
        for arg in argv:
            if arg.startswith("-var="):
                assert arg[5:].split("=")[0] in VARIABLES, arg
            if arg.startswith("-target="):
                assert arg[8:] in resources, arg
        if argv[1] == "output":
            assert argv[-1] in outputs
        if argv[1] in ("plan", "apply") and "-target=google_artifact_registry_repository.images" not in argv:
            assert argv[1] == "apply" or "-var-file=$PWD/build/clusters.tfvars.json" in argv
    # planned, checked, and exactly that plan applied, as Cloud Build does
    assert verbs == ["init", "apply", "plan", "show", "apply", "output"]
    assert any(ln.startswith('"$PY" -m infra.plancheck build/plan.json') for ln in LINES)
    assert any(ln.startswith("terraform -chdir=infra apply -input=false $PWD/build/tfplan") for ln in LINES)


def test_modules_files_and_secrets_it_uses_exist():
    text = "\n".join(LINES)
    for module in re.findall(r"-m ([\w.]+)", text):
        assert (ROOT / (module.replace(".", "/") + ".py")).exists(), module
    for path in re.findall(r"-f ([\w./]+)", text):
        assert (ROOT / path).exists(), path
    secrets = {
        b["secret_id"].strip('"') for t, _, b in blocks("resource") if t == "google_secret_manager_secret"
    }
    assert set(re.findall(r"--secret=([\w-]+)", text)) <= secrets
    assert "gs://$BUCKET/gitops/clusters.tfvars.json" in text  # where Cloud Build reads it too
