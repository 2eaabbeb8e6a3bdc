"""Rules of the house that the code's imports must keep."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


CORE = sorted((ROOT / "pms_core").rglob("*.py"))


def test_the_core_imports_no_qt():
    offenders = [p.relative_to(ROOT) for p in CORE if imports(p) & {"PyQt5", "qasync", "pyqtgraph"}]
    assert offenders == []


def test_only_the_link_and_the_simulator_servers_import_pymodbus():
    users = {str(p.relative_to(ROOT)) for p in CORE if "pymodbus" in imports(p)}
    assert users == {"pms_core/modbus.py", "pms_core/simulator/server.py"}
