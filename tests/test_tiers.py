"""The fast tier skips importing a module only when every test in it is slow."""

from __future__ import annotations

import ast
from pathlib import Path

from conftest import SLOW_MODULE

TESTS = Path(__file__).resolve().parent


def _slow_as_a_whole(source: str) -> bool:
    """Whether the module's own `pytestmark` is `pytest.mark.slow` (read by the parser)."""
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "pytestmark" for t in node.targets
        ):
            return ast.unparse(node.value) == "pytest.mark.slow"
    return False


def test_the_fast_tier_skips_exactly_the_modules_marked_slow_as_a_whole() -> None:
    files = sorted(TESTS.rglob("test_*.py"))
    skipped = {f.name for f in files if SLOW_MODULE.search(f.read_text())}
    marked = {f.name for f in files if _slow_as_a_whole(f.read_text())}
    assert skipped == marked
    assert "test_api_fuzz.py" in skipped and "test_fanout.py" not in skipped


def test_a_mark_in_a_string_or_on_one_test_is_not_a_module_mark() -> None:
    assert not SLOW_MODULE.search('"""\n    pytestmark = pytest.mark.slow\n"""\n')
    assert not SLOW_MODULE.search("@pytest.mark.slow\ndef test_x() -> None: ...\n")
    assert SLOW_MODULE.search("import pytest\n\npytestmark = pytest.mark.slow  # why\n")
