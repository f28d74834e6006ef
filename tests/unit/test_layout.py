"""The package layout of glue/: few files at the top, and imports that only go down.

Layers, top to bottom: cli → expr and images → jobs and lab (side by side, neither imports
the other) → s3 and registry → the shared modules (atomic, config, errors). A module may
import its own package and any package below its layer, never one beside or above it.
"""

from __future__ import annotations

import ast
import re
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

GLUE = Path(__file__).resolve().parents[2] / "glue"
LAYER = {
    "cli": 5,
    "expr": 4,
    "images": 4,
    "jobs": 3,
    "lab": 3,
    "s3": 2,
    "registry": 2,
    "shared": 1,
}
SHARED = {"__init__", "__main__", "atomic", "config", "errors"}


def package_of(dotted: str) -> str:
    """The package a dotted glue module belongs to: a key of LAYER, or shared."""
    parts = dotted.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in LAYER else "shared"


def glue_imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), str(path))
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("glue"):
            if node.module == "glue":
                found += [f"glue.{alias.name}" for alias in node.names]
            else:
                found.append(node.module)
        elif isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name.startswith("glue.")]
    return found


def test_at_most_five_modules_directly_under_glue() -> None:
    top = sorted(p.name for p in GLUE.glob("*.py"))
    assert len(top) <= 5, top
    assert {Path(name).stem for name in top} <= SHARED


def test_imports_only_go_down() -> None:
    wrong = []
    for path in sorted(GLUE.rglob("*.py")):
        module = ".".join(path.relative_to(GLUE.parent).with_suffix("").parts)
        if path.name == "__main__.py":
            continue  # the entry point may start the command
        own = package_of(module)
        for target in glue_imports(path):
            other = package_of(target)
            if other != own and LAYER[other] >= LAYER[own]:
                wrong.append(f"{module} ({own}) imports {target} ({other})")
    assert not wrong, "\n".join(wrong)


def test_every_package_says_what_it_is_for() -> None:
    for init in GLUE.rglob("__init__.py"):
        assert ast.get_docstring(ast.parse(init.read_text())), f"{init} has no docstring"


def test_old_module_names_are_gone() -> None:
    """The flat module names from before the packages appear nowhere."""
    root = GLUE.parent
    files = subprocess.run(
        ["git", "ls-files", "glue", "tests", "bench", "roles"],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    old = re.compile(r"glue\.(sync_|rgw_|report_|s3_)")
    hits = [
        f
        for f in files
        if (root / f).is_file() and old.search((root / f).read_text(errors="replace"))
    ]
    assert hits == [], hits
