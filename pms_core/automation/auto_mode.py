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
from pms_core.commands import CommandResult, CommandService
from pms_core.config import FaultRecoveryConfig, RecoveryConfig
from pms_core.devices import Device
from pms_core.devices.pcs import PcsDevice
from pms_core.interlocks import Interlocks
from pms_core.reasons import Reason
from pms_core.supervision import Watch

log = logging.getLogger(__name__)

COMM_ERROR = ("error_code_2", "rbms_pms_comm_error")  # the BMS comm recovery's trigger (register, bit id)
RETRY_AFTER = 1.0  # plant seconds before the machine is woken again after a bug stopped an evaluation


@dataclass(frozen=True)
class AutoStatus:
    state: str
    running: bool
    step: str | None
    step_deadline: float | None  # plant epoch of the pending wait's end
    why: Reason | None  # of HOLD or FAULT, or what the machine works without
    sequence: str | None = None  # the sequence being run (state_machine.sequence names it), None in between
    step_index: int | None = None  # its step being waited for or issued
    waiting: str | None = None  # "gap" (timer), "ack" (the device), "soc" (charging to the stop threshold)

    @property
    def reason(self) -> str | None:
        """`why` in English, as MQTT and the audit log keep it."""
        return None if self.why is None else str(self.why)


class AutoMode:
    def __init__(
        self,
        devices: dict[str, Device],
        service: CommandService,
        bus: Bus,
        clock: Clock,
        settings: SettingsStore,
        recovery: RecoveryConfig,
        fault_recovery: FaultRecoveryConfig,
        interlocks: Interlocks,
    ) -> None:
        self.service = service
        self.bus = bus
        self.clock = clock
        self.settings = settings
        self.recovery = recovery
        self.fault_recovery = fault_recovery
        self.interlocks = interlocks
        self.by_type = {t: next((d for d in devices.values() if d.type == t), None) for t in ("BMS", "PCS", "DCDC")}
        self.machine = sm.Machine()
        self.on_change: Callable[[AutoStatus], None] = lambda status: None
        self._timer: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._last_status: AutoStatus | None = None
        self._closed = False
        self.watch = Watch("automatic mode", bus, clock)
        # After the interlocks (subscribed first): the machine sees this snapshot's verdicts.
        self._unsubscribe = (
            bus.subscribe(Snapshot, self._on_data),
            bus.subscribe(LinkStateChanged, self._on_data),
            bus.subscribe(CommandResult, self._on_command),
        )

    # --- control ------------------------------------------------------------------------
    def start(self) -> Reason | None:
        """Start the sequence; returns the reason when refused."""
        pcs = self.by_type["PCS"]
        rating = pcs.rating_kw() if isinstance(pcs, PcsDevice) else None
        power = self.settings.current.charging_power
        if rating is not None and power > rating:  # the charge cycle would fault half-way
            reason = Reason("auto.power_above_rating", power=power, rating=rating)
            log.warning("automatic mode: %s", reason)
            return reason
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
            recovery_cooldown=self.recovery.cooldown_seconds, fault_recovery=self.fault_recovery.enabled,
            fault_recovery_per_hour=self.fault_recovery.max_attempts_per_hour,
        )  # fmt: skip

    def settings_changed(self) -> None:
        """Thresholds and timings take effect at once: re-evaluate with the new ones."""
        self._feed(sm.Tick())

    def status(self) -> AutoStatus:
        m = self.machine
        # The machine's deadline is monotonic; its time of day is as the wall clock stands at this call (a correction
        # of the wall clock moves it, never the wait), and the same between calls that differ only by jitter.
        deadline = None if m.deadline is None else self.clock.epoch_of(m.deadline)
        index = m.index if m.sequence is not None else None
        why = m.why or m.note(self.by_type["DCDC"] is not None)
        return AutoStatus(m.state, m.running, m.step_label(self.context()), deadline, why, m.sequence, index, m.waiting)

    def observation(self) -> sm.Observation:
        """The plant as the machine may see it: fresh data only, a plausible SOC, the interlocks' verdicts."""
        bms, pcs, dcdc = self.by_type["BMS"], self.by_type["PCS"], self.by_type["DCDC"]
        bsnap = bms.fresh_snapshot() if bms else None
        locks = self.interlocks
        soc_problem = locks.soc.problem if bsnap is not None else None
        pcs_trip, dcdc_trip = locks.of("pcs_trip", "PCS"), locks.of("dcdc_trip", "DCDC")
        bms_fault = locks.of("bms_fault", "BMS")
        comm = bms.map.registers[COMM_ERROR[0]] if bms else None
        return sm.Observation(
            soc=None if bsnap is None or soc_problem else bsnap.value("battery_soc"),
            bms_stale=_stale(bms, "BMS") or soc_problem,
            pcs_stale=_stale(pcs, "PCS"),
            dcdc_stale=_stale(dcdc, "DC-DC") if dcdc else None,
            fire=locks.of("fire", "BMS") is not None,
            bms_fault=bms_fault.words() if bms_fault else None,
            pcs_fault=pcs_trip.words() if pcs_trip else None,
            dcdc_fault=dcdc_trip.words() if dcdc_trip else None,
            pcs_tripped=bool(pcs_trip and pcs_trip.conditions),
            dcdc_tripped=bool(dcdc_trip and dcdc_trip.conditions),
            bms_comm_error=bool(
                bsnap and comm and COMM_ERROR[0] in bsnap.raw and comm.flag(bsnap.raw[COMM_ERROR[0]], COMM_ERROR[1])
            ),
        )

    async def close(self) -> None:
        """Stop before the poller does: its last snapshot must not make the machine write."""
        if not self._closed:
            self._closed = True
            for unsubscribe in self._unsubscribe:
                unsubscribe()
        tasks = [t for t in (self._timer, *self._tasks) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # --- the loop -----------------------------------------------------------------------
    def _on_data(self, event: Snapshot | LinkStateChanged) -> None:
        self._feed(sm.Observe(self.observation()))

    def _on_command(self, result: CommandResult) -> None:
        if result.status == "written" and result.acked_at is not None:
            self._feed(sm.Written(result.acked_at))

    def _feed(self, event: sm.Input) -> Reason | None:
        if self._closed:
            return Reason("command.shutting_down")
        kind = type(event).__name__  # what failed recovers on its own: an Observe that works does not clear a Tick
        try:
            refusal = self._evaluate(event)
        except Exception as exc:  # a bug must not leave the plant unattended: alarm, and look again shortly
            self.watch.failed(exc, kind)
            self._arm_timer(retry=True)
            return Reason("auto.internal_error", error=str(exc))
        self.watch.ok(kind)
        return refusal

    def _evaluate(self, event: sm.Input) -> Reason | None:
        before = machine = self.machine
        now, ctx = self.clock.monotonic(), self.context()
        actions: tuple[sm.Action, ...] = ()
        if isinstance(event, (sm.Tick, sm.Done)):
            # Data ages without an event (a device that stops answering is stale before the poller says so):
            # the machine sees the plant as it is now before a timer or an outcome makes it issue a step.
            machine, actions = sm.step(machine, sm.Observe(self.observation()), now, ctx)
        machine, more = sm.step(machine, event, now, ctx)
        # All or nothing: a machine that waits for a step whose Issue was lost to a bug would wait forever.
        self.machine, actions = machine, actions + more
        refusal = None
        for action in actions:
            if isinstance(action, sm.Issue):
                self._spawn(self._execute(action), f"auto {action.step.label}")
            elif isinstance(action, sm.Reject):
                refusal = action.why
                log.warning("automatic mode: %s", action.reason)
            else:
                self.bus.publish(
                    AlarmChanged(
                        "PMS",
                        action.code,
                        action.code,
                        action.severity,
                        action.active,
                        action.message,
                        self.clock.now(),
                        action.why,
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

    def _arm_timer(self, retry: bool = False) -> None:
        deadline = self.clock.monotonic() + RETRY_AFTER if retry else self.machine.deadline
        if self._timer is not None and not self._timer.done():
            self._timer.cancel()
        self._timer = None
        if deadline is not None and (self.machine.running or self.machine.state == sm.FAULT):

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
        device = self.by_type[step.device_type]
        if device is None:
            self._feed(sm.Done(issue.token, False, Reason("auto.no_device", device=step.device_type)))
            return
        try:
            result = await self.service.execute(
                device.name, step.command, dict(step.params), source="auto",
                still_valid=lambda: None if self.machine.waiting == "ack" and self.machine.token == issue.token
                else Reason("auto.step_given_up"),
            )  # fmt: skip
            if not result.ok:
                self._feed(sm.Done(issue.token, False, result.why))
                return
            final = await self.service.confirmation(result)
        except Exception as exc:  # the step failed, not the machine: it decides (retry, FAULT) as for any failure
            self.watch.failed(exc, "step")
            self._feed(sm.Done(issue.token, False, Reason("auto.step_internal_error", error=str(exc))))
            return
        self.watch.ok("step")
        self._feed(sm.Done(issue.token, final.ok, final.why, result.acked_at))


def _stale(device: Device | None, label: str) -> Reason | None:
    if device is None:
        return Reason("auto.no_device", device=label)
    return None if device.fresh_snapshot() is not None else Reason("auto.stale", device=label)
