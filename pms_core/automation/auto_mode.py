"""The automatic mode's runner: feeds the state machine and carries out its actions.

It turns snapshots and link states into observations, wakes the machine at
its deadlines on the injectable clock, and executes each issued step through
the command service (source `auto`), reporting the outcome back: a step is
done when the device acknowledged the write and, where the map declares how,
showed that it took effect.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass

from pms_core.automation import state_machine as sm
from pms_core.automation.settings import SettingsStore
from pms_core.bus import AlarmChanged, Bus, LinkStateChanged, Snapshot
from pms_core.clock import Clock
from pms_core.commands import CommandService
from pms_core.config import RecoveryConfig
from pms_core.devices import Device

log = logging.getLogger(__name__)

FIRE_BIT, SMOKE_FAULT_BIT = 15, 0  # BMS fire_alarm
SYSTEM_LOCK_BIT = 8  # BMS battery_system_alarm
COMM_ERROR_BIT = 3  # BMS error_code_2: RBMS-PMS communication error (the auto recovery's trigger)


@dataclass(frozen=True)
class AutoStatus:
    state: str
    running: bool
    step: str | None
    step_deadline: float | None  # plant epoch of the pending wait's end
    reason: str | None
    sequence: str | None = None  # the sequence being run (state_machine.sequence names it), None in between
    step_index: int | None = None  # its step being waited for or issued
    waiting: str | None = None  # "gap" (timer), "ack" (the device), "soc" (charging to the stop threshold)


class AutoMode:
    def __init__(
        self,
        devices: dict[str, Device],
        service: CommandService,
        bus: Bus,
        clock: Clock,
        settings: SettingsStore,
        recovery: RecoveryConfig,
    ) -> None:
        self.service = service
        self.bus = bus
        self.clock = clock
        self.settings = settings
        self.recovery = recovery
        self.by_type = {t: next((d for d in devices.values() if d.type == t), None) for t in ("BMS", "PCS", "DCDC")}
        self.machine = sm.Machine()
        self.on_change: Callable[[AutoStatus], None] = lambda status: None
        self._timer: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._last_status: AutoStatus | None = None
        bus.subscribe(Snapshot, self._on_data)
        bus.subscribe(LinkStateChanged, self._on_data)

    # --- control ------------------------------------------------------------------------
    def start(self) -> str | None:
        """Start the sequence; returns the reason when refused."""
        self._feed(sm.Observe(self.observation()))
        return self._feed(sm.Start())

    def stop(self) -> None:
        """Go idle and write nothing more; the devices keep their last command."""
        self._feed(sm.Stop())

    def context(self) -> sm.Context:
        s = self.settings.current
        return sm.Context(
            s.soc_high_threshold, s.soc_low_threshold, s.soc_charge_stop_threshold, s.dcdc_standby_time,
            s.command_interval, s.charging_power, has_dcdc=self.by_type["DCDC"] is not None,
            recovery_enabled=self.recovery.enabled, recovery_max_attempts=self.recovery.max_attempts,
            recovery_cooldown=self.recovery.cooldown_seconds,
        )  # fmt: skip

    def settings_changed(self) -> None:
        """Thresholds and timings take effect at once: re-evaluate with the new ones."""
        self._feed(sm.Tick())

    def status(self) -> AutoStatus:
        m = self.machine
        deadline = None if m.deadline is None else self.clock.now() + (m.deadline - self.clock.monotonic())
        index = m.index if m.sequence is not None else None
        return AutoStatus(m.state, m.running, m.step_label(self.context()), deadline, m.reason, m.sequence, index, m.waiting)

    def observation(self) -> sm.Observation:
        bms, pcs = self.by_type["BMS"], self.by_type["PCS"]
        bsnap = bms.fresh_snapshot() if bms else None
        psnap = pcs.fresh_snapshot() if pcs else None
        if bsnap is None:
            return sm.Observation(pcs_fault=bool(psnap and psnap.value("total_fault")))
        fire = bsnap.raw.get("fire_alarm", 0)
        return sm.Observation(
            soc=bsnap.value("battery_soc"),
            bms_fresh=True,
            pcs_fault=bool(psnap and psnap.value("total_fault")),
            bms_fire=bool(fire >> FIRE_BIT & 1),
            bms_critical=bool(
                fire >> SMOKE_FAULT_BIT & 1 or bsnap.raw.get("battery_system_alarm", 0) >> SYSTEM_LOCK_BIT & 1
            ),
            bms_comm_error=bool(bsnap.raw.get("error_code_2", 0) >> COMM_ERROR_BIT & 1),
        )

    async def close(self) -> None:
        tasks = [t for t in (self._timer, *self._tasks) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # --- the loop -----------------------------------------------------------------------
    def _on_data(self, event: Snapshot | LinkStateChanged) -> None:
        if self.machine.running and event.device_type in ("BMS", "PCS"):
            self._feed(sm.Observe(self.observation()))

    def _feed(self, event: sm.Input) -> str | None:
        before = self.machine
        self.machine, actions = sm.step(before, event, self.clock.monotonic(), self.context())
        refusal = None
        for action in actions:
            if isinstance(action, sm.Issue):
                self._spawn(self._execute(action), f"auto {action.step.label}")
            elif isinstance(action, sm.Reject):
                refusal = action.reason
                log.warning("automatic mode: %s", action.reason)
            else:
                self.bus.publish(
                    AlarmChanged(
                        "PMS", action.code, action.code, action.severity, action.active, action.message, self.clock.now()
                    )
                )
        if self.machine.state != before.state:
            log.info("automatic mode: %s -> %s%s", before.state, self.machine.state,
                     f" ({self.machine.reason})" if self.machine.reason else "")  # fmt: skip
        self._arm_timer()
        status = self.status()
        if status != self._last_status:
            self._last_status = status
            self.on_change(status)
        return refusal

    def _arm_timer(self) -> None:
        deadline = self.machine.deadline
        if self._timer is not None and not self._timer.done():
            self._timer.cancel()
        self._timer = None
        if deadline is not None and self.machine.running:

            async def wake() -> None:
                await self.clock.sleep_until(deadline)
                self._timer = None
                self._feed(sm.Tick())

            self._timer = asyncio.create_task(wake(), name="auto timer")

    def _spawn(self, coro, name: str) -> None:  # noqa: ANN001 - a coroutine
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _execute(self, issue: sm.Issue) -> None:
        step = issue.step
        device = self.by_type[step.device]
        if device is None:
            self._feed(sm.Done(issue.token, False, f"no {step.device} is configured"))
            return
        result = await self.service.execute(device.name, step.command, dict(step.params), source="auto")
        if not result.ok:
            self._feed(sm.Done(issue.token, False, result.reason))
            return
        final = await self.service.confirmation(result)
        self._feed(sm.Done(issue.token, final.ok, final.reason, result.acked_at))
