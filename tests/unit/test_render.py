"""Rendering a folder of manifests: objects out, or errors with file, line and field."""

import pytest

from shared.core import manifests
from shared.render.parse import render_files

DEPLOY = b"""apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 1
"""


def test_multi_document_yaml_json_and_lists_are_flattened():
    files = [
        ("app/a.yaml", DEPLOY + b"---\n---\napiVersion: v1\nkind: Service\nmetadata: {name: web}\n"),
        ("app/b.json", b'{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}'),
        (
            "app/list.yml",
            b"apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: Secret, metadata: {name: s}}\n",
        ),
        ("app/README.md", b"# not a manifest"),
    ]
    out = render_files(files)
    assert out.errors == []
    assert [(o["kind"], o["metadata"]["name"]) for o in out.objects] == [
        ("Deployment", "web"),
        ("Service", "web"),
        ("ConfigMap", "c"),
        ("Secret", "s"),
    ]
    assert [(s.file, s.line) for s in out.sources] == [
        ("app/a.yaml", 1),
        ("app/a.yaml", 9),
        ("app/b.json", 1),
        ("app/list.yml", 4),
    ]


def test_yaml_syntax_error_names_file_line_and_column():
    bad = b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n   labels: {a: b}\n"
    out = render_files([("app/bad.yaml", bad)])
    assert len(out.errors) == 1
    err = out.errors[0]
    assert (err.file, err.line) == ("app/bad.yaml", 5)
    assert str(err) == (
        "app/bad.yaml:5:10: YAML: mapping values are not allowed in this context in '   labels: {a: b}'"
    )  # the offending line is shown


def test_yaml_error_at_the_end_shows_where_the_unclosed_part_began():
    out = render_files(
        [("q.yaml", b'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata: {k: "unterminated}\n')]
    )
    assert [str(e) for e in out.errors] == [
        "q.yaml:5:1: YAML: found unexpected end of stream (while scanning a quoted scalar at line 4: "
        "'data: {k: \"unterminated}')"
    ]


def test_missing_fields_name_the_field_and_its_line():
    doc = b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  labels: {a: b}\n"
    out = render_files([("x.yaml", b"---\n" + DEPLOY + b"---\n" + doc)])
    assert [str(e) for e in out.errors] == ["x.yaml:11:1: metadata.name: required"]
    out = render_files([("y.yaml", b"kind: ConfigMap\nmetadata: {name: a}\n")])
    assert [str(e) for e in out.errors] == ["y.yaml:1:1: apiVersion: required"]
    out = render_files(
        [
            ("k.yaml", b"apiVersion: v1\n\nmetadata: {name: a}\n"),
            ("m.yaml", b"apiVersion: v1\nkind: ConfigMap\ndata: {}\n"),
        ]
    )
    assert [str(e) for e in out.errors] == ["k.yaml:1:1: kind: required", "m.yaml:1:1: metadata: required"]


def test_non_mapping_document_is_an_error():
    out = render_files([("z.yaml", b"- a\n- b\n")])
    assert "a manifest must be a mapping" in str(out.errors[0])


def test_duplicate_objects_across_files_point_at_both():
    out = render_files([("a.yaml", DEPLOY), ("b.yaml", b"# comment\n" + DEPLOY)])
    assert [str(e) for e in out.errors] == [
        "b.yaml:2:1: metadata.name: Deployment.apps/web is also defined at a.yaml:1"
    ]


def test_digest_is_stable_and_content_sensitive():
    a = render_files([("a.yaml", DEPLOY)]).digest
    assert a == render_files([("a.yaml", DEPLOY)]).digest
    assert a != render_files([("a.yaml", DEPLOY.replace(b"replicas: 1", b"replicas: 2"))]).digest


def test_binary_file_is_an_error_not_a_crash():
    out = render_files([("bin.yaml", b"\xff\xfe\x00")])
    assert "not UTF-8" in str(out.errors[0])


def test_tabs_in_indentation_are_named_with_their_column():
    out = render_files([("t.yaml", b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n\tname: x\n")])
    assert [str(e) for e in out.errors] == [
        "t.yaml:4:1: YAML: a tab in indentation (YAML indents with spaces only)"
    ]


def test_duplicate_keys_are_errors_not_silently_the_last():
    text = b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata:\n  k: one\n  k: two\n"
    out = render_files([("d.yaml", text)])
    assert [str(e) for e in out.errors] == [
        "d.yaml:7:3: k: YAML: duplicate key (first at line 6); the last would win"
    ]
    assert out.objects == []


def test_non_string_keys_are_errors():
    text = b"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata:\n  on: x\n  1: y\n"
    messages = [str(e) for e in render_files([("n.yaml", text)]).errors]
    assert messages == [
        "n.yaml:5:3: YAML: key 'on' is not a string (quote it)",
        "n.yaml:6:3: YAML: key '1' is not a string (quote it)",
    ]


def test_alias_bombs_stop_early():
    lines = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 9):
        lines.append(f"{chr(97 + i)}: &{chr(97 + i)} [" + ", ".join([f"*{chr(96 + i)}"] * 10) + "]")
    out = render_files([("bomb.yaml", "\n".join(lines).encode())])
    assert "alias bomb" in str(out.errors[0])


def test_invalid_names():
    out = render_files(
        [
            ("x.yaml", b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: Not_Valid\n"),
            (
                "r.yaml",
                b"apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\n"
                b"metadata:\n  name: system:reader\n",
            ),
        ]
    )
    assert len(out.errors) == 1
    assert str(out.errors[0]).startswith("x.yaml:4:1: metadata.name: 'Not_Valid' is not a valid name")
    assert [o["metadata"]["name"] for o in out.objects] == ["system:reader"]


def test_the_fast_path_builds_what_the_plain_constructor_builds():
    import yaml

    text = (
        b"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, labels: {n: '1'}}\n"
        b"data: {a: yes, b: 0755, c: 1e3, d: 1.5, e: ~, f: '2020-01-02', g: '007', h: 1_000, i: 0x1f,\n"
        b"  j: .inf, k: 1:20, l: !!str 12, m: [*x]}\nextra: &x [1, {y: on}]\n"
    )
    text = text.replace(b"m: [*x]}\nextra: &x [1, {y: on}]", b"m: &x [1, {y: on}], n: *x}")
    out = render_files([("t.yaml", text)])
    assert out.errors == []
    assert out.objects == [yaml.safe_load(text)]
    merged = b"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\nbase: &b {x: 1}\ndata: {<<: *b, y: 2}\n"
    assert render_files([("m.yaml", merged)]).objects[0]["data"] == {"x": 1, "y": 2}  # the careful path


@pytest.mark.parametrize(
    "value, message",
    [
        ("2001-12-14", "YAML reads 2001-12-14 as a date, not a string: quote it"),
        (
            "2001-12-14t21:59:43.10-05:00",
            "YAML reads 2001-12-14T21:59:43.100000-05:00 as a date, not a string: quote it",
        ),
        ("!!binary aGVsbG8=", "a YAML bytes value is not JSON (write it as a string)"),
        ("!!set {a, b}", "a YAML set value is not JSON (write it as a string)"),
    ],
)
def test_values_json_cannot_hold_are_errors_naming_the_field(value, message):
    text = f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: a}}\ndata:\n  ok: x\n  when: {value}\n"
    out = render_files([("d.yaml", text.encode())])
    assert [str(e) for e in out.errors] == [f"d.yaml:6:1: data.when: {message}"] and out.objects == []


def test_a_file_of_too_many_nodes_is_refused_before_parsing():
    from shared.render.parse import MAX_FILE_NODES

    head = b"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\nx:\n"
    text = head + b"- {}\n" * (MAX_FILE_NODES // 2 + 1)
    out = render_files([("n.yaml", text)])
    assert [str(e) for e in out.errors] == [
        f"n.yaml: about {MAX_FILE_NODES + 8:,} YAML nodes: more than {MAX_FILE_NODES:,} in one file (limit)"
    ]


def test_errors_are_capped_per_file_and_documents_count_as_nodes():
    from shared.render.parse import MAX_FILE_ERRORS

    out = render_files([("x.yaml", b"---\na\n" * 60)])
    assert len(out.errors) == MAX_FILE_ERRORS + 1
    assert str(out.errors[-1]) == (
        f"x.yaml: more than {MAX_FILE_ERRORS} errors, or too long: the rest of the file is not read (limit)"
    )
    out = render_files([("y.yaml", b"---\na\n" * 500_000)])  # 3 MB of scalar documents
    assert [str(e) for e in out.errors] == [
        "y.yaml: about 500,000 YAML nodes: more than 400,000 in one file (limit)"
    ]


def test_positions_are_found_again_after_parsing():
    text = (
        b"# c\napiVersion: v1\nkind: List\nitems:\n  - apiVersion: v1\n    kind: ConfigMap\n"
        b"    metadata: {name: a}\n    data: {k: v}\n"
    )
    out = render_files([("l.yaml", text)])
    assert out.sources[0].line == 5
    assert out.sources[0].position(("data", "k")) == (8, 12)


@pytest.mark.parametrize(
    "text",
    [
        "a: 1\nb: -0x1A\nc: 0o17\nd: 0b101\ne: 1_0\nf: 190:20:30\ng: 1.5e+3\nh: -.inf\n"
        "j: 2001-12-14t21:59:43.10-05:00\nk: 2002-12-14\nl: Null\nm: ~\nn: ''\no: NO\np: Off\nq: y\n",
        "a: |\n  line1\n  line2\nb: >-\n  folded\n  text\nc: 'it''s'\nd: \"esc\\t\\u00e9\"\n",
        "e: !!binary aGVsbG8=\n",
        "a: &x {b: 1}\nc: *x\nd: [*x, *x]\n",
        "a: !!str 1\nb: !!int '3'\nc: !!float '1'\nd: !!bool 'yes'\ne: !!null ''\n",
        "? complex\n: value\n",
        "a:\n  - b: 1\n    c: [1, 2, {d: e}]\n  -\n  - null\n",
        "a: !!set {x, y}\n",
        "x: 3.\ny: 1e3\nz: +12\nw: 012\nv: 09\nu: 1:20\n",
        "a: plain\n  multi line\nb: 'single\n  quoted'\n",
    ],
)
def test_the_fast_builder_agrees_with_pyyaml_or_steps_aside(text):
    import yaml

    from shared.render import parse

    node = yaml.compose(text, Loader=parse._Loader)
    fast = parse._build(yaml.CSafeLoader(text), node)
    assert fast is parse._CAREFUL or fast == yaml.load(text, Loader=yaml.CSafeLoader)


@pytest.mark.parametrize(
    ("name", "text", "holds"),
    [
        ("a.yaml", "apiVersion: v1\nkind: ConfigMap\n", True),
        ("a.yaml", "kind: ConfigMap\nmetadata: {name: x}\n", True),  # a mistake to report, not skip
        ("a.yaml", "apiVersion: v1\n", True),
        ("a.yaml", "---\nkind: ConfigMap\n", True),
        ("a.yaml", "--- kind: ConfigMap\n", True),
        ("a.json", '{"apiVersion": "v1", "kind": "ConfigMap"}', True),
        ("a.json", "{'kind': 'x'}", True),
        ("values.yaml", "replicas: 2\nimage:\n  kind: web\n", False),  # nested: a value, not an object
        ("values.yaml", "replicas: 2\n", False),
        ("settings.json", '{"debug": true}', False),
        ("empty.yaml", "", False),
        (
            "sub/kustomization.yaml",
            "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n",
            False,
        ),
        ("sub/Kustomization", "resources: []\n", False),
        ("a.yaml", "# kind: ConfigMap\n", False),  # a comment
    ],
)
def test_holds_objects(name, text, holds):
    assert manifests.holds_objects(name, text) is holds
