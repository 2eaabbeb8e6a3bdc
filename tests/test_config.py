"""Config mistakes: one clear line each naming file, key and problem; exit code 2, nothing started."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from pms_core.config import ConfigError, load_config
from tests.helpers.paths import ROOT

GOOD_DEVICE = '{name: "한자연_BMS", type: "BMS", ip: 127.0.0.1, port: 15020}'
ONE = f"devices: [{GOOD_DEVICE}]\n"


def dev(extra: str) -> str:
    """A config with one BMS polled every second and `extra` keys."""
    address = "" if "ip:" in extra else "ip: 10.0.0.5, "
    return f'devices: [{{name: "a", type: "BMS", {address}poll_interval: 1, {extra}}}]\n'


@pytest.mark.parametrize(
    ("text", "line"),
    [
        (f"devices: [{GOOD_DEVICE}]\nmqtt: {{brokr: x}}\n", "mqtt.brokr: unknown key"),
        (
            'devices: [{name: "a", type: "BMS", ip: 10.0.0.5, port: "five"}]\n',
            "devices[0].port: Input should be a valid integer",
        ),
        (
            'devices: [{name: "a", type: "INVERTER", ip: 10.0.0.5}]\n',
            "devices[0].type: Input should be 'BMS', 'PCS' or 'DCDC'",
        ),
        ('devices: [{type: "BMS", ip: 10.0.0.5}]\n', "devices[0].name: required key is missing"),
        ('devices: [{name: "a", type: "BMS"}]\n', "devices[0].ip: required key is missing"),
        ('devices: [{name: "a", type: "BMS", ip: 10.0.0.5, map: "없는_map.json"}]\n', "devices[0].map: "),
        (f"devices: [{GOOD_DEVICE}, {GOOD_DEVICE}]\n", "devices[1].name: duplicate device name '한자연_BMS'"),
        (
            f"devices: [{GOOD_DEVICE}]\nauto_mode: {{soc_low_threshold: 30, soc_charge_stop_threshold: 25}}\n",
            "auto_mode: thresholds out of order",
        ),
        (
            f'devices: [{{name: "a", type: "PCS", ip: 10.0.0.5, map: "{ROOT / "config" / "bms_map.json"}"}}]\n',
            "is a BMS map",
        ),
        ("devices: []\n", "devices: List should have at least 1 item"),
        (
            'devices: [{name: "p", type: "PCS", ip: 10.0.0.5, poll_interval: 15}]\n',
            "devices[0].poll_interval: 15 s is too long for a PCS, which trips after 30 s without a request",
        ),
        ("devices: [\n", "not valid YAML"),
        # values as operators write them: every one refused with its key, nothing read another way
        (f"{ONE}auto_mode: {{command_interval: .nan}}\n", "auto_mode.command_interval: Input should be a finite number"),
        (f"{ONE}auto_mode: {{dcdc_standby_time: .inf}}\n", "auto_mode.dcdc_standby_time: Input should be a finite"),
        (f"{ONE}auto_mode: {{command_interval: 1e12}}\n", "auto_mode.command_interval: Input should be less than or equal"),
        (f"{ONE}mqtt: {{location: 대실/마을}}\n", "mqtt.location: '대실/마을' cannot be an MQTT topic level"),
        (dev("port: 0502"), "devices[0].port: write the number plainly (got 0502"),
        (dev('ip: "192.168.003.037"'), "devices[0].ip: '192.168.003.037' is not an IPv4 address"),
        (dev('ip: "my farm pc"'), "devices[0].ip: 'my farm pc' is neither"),
        (
            'devices: [{name: "BMS #1", type: "BMS", ip: 10.0.0.5}]\n',
            "devices[0].name: 'BMS #1' cannot be an MQTT topic level: no '#'",
        ),
        (
            'devices: [{name: "PCS/1", type: "PCS", ip: 10.0.0.5}]\n',
            "devices[0].name: 'PCS/1' cannot be an MQTT topic level: no '/'",
        ),
        (dev("stale_after: 1000000"), "devices[0].stale_after: 1e+06 s must be between two poll intervals (2 s) and 60 s"),
        (dev("stale_after: 1"), "devices[0].stale_after: 1 s must be between"),
        (
            'devices: [{name: "b", type: "BMS", ip: 10.0.0.5}, {name: "p", type: "PCS", ip: 10.0.0.5}]\n',
            "devices[1].slave_id: 'p' has the ip, port and slave_id of 'b'",
        ),
    ],
)
def test_each_mistake_is_one_line_naming_file_and_key(tmp_path, text, line):
    path = tmp_path / "설정.yml"  # Korean path names must work too
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert len(err.value.lines) == 1
    assert err.value.lines[0].startswith(f"{path}: ")
    assert line in err.value.lines[0]


@pytest.mark.parametrize(
    ("encoding", "line"),
    [("cp949", "line 1 is not UTF-8 (saved as ANSI / cp949?): save it as UTF-8"),
     ("utf-16", "the file is saved as UTF-16: save it as UTF-8")],
)  # fmt: skip
def test_a_config_saved_in_another_encoding_is_one_clear_line(tmp_path, encoding, line):
    path = tmp_path / "config.yml"
    path.write_text(f"devices: [{GOOD_DEVICE}]\n", encoding=encoding)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert err.value.lines == [f"{path}: {line} (Notepad: Save as, Encoding UTF-8)"]


def test_a_config_with_a_byte_order_mark_loads(tmp_path):
    path = tmp_path / "config.yml"
    path.write_text(f"devices: [{GOOD_DEVICE}]\n", encoding="utf-8-sig")  # as Windows Notepad saves UTF-8
    assert load_config(path).devices[0].name == "한자연_BMS"


def test_missing_map_file_is_named(tmp_path):
    path = tmp_path / "config.yml"
    path.write_text('devices: [{name: "a", type: "BMS", ip: 10.0.0.5, map: "maps/nope.json"}]\n', encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert err.value.lines == [f"{path}: devices[0].map: {tmp_path / 'maps' / 'nope.json'}: map file not found"]


def test_every_mistake_is_reported(tmp_path):
    path = tmp_path / "config.yml"
    path.write_text(
        'devices: [{name: "a", type: "BMS", ip: 10.0.0.5, poll_interval: -1, colour: 1}]\nlogging: {level: LOUD}\n'
    )
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert len(err.value.lines) == 3


def test_the_pcs_watchdog_counts_real_seconds(tmp_path):
    """Polled every 10 s at most (DECISIONS: safety); in a simulation at 3600x, 30 plant s are 8 real ms."""
    path = tmp_path / "config.yml"
    path.write_text(
        'devices: [{name: "p", type: "PCS", ip: 10.0.0.5, poll_interval: 10},'
        ' {name: "b", type: "BMS", ip: 10.0.0.6, poll_interval: 60}]\n'
    )
    assert load_config(path).devices[0].poll_interval == 10  # the BMS and DC-DC have no such watchdog
    path.write_text('devices: [{name: "p", type: "PCS", ip: 10.0.0.5, poll_interval: 30}]\n')
    with pytest.raises(ConfigError):
        load_config(path)
    assert load_config(path, plant_speed=3600).devices[0].poll_interval == 30


def test_defaults_are_filled_in(tmp_path):
    path = tmp_path / "config.yml"
    path.write_text(f"devices: [{GOOD_DEVICE}]\n", encoding="utf-8")
    cfg = load_config(path).config
    dev = cfg.devices[0]
    assert (dev.poll_interval, dev.timeout, dev.stale_limit, dev.slave_id) == (1.0, 1.0, 3.0, 1)
    assert cfg.mqtt.client_id.startswith("pms-") and cfg.mqtt.command_max_age_s == 30
    assert not cfg.mqtt.allow_raw_writes and not cfg.auto_mode.resume_on_start and not cfg.recovery.enabled


def test_shipped_configs_are_valid(tmp_path):
    shipped = load_config(ROOT / "config" / "config.yml")
    assert {d.type for d in shipped.devices} == {"BMS", "PCS", "DCDC"}
    assert all(d.ip == "127.0.0.1" for d in shipped.devices)
    site_dir = shutil.copytree(ROOT / "config", tmp_path / "config")  # as a site installs it, TLS files in certs/
    example = site_dir / "site.example.yml"
    with pytest.raises(ConfigError) as err:
        load_config(example)
    files = {"ca_file": "ca.crt", "cert_file": "pms.crt", "key_file": "pms.key"}
    certs = site_dir / "certs"
    assert err.value.lines == [f"{example}: mqtt.tls.{k}: file not found: {certs / f}" for k, f in files.items()]
    certs.mkdir()
    for name in files.values():
        (certs / name).write_text("", encoding="utf-8")
    site = load_config(example)
    assert all(d.ip.startswith("192.168.") for d in site.devices) and site.config.mqtt.location == "대실마을"


def test_runner_exits_2_and_starts_nothing_on_a_bad_config(tmp_path):
    path = tmp_path / "config.yml"
    path.write_text(f"devices: [{GOOD_DEVICE}]\nmqtt: {{brokr: x}}\n", encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, str(ROOT / "main.py"), "--config", str(path)],
        check=False,
        capture_output=True,
        text=True,
        timeout=30,
        env={"PMS_DATA_DIR": str(tmp_path / "data"), "PATH": ""},
    )
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"{path}: mqtt.brokr: unknown key"
    assert not (tmp_path / "data").exists()  # no log file: nothing started
