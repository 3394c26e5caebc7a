"""Dependencies point one way: bots and scheduler import core, never the reverse."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FORBIDDEN_IN_CORE = ("telegram", "discord", "apscheduler", "bots", "scheduler")


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def wrong_arrows(package: str, forbidden: tuple[str, ...]) -> list[str]:
    problems = []
    for path in sorted((ROOT / package).rglob("*.py")):
        for module in imported_modules(path):
            if module.split(".")[0] in forbidden:
                problems.append(f"{path.relative_to(ROOT)} imports {module}")
    return problems


def test_core_imports_no_platform_or_scheduler() -> None:
    assert wrong_arrows("core", FORBIDDEN_IN_CORE) == []


def test_scheduler_does_not_import_bots() -> None:
    assert wrong_arrows("scheduler", ("bots", "telegram", "discord")) == []


@pytest.mark.parametrize(
    "module", ["telegram", "discord.ext.commands", "apscheduler.schedulers.asyncio"]
)
def test_the_walker_sees_a_planted_import(tmp_path: Path, module: str) -> None:
    planted = tmp_path / "planted.py"
    planted.write_text(f"import os\nif os:\n    from {module} import x\n", encoding="utf-8")
    assert module in imported_modules(planted)


def test_tests_cannot_reach_the_network() -> None:
    import socket

    probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        with pytest.raises(OSError, match="reach the network"):
            probe.connect(("192.0.2.1", 443))  # TEST-NET-1: never routable
    finally:
        probe.close()
