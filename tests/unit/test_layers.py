"""`make lint` enforces the layers (pyproject's [tool.importlinter]): a copy of the source tree
passes, and the same copy with one planted import across a layer fails, naming it."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("schemas", "topics", "shared", "workers", "services", "ladle", "benchmarks")
LINT = Path(sys.executable).with_name("lint-imports")


@pytest.fixture(scope="module")
def tree(tmp_path_factory) -> Path:
    if not LINT.exists():
        pytest.fail("import-linter is not installed: run `make setup`")
    root = tmp_path_factory.mktemp("tree")
    for pkg in PACKAGES:
        shutil.copytree(REPO / pkg, root / pkg, ignore=shutil.ignore_patterns("__pycache__", "*.json", "*.md"))
    shutil.copy(REPO / "pyproject.toml", root / "pyproject.toml")
    return root


def lint(root: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(LINT), "--no-cache"], cwd=root, capture_output=True, text=True, timeout=300,
                          env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(root)})  # fmt: skip


def test_the_tree_keeps_both_contracts(tree):
    res = lint(tree)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-2000:]
    assert "2 kept, 0 broken" in res.stdout


@pytest.mark.parametrize(
    "planted,importing,contract",
    [
        ("shared/planted.py", "import ladle.cli.main", "Layers"),
        ("workers/sink/planted.py", "from workers.embedder import store", "Workers do not import one another"),
        ("services/gateway/planted.py", "import workers.sink.store", "Layers"),
    ],
)
def test_an_import_across_the_layers_breaks_the_lint(tree, planted, importing, contract):
    path = tree / planted
    path.write_text(f"{importing}  # planted by the test\n")
    try:
        res = lint(tree)
    finally:
        path.unlink()
    assert res.returncode == 1, res.stdout[-3000:]
    module = planted.removesuffix(".py").replace("/", ".")
    broken = res.stdout.split("Broken contracts", 1)[-1]
    assert f"{contract}" in broken and module in broken, res.stdout[-3000:]
