"""The three packages import in one direction: exchange → matching → schema → msgspec."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PROJECT = {p.parent.name for p in ROOT.glob("*/__init__.py")} | {"bench", "tests"}
"""Every importable top-level package of the repository (bench and tests included)."""
LAYERS = {
    "schema": {"schema", "msgspec"},
    "matching": {"matching", "schema", "msgspec", "numpy", "ortools"},
}
MAY_USE = {"exchange": {"exchange", "matching", "schema"}}


def imports(package: str) -> list[tuple[str, str]]:
    """(file, top-level module) for every absolute import in the package, at any depth."""
    found = []
    for path in sorted((ROOT / package).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                found += [(path.name, a.name.split(".")[0]) for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.append((path.name, node.module.split(".")[0]))
    return found


@pytest.mark.parametrize("package", sorted(LAYERS))
def test_lower_layers_import_only_what_they_may(package: str) -> None:
    """schema imports only msgspec; matching only schema, numpy and OR-Tools (plus stdlib)."""
    found = imports(package)
    assert found, "the scan found no imports at all"
    allowed = LAYERS[package] | set(sys.stdlib_module_names)
    assert [(f, m) for f, m in found if m not in allowed] == []


def test_exchange_imports_no_project_code_but_matching_and_schema() -> None:
    """exchange may use matching and schema, never bench or tests."""
    found = [(f, m) for f, m in imports("exchange") if m in PROJECT]
    assert found
    assert [(f, m) for f, m in found if m not in MAY_USE["exchange"]] == []
