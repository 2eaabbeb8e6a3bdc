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

The machine never acts on what it cannot see: a stale or implausible BMS or a
stale PCS is HOLD; a DC-DC that is stale or tripped gets no command (its steps
are skipped, the PCS side keeps running). A fire, a BMS fault or a PCS fault is
FAULT in every running state. What must be written because of them (the fire
stop, the stop on a BMS fault) is the interlocks' work (pms_core/interlocks.py),
which runs in every mode and state; the machine only stops issuing.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from pms_core.reasons import Reason

IDLE, STARTING, NORMAL, SOC_HIGH, CHARGING, RECOVERY, HOLD, FAULT = (
    "IDLE", "STARTING", "NORMAL", "SOC_HIGH", "CHARGING", "RECOVERY", "HOLD", "FAULT",
)  # fmt: skip
RUNNING_STATES = (STARTING, NORMAL, SOC_HIGH, CHARGING, RECOVERY, HOLD)
FAULT_CLEAR_TIME = 60.0  # seconds every trip must stay cleared before a fault recovery is tried
RECOVERY_WINDOW = 3600.0  # fault recovery attempts are counted per hour
NO_BMS_DATA = Reason("auto.stale", device="BMS")  # what the machine knows before the first observation


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
    fault_recovery: bool = False  # auto_mode.fault_recovery.enabled
    fault_recovery_per_hour: int = 3


@dataclass(frozen=True)
class Step:
    device_type: str  # "PCS", "DCDC" or "BMS"
    command: str
    params: tuple[tuple[str, Any], ...]
    label: str
    gap: float | None = None  # seconds after the previous acknowledgement; None: command_interval


@dataclass(frozen=True)
class Observation:
    """What the machine may know of the plant. A `*_stale` or `*_fault` reason says why (None: all is well)."""

    soc: float | None = None  # a plausible SOC of fresh BMS data, else None
    bms_stale: Reason | None = NO_BMS_DATA
    pcs_stale: Reason | None = None
    dcdc_stale: Reason | None = None
    fire: bool = False
    bms_fault: Reason | None = None  # the active fault-severity BMS bits, named
    pcs_fault: Reason | None = None  # total fault or trip bits
    dcdc_fault: Reason | None = None
    pcs_tripped: bool = False  # a PCS trip condition itself is on (not only the latched total fault)
    dcdc_tripped: bool = False
    bms_comm_error: bool = False

    @property
    def blind(self) -> Reason | None:
        """Why the machine cannot act (HOLD), or None."""
        if self.bms_stale or self.pcs_stale:
            return self.bms_stale or self.pcs_stale
        return None if self.soc is not None else Reason("auto.soc_unknown")


SERIOUSNESS = ("fire", "bms", "pcs", "step")  # causes of FAULT, the most serious first


def _fault(obs: Observation) -> tuple[str, Reason] | None:
    """(cause, why) of what makes the automatic mode FAULT, the most serious first."""
    if obs.fire:
        return "fire", Reason("auto.fire")
    if obs.bms_fault:
        return "bms", obs.bms_fault
    if obs.pcs_fault:
        return "pcs", obs.pcs_fault
    return None


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
class Written:
    """A device acknowledged a write (of any source): command_interval counts from here, across stop and start."""

    at: float


@dataclass(frozen=True)
class Done:
    """The outcome of the command issued with `token`."""

    token: int
    ok: bool
    why: Reason | None = None  # of a failure
    acked_at: float | None = None  # when the device acknowledged the write (spacing counts from here)


Input = Start | Stop | Observe | Tick | Written | Done


# --- actions --------------------------------------------------------------------------
@dataclass(frozen=True)
class Issue:
    step: Step
    token: int


@dataclass(frozen=True)
class Reject:
    why: Reason

    @property
    def reason(self) -> str:
        return self.why.text


@dataclass(frozen=True)
class Alarm:
    code: str  # "auto_hold" | "auto_fault"
    active: bool
    severity: str
    why: Reason

    @property
    def message(self) -> str:
        return self.why.text


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
    why: Reason | None = None  # of HOLD, FAULT, a recovery or a step's first failure
    held: tuple[str | None, int] | None = None  # (sequence or None while charging, steps done) interrupted by HOLD
    last_ack: float | None = None
    obs: Observation = field(default_factory=Observation)
    recovery_attempts: int = 0
    last_recovery: float | None = None
    cause: str | None = None  # of FAULT: "fire", "bms", "pcs" or "step" (a step failed twice)
    dcdc_missed: bool = False  # a DC-DC step was skipped (stale or tripped): give it its solar mode when it is back
    clear_since: float | None = None  # since when the trips have been cleared (the FAULT's recovery, 60 s)
    dcdc_clear_since: float | None = None  # since when a tripped DC-DC's trips have been cleared (latched only)
    fault_recoveries: tuple[float, ...] = ()  # when fault recoveries were tried (at most per hour)

    @property
    def running(self) -> bool:
        return self.state in RUNNING_STATES

    @property
    def reason(self) -> str | None:
        """`why` in English."""
        return None if self.why is None else str(self.why)

    def note(self, has_dcdc: bool) -> Reason | None:
        """Why the machine works without a part of the plant while it runs (the DC-DC), for the operator."""
        if not self.running or self.state == HOLD or not has_dcdc:
            return None
        why = self.obs.dcdc_stale or self.obs.dcdc_fault
        return Reason("auto.dcdc_left_out", why=why) if why else None

    def step_label(self, ctx: Context) -> str | None:
        """What the machine is doing now, in words, for the console and MQTT."""
        if self.state == CHARGING and self.waiting == "soc":
            return f"charging until SOC >= {ctx.soc_charge_stop_threshold:g} %"
        if self.sequence is None or self.waiting is None:
            return None
        step = sequence(self.sequence, ctx)[self.index]
        return f"wait, then {step.label}" if self.waiting == "gap" else step.label


def _step(device_type: str, command: str, label: str, gap: float | None = None, **params: Any) -> Step:
    return Step(device_type, command, tuple(params.items()), label, gap)


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
    if name == "fault_recovery":  # the start sequence resets the DC-DC (100) too
        return (_step("PCS", "reset_faults", "PCS reset (19)"), *sequence("start", ctx))
    if name == "dcdc_recovery":
        return (_step("DCDC", "operation_mode", "DC-DC reset (100)", mode="reset"), dcdc_solar)
    if name == "recovery":
        return (
            _step("BMS", "reset_errors", "BMS error reset (201=0x50)"),
            _step("BMS", "dc_contactor", "BMS DC contactor on (200=1)", gap=2.0, enable=True),
            _step("PCS", "reset_faults", "PCS reset (19)", gap=3.0),
            replace(pcs_independent, gap=2.0),
        )
    raise ValueError(f"unknown sequence {name!r}")


STATE_OF = {"start": STARTING, "soc_high": SOC_HIGH, "solar": SOC_HIGH, "charge": CHARGING, "charge_end": CHARGING,
            "recovery": RECOVERY, "fault_recovery": RECOVERY, "dcdc_recovery": RECOVERY}  # fmt: skip


def step(m: Machine, event: Input, now: float, ctx: Context) -> tuple[Machine, tuple[Action, ...]]:
    """The next machine and the actions to carry out."""
    if isinstance(event, Observe):
        m = replace(m, obs=event.obs, dcdc_clear_since=_dcdc_cleared_since(m.dcdc_clear_since, event.obs, now))
    if isinstance(event, Written):
        return replace(m, last_ack=event.at if m.last_ack is None else max(m.last_ack, event.at)), ()
    if isinstance(event, Stop):
        clear = (Alarm("auto_hold", False, "warning", Reason("auto.hold_end_stop")),) if m.state == HOLD else ()
        return Machine(obs=m.obs, last_ack=m.last_ack, token=m.token, fault_recoveries=m.fault_recoveries), clear
    if isinstance(event, Start):
        return _start(m, now, ctx)
    if isinstance(event, Done) and (event.token != m.token or m.waiting != "ack"):
        return m, ()  # the outcome of a command from before a HOLD, a FAULT or a restart
    if m.state == FAULT:
        return _in_fault(m, now, ctx)
    if not m.running:
        return m, ()

    fault = _fault(m.obs)
    if fault and not _reset_pending(m):
        cause, why = fault
        acts: list[Action] = [Alarm("auto_fault", True, "fault", Reason("auto.fault", why=why))]
        if m.state == HOLD:
            acts.insert(0, Alarm("auto_hold", False, "warning", Reason("auto.hold_end_fault")))
        return _faulted(m, cause, why), tuple(acts)

    blind = m.obs.blind
    if m.state == HOLD:
        if blind:
            return (m if blind == m.why else replace(m, why=blind)), ()
        resumed, acts2 = _resume(m, now, ctx)
        return resumed, (Alarm("auto_hold", False, "warning", Reason("auto.hold_end_fresh")), *acts2)
    if blind:
        done = m.index + (1 if m.waiting == "ack" else 0)  # steps sent so far
        held = (None, 0) if m.waiting == "soc" else (m.sequence, done) if m.sequence else None
        why = Reason("auto.hold", why=blind)
        hold = replace(m, state=HOLD, sequence=None, index=0, waiting=None, deadline=None, retried=False, why=why,
                       held=held)  # fmt: skip
        return hold, (Alarm("auto_hold", True, "warning", why),)

    if isinstance(event, Done):
        return _done(m, event, now, ctx)
    if m.waiting == "gap" and m.deadline is not None and now >= m.deadline:
        return _issue(m, now, ctx)
    if m.waiting == "soc":
        if m.obs.soc is not None and m.obs.soc >= ctx.soc_charge_stop_threshold:
            return _begin(m, "charge_end", now, ctx)
        return m, ()
    if m.state == NORMAL:
        return _rules(m, now, ctx)
    return m, ()


def _faulted(m: Machine, cause: str, why: Reason) -> Machine:
    return Machine(FAULT, why=why, cause=cause, obs=m.obs, token=m.token, last_ack=m.last_ack,
                   fault_recoveries=m.fault_recoveries)  # fmt: skip


def _reset_pending(m: Machine) -> bool:
    """A fault recovery's PCS reset has not yet had time to show: the latched total fault alone is no new FAULT."""
    return m.sequence == "fault_recovery" and m.index <= 1 and not m.obs.pcs_tripped and not m.obs.fire \
        and not m.obs.bms_fault  # fmt: skip


def _dcdc_cleared_since(since: float | None, obs: Observation, now: float) -> float | None:
    """Kept up to date on every observation in every state: a trip that comes back restarts the 60 s."""
    if obs.dcdc_fault and not obs.dcdc_tripped and not obs.dcdc_stale:
        return now if since is None else since
    return None


def _dcdc_down(obs: Observation, step: Step | None = None) -> Reason | None:
    """Why the DC-DC gets no command now; a reset goes to a tripped DC-DC (it is what clears the trip)."""
    if obs.dcdc_stale:
        return obs.dcdc_stale
    if obs.dcdc_fault and (step is None or dict(step.params).get("mode") != "reset"):
        return obs.dcdc_fault
    return None


def _in_fault(m: Machine, now: float, ctx: Context) -> tuple[Machine, tuple[Action, ...]]:
    """FAULT holds until stopped, but a more serious cause is reported, and the optional fault recovery watches
    for every trip to stay cleared."""
    obs = m.obs
    fault = _fault(obs)
    if fault and SERIOUSNESS.index(fault[0]) < SERIOUSNESS.index(m.cause or "step"):
        cause, why = fault  # a fire or a BMS fault that arises in FAULT is what the FAULT is about from now on
        return replace(m, cause=cause, why=why, clear_since=None, deadline=None), (
            Alarm("auto_fault", True, "fault", Reason("auto.fault", why=why)),
        )
    if not ctx.fault_recovery or m.cause not in ("pcs", "step"):
        return m, ()  # a fire or a BMS fault needs a person
    if obs.fire or obs.bms_fault or obs.pcs_tripped or obs.dcdc_tripped or obs.blind or obs.dcdc_stale:
        return replace(m, clear_since=None, deadline=None), ()
    since = now if m.clear_since is None else m.clear_since
    recent = tuple(t for t in m.fault_recoveries if now - t < RECOVERY_WINDOW)
    wait_until = since + FAULT_CLEAR_TIME
    if len(recent) >= ctx.fault_recovery_per_hour:
        wait_until = max(wait_until, recent[0] + RECOVERY_WINDOW)
    if now < wait_until:
        return replace(m, clear_since=since, fault_recoveries=recent, deadline=wait_until), ()
    attempt = len(recent) + 1
    why = Reason("auto.fault_recovery", attempt=attempt, limit=ctx.fault_recovery_per_hour, why=m.why)
    base = replace(m, state=RECOVERY, cause=None, clear_since=None, fault_recoveries=(*recent, now))
    recovering, acts = _begin(base, "fault_recovery", now, ctx)
    return replace(recovering, why=why), (Alarm("auto_fault", False, "fault", why), *acts)


def _start(m: Machine, now: float, ctx: Context) -> tuple[Machine, tuple[Action, ...]]:
    if m.state == FAULT:
        return m, (Reject(Reason("auto.in_fault", why=m.why)),)
    if m.running:
        return m, (Reject(Reason("auto.already_running", state=m.state)),)
    stale = m.obs.blind or (m.obs.dcdc_stale if ctx.has_dcdc else None)
    if stale:
        return m, (Reject(Reason("auto.cannot_start", why=stale)),)
    fault = _fault(m.obs)
    if fault:
        return m, (Reject(Reason("auto.cannot_start_fault", why=fault[1])),)
    fresh = Machine(NORMAL, obs=m.obs, token=m.token, last_ack=m.last_ack, fault_recoveries=m.fault_recoveries)
    return _begin(fresh, "start", now, ctx)


def _begin(m: Machine, name: str, now: float, ctx: Context) -> tuple[Machine, tuple[Action, ...]]:
    deadline = now if m.last_ack is None else max(now, m.last_ack + ctx.command_interval)
    m = replace(m, state=STATE_OF[name], sequence=name, index=0, waiting="gap", deadline=deadline, retried=False,
                why=None)  # fmt: skip
    return _issue(m, now, ctx) if now >= deadline else (m, ())


def _issue(m: Machine, now: float, ctx: Context) -> tuple[Machine, tuple[Action, ...]]:
    assert m.sequence is not None
    step_ = sequence(m.sequence, ctx)[m.index]
    if step_.device_type == "DCDC" and _dcdc_down(m.obs, step_):
        return _next(replace(m, dcdc_missed=True), m.last_ack if m.last_ack is not None else now, now, ctx)
    token = m.token + 1
    return replace(m, waiting="ack", deadline=None, token=token), (Issue(step_, token),)


def _done(m: Machine, event: Done, now: float, ctx: Context) -> tuple[Machine, tuple[Action, ...]]:
    assert m.sequence is not None
    steps = sequence(m.sequence, ctx)
    if not event.ok:
        if m.retried:
            why = Reason("auto.step_failed_twice", step=steps[m.index].label, why=event.why)
            return _faulted(m, "step", why), (Alarm("auto_fault", True, "fault", Reason("auto.fault", why=why)),)
        retry = replace(m, waiting="gap", deadline=now + ctx.command_interval, retried=True, why=event.why)
        return retry, ()
    acked = event.acked_at if event.acked_at is not None else now
    last = acked if m.last_ack is None else max(m.last_ack, acked)
    return _next(replace(m, last_ack=last, retried=False, why=None), acked, now, ctx)


def _next(m: Machine, after: float, now: float, ctx: Context) -> tuple[Machine, tuple[Action, ...]]:
    """The step after the current one (acknowledged or skipped at `after`), or the end of the sequence."""
    assert m.sequence is not None
    steps = sequence(m.sequence, ctx)
    if m.index + 1 < len(steps):
        nxt = steps[m.index + 1]
        deadline = after + (ctx.command_interval if nxt.gap is None else nxt.gap)
        m = replace(m, index=m.index + 1, waiting="gap", deadline=deadline)
        return _issue(m, now, ctx) if now >= deadline else (m, ())
    if m.sequence == "charge":
        return replace(m, state=CHARGING, sequence=None, index=0, waiting="soc", deadline=None), ()
    normal = replace(m, state=NORMAL, sequence=None, index=0, waiting=None, deadline=after + ctx.command_interval,
                     why=None)  # fmt: skip
    return _rules(normal, now, ctx)


def _rules(m: Machine, now: float, ctx: Context) -> tuple[Machine, tuple[Action, ...]]:
    """Normal operation: the SOC rules and the recoveries, no sooner than command_interval after the last write."""
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
    if ctx.has_dcdc:
        m, name = _dcdc_rules(m, now, ctx)
        if name == "solar":
            return _begin(m, name, now, ctx)
        if name == "dcdc_recovery":
            recovering, acts = _begin(m, name, now, ctx)
            why = Reason("auto.dcdc_recovery", attempt=len(m.fault_recoveries), limit=ctx.fault_recovery_per_hour)
            return replace(recovering, why=why), acts
    if obs.soc is None:
        return m, ()
    if obs.soc <= ctx.soc_low_threshold:
        return _begin(m, "charge", now, ctx)
    if ctx.has_dcdc and obs.soc >= ctx.soc_high_threshold and not _dcdc_down(obs):
        return _begin(m, "soc_high", now, ctx)
    return m, ()


def _dcdc_rules(m: Machine, now: float, ctx: Context) -> tuple[Machine, str | None]:
    """The DC-DC's own rules: the machine (with the fault recovery's timer) and the sequence to begin, if any.

    A DC-DC whose steps were skipped gets its solar mode back when it is available again; with fault recovery
    on, a tripped DC-DC whose trips stayed cleared for FAULT_CLEAR_TIME is reset and put back to solar."""
    obs = m.obs
    if m.dcdc_missed and not _dcdc_down(obs):
        return replace(m, dcdc_missed=False), "solar"
    since = m.dcdc_clear_since
    if not ctx.fault_recovery or since is None:
        return m, None
    recent = tuple(t for t in m.fault_recoveries if now - t < RECOVERY_WINDOW)
    if now < since + FAULT_CLEAR_TIME or len(recent) >= ctx.fault_recovery_per_hour:
        wake = since + FAULT_CLEAR_TIME if now < since + FAULT_CLEAR_TIME else recent[0] + RECOVERY_WINDOW
        return replace(m, fault_recoveries=recent, deadline=wake), None
    return replace(m, dcdc_clear_since=None, dcdc_missed=False, fault_recoveries=(*recent, now)), "dcdc_recovery"


def _resume(m: Machine, now: float, ctx: Context) -> tuple[Machine, tuple[Action, ...]]:
    """After HOLD, from the first fresh SOC (never an assumed one): the interrupted sequence again from its first
    step if its condition still holds; otherwise what brings the devices back to normal operation."""
    base = replace(m, state=NORMAL, sequence=None, index=0, waiting=None, deadline=None, held=None, why=None)
    name, done = m.held or (None, 0)
    soc = m.obs.soc
    assert soc is not None  # HOLD ends only on a plausible SOC (Observation.blind)
    if m.held is not None and name is None:  # was charging to the stop threshold
        if soc >= ctx.soc_charge_stop_threshold:
            return _begin(base, "charge_end", now, ctx)
        return replace(base, state=CHARGING, waiting="soc"), ()
    if name in ("start", "charge_end", "fault_recovery", "dcdc_recovery"):
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
