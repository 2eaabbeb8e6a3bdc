"""Load and validate config.yml: defaults filled in, one clear line per mistake."""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator

from pms_core import validation
from pms_core.paths import bundled_config_dir, default_config
from pms_core.reasons import Reason, ReasonError
from pms_core.registers import DeviceMap, MapError, load_map

DEFAULT_CONFIG = default_config()  # beside the executable when frozen and present, else the shipped one
PCS_WATCHDOG_S = 30.0  # the PCS trips by itself after this long without a request (DECISIONS: safety)
PCS_POLL_MAX_S = PCS_WATCHDOG_S / 3  # one lost poll still leaves another try before it trips
STALE_MAX_S = 60.0  # data older than this is never current, whatever the config says
LABEL = r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
HOST_NAME = re.compile(rf"{LABEL}(\.{LABEL})*")
PLAIN_INT = re.compile(r"[-+]?(0|[1-9][0-9]*)")


class ConfigError(Exception):
    """Every mistake found in a config file, one line each: a Reason (naming the file), or a line of English."""

    def __init__(self, reasons: Sequence[Reason | str]) -> None:
        self.reasons = list(reasons)
        self.lines = [str(r) for r in self.reasons]
        super().__init__("\n".join(self.lines))


class _Section(BaseModel):
    # NaN and infinities are never a setting: a timer that never fires or fires in a loop, JSON that cannot be written.
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class TlsConfig(_Section):
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None


class MqttConfig(_Section):
    broker: Host = "127.0.0.1"
    port: int = Field(default=1883, ge=1, le=65535)
    base_topic: str = Field(default="pms", min_length=1)
    client_id: str = Field(default_factory=lambda: f"pms-{socket.gethostname()}", min_length=1)
    username: str = ""
    password: str = ""
    keepalive: int = Field(default=30, ge=5, le=3600)
    location: TopicName | None = None
    allow_raw_writes: bool = False
    command_max_age_s: float = Field(default=30.0, ge=1, le=3600)
    tls: TlsConfig | None = None


def _host(value: str) -> str:
    """An IPv4 address written plainly, or a host name: `192.168.003.037` is refused, it reads as another host."""
    if re.fullmatch(r"[0-9.]+", value):
        try:
            ipaddress.IPv4Address(value)
        except ValueError:
            raise ReasonError(Reason("value.not_ipv4", value=repr(value))) from None
    elif not HOST_NAME.fullmatch(value):
        raise ReasonError(Reason("value.not_host", value=repr(value)))
    return value


def _topic_level(value: str) -> str:
    """A name that is one MQTT topic level as it stands: `BMS #1` would make every publish fail, `PCS/1` add a level."""
    bad = sorted({c for c in value if c in "/+#" or not c.isprintable()})
    if bad:
        raise ReasonError(Reason("value.topic_chars", value=repr(value), chars=", ".join(repr(c) for c in bad)))
    if value != value.strip():
        raise ReasonError(Reason("value.topic_spaces", value=repr(value)))
    return value


Host = Annotated[str, Field(min_length=1, max_length=253), AfterValidator(_host)]
TopicName = Annotated[str, Field(min_length=1, max_length=64), AfterValidator(_topic_level)]


class DeviceConfig(_Section):
    name: TopicName
    type: Literal["BMS", "PCS", "DCDC"]
    ip: Host  # required: a device without an address must not silently poll this PC
    port: int = Field(default=502, ge=1, le=65535)
    slave_id: int = Field(default=1, ge=0, le=247)
    poll_interval: float = Field(default=1.0, ge=0.1, le=3600)
    map: str | None = None
    timeout: float = Field(default=1.0, gt=0, le=60)
    stale_after: float | None = Field(default=None, gt=0)  # bounded by the poll interval and STALE_MAX_S at load

    @property
    def stale_limit(self) -> float:
        return self.stale_after if self.stale_after is not None else 3 * self.poll_interval


class FaultRecoveryConfig(_Section):
    """After a PCS trip (or a step that failed twice), once every trip has stayed cleared for 60 s: reset and start
    again. Off by default: it writes to the devices without anyone at the site."""

    enabled: bool = False
    max_attempts_per_hour: int = Field(default=3, ge=1, le=60)


class Thresholds(_Section):
    """The automatic mode's thresholds and timings, one model with one set of bounds wherever they come from:
    config.yml, the state file, MQTT `threshold_config` and the console."""

    soc_high_threshold: float = Field(default=88.0, ge=0, le=100)
    soc_low_threshold: float = Field(default=5.0, ge=0, le=100)
    soc_charge_stop_threshold: float = Field(default=25.0, ge=0, le=100)
    dcdc_standby_time: float = Field(default=30.0, ge=1, le=86_400)
    command_interval: float = Field(default=5.0, ge=0.5, le=600)
    charging_power: float = Field(default=10.0, gt=0, le=1000)  # and at most the PCS's rating once it is read

    @model_validator(mode="after")
    def _ordered(self) -> Thresholds:
        if not self.soc_low_threshold < self.soc_charge_stop_threshold < self.soc_high_threshold:
            raise ReasonError(
                Reason("value.order", low=self.soc_low_threshold, stop=self.soc_charge_stop_threshold,
                       high=self.soc_high_threshold)
            )  # fmt: skip
        return self

    def as_dict(self) -> dict[str, float]:
        return {name: getattr(self, name) for name in Thresholds.model_fields}

    @staticmethod
    def bounds(name: str) -> tuple[float, float]:
        """The lowest and highest value of a setting (the lowest may be excluded: charging_power > 0)."""
        low, high = 0.0, 0.0
        for rule in Thresholds.model_fields[name].metadata:
            low = getattr(rule, "ge", getattr(rule, "gt", low))
            high = getattr(rule, "le", high)
        return low, high


class AutoModeConfig(Thresholds):
    enabled: bool = True
    resume_on_start: bool = False
    # % per second: a BMS SOC that moves faster is a bad reading, treated as stale (HOLD)
    soc_max_rate: float = Field(default=2.0, gt=0, le=100)
    fault_recovery: FaultRecoveryConfig = FaultRecoveryConfig()

    def thresholds(self) -> Thresholds:
        return Thresholds(**Thresholds.as_dict(self))


class RecoveryConfig(_Section):
    enabled: bool = False
    max_attempts: int = Field(default=5, ge=1)
    cooldown_seconds: float = Field(default=120.0, gt=0)


class HistoryConfig(_Section):
    path: str | None = None
    retention_days: float = Field(default=30.0, ge=1, le=3650)


class LoggingConfig(_Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    file: str | None = None


class SiteConfig(_Section):
    # No grid at this site: the PCS's grid-blackout bit is its normal state, information and not a warning.
    off_grid: bool = False


class PmsConfig(_Section):
    site: SiteConfig = SiteConfig()
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


def read_text_file(path: Path) -> str:
    """A config file as text: UTF-8, with or without the BOM Windows' editors write; anything else is one clear line."""
    try:
        raw = path.read_bytes()
    except OSError as exc:  # the operating system's words (in the site's language on Windows)
        raise ConfigError([Reason("config.unreadable", file=str(path), error=exc.strerror)]) from None
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ConfigError([Reason("config.utf16", file=str(path))])
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ConfigError([Reason("config.not_utf8", file=str(path), line=line)]) from None


def _unplain_numbers(node: yaml.Node | None, key: str = "") -> list[tuple[str, str]]:
    """(key, number as written) of the integers YAML 1.1 reads in a surprising way: `0502` is octal 322, `0x1F` hex,
    `1:30` sixty-based 90."""
    if isinstance(node, yaml.MappingNode):
        return [p for k, v in node.value for p in _unplain_numbers(v, f"{key}.{k.value}" if key else str(k.value))]
    if isinstance(node, yaml.SequenceNode):
        return [p for i, v in enumerate(node.value) for p in _unplain_numbers(v, f"{key}[{i}]")]
    if not (isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:int" and not node.style):
        return []
    return [] if PLAIN_INT.fullmatch(node.value.replace("_", "")) else [(key or "(top level)", node.value)]


def load_config(path: Path, plant_speed: float = 1.0) -> LoadedConfig:
    """Read, validate and resolve a config; ConfigError lists every mistake.

    `plant_speed` is plant seconds per real second: 1 except in an accelerated simulation, whose intervals are
    plant seconds while the PCS's watchdog, a real device's, counts real ones.
    """
    text = read_text_file(path)
    file = str(path)
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = str(getattr(exc, "problem", exc))  # the YAML parser's words
        raise ConfigError([
            Reason("config.yaml_at", file=file, line=mark.line + 1, problem=problem) if mark
            else Reason("config.yaml", file=file, problem=problem)
        ]) from None  # fmt: skip
    surprises = [Reason("config.octal", file=file, key=key, value=value) for key, value in _unplain_numbers(node)]
    if surprises:
        raise ConfigError(surprises)
    if not isinstance(data, dict):
        raise ConfigError([Reason("config.not_mapping", file=file)])
    try:
        config = PmsConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError([Reason("config.line", file=file, problem=r) for r in validation.reasons(exc)]) from None

    lines: list[Reason] = []
    seen: set[str] = set()
    units: dict[tuple[str, int, int], str] = {}
    maps: dict[str, DeviceMap] = {}
    loaded: dict[Path, DeviceMap] = {}
    for i, dev in enumerate(config.devices):
        if dev.name in seen:
            lines.append(Reason("config.duplicate_name", file=file, index=i, name=dev.name))
        seen.add(dev.name)
        other = units.setdefault((dev.ip, dev.port, dev.slave_id), dev.name)
        if other != dev.name:
            lines.append(Reason("config.same_unit", file=file, index=i, name=dev.name, other=other))
        if dev.stale_after is not None and not (
            2 * dev.poll_interval <= dev.stale_after and dev.stale_after / plant_speed <= STALE_MAX_S
        ):
            lines.append(Reason("config.stale_after", file=file, index=i, stale_after=dev.stale_after,
                                minimum=2 * dev.poll_interval, maximum=STALE_MAX_S))  # fmt: skip
        if dev.type == "PCS" and dev.poll_interval / plant_speed > PCS_POLL_MAX_S:
            lines.append(Reason("config.pcs_poll", file=file, index=i, poll=dev.poll_interval, watchdog=PCS_WATCHDOG_S,
                                maximum=PCS_POLL_MAX_S))  # fmt: skip
        mpath = map_path(dev, path)
        try:
            dmap = loaded.get(mpath) or load_map(mpath)
        except MapError as exc:  # the map loader's words: the map file and what is wrong in it
            lines.append(Reason("config.map", file=file, index=i, error=str(exc)))
            continue
        loaded[mpath] = dmap
        if config.site.off_grid:
            dmap = dmap.off_grid()
        if dmap.device_type != dev.type:
            lines.append(Reason("config.map_type", file=file, index=i, map=str(mpath), map_type=dmap.device_type,
                                type=dev.type))  # fmt: skip
        maps[dev.name] = dmap
    tls = config.mqtt.tls
    for key in ("ca_file", "cert_file", "key_file"):
        name = getattr(tls, key) if tls else None
        if name and not beside_config(name, path).is_file():
            lines.append(Reason("config.tls_file", file=file, key=key, path=str(beside_config(name, path))))
    if lines:
        raise ConfigError(lines)
    return LoadedConfig(path, config, maps)
