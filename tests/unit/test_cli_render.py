"""`gitops render` as a linter: global flags anywhere on the command line, every error and
every finding of every parseable file in one run, API removals judged against the newest
known version when no destination version is given."""

import json

import pytest

from shared.cli import main

INGRESS = "apiVersion: extensions/v1beta1\nkind: Ingress\nmetadata: {name: old}\nspec: {}\n"
POD = """\
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: team}
spec:
  containers:
  - name: web
    image: nginx:1.25
    securityContext: {privileged: true}
"""


@pytest.mark.parametrize(
    ("argv", "output", "project"),
    [
        (["render", "x", "-o", "json"], "json", None),
        (["-o", "json", "render", "x"], "json", None),
        (["render", "-o", "yaml", "x"], "yaml", None),
        (["render", "x"], "table", None),
        (["app", "get", "a", "--output", "wide", "--gcp-project", "g"], "wide", "g"),
        (["--gcp-project", "h", "app", "list"], "table", "h"),  # not reset by the subcommand
        (["-o", "json", "app", "list", "--gcp-project", "h"], "json", "h"),
        (["project", "set", "p", "-o", "json"], "json", None),
    ],
)
def test_global_flags_anywhere(argv, output, project):
    args = main.parser().parse_args(argv)
    assert (args.output, args.gcp_project) == (output, project)


def test_render_reports_every_error_and_finding_in_one_run(tmp_path, capsys):
    (tmp_path / "a-broken.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: [x\n")
    (tmp_path / "b-ingress.yaml").write_text(INGRESS)
    (tmp_path / "c-pod.yaml").write_text(POD)
    (tmp_path / "d-broken.yaml").write_text("kind: ConfigMap\nmetadata: {name: y}\n")
    assert main.main(["render", str(tmp_path), "-o", "json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert sorted({e["file"] for e in report["errors"]}) == ["a-broken.yaml", "d-broken.yaml"]
    found = {(f["file"], f["check"]) for f in report["findings"]}
    assert ("b-ingress.yaml", "API001") in found  # the other files' checks ran all the same
    assert any(file == "c-pod.yaml" and check.startswith("SEC") for file, check in found), found
    (api,) = [f for f in report["findings"] if f["check"] == "API001"]
    assert "no destination version given: judged against Kubernetes" in api["message"]
    # the destination's own version, when given, is what is judged against
    assert main.main(["render", str(tmp_path), "--kube-version", "1.20", "-o", "json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert ("b-ingress.yaml", "API002") in {(f["file"], f["check"]) for f in report["findings"]}
