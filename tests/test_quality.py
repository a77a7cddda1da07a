"""The shape of the code: the core stays pure, and ruff and mypy pass on everything."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
IO_MODULES = {
    "asyncio",
    "aiohttp",
    "sqlalchemy",
    "redis",
    "aiortc",
    "msgpack",
    "websockets",
    "socket",
    "av",
}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


def test_core_imports_no_io_library() -> None:
    offenders = {
        str(path.relative_to(ROOT)): sorted(_imports(path) & IO_MODULES)
        for path in sorted((ROOT / "server" / "core").rglob("*.py"))
        if _imports(path) & IO_MODULES
    }
    assert offenders == {}


def test_core_import_check_catches_an_io_import(tmp_path: Path) -> None:
    sample = tmp_path / "bad.py"
    sample.write_text("import os\nfrom sqlalchemy import select\nimport asyncio.tasks\n")
    assert _imports(sample) & IO_MODULES == {"sqlalchemy", "asyncio"}


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, timeout=600
    )


def test_ruff_finds_nothing() -> None:
    result = _run("ruff", "check", "server", "classroom_agent", "tests", "bench")
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_strict_passes() -> None:
    result = _run("mypy")
    assert result.returncode == 0, result.stdout + result.stderr


SERVICE_LAYER = (
    "server/web/db.py",
    "server/web/session_roster.py",
    "server/web/checkin/guard.py",
    "server/web/checkin/records.py",
    "server/web/checkin/writer.py",
    "server/web/ledger/reports.py",
    "server/web/ledger/sheets.py",
)


def _imported_names(path: Path) -> set[str]:
    """Every module and ``module.name`` a file imports (absolute imports)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return found


def test_feature_services_do_not_speak_http() -> None:
    """A feature package's service (``server/web/<feature>/service.py`` and the service modules
    beside it) runs transactions and the core, without aiohttp and without any feature's
    handlers: features call each other's services, never each other's handlers."""
    paths = sorted((ROOT / "server" / "web").glob("*/service.py"))
    paths += [ROOT / p for p in SERVICE_LAYER]
    assert len(paths) >= 10
    offenders = {
        str(path.relative_to(ROOT)): sorted(bad)
        for path in paths
        if (
            bad := {
                name
                for name in _imported_names(path)
                if name.split(".")[0] == "aiohttp" or name.endswith(".http")
            }
        )
    }
    assert offenders == {}


def test_china_standard_time_is_defined_once() -> None:
    """UTC+8 has one home (server/core/zone.py); every other module imports it from there."""
    homes = []
    for path in sorted((ROOT / "server").rglob("*.py")) + sorted(
        (ROOT / "classroom_agent").rglob("*.py")
    ):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and ast.unparse(node.func).endswith("timezone"):
                source = ast.unparse(node)
                if "hours=8" in source or "Asia/Shanghai" in source:
                    homes.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert homes == ["server/core/zone.py:12"], homes
