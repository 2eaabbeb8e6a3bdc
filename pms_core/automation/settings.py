"""The automatic mode's thresholds and timings: validated, changeable at run time, persisted.

Values changed at run time (MQTT `threshold_config`, the console) are kept in a
small state file in the data folder; at start the state file wins over
config.yml, and `sources` tells where each value came from. Every value, from
any of these doors, passes the one model `config.Thresholds` (finite, within
its bounds, in order). A state file that does not is set aside
(`pms_state.json.invalid-<time>`) and reported; the PMS starts from config.yml.
"""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from pms_core import validation
from pms_core.config import AutoModeConfig, Thresholds
from pms_core.reasons import Reason, ReasonError

log = logging.getLogger(__name__)

ALIASES = {"soc_upper_limit": "soc_high_threshold", "soc_lower_limit": "soc_low_threshold"}


class SettingsError(ReasonError):
    """Thresholds or timings that cannot be applied; nothing was changed."""


class SavedMode(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    mode: Literal["basic", "auto"]
    auto_running: bool


class StateFile(BaseModel):
    """What the state file may hold: the thresholds changed at run time and the mode to resume."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    settings: dict[str, float] = {}
    mode: SavedMode | None = None


def changed(current: Thresholds, changes: dict[str, Any]) -> Thresholds:
    """`current` with `changes` applied (aliases accepted); SettingsError names the key and the bound."""
    clean: dict[str, float] = {}
    for key, value in changes.items():
        name = ALIASES.get(key, key)
        if name not in Thresholds.model_fields:
            known = ", ".join(sorted(set(Thresholds.model_fields) | set(ALIASES)))
            raise SettingsError(Reason("settings.unknown", key=validation.shown(key), known=known))
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise SettingsError(Reason("settings.not_a_number", key=key, value=validation.shown(value)))
        clean[name] = value
    try:
        return Thresholds(**(current.as_dict() | clean))
    except ValidationError as exc:
        raise SettingsError(validation.reasons(exc)[0]) from None


class SettingsStore:
    """The settings in force, where each came from, and the state file that keeps run-time changes."""

    def __init__(self, cfg: AutoModeConfig, state_file: Path) -> None:
        self.state_file = state_file
        self.current = cfg.thresholds()
        self.sources = dict.fromkeys(self.current.as_dict(), "config.yml")
        self.saved_mode: dict[str, Any] = {}
        self.problem: str | None = None  # why the state file was set aside at start, for the alarm
        stored = self._read()
        if stored is None:
            return
        try:
            candidate = changed(self.current, stored.settings)
        except SettingsError as exc:
            self._set_aside(f"its thresholds are invalid: {exc}")
            return
        self.current = candidate
        self.sources.update(dict.fromkeys((ALIASES.get(k, k) for k in stored.settings), "saved"))
        self.saved_mode = stored.mode.model_dump() if stored.mode else {}

    def update(self, changes: dict[str, Any], pcs_rating_kw: float | None) -> Thresholds:
        candidate = changed(self.current, changes)
        if pcs_rating_kw is not None and candidate.charging_power > pcs_rating_kw:
            raise SettingsError(Reason("settings.above_rating", power=candidate.charging_power, rating=pcs_rating_kw))
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

    def _read(self) -> StateFile | None:
        try:
            text = self.state_file.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError) as exc:
            self._set_aside(f"it cannot be read ({exc})")
            return None
        try:
            return StateFile.model_validate(json.loads(text, parse_constant=_no_constant))
        except ValueError as exc:  # JSON, NaN / Infinity, or a shape the PMS never writes
            self._set_aside(f"it is not a valid state file ({str(exc).splitlines()[0]})")
            return None

    def _set_aside(self, why: str) -> None:
        aside = self.state_file.with_name(f"{self.state_file.name}.invalid-{time.strftime('%Y%m%d-%H%M%S')}")
        try:
            os.replace(self.state_file, aside)
            where = f"moved to {aside.name}"
        except OSError as exc:
            where = f"could not be moved aside: {exc.strerror}"
        self.problem = f"the state file {self.state_file} was ignored, {why}; {where}; using config.yml"
        log.error("%s", self.problem)

    def _write(self) -> None:
        saved = {k: v for k, v in self.current.as_dict().items() if self.sources[k] == "saved"}
        data = {"settings": saved, "mode": self.saved_mode or None}
        try:
            self.state_file.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.state_file.with_suffix(".tmp")
            tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False, allow_nan=False), encoding="utf-8")
            os.replace(tmp, self.state_file)  # atomic: a crash leaves the old or the new file, never half of one
        except (OSError, ValueError) as exc:
            log.error("cannot save the state file %s: %s (the change is in force until restart)", self.state_file, exc)


def _no_constant(name: str) -> float:
    raise ValueError(f"{name} is not a number the PMS writes")
