"""Packaging without building: the .bat files, the spec's inputs, the frozen-path logic, the build flag, --selftest.

The PyInstaller build itself is too slow for the suite: .ci/run builds the
one-folder variant and runs the built binary's --selftest.
"""

from __future__ import annotations

import ast
import json
import os
import re
import struct
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import main
import main_gui_integrated
from pms_core import build_info as build_info_module
from pms_core import config as config_module
from pms_core import paths
from pms_core.build_info import BuildInfo, build_info
from pms_core.config import ConfigError, load_config
from pms_gui.selftest import selftest_config
from tests.helpers.configs import write_config
from tests.helpers.paths import ROOT

BATS = {"normal": ROOT / "build_normal.bat", "dcdc_disabled": ROOT / "build_dcdc_disabled.bat"}
SHARED_BAT = ROOT / "scripts" / "build.bat"
SPEC = ROOT / "pms.spec"
EXE = r"dist\PMS_GUI_Application.exe"


# --- the Windows build scripts ----------------------------------------------------------------------


@pytest.mark.parametrize("path", [*BATS.values(), SHARED_BAT], ids=lambda p: p.name)
def test_batch_files_have_crlf_line_ends(path: Path):
    data = path.read_bytes()
    assert data.endswith(b"\r\n")
    assert data.count(b"\n") == data.count(b"\r\n"), f"{path.name} has LF-only line ends"
    assert b"\r\r" not in data


def test_the_two_batch_files_differ_only_in_the_dcdc_flag():
    normal = BATS["normal"].read_text(encoding="ascii").splitlines()
    dcdc = BATS["dcdc_disabled"].read_text(encoding="ascii").splitlines()
    assert len(normal) == len(dcdc)
    differ = [(a, b) for a, b in zip(normal, dcdc, strict=True) if a != b]
    assert differ == [("set PMS_DCDC_DISABLED=0", "set PMS_DCDC_DISABLED=1")]


@pytest.mark.parametrize("variant", BATS)
def test_each_batch_file_runs_the_shared_build_and_passes_its_exit_code(variant: str):
    lines = [line.strip() for line in BATS[variant].read_text(encoding="ascii").splitlines()]
    assert lines[0] == "@echo off"
    assert 'call "%~dp0scripts\\build.bat" %*' in lines  # --onedir passes through
    assert lines[-1] == "exit /b %errorlevel%"
    assert lines.index("setlocal") < next(i for i, line in enumerate(lines) if line.startswith("set PMS_DCDC_DISABLED="))


def test_the_shared_build_makes_a_venv_installs_the_pins_runs_the_spec_and_names_the_exe():
    text = SHARED_BAT.read_text(encoding="ascii")
    assert "-m venv .venv-build" in text
    assert '-m pip install ".[gui,build]"' in text
    assert re.search(r"-m PyInstaller --noconfirm --clean pms\.spec", text)
    assert f'set "EXE={EXE}"' in text
    assert 'set "EXE=dist\\PMS_GUI_Application\\PMS_GUI_Application.exe"' in text  # --onedir
    assert 'start "" /wait "%EXE%" --selftest' in text


def test_the_shared_build_stops_with_a_message_after_every_step():
    lines = [line.strip() for line in SHARED_BAT.read_text(encoding="ascii").splitlines()]
    steps = [i for i, line in enumerate(lines) if re.match(r'^(%PY%|"%VPY%"|start ""|%PY% -m venv)', line)]
    assert len(steps) >= 5  # python check, venv, pip (twice), PyInstaller, selftest
    for i in steps:
        check = lines[i + 1]
        assert check.startswith("if errorlevel 1 ("), f"no check after: {lines[i]}"
        block = check if check.endswith(")") else " ".join(lines[i + 1 : i + 5])
        assert "echo build: ERROR:" in block and "exit /b 1" in block, f"no clear stop after: {lines[i]}"


# --- the spec and its inputs ------------------------------------------------------------------------


def test_the_spec_is_python_and_builds_the_windowed_named_program_from_the_flags():
    text = SPEC.read_text(encoding="utf-8")
    ast.parse(text)
    assert 'NAME = "PMS_GUI_Application"' in text
    assert 'flag("PMS_DCDC_DISABLED")' in text and 'flag("PMS_ONEDIR")' in text
    assert "console=False" in text
    assert 'ROOT / "resources" / "pms.ico"' in text and 'ROOT / "resources" / "version_info.txt"' in text
    for module in ('"qasync"', "axisCtrlTemplate_generic", "plotConfigTemplate_generic"):
        assert module in text
    for unused in ('"tkinter"', '"QtWebEngine"', '"Qt3DCore"', '"QtMultimedia"', '"QtQuick"', '"QtSql"', '"QtNetwork"'):
        assert unused in text
    assert "config_dcdc_disabled.yml" in text and "build_info.json" in text


def test_the_icon_files_are_a_multi_size_ico_and_a_256_px_png():
    ico = (ROOT / "resources" / "pms.ico").read_bytes()
    reserved, kind, count = struct.unpack("<HHH", ico[:6])
    assert (reserved, kind) == (0, 1) and count >= 5
    sides = {ico[6 + 16 * i] or 256 for i in range(count)}
    assert {16, 32, 48, 256} <= sides
    png = (ROOT / "resources" / "pms.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and struct.unpack(">II", png[16:24]) == (256, 256)


def test_the_windows_version_information_matches_the_project_version():
    version = re.search(r'^version = "(.+)"$', (ROOT / "pyproject.toml").read_text(encoding="utf-8"), re.M)[1]
    text = (ROOT / "resources" / "version_info.txt").read_text(encoding="utf-8")
    ast.parse(text)
    numbers = tuple(int(n) for n in version.split(".")) + (0,) * (4 - len(version.split(".")))
    assert f"filevers={numbers}" in text and f"prodvers={numbers}" in text
    assert f"StringStruct('FileVersion', '{version}')" in text
    assert "StringStruct('OriginalFilename', 'PMS_GUI_Application.exe')" in text


# --- the DC-DC-disabled variant's default config -------------------------------------------------------


def test_the_dcdc_disabled_config_is_the_normal_one_without_the_dcdc():
    normal = yaml.safe_load((ROOT / "config" / "config.yml").read_text(encoding="utf-8"))
    dcdc = yaml.safe_load((ROOT / "config" / "config_dcdc_disabled.yml").read_text(encoding="utf-8"))
    assert dcdc["devices"] == [d for d in normal["devices"] if d["type"] != "DCDC"]
    assert {k: v for k, v in dcdc.items() if k != "devices"} == {k: v for k, v in normal.items() if k != "devices"}
    loaded = load_config(ROOT / "config" / "config_dcdc_disabled.yml")
    assert BuildInfo("dcdc_disabled").config_problems(loaded) == []


# --- frozen paths ---------------------------------------------------------------------------------


@pytest.fixture
def frozen(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A fake PyInstaller build: the bundle in tmp/bundle (sys._MEIPASS), the executable in tmp/site."""
    bundle, site = tmp_path / "bundle", tmp_path / "site"
    (bundle / "config").mkdir(parents=True)
    for name in ("config.yml", "bms_map.json", "pcs_map.json", "dcdc_map.json"):
        (bundle / "config" / name).write_bytes((ROOT / "config" / name).read_bytes())
    site.mkdir()
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "_MEIPASS", str(bundle), raising=False)
    monkeypatch.setattr(sys, "executable", str(site / "PMS_GUI_Application.exe"))
    build_info.cache_clear()
    yield bundle, site
    build_info.cache_clear()


def test_from_source_everything_is_in_the_project_folder():
    assert not paths.frozen()
    assert paths.bundle_dir() == paths.app_dir() == ROOT
    assert paths.default_config() == ROOT / "config" / "config.yml"
    assert config_module.DEFAULT_CONFIG == ROOT / "config" / "config.yml"
    assert main.DEFAULT_CONFIG == main_gui_integrated.DEFAULT_CONFIG == paths.default_config()
    assert build_info() == BuildInfo("normal", "source")


def test_frozen_without_a_config_folder_beside_the_executable_uses_the_bundled_defaults(frozen):
    bundle, _site = frozen
    assert paths.bundle_dir() == bundle
    assert paths.default_config() == bundle / "config" / "config.yml"
    loaded = load_config(paths.default_config())
    assert {d.type for d in loaded.devices} == {"BMS", "PCS", "DCDC"}


def test_frozen_a_config_beside_the_executable_wins_and_its_maps_fall_back_to_the_bundled_ones(frozen):
    bundle, site = frozen
    (site / "config").mkdir()
    write_config(site / "config", devices=[
        {"name": "site BMS", "type": "BMS", "ip": "127.0.0.1", "port": 15020},
        {"name": "site PCS", "type": "PCS", "ip": "127.0.0.1", "port": 15021},
    ])  # fmt: skip
    assert paths.default_config() == site / "config" / "config.yml"
    loaded = load_config(paths.default_config())
    assert [d.name for d in loaded.devices] == ["site BMS", "site PCS"]
    assert config_module.map_path(loaded.devices[0], loaded.path) == bundle / "config" / "bms_map.json"


def test_frozen_a_map_beside_the_site_config_wins_over_the_bundled_one(frozen):
    _bundle, site = frozen
    (site / "config").mkdir()
    write_config(site / "config", devices=[{"name": "b", "type": "BMS", "ip": "127.0.0.1", "port": 15020}])
    (site / "config" / "bms_map.json").write_bytes((ROOT / "config" / "bms_map.json").read_bytes())
    loaded = load_config(paths.default_config())
    assert config_module.map_path(loaded.devices[0], loaded.path) == site / "config" / "bms_map.json"


def test_frozen_an_empty_config_folder_beside_the_executable_is_not_a_config(frozen):
    bundle, site = frozen
    (site / "config").mkdir()
    assert paths.default_config() == bundle / "config" / "config.yml"


def test_data_folder_stays_per_user_when_frozen(frozen, monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    monkeypatch.delenv("PMS_DATA_DIR")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("LOCALAPPDATA", str(tmp_path / "local"))
    expected = tmp_path / ("local/PMS" if sys.platform == "win32" else "xdg/pms")
    assert paths.data_dir() == expected


# --- the build flag ---------------------------------------------------------------------------------


def test_a_dcdc_disabled_bundle_refuses_a_config_with_a_dcdc(frozen):
    bundle, _site = frozen
    (bundle / "build_info.json").write_text(json.dumps({"variant": "dcdc_disabled", "version": "9.9"}), encoding="utf-8")
    info = build_info()
    assert info == BuildInfo("dcdc_disabled", "9.9") and not info.dcdc_enabled
    problems = info.config_problems(load_config(bundle / "config" / "config.yml"))
    assert len(problems) == 1 and "'한자연_DCDC' is a DC-DC, but this is the DC-DC-disabled build" in problems[0]


def test_a_normal_bundle_accepts_every_device(frozen):
    bundle, _site = frozen
    (bundle / "build_info.json").write_text(json.dumps({"variant": "normal", "version": "1"}), encoding="utf-8")
    assert build_info().dcdc_enabled
    assert build_info().config_problems(load_config(bundle / "config" / "config.yml")) == []


def test_an_unreadable_build_info_means_the_normal_variant(frozen, caplog):
    bundle, _site = frozen
    (bundle / "build_info.json").write_text("{not json", encoding="utf-8")
    assert build_info() == BuildInfo()
    assert "cannot read" in caplog.text
    assert build_info_module.BUILD_INFO_FILE == "build_info.json"


async def test_without_a_dcdc_the_automatic_mode_skips_the_dcdc_steps(tmp_path):
    from pms_core.runtime import Runtime  # noqa: PLC0415

    loaded = load_config(ROOT / "config" / "config_dcdc_disabled.yml")
    runtime = Runtime(loaded, with_mqtt=False, state_dir=tmp_path)
    assert runtime.auto.by_type["DCDC"] is None and runtime.device_of_type("DCDC") is None


# --- --selftest from source -----------------------------------------------------------------------------


def run_console(tmp_path: Path, *args: str, stdio: bool = True, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PMS_DATA_DIR": str(tmp_path / "data"), "QT_QPA_PLATFORM": "offscreen"}
    if stdio:
        command = [sys.executable, "main_gui_integrated.py", *args]
    else:  # as a windowed build starts: no console, sys.stdout and sys.stderr are None
        code = (
            "import sys; sys.stdout = sys.stderr = None; sys.argv[0] = 'main_gui_integrated.py'; "
            f"import main_gui_integrated as m; sys.exit(m.main({list(args)!r}))"
        )
        command = [sys.executable, "-c", code]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False)


@pytest.mark.gui
@pytest.mark.tcp
def test_selftest_polls_every_device_confirms_a_command_and_leaves_the_site_data_alone(tmp_path):
    proc = run_console(tmp_path, "--selftest")
    assert proc.returncode == 0, proc.stderr[-3000:]
    ok = [line for line in proc.stdout.splitlines() if line.startswith("selftest OK:")]
    assert ok and "3 device(s) online" in ok[0] and "operation_mode {'mode': 'stop'} confirmed" in ok[0]
    assert "Traceback" not in proc.stderr
    # the site's data folder holds the log of the selftest, and nothing else (no history, state or layout)
    data = tmp_path / "data"
    assert sorted(p.relative_to(data).as_posix() for p in data.rglob("*") if p.is_file()) == ["logs/pms.log"]
    assert "selftest OK" in (data / "logs" / "pms.log").read_text(encoding="utf-8")


@pytest.mark.gui
@pytest.mark.tcp
def test_selftest_of_the_dcdc_disabled_config_has_no_dcdc_dock(tmp_path):
    proc = run_console(tmp_path, "--selftest", "--config", str(ROOT / "config" / "config_dcdc_disabled.yml"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "selftest OK: 2 device(s) online" in proc.stdout  # the selftest checks one dock per device type


@pytest.mark.gui
@pytest.mark.tcp
def test_selftest_fails_with_the_reason_on_a_bad_config(tmp_path):
    bad = write_config(tmp_path, devices=[{"name": "b", "type": "BMS", "ip": "127.0.0.1", "port": 15020, "pol_interval": 1}])
    proc = run_console(tmp_path, "--selftest", "--config", str(bad))
    assert proc.returncode == 2
    assert "devices[0].pol_interval: unknown key" in proc.stderr and "selftest FAILED" in proc.stderr


@pytest.mark.gui
@pytest.mark.tcp
def test_selftest_survives_no_stdout_and_no_stderr_like_the_windowed_build(tmp_path):
    proc = run_console(tmp_path, "--selftest", stdio=False)
    log_file = tmp_path / "data" / "logs" / "pms.log"
    log_tail = log_file.read_text(encoding="utf-8")[-3000:] if log_file.exists() else ""
    assert proc.returncode == 0, proc.stderr[-3000:] + log_tail
    # Python wrote nothing to the process's streams (Qt's own C-level messages still go to fd 2)
    assert proc.stdout == "" and "selftest" not in proc.stderr and " INFO " not in proc.stderr
    assert "Traceback" not in proc.stderr
    log = (tmp_path / "data" / "logs" / "pms.log").read_text(encoding="utf-8")
    assert "selftest OK" in log
    assert (tmp_path / "data" / "logs" / "crash.log").exists()  # faulthandler's file for hard crashes


@pytest.mark.gui
@pytest.mark.tcp
def test_a_windowed_selftest_logs_a_bad_config_and_does_not_wait_for_an_operator(tmp_path):
    bad = write_config(tmp_path, devices=[{"name": "b", "type": "BMS", "ip": "127.0.0.1", "port": 15020, "pol_interval": 1}])
    proc = run_console(tmp_path, "--selftest", "--config", str(bad), stdio=False, timeout=30)
    assert proc.returncode == 2
    log = (tmp_path / "data" / "logs" / "pms.log").read_text(encoding="utf-8")
    assert "cannot start with" in log and "devices[0].pol_interval: unknown key" in log


@pytest.mark.gui
@pytest.mark.tcp
def test_selftest_excludes_demo_and_exit_after(tmp_path):
    proc = run_console(tmp_path, "--selftest", "--demo", timeout=30)
    assert proc.returncode == 2 and "--selftest runs its own simulator" in proc.stderr


def test_the_selftest_config_moves_every_endpoint_to_a_free_loopback_port(tmp_path):
    site = write_config(tmp_path, devices=[
        {"name": "b", "type": "BMS", "ip": "10.0.0.5", "port": 502, "poll_interval": 2},
        {"name": "p", "type": "PCS", "ip": "10.0.0.6", "port": 502, "poll_interval": 0.2},
        {"name": "d", "type": "DCDC", "ip": "10.0.0.6", "port": 502, "slave_id": 2},
    ], auto_mode={"resume_on_start": True}, history={"path": "/site/history.db"})  # fmt: skip
    (tmp_path / "scratch").mkdir()
    loaded = load_config(selftest_config(load_config(site), tmp_path / "scratch"))
    b, p, d = loaded.devices
    assert {dev.ip for dev in loaded.devices} == {"127.0.0.1"}
    assert p.port == d.port != b.port and 502 not in (b.port, p.port)  # one endpoint stays one endpoint
    assert (b.poll_interval, p.poll_interval) == (0.5, 0.2)
    assert not loaded.config.auto_mode.resume_on_start and loaded.config.history.path is None
    assert loaded.config.mqtt.broker == "127.0.0.1" and loaded.config.mqtt.port != 1883


@pytest.mark.gui
def test_a_config_error_is_still_exit_code_2(tmp_path):
    with pytest.raises(ConfigError):
        load_config(tmp_path / "missing.yml")
    proc = run_console(tmp_path, "--config", str(tmp_path / "missing.yml"), timeout=30)
    assert proc.returncode == 2 and "cannot read config" in proc.stderr
