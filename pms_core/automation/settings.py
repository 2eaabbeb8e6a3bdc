"""The automatic mode's thresholds and timings: validated, changeable at run time, persisted.

Values changed at run time (MQTT `threshold_config`, the console) are kept in a
small state file in the data folder; at start the state file wins over
config.yml, and `sources` tells where each value came from.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

from pms_core.config import AutoModeConfig

log = logging.getLogger(__name__)

ALIASES = {"soc_upper_limit": "soc_high_threshold", "soc_lower_limit": "soc_low_threshold"}


class SettingsError(ValueError):
    """Thresholds or timings that cannot be applied; nothing was changed."""


@dataclass(frozen=True)
class AutoSettings:
    soc_high_threshold: float
    soc_low_threshold: float
    soc_charge_stop_threshold: float
    dcdc_standby_time: float
    command_interval: float
    charging_power: float

    @classmethod
    def from_config(cls, cfg: AutoModeConfig) -> AutoSettings:
        return cls(**{f.name: getattr(cfg, f.name) for f in fields(cls)})

    def as_dict(self) -> dict[str, float]:
        return asdict(self)

    def validate(self, pcs_rating_kw: float | None) -> None:
        low, stop, high = self.soc_low_threshold, self.soc_charge_stop_threshold, self.soc_high_threshold
        if not 0 <= low < stop < high <= 100:
            raise SettingsError(
                "thresholds must satisfy 0 <= soc_low_threshold < soc_charge_stop_threshold < soc_high_threshold <= 100,"
                f" got {low} / {stop} / {high}"
            )
        for name in ("dcdc_standby_time", "command_interval", "charging_power"):
            if getattr(self, name) <= 0:
                raise SettingsError(f"{name} must be greater than 0, got {getattr(self, name)}")
        if pcs_rating_kw is not None and self.charging_power > pcs_rating_kw:
            raise SettingsError(f"charging_power {self.charging_power} kW is above the PCS rating of {pcs_rating_kw} kW")

    def changed(self, changes: dict[str, Any]) -> AutoSettings:
        """A copy with `changes` applied (aliases accepted); SettingsError on unknown keys or non-numbers."""
        known = {f.name for f in fields(self)}
        clean: dict[str, float] = {}
        for key, value in changes.items():
            name = ALIASES.get(key, key)
            if name not in known:
                raise SettingsError(f"unknown setting {key!r}; known: {', '.join(sorted(known | set(ALIASES)))}")
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise SettingsError(f"{key} must be a number, got {value!r}")
            clean[name] = float(value)
        return replace(self, **clean)


class SettingsStore:
    """The settings in force, where each came from, and the state file that keeps run-time changes."""

    def __init__(self, cfg: AutoModeConfig, state_file: Path) -> None:
        self.state_file = state_file
        self.current = AutoSettings.from_config(cfg)
        self.sources = dict.fromkeys(self.current.as_dict(), "config.yml")
        self.saved_mode: dict[str, Any] = {}
        stored = self._read()
        if stored.get("settings"):
            try:
                candidate = self.current.changed(stored["settings"])
                candidate.validate(None)
            except SettingsError as exc:
                log.error("ignoring the saved thresholds in %s: %s", state_file, exc)
            else:
                self.current = candidate
                self.sources.update(dict.fromkeys(stored["settings"], "saved"))
        self.saved_mode = stored.get("mode", {})

    def update(self, changes: dict[str, Any], pcs_rating_kw: float | None) -> AutoSettings:
        candidate = self.current.changed(changes)
        candidate.validate(pcs_rating_kw)
        self.current = candidate
        for key in changes:
            self.sources[ALIASES.get(key, key)] = "saved"
        self._write()
        return candidate

    def save_mode(self, mode: str, auto_running: bool) -> None:
        wanted = {"mode": mode, "auto_running": auto_running}
        if wanted != self.saved_mode:
            self.saved_mode = wanted
            self._write()

    def _read(self) -> dict[str, Any]:
        try:
            data = json.loads(self.state_file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            log.error("cannot read the state file %s (%s): using config.yml", self.state_file, exc)
            return {}
        return data if isinstance(data, dict) else {}

    def _write(self) -> None:
        saved = {k: v for k, v in self.current.as_dict().items() if self.sources[k] == "saved"}
        data = {"settings": saved, "mode": self.saved_mode}
        try:
            self.state_file.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.state_file.with_suffix(".tmp")
            tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False), encoding="utf-8")
            os.replace(tmp, self.state_file)  # atomic: a crash leaves the old or the new file, never half of one
        except OSError as exc:
            log.error("cannot save the state file %s: %s (the change is in force until restart)", self.state_file, exc)
