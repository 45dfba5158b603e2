"""The code stays ruff clean (the same rules as pyproject.toml's [tool.ruff])."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_ruff_clean():
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "check", str(ROOT)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_environment_is_read_in_config_only():
    """shared/platform/config.py reads every setting (its docstring says so): anywhere else in
    shared/ and functions/, os.environ may only be written (the CLI's --gcp-project and the like)."""
    import ast

    config = ROOT / "shared" / "platform" / "config.py"
    reads = []
    for path in sorted([*(ROOT / "shared").rglob("*.py"), *(ROOT / "functions").rglob("*.py")]):
        if path == config:
            continue
        tree = ast.parse(path.read_text())
        writes = {
            id(node.value)
            for node in ast.walk(tree)
            if isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Store)
        }
        for node in ast.walk(tree):
            environ = isinstance(node, ast.Attribute) and node.attr in ("environ", "getenv", "environb")
            if environ and id(node) not in writes:
                reads.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert reads == []
