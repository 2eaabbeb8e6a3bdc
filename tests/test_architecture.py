"""Rules of the house that the code's imports must keep."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.helpers.paths import ROOT


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
PRODUCT = sorted([*CORE, *(ROOT / "pms_gui").rglob("*.py")])  # pms_sim, the simulator, is a sibling, not the product


def users_of(module: str) -> set[str]:
    return {p.relative_to(ROOT).as_posix() for p in PRODUCT if module in imports(p)}


def test_the_core_imports_no_qt():
    offenders = [p.relative_to(ROOT) for p in CORE if imports(p) & {"PyQt5", "qasync", "pyqtgraph"}]
    assert offenders == []


def test_in_the_product_only_the_link_imports_pymodbus():
    assert users_of("pymodbus") == {"pms_core/modbus.py"}  # pms_sim's servers may: they are the plant, not the PMS


def test_the_core_never_imports_the_simulator_and_the_console_only_for_demo_and_selftest():
    # main.py's --simulate hands the core pms_sim's plant; in the console, --demo and --selftest start one.
    assert users_of("pms_sim") == {"pms_gui/boot.py", "pms_gui/demo.py", "pms_gui/selftest.py"}
