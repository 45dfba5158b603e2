"""The fast YAML path answers exactly what PyYAML's safe loader answers, or declines.

Every case compares `fastyaml.documents` with `yaml.load_all` (types included, so 1 and
True, or 493 and 755, differ): whenever the fast path gives an answer, it must be PyYAML's.
"""

from __future__ import annotations

import contextlib
import math
import random
from pathlib import Path
from typing import Any

import pytest
import yaml

from bench.render import _app
from shared.core.manifests import Loader
from shared.render import fastyaml

ROOT = Path(__file__).resolve().parents[2]

# Every scalar form where YAML 1.1 (PyYAML) and 1.2 (yaml-rs) were seen to differ, and neighbours.
TOKENS = [
    "0",
    "1",
    "7",
    "8",
    "9",
    "00",
    "07",
    "08",
    "09",
    "0_1",
    "1_0",
    "1_000",
    "1__0",
    "_1",
    "1_",
    "0x1F",
    "0x_1F",
    "0X1F",
    "0o17",
    "0O17",
    "0b101",
    "0B101",
    "0b_1",
    "0x",
    "0o",
    "0b",
    "1e3",
    "1E3",
    "1e+3",
    "1e-3",
    "1.0e3",
    "1.0e+3",
    "1.5E-3",
    "1e1_0",
    "0e0",
    "0e1",
    "1e",
    "e3",
    "1.",
    ".5",
    "1.5",
    "1_0.5",
    "1.5_0",
    "0.",
    "00.5",
    "01.5",
    "08.5",
    "1.2.3",
    "50m",
    "64Mi",
    ".inf",
    ".Inf",
    ".INF",
    "inf",
    ".nan",
    ".NaN",
    ".NAN",
    "nan",
    "0755",
    "0o755",
    "0644",
    "1:30",
    "1:30:00",
    "190:20:30",
    "1:30.5",
    "12:30",
    "1:60",
    "2001-12-14",
    "2001-1-1",
    "2001-12-14t21:59:43.10-05:00",
    "2001-12-14 21:59:43.10 -5",
    "123456789012345678901234567890",
    "yes",
    "Yes",
    "YES",
    "yEs",
    "no",
    "No",
    "NO",
    "on",
    "On",
    "ON",
    "off",
    "Off",
    "OFF",
    "y",
    "Y",
    "n",
    "N",
    "true",
    "True",
    "TRUE",
    "tRue",
    "false",
    "False",
    "FALSE",
    "null",
    "Null",
    "NULL",
    "nUll",
    "~",
    "=",
    "<<",
    "",
    "sha256:3e4f",
    "v1.0-05",
    "!!str 1",
    "!!int '7'",
    "&a 1",
    "!x y",
]
SIGNS = ("", "-", "+")
CONTEXTS = (
    "k: {}",
    "{}: v",
    "k: [{}]",
    "k: [{}, x]",
    "k: {{a: {}}}",
    "k:\n- {}",
    "k: '{}'",
    'k: "{}"',
    '{{"k":{}}}',
    "a: 1\n---\nk: {}\n",
    "---\nk:\n  - {}\n",
    "k: |\n  {}\n",
    "k: >-\n  {}\n\n  x\n",
    "k: x {}",
    "k:\n  {}",
)


def _same(a: Any, b: Any) -> bool:
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and math.isnan(a):
        return math.isnan(b)
    return bool(a == b)


def _check(text: str) -> bool:
    """True when the fast path answered (and, asserted, answered like PyYAML)."""
    fast = fastyaml.documents(text)
    if fast is None:
        return False
    try:
        careful = list(yaml.load_all(text, Loader=Loader))
    except yaml.YAMLError as exc:
        raise AssertionError(f"fast path accepted what PyYAML refuses: {text!r}: {exc}") from exc
    assert _same(fast, careful), f"{text!r}: fast {fast!r} != PyYAML {careful!r}"
    return True


@pytest.mark.parametrize("context", CONTEXTS)
def test_every_known_difference_is_declined_or_agrees(context: str) -> None:
    for token in TOKENS:
        for sign in SIGNS:
            _check(context.format(sign + token))


def test_random_tokens_are_declined_or_agree() -> None:
    rng = random.Random(20261127)
    alphabet = "0123456789._eE+-xXoObB:_ ayn~"
    answered = 0
    for _ in range(6000):
        token = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 7))).strip()
        for context in ("k: {}", "{}: v", "k: [a, {}]", "k: |\n  {}\n", "k: {{{}: x}}"):
            with contextlib.suppress(yaml.YAMLError):
                answered += _check(context.format(token))
    assert answered > 1500  # the guards decline the risky shapes, not everything


def test_random_documents_are_declined_or_agree() -> None:
    """Whole documents in every style PyYAML writes, with quotes stripped from half of them."""
    rng = random.Random(1127)
    safe = [
        "nginx",
        "a b",
        "x: y",
        "- z",
        "#c",
        "multi\nline",
        "trail ",
        " lead",
        "a'b",
        'a"b',
        "{x}",
        "[y]",
        "50%",
        "@at",
        "a,b",
        "http://h:80/p?q#f",
        "app.example.test",
        "v1.2.3",
        "",
        "true",
        "80",
        "1.5",
        "null",
    ]

    def word() -> str:
        return rng.choice(TOKENS) if rng.random() < 0.05 else rng.choice(safe)

    def value(depth: int) -> Any:
        pick = rng.random()
        if depth > 3 or pick < 0.4:
            return (
                word() if rng.random() < 0.7 else rng.choice([0, 1, -5, 493, 1.5, -0.25, True, False, None])
            )
        if pick < 0.7:
            return {word(): value(depth + 1) for _ in range(rng.randint(0, 4))}
        return [value(depth + 1) for _ in range(rng.randint(0, 4))]

    answered = 0
    for _ in range(2500):
        docs = [{word(): value(1) for _ in range(rng.randint(1, 4))} for _ in range(rng.randint(1, 3))]
        text = yaml.dump_all(
            docs,
            sort_keys=False,
            default_flow_style=rng.choice([False, True, None]),
            indent=rng.choice([2, 4]),
            width=rng.choice([20, 80]),
            explicit_start=rng.random() < 0.5,
        )
        if rng.random() < 0.5:
            text = text.replace(rng.choice("'\""), "")
        with contextlib.suppress(yaml.YAMLError):
            answered += _check(text)
    assert answered > 150


def test_random_flow_collections_are_declined_or_agree() -> None:
    """Flow collections (the riskiest syntax) nested, quoted, spaced and broken at random."""
    rng = random.Random(27)
    chars = "ab0 1:#,'\"[]{}\\!&*?|>-.e_"

    def scalar() -> str:
        body = "".join(rng.choice(chars) for _ in range(rng.randint(0, 4)))
        quote = rng.choice(["'", '"', "", ""])
        return quote + body + quote

    def flow(depth: int) -> str:
        if depth > 2 or rng.random() < 0.4:
            return scalar()
        if rng.random() < 0.5:
            items = [flow(depth + 1) for _ in range(rng.randint(0, 3))]
            return "[" + rng.choice([",", ", ", " ,"]).join(items) + "]"
        return (
            "{"
            + ", ".join(
                scalar() + rng.choice([": ", ":", " : "]) + flow(depth + 1) for _ in range(rng.randint(0, 3))
            )
            + "}"
        )

    answered = 0
    for _ in range(15000):
        text = rng.choice(["k: X\n", "k: X", "- X\n", "k:\n  - X\n  - Y\n", "X: 1\n", "k: X # c\n"])
        with contextlib.suppress(yaml.YAMLError):
            answered += _check(text.replace("X", flow(0)).replace("Y", flow(0)))
    assert answered > 2000


def test_documents_are_counted_like_pyyaml() -> None:
    for text in [
        "",
        "# only a comment\n",
        "---",
        "---\n",
        "a: 1",
        "a: 1\n---\nb: 2",
        "---\na: 1",
        "a: 1\n---\n",
        "---\n---\na: 1",
        "--- # c\na: 1\n---\nb: 2\n",
        "- a\n- b",
        "---\n- a: 1",
        "a: 1\n--- \nb: 2",
        "a: |\n  ---\n  x\nb: 2",
        "a: 1\n----\n",
        "a: 1\r\n---\r\nb: 2\r\n",
        "--- {a: 1}\n--- [1]\n",
    ]:
        _check(text)
    assert fastyaml.documents("a: 1\n---\nb: 2") == [{"a": 1}, {"b": 2}]
    assert fastyaml.documents("---\n---\na: 1\n") == [None, {"a": 1}]


def test_what_the_fast_path_declines() -> None:
    for text in [
        "a: 1\na: 2",
        "a: &x 1\nb: *x",
        "a: !!str 1",
        "%YAML 1.1\n---\na: 1",
        "a: 1\n...\nb: 2",
        "a:\tb",
        "a: \x07",
        "a: caf\u00e9",
        "1: x",
        "? [a]\n: 1",
        "a: yes",
        "a: '2001-12-14'",
        "<<: {a: 1}",
        "- a: 1",
        "a: |",
        "a: |\n",
        "a: {b: c} # d",
        "a: [b,\n  c]",
        "a: " + "[" * 300 + "]" * 300,
    ]:
        assert fastyaml.documents(text) is None, text


def test_every_manifest_in_the_repository_agrees() -> None:
    files = [
        p
        for ext in ("*.yaml", "*.yml", "*.json")
        for p in ROOT.rglob(ext)
        if not {".venv", ".git", ".stack"} & set(p.parts) and p.stat().st_size < 1 << 20
    ]
    answered = [p.name for p in files if _check(p.read_text(errors="replace"))]
    assert "cloudbuild.yaml" in answered and "rbac.yaml" in answered  # JSON (multi-line flow) is declined


def test_the_benchmark_manifests_take_the_fast_path() -> None:
    text = "---\n".join(_app(i) for i in range(20))
    assert _check(text)
