"""The import rules of the repository, checked on its source; each rule is shown to fail.

- `schema` imports only msgspec; `matching` only schema, numpy and OR-Tools, and no I/O.
- `exchange` imports project code only from exchange, matching, schema; `clients` only
  from the CLI and the demo.
- Pure cores (`PURE`) import the standard library minus I/O, msgspec, schema, matching
  and other pure cores: never asyncpg, Litestar or sockets.
- Only store modules (`*/store.py`, `exchange/db.py`) run queries and see database rows.
- Route handler modules are imported only by `exchange/app.py`.
- Clients (`clients/`) speak the wire protocol: they never import `exchange`.
"""

from __future__ import annotations

import ast
import functools
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

PURE = {
    "exchange/beds/model.py",
    "exchange/beds/report.py",
    "exchange/board/board.py",
    "exchange/placements/rules.py",
    "exchange/placements/readiness.py",
    "exchange/placements/planners.py",
    "exchange/board/history.py",
    "exchange/placements/retention.py",
}
"""The sans-I/O cores; a module listed here that does not exist yet is simply skipped."""

IO_STDLIB = {"socket", "ssl", "asyncio", "subprocess", "select", "selectors", "http", "urllib"}
"""Standard-library modules that do I/O: a pure core or the matcher never imports them."""

LOWER = {
    "schema": {"schema", "msgspec"},
    # highspy: HiGHS's MIP for the distance level's proving MIPs (`matching.master.mip`).
    "matching": {"matching", "schema", "msgspec", "numpy", "ortools", "highspy"},
}
PROJECT = {"exchange", "matching", "schema", "clients", "bench", "tests"}
CLIENT_USERS = ("exchange/cli.py", "exchange/demo/")
"""The only exchange modules that may import clients (to run them)."""
QUERY_METHODS = {"fetch", "fetchrow", "fetchval", "execute", "executemany", "cursor"}
HANDLER_DECORATORS = {"get", "post", "put", "patch", "delete", "websocket", "route"}


@dataclass(frozen=True)
class Module:
    path: str
    """Relative to the root, with forward slashes."""
    imports: list[str]
    """Fully qualified modules imported (relative imports resolved)."""
    tree: ast.Module

    @property
    def dotted(self) -> str:
        return self.path.removesuffix(".py").removesuffix("/__init__").replace("/", ".")


def parse(rel: str, source: str) -> Module:
    """One module: its imports (`from a.b import c` counts a.b and a.b.c) and its tree."""
    tree = ast.parse(source, rel)
    imports: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imports += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            imports += [node.module] + [f"{node.module}.{a.name}" for a in node.names]
    return Module(rel, imports, tree)


@functools.cache
def scan(root: Path) -> dict[str, Module]:
    """Every Python module of the checked packages under `root`."""
    found: dict[str, Module] = {}
    for package in ("schema", "matching", "exchange", "clients"):
        for path in sorted((root / package).rglob("*.py")):
            rel = path.relative_to(root).as_posix()
            found[rel] = parse(rel, path.read_text())
    return found


def _top(name: str) -> str:
    return name.split(".")[0]


def _is_store(path: str) -> bool:
    return path.endswith("/store.py") or path == "exchange/db.py"


def _handler_modules(modules: dict[str, Module]) -> set[str]:
    """Dotted names of modules that define Litestar route handlers."""
    out = set()
    for m in modules.values():
        if any(
            isinstance(node, ast.ImportFrom)
            and node.module == "litestar"
            and {a.name for a in node.names} & HANDLER_DECORATORS
            for node in ast.walk(m.tree)
        ):
            out.add(m.dotted)
    return out


def violations(modules: dict[str, Module]) -> list[str]:
    """Every broken import rule among these modules, one line each."""
    stdlib = set(sys.stdlib_module_names)
    pure = {m.removesuffix(".py").replace("/", ".") for m in PURE}
    handlers = _handler_modules(modules)
    bad: list[str] = []
    for m in modules.values():
        package = m.path.split("/")[0]
        tops = {_top(i) for i in m.imports}
        if package in LOWER:
            allowed = LOWER[package] | (stdlib - IO_STDLIB)
            bad += [f"{m.path}: {package} may not import {t}" for t in sorted(tops - allowed)]
        if package == "exchange":
            for t in sorted(tops & PROJECT - {"exchange", "matching", "schema", "clients"}):
                bad.append(f"{m.path}: exchange may not import {t}")
            if "clients" in tops and not m.path.startswith(CLIENT_USERS):
                bad.append(f"{m.path}: only the CLI and the demo run clients")
        if package == "clients":
            for t in sorted(tops & PROJECT - {"clients", "schema"}):
                bad.append(f"{m.path}: a client speaks the wire protocol, never imports {t}")
        if m.path in PURE:
            allowed = {"msgspec", "schema", "matching"} | (stdlib - IO_STDLIB)
            for name in m.imports:
                if _top(name) == "exchange":
                    if not any(
                        name == p or name.startswith(p + ".") or p.startswith(name + ".")
                        for p in pure
                    ):
                        bad.append(f"{m.path}: a pure core may not import {name}")
                elif _top(name) not in allowed:
                    bad.append(f"{m.path}: a pure core may not import {name}")
        if not _is_store(m.path) and package in ("exchange", "clients"):
            for node in ast.walk(m.tree):
                if (
                    isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Attribute)
                    and node.func.attr in QUERY_METHODS
                    and not (isinstance(node.func.value, ast.Name) and node.func.value.id == "self")
                ):
                    bad.append(
                        f"{m.path}:{node.lineno}: .{node.func.attr}() outside a store module"
                    )
        if m.path != "exchange/app.py":
            for name in sorted(set(m.imports) & handlers - {m.dotted}):
                bad.append(f"{m.path}: imports the handler module {name}; only app.py may")
    return bad


def test_the_repository_keeps_every_import_rule() -> None:
    """No rule is broken anywhere in schema, matching, exchange and clients."""
    assert scan(ROOT), "the scan found no modules at all"
    assert violations(scan(ROOT)) == []


def test_the_scan_sees_the_pure_cores_and_the_handlers() -> None:
    """The rules have something to check: the pure cores exist and handlers are found."""
    modules = scan(ROOT)
    assert {"exchange/beds/report.py", "exchange/board/board.py"} <= set(modules)
    assert {"exchange.beds.channel", "exchange.board.channel"} <= _handler_modules(modules)


PLANTS = [
    ("exchange/beds/report.py", "import asyncpg\n", "a pure core may not import asyncpg"),
    ("exchange/board/board.py", "import litestar\n", "a pure core may not import litestar"),
    ("exchange/beds/model.py", "import socket\n", "a pure core may not import socket"),
    (
        "exchange/beds/report.py",
        "from exchange.beds import store\n",
        "a pure core may not import exchange.beds.store",
    ),
    ("matching/geo.py", "import asyncpg\n", "matching may not import asyncpg"),
    ("matching/geo.py", "import subprocess\n", "matching may not import subprocess"),
    ("schema/wire.py", "import numpy\n", "schema may not import numpy"),
    ("clients/agent.py", "from exchange.beds import store\n", "never imports exchange"),
    ("exchange/beds/ingest.py", "from clients import agent\n", "only the CLI and the demo"),
    ("exchange/board/hub.py", "from bench import harness\n", "exchange may not import bench"),
    (
        "exchange/board/hub.py",
        "async def f(c):\n    return await c.fetch('select 1')\n",
        ".fetch() outside a store module",
    ),
    (
        "exchange/pages/dashboard.py",
        "from exchange.beds import channel\n",
        "imports the handler module exchange.beds.channel",
    ),
]


@pytest.mark.parametrize(("target", "code", "expected"), PLANTS)
def test_each_rule_fails_when_broken(target: str, code: str, expected: str) -> None:
    """A forbidden import (or query) planted in a module of the tree is reported."""
    modules = dict(scan(ROOT))  # clean: test_the_repository_keeps_every_import_rule
    modules[target] = parse(target, (ROOT / target).read_text() + "\n" + code)
    found = violations(modules)
    assert any(expected in line and line.startswith(target) for line in found), found
