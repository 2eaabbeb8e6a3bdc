"""Load and validate config.yml: defaults filled in, one clear line per mistake."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from pms_core.paths import bundled_config_dir, default_config
from pms_core.registers import DeviceMap, MapError, load_map

DEFAULT_CONFIG = default_config()  # beside the executable when frozen and present, else the shipped one
PCS_WATCHDOG_S = 30.0  # the PCS trips by itself after this long without a request (DECISIONS: safety)
PCS_POLL_MAX_S = PCS_WATCHDOG_S / 3  # one lost poll still leaves another try before it trips


class ConfigError(Exception):
    """Every mistake found in a config file, one line each."""

    def __init__(self, lines: list[str]) -> None:
        super().__init__("\n".join(lines))
        self.lines = lines


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TlsConfig(_Section):
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None


class MqttConfig(_Section):
    broker: str = "127.0.0.1"
    port: int = Field(default=1883, ge=1, le=65535)
    base_topic: str = Field(default="pms", min_length=1)
    client_id: str = Field(default_factory=lambda: f"pms-{socket.gethostname()}", min_length=1)
    username: str = ""
    password: str = ""
    keepalive: int = Field(default=30, ge=5, le=3600)
    location: str | None = None
    allow_raw_writes: bool = False
    command_max_age_s: float = Field(default=30.0, gt=0)
    tls: TlsConfig | None = None


class DeviceConfig(_Section):
    name: str = Field(min_length=1)
    type: Literal["BMS", "PCS", "DCDC"]
    ip: str = "127.0.0.1"
    port: int = Field(default=502, ge=1, le=65535)
    slave_id: int = Field(default=1, ge=0, le=247)
    poll_interval: float = Field(default=1.0, ge=0.1, le=3600)
    map: str | None = None
    timeout: float = Field(default=1.0, gt=0, le=60)
    stale_after: float | None = Field(default=None, gt=0)

    @property
    def stale_limit(self) -> float:
        return self.stale_after if self.stale_after is not None else 3 * self.poll_interval


class FaultRecoveryConfig(_Section):
    """After a PCS trip (or a step that failed twice), once every trip has stayed cleared for 60 s: reset and start
    again. Off by default: it writes to the devices without anyone at the site."""

    enabled: bool = False
    max_attempts_per_hour: int = Field(default=3, ge=1, le=60)


class AutoModeConfig(_Section):
    enabled: bool = True
    soc_high_threshold: float = Field(default=88.0, ge=0, le=100)
    soc_low_threshold: float = Field(default=5.0, ge=0, le=100)
    soc_charge_stop_threshold: float = Field(default=25.0, ge=0, le=100)
    dcdc_standby_time: float = Field(default=30.0, gt=0)
    command_interval: float = Field(default=5.0, gt=0)
    charging_power: float = Field(default=10.0, gt=0)
    resume_on_start: bool = False
    # % per second: a BMS SOC that moves faster is a bad reading, treated as stale (HOLD)
    soc_max_rate: float = Field(default=2.0, gt=0, le=100)
    fault_recovery: FaultRecoveryConfig = FaultRecoveryConfig()

    @model_validator(mode="after")
    def _ordered(self) -> AutoModeConfig:
        if not self.soc_low_threshold < self.soc_charge_stop_threshold < self.soc_high_threshold:
            raise ValueError(
                "thresholds out of order: need soc_low_threshold < soc_charge_stop_threshold"
                f" < soc_high_threshold, got {self.soc_low_threshold} / {self.soc_charge_stop_threshold}"
                f" / {self.soc_high_threshold}"
            )
        return self


class RecoveryConfig(_Section):
    enabled: bool = False
    max_attempts: int = Field(default=5, ge=1)
    cooldown_seconds: float = Field(default=120.0, gt=0)


class HistoryConfig(_Section):
    path: str | None = None
    retention_days: float = Field(default=30.0, gt=0)


class LoggingConfig(_Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    file: str | None = None


class PmsConfig(_Section):
    mqtt: MqttConfig = MqttConfig()
    devices: list[DeviceConfig] = Field(min_length=1)
    auto_mode: AutoModeConfig = AutoModeConfig()
    recovery: RecoveryConfig = RecoveryConfig()
    history: HistoryConfig = HistoryConfig()
    logging: LoggingConfig = LoggingConfig()


class LoadedConfig:
    """A validated config with its device maps loaded."""

    def __init__(self, path: Path, config: PmsConfig, maps: dict[str, DeviceMap]) -> None:
        self.path = path
        self.config = config
        self.maps = maps  # by device name

    @property
    def devices(self) -> list[DeviceConfig]:
        return self.config.devices


def _key(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _message(err: dict) -> str:
    kind = err["type"]
    if kind == "extra_forbidden":
        return "unknown key"
    if kind == "missing":
        return "required key is missing"
    msg = str(err["msg"])
    return msg.removeprefix("Value error, ")


def beside_config(name: str, config_path: Path) -> Path:
    """A file named in the config: absolute as written, else relative to the config file's folder."""
    path = Path(name)
    return path if path.is_absolute() else config_path.parent / path


def map_path(device: DeviceConfig, config_path: Path) -> Path:
    """A device's map: as named (relative to the config file), else beside the config, else bundled."""
    if device.map:
        return beside_config(device.map, config_path)
    filename = f"{device.type.lower()}_map.json"
    beside = config_path.parent / filename
    return beside if beside.exists() else bundled_config_dir() / filename


def load_config(path: Path, plant_speed: float = 1.0) -> LoadedConfig:
    """Read, validate and resolve a config; ConfigError lists every mistake.

    `plant_speed` is plant seconds per real second: 1 except in an accelerated simulation, whose intervals are
    plant seconds while the PCS's watchdog, a real device's, counts real ones.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([f"{path}: cannot read config: {exc.strerror}"]) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise ConfigError([f"{path}: not valid YAML{where}: {getattr(exc, 'problem', exc)}"]) from None
    if not isinstance(data, dict):
        raise ConfigError([f"{path}: the config must be a mapping of sections (mqtt, devices, ...)"])
    try:
        config = PmsConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError([f"{path}: {_key(e['loc'])}: {_message(e)}" for e in exc.errors()]) from None

    lines: list[str] = []
    seen: set[str] = set()
    maps: dict[str, DeviceMap] = {}
    loaded: dict[Path, DeviceMap] = {}
    for i, dev in enumerate(config.devices):
        if dev.name in seen:
            lines.append(f"{path}: devices[{i}].name: duplicate device name {dev.name!r}")
        seen.add(dev.name)
        if dev.type == "PCS" and dev.poll_interval / plant_speed > PCS_POLL_MAX_S:
            lines.append(
                f"{path}: devices[{i}].poll_interval: {dev.poll_interval:g} s is too long for a PCS, which trips after"
                f" {PCS_WATCHDOG_S:g} s without a request: poll it at least every {PCS_POLL_MAX_S:g} s"
            )
        mpath = map_path(dev, path)
        try:
            dmap = loaded.get(mpath) or load_map(mpath)
        except MapError as exc:
            lines.append(f"{path}: devices[{i}].map: {exc}")
            continue
        loaded[mpath] = dmap
        if dmap.device_type != dev.type:
            lines.append(f"{path}: devices[{i}].map: {mpath} is a {dmap.device_type} map, the device is a {dev.type}")
        maps[dev.name] = dmap
    tls = config.mqtt.tls
    for key in ("ca_file", "cert_file", "key_file"):
        name = getattr(tls, key) if tls else None
        if name and not beside_config(name, path).is_file():
            lines.append(f"{path}: mqtt.tls.{key}: file not found: {beside_config(name, path)}")
    if lines:
        raise ConfigError(lines)
    return LoadedConfig(path, config, maps)
