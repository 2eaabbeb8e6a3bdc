"""Basic / auto mode: which source may command the devices now, and the switches between modes."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from pms_core.automation.auto_mode import AutoMode, AutoStatus
from pms_core.automation.settings import SettingsError, SettingsStore
from pms_core.automation.state_machine import Observation
from pms_core.bus import Bus
from pms_core.clock import Clock
from pms_core.commands import CommandService, Source
from pms_core.config import AutoModeConfig
from pms_core.reasons import Reason

log = logging.getLogger(__name__)

MODE_ALIASES = {"basic": "basic", "manual": "basic", "auto": "auto"}
RESUME_WAIT = 30.0  # seconds to wait for fresh BMS data before resuming auto after a restart
ALREADY = {"basic": Reason("mode.already_basic"), "auto": Reason("mode.already_auto")}
SWITCHED = {"basic": Reason("mode.switched_basic"), "auto": Reason("mode.switched_auto")}


@dataclass(frozen=True)
class Outcome:
    """The answer to an operator's or a remote system's request."""

    ok: bool
    why: Reason

    @property
    def message(self) -> str:
        """`why` in English, as the MQTT answer and the log say it."""
        return self.why.text


@dataclass(frozen=True)
class OperationStatus:
    """Published on the bus at every change of mode, machine state, step or settings."""

    mode: str
    auto: AutoStatus
    thresholds: dict[str, float]
    sources: dict[str, str] = field(default_factory=dict)  # where each threshold came from
    timestamp: float = 0.0
    changed_by: Source = "auto"  # who asked for this change; "auto" is the PMS itself (its machine, resume on start)


class OperationManager:
    def __init__(
        self,
        config: AutoModeConfig,
        service: CommandService,
        auto: AutoMode,
        settings: SettingsStore,
        bus: Bus,
        clock: Clock,
    ) -> None:
        self.config = config
        self.auto = auto
        self.settings = settings
        self.bus = bus
        self.clock = clock
        self.mode = "basic"
        self._by: Source = "auto"
        service.gate = self.gate
        auto.on_change = lambda _status: self._changed()

    def auto_engaged(self) -> bool:
        """The automatic mode is on and has not been stopped: running, or in FAULT (the interlocks enforce then)."""
        return self.mode == "auto" and self.auto.machine.state != "IDLE"

    def gate(self, source: Source) -> Reason | None:
        """Why `source` may not write to a device now, or None (the interlocks' own writes pass in every mode)."""
        if source == "interlock":
            return None
        if source == "auto":
            if self.mode != "auto" or self.auto.machine.state == "IDLE":
                return Reason("auto.not_running")
            return None
        if self.mode == "auto":
            return Reason("mode.auto_on", state=self.auto.machine.state)
        return None

    def set_mode(self, requested: str, *, source: Source) -> Outcome:
        with self._on_behalf_of(source):
            return self._set_mode(requested)

    def _set_mode(self, requested: str) -> Outcome:
        mode = MODE_ALIASES.get(str(requested).lower()) if isinstance(requested, str) else None
        if mode is None:
            return Outcome(False, Reason("mode.unknown", mode=repr(requested)))
        if mode == "auto" and not self.config.enabled:
            return Outcome(False, Reason("mode.auto_not_allowed"))
        if mode == self.mode:
            return Outcome(True, ALREADY[mode])
        if mode == "basic":
            self.auto.stop()
        self.mode = mode
        log.info("operation mode: %s (asked by %s)", mode, self._by)
        self._changed()
        return Outcome(True, SWITCHED[mode])

    def start_auto(self, *, source: Source) -> Outcome:
        if self.mode != "auto":
            return Outcome(False, Reason("auto.start_needs_auto"))
        with self._on_behalf_of(source):
            refusal = self.auto.start()
        return Outcome(False, refusal) if refusal else Outcome(True, Reason("auto.started"))

    def stop_auto(self, *, source: Source) -> Outcome:
        if not self.auto.machine.running and self.auto.machine.state != "FAULT":
            return Outcome(True, Reason("auto.was_not_running"))
        with self._on_behalf_of(source):
            self.auto.stop()
        return Outcome(True, Reason("auto.stopped"))

    def update_settings(self, changes: dict[str, Any], pcs_rating_kw: float | None, *, source: Source) -> Outcome:
        try:
            applied = self.settings.update(changes, pcs_rating_kw)
        except SettingsError as exc:
            return Outcome(False, exc.reason)
        log.info("automatic mode settings changed by %s: %s", source, changes)
        with self._on_behalf_of(source):
            self._changed()  # the new values, theirs
        self.auto.settings_changed()  # what the machine does with them is its own doing
        return Outcome(True, Reason("settings.applied", settings=str(applied.as_dict())))

    def status(self) -> OperationStatus:
        s = self.settings
        return OperationStatus(
            self.mode, self.auto.status(), s.current.as_dict(), dict(s.sources), self.clock.now(), self._by
        )

    async def resume(self) -> None:
        """After a restart: basic mode, unless resume_on_start restores auto (and re-runs the start sequence)."""
        saved = self.settings.saved_mode
        if not (self.config.resume_on_start and saved.get("mode") == "auto"):
            return
        outcome = self.set_mode("auto", source="auto")
        if not outcome.ok or not saved.get("auto_running"):
            log.info("resume on start: %s", outcome.message)
            return
        deadline = self.clock.monotonic() + RESUME_WAIT
        while _not_ready(self.auto.observation()) and self.clock.monotonic() < deadline:
            await self.clock.sleep(0.5)
        log.info("resume on start: %s", self.start_auto(source="auto").message)

    @contextmanager
    def _on_behalf_of(self, source: Source) -> Iterator[None]:
        """The status changes published meanwhile name `source` as the one who asked (the audit log's "who")."""
        before, self._by = self._by, source
        try:
            yield
        finally:
            self._by = before

    def _changed(self) -> None:
        status = self.status()
        self.settings.save_mode(self.mode, status.auto.running)
        self.bus.publish(status)


def _not_ready(obs: Observation) -> bool:
    """Some device the automatic start commands has no fresh data yet (the start would be refused)."""
    return bool(obs.blind or obs.dcdc_stale)
