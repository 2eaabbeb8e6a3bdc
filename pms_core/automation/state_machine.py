"""The automatic mode as a pure state machine: (machine, input, time) -> (machine, actions).

No I/O and no clock: the runner feeds inputs (start, stop, observations of
the plant, timer ticks, the outcome of each command) with the plant's
monotonic time, and carries out the actions (issue a command, refuse a
request, raise or clear an alarm).

A sequence is a list of command steps. Every step after the first waits its
gap (normally `command_interval`) counted from the device's acknowledgement
of the previous write, and the first step of a new sequence is spaced the
same way from the last write. A step that fails (write refused, or not
confirmed in time) is retried once after `command_interval`; a second failure
is FAULT.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

IDLE, STARTING, NORMAL, SOC_HIGH, CHARGING, RECOVERY, HOLD, FAULT = (
    "IDLE", "STARTING", "NORMAL", "SOC_HIGH", "CHARGING", "RECOVERY", "HOLD", "FAULT",
)  # fmt: skip
RUNNING_STATES = (STARTING, NORMAL, SOC_HIGH, CHARGING, RECOVERY, HOLD)


@dataclass(frozen=True)
class Context:
    """The settings in force when the input arrives (they may change while running)."""

    soc_high_threshold: float
    soc_low_threshold: float
    soc_charge_stop_threshold: float
    dcdc_standby_time: float
    command_interval: float
    charging_power: float
    has_dcdc: bool = True
    recovery_enabled: bool = False
    recovery_max_attempts: int = 5
    recovery_cooldown: float = 120.0


@dataclass(frozen=True)
class Step:
    device: str  # device type: "PCS", "DCDC" or "BMS"
    command: str
    params: tuple[tuple[str, Any], ...]
    label: str
    gap: float | None = None  # seconds after the previous acknowledgement; None: command_interval


@dataclass(frozen=True)
class Observation:
    soc: float | None = None
    bms_fresh: bool = False
    pcs_fault: bool = False
    bms_fire: bool = False
    bms_critical: bool = False
    bms_comm_error: bool = False


# --- inputs ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Start:
    pass


@dataclass(frozen=True)
class Stop:
    pass


@dataclass(frozen=True)
class Observe:
    obs: Observation


@dataclass(frozen=True)
class Tick:
    pass


@dataclass(frozen=True)
class Done:
    """The outcome of the command issued with `token`."""

    token: int
    ok: bool
    reason: str | None = None
    acked_at: float | None = None  # when the device acknowledged the write (spacing counts from here)


Input = Start | Stop | Observe | Tick | Done


# --- actions --------------------------------------------------------------------------
@dataclass(frozen=True)
class Issue:
    step: Step
    token: int


@dataclass(frozen=True)
class Reject:
    reason: str


@dataclass(frozen=True)
class Alarm:
    code: str  # "auto_hold" | "auto_fault"
    active: bool
    severity: str
    message: str


Action = Issue | Reject | Alarm


@dataclass(frozen=True)
class Machine:
    state: str = IDLE
    sequence: str | None = None
    index: int = 0  # the step of `sequence` being issued or waited for
    waiting: str | None = None  # "gap": until `deadline`; "ack": for Done(token); "soc": charging to the stop threshold
    deadline: float | None = None
    token: int = 0
    retried: bool = False
    reason: str | None = None
    held: tuple[str | None, int] | None = None  # (sequence or None while charging, steps done) interrupted by HOLD
    last_ack: float | None = None
    obs: Observation = field(default_factory=Observation)
    recovery_attempts: int = 0
    last_recovery: float | None = None

    @property
    def running(self) -> bool:
        return self.state in RUNNING_STATES

    def step_label(self, ctx: Context) -> str | None:
        """What the machine is doing now, in words, for the console and MQTT."""
        if self.state == CHARGING and self.waiting == "soc":
            return f"charging until SOC >= {ctx.soc_charge_stop_threshold:g} %"
        if self.sequence is None or self.waiting is None:
            return None
        step = sequence(self.sequence, ctx)[self.index]
        return f"wait, then {step.label}" if self.waiting == "gap" else step.label


def _step(device: str, command: str, label: str, gap: float | None = None, **params: Any) -> Step:
    return Step(device, command, tuple(params.items()), label, gap)


def sequence(name: str, ctx: Context) -> tuple[Step, ...]:
    pcs_stop = _step("PCS", "operation_mode", "PCS stop (20)", mode="stop")
    pcs_run = _step("PCS", "operation_mode", "PCS run / standby (21)", mode="standby")
    pcs_independent = _step("PCS", "operation_mode", "PCS independent operation (24)", mode="independent")
    dcdc_solar = _step("DCDC", "operation_mode", "DC-DC solar generation (107)", mode="solar")
    if name == "start":
        dcdc = (_step("DCDC", "operation_mode", "DC-DC reset (100)", mode="reset"), dcdc_solar) if ctx.has_dcdc else ()
        return (pcs_run, pcs_independent, *dcdc)
    if name == "soc_high":
        standby = _step("DCDC", "operation_mode", "DC-DC standby (106)", mode="standby")
        return (standby, replace(dcdc_solar, gap=ctx.dcdc_standby_time))
    if name == "solar":
        return (dcdc_solar,)
    if name == "charge":
        power = _step(
            "PCS", "set_charge_power", f"PCS charge power {ctx.charging_power:g} kW (reg 1)", kw=ctx.charging_power
        )
        return (pcs_stop, pcs_run, power, _step("PCS", "operation_mode", "PCS charge (22)", mode="charge"))
    if name == "charge_end":
        return (pcs_stop, pcs_independent)
    if name == "recovery":
        return (
            _step("BMS", "reset_errors", "BMS error reset (201=0x50)"),
            _step("BMS", "dc_contactor", "BMS DC contactor on (200=1)", gap=2.0, enable=True),
            _step("PCS", "reset_faults", "PCS reset (19)", gap=3.0),
            replace(pcs_independent, gap=2.0),
        )
    raise ValueError(f"unknown sequence {name!r}")


STATE_OF = {"start": STARTING, "soc_high": SOC_HIGH, "solar": SOC_HIGH, "charge": CHARGING, "charge_end": CHARGING,
            "recovery": RECOVERY}  # fmt: skip


def step(m: Machine, event: Input, now: float, ctx: Context) -> tuple[Machine, tuple[Action, ...]]:
    """The next machine and the actions to carry out."""
    if isinstance(event, Observe):
        m = replace(m, obs=event.obs)
    if isinstance(event, Stop):
        clear = (Alarm("auto_hold", False, "warning", "automatic mode stopped"),) if m.state == HOLD else ()
        return Machine(obs=m.obs, last_ack=m.last_ack, token=m.token), clear
    if isinstance(event, Start):
        return _start(m, now, ctx)
    if not m.running:
        return m, ()
    if isinstance(event, Done) and (event.token != m.token or m.waiting != "ack"):
        return m, ()  # the outcome of a command from before a HOLD or a restart

    fault = _fault(m.obs)
    if fault:
        acts: list[Action] = []
        if m.obs.bms_fire:
            fire_stop = _step("PCS", "operation_mode", "PCS stop (20) on BMS fire alarm", mode="stop")
            acts.append(Issue(fire_stop, m.token + 1))
        acts.append(Alarm("auto_fault", True, "fault", f"automatic mode FAULT: {fault}"))
        if m.state == HOLD:
            acts.insert(0, Alarm("auto_hold", False, "warning", "hold ended by a fault"))
        return Machine(FAULT, reason=fault, obs=m.obs, token=m.token + 1, last_ack=m.last_ack), tuple(acts)

    if m.state == HOLD:
        if not m.obs.bms_fresh:
            return m, ()
        resumed, acts2 = _resume(m, now, ctx)
        return resumed, (Alarm("auto_hold", False, "warning", "BMS data fresh again: resuming"), *acts2)
    if not m.obs.bms_fresh:
        done = m.index + (1 if m.waiting == "ack" else 0)  # steps sent so far
        held = (None, 0) if m.waiting == "soc" else (m.sequence, done) if m.sequence else None
        reason = "BMS data is stale or offline: holding, no command is sent until fresh data returns"
        hold = Machine(HOLD, reason=reason, held=held, obs=m.obs, token=m.token, last_ack=m.last_ack,
                       recovery_attempts=m.recovery_attempts, last_recovery=m.last_recovery)  # fmt: skip
        return hold, (Alarm("auto_hold", True, "warning", reason),)

    if isinstance(event, Done):
        return _done(m, event, now, ctx)
    if m.waiting == "gap" and m.deadline is not None and now >= m.deadline:
        return _issue(m, ctx)
    if m.waiting == "soc":
        if m.obs.soc is not None and m.obs.soc >= ctx.soc_charge_stop_threshold:
            return _begin(m, "charge_end", now, ctx)
        return m, ()
    if m.state == NORMAL:
        return _rules(m, now, ctx)
    return m, ()


def _fault(obs: Observation) -> str | None:
    if obs.bms_fire:
        return "BMS fire alarm"
    if obs.bms_critical:
        return "BMS critical alarm (smoke sensor fault or system lock)"
    if obs.pcs_fault:
        return "PCS total fault (STATE1 bit 14)"
    return None


def _start(m: Machine, now: float, ctx: Context) -> tuple[Machine, tuple[Action, ...]]:
    if m.state == FAULT:
        return m, (Reject(f"automatic mode is in FAULT ({m.reason}): stop it, clear the fault, then start"),)
    if m.running:
        return m, (Reject(f"automatic mode is already running ({m.state})"),)
    if not m.obs.bms_fresh:
        return m, (Reject("cannot start: BMS data is stale or offline"),)
    fault = _fault(m.obs)
    if fault:
        return m, (Reject(f"cannot start: {fault}; reset it in basic mode first"),)
    fresh = Machine(NORMAL, obs=m.obs, token=m.token, last_ack=m.last_ack)
    return _begin(fresh, "start", now, ctx)


def _begin(m: Machine, name: str, now: float, ctx: Context) -> tuple[Machine, tuple[Action, ...]]:
    deadline = now if m.last_ack is None else max(now, m.last_ack + ctx.command_interval)
    m = replace(m, state=STATE_OF[name], sequence=name, index=0, waiting="gap", deadline=deadline, retried=False,
                reason=None)  # fmt: skip
    return _issue(m, ctx) if now >= deadline else (m, ())


def _issue(m: Machine, ctx: Context) -> tuple[Machine, tuple[Action, ...]]:
    assert m.sequence is not None
    token = m.token + 1
    return replace(m, waiting="ack", deadline=None, token=token), (Issue(sequence(m.sequence, ctx)[m.index], token),)


def _done(m: Machine, event: Done, now: float, ctx: Context) -> tuple[Machine, tuple[Action, ...]]:
    assert m.sequence is not None
    steps = sequence(m.sequence, ctx)
    if not event.ok:
        if m.retried:
            reason = f"{steps[m.index].label} failed twice: {event.reason}"
            fault = Machine(FAULT, reason=reason, obs=m.obs, token=m.token, last_ack=m.last_ack)
            return fault, (Alarm("auto_fault", True, "fault", f"automatic mode FAULT: {reason}"),)
        retry = replace(m, waiting="gap", deadline=now + ctx.command_interval, retried=True, reason=event.reason)
        return retry, ()
    acked = event.acked_at if event.acked_at is not None else now
    m = replace(m, last_ack=acked, retried=False, reason=None)
    if m.index + 1 < len(steps):
        nxt = steps[m.index + 1]
        deadline = acked + (ctx.command_interval if nxt.gap is None else nxt.gap)
        m = replace(m, index=m.index + 1, waiting="gap", deadline=deadline)
        return _issue(m, ctx) if now >= deadline else (m, ())
    if m.sequence == "charge":
        return replace(m, state=CHARGING, sequence=None, index=0, waiting="soc", deadline=None), ()
    normal = replace(m, state=NORMAL, sequence=None, index=0, waiting=None, deadline=acked + ctx.command_interval)
    return _rules(normal, now, ctx)


def _rules(m: Machine, now: float, ctx: Context) -> tuple[Machine, tuple[Action, ...]]:
    """Normal operation: the SOC rules and the auto recovery, no sooner than command_interval after the last write."""
    earliest = m.last_ack + ctx.command_interval if m.last_ack is not None else now
    if now < earliest:
        return replace(m, deadline=earliest), ()
    m = replace(m, deadline=None)
    obs = m.obs
    if (
        ctx.recovery_enabled
        and obs.bms_comm_error
        and m.recovery_attempts < ctx.recovery_max_attempts
        and (m.last_recovery is None or now - m.last_recovery >= ctx.recovery_cooldown)
    ):
        return _begin(replace(m, recovery_attempts=m.recovery_attempts + 1, last_recovery=now), "recovery", now, ctx)
    if obs.soc is None:
        return m, ()
    if obs.soc <= ctx.soc_low_threshold:
        return _begin(m, "charge", now, ctx)
    if ctx.has_dcdc and obs.soc >= ctx.soc_high_threshold:
        return _begin(m, "soc_high", now, ctx)
    return m, ()


def _resume(m: Machine, now: float, ctx: Context) -> tuple[Machine, tuple[Action, ...]]:
    """After HOLD: the interrupted sequence again from its first step if its condition still holds;
    otherwise what brings the devices back to normal operation."""
    base = replace(m, state=NORMAL, sequence=None, index=0, waiting=None, deadline=None, held=None, reason=None)
    name, done = m.held or (None, 0)
    soc = m.obs.soc if m.obs.soc is not None else 50.0
    if m.held is not None and name is None:  # was charging to the stop threshold
        if soc >= ctx.soc_charge_stop_threshold:
            return _begin(base, "charge_end", now, ctx)
        return replace(base, state=CHARGING, waiting="soc"), ()
    if name in ("start", "charge_end"):
        return _begin(base, name, now, ctx)
    if name == "charge":
        if soc < ctx.soc_charge_stop_threshold:
            return _begin(base, "charge", now, ctx)
        return _begin(base, "charge_end", now, ctx) if done > 0 else _rules(base, now, ctx)
    if name in ("soc_high", "solar"):
        if ctx.has_dcdc and soc >= ctx.soc_high_threshold:
            return _begin(base, "soc_high", now, ctx)
        return _begin(base, "solar", now, ctx) if done > 0 or name == "solar" else _rules(base, now, ctx)
    return _rules(base, now, ctx)
