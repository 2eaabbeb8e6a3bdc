"""Random runs of the pure automation: the state machine and the interlocks' enforcement, with invariants.

Hypothesis drives starts, stops, observations of the plant, the passing of time and the outcome of every
command (acknowledged or refused); after every input the invariants of the interlock table must hold.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from pms_core.automation import state_machine as sm
from pms_core.interlocks import RULES, Active, due, enforcement

pytestmark = pytest.mark.slow

CTX = sm.Context(
    soc_high_threshold=88, soc_low_threshold=5, soc_charge_stop_threshold=25, dcdc_standby_time=30,
    command_interval=5, charging_power=10, recovery_enabled=True, fault_recovery=True,
)  # fmt: skip
ENERGIZING = {("PCS", "charge"), ("PCS", "regen"), ("PCS", "independent"), ("DCDC", "solar"), ("DCDC", "charge"),
              ("DCDC", "regen"), ("DCDC", "start")}  # fmt: skip
RULE = {r.id: r for r in RULES}
rarely = st.integers(0, 7).map(lambda n: n == 0)  # a healthy plant most of the time, so that the machine runs


class Automation(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.m = sm.Machine()
        self.now = 0.0
        self.obs = sm.Observation(soc=50, bms_stale=None)
        self.pending: sm.Issue | None = None
        self.last_ack: float | None = None
        self.issued: list[tuple[float, sm.Issue, sm.Observation]] = []
        self.engaged = False  # the operator started the automatic mode and has not stopped it
        self.pcs_stopped = False  # the PCS reads back stopped
        self.stop_sent: float | None = None  # the interlocks' last PCS stop
        self.needs_a_person = False  # a fire or a BMS fault was seen since the machine went to FAULT

    # --- inputs ----------------------------------------------------------------------------------------
    def feed(self, event: sm.Input) -> None:
        before = self.m.state
        self.m, actions = sm.step(self.m, event, self.now, CTX)
        if self.m.state == sm.FAULT:
            self.needs_a_person = self.needs_a_person or bool(self.obs.fire or self.obs.bms_fault)
        elif before == sm.FAULT:
            assert not (self.m.state == sm.RECOVERY and self.needs_a_person), "recovered after a fire or BMS fault"
            self.needs_a_person = False
        for action in actions:
            if isinstance(action, sm.Issue):
                self.issued.append((self.now, action, self.obs))
                self.check_issue(action)
                self.pending = action
        self.enforce()

    @rule(
        soc=st.floats(0, 100),
        soc_unknown=rarely,
        bms_stale=rarely, pcs_stale=rarely, dcdc_stale=rarely, fire=rarely, bms_fault=rarely, pcs_fault=rarely,
        pcs_tripped=rarely, dcdc_fault=rarely, dcdc_tripped=rarely, comm=rarely,
    )  # fmt: skip
    def observe(self, soc, soc_unknown, bms_stale, pcs_stale, dcdc_stale, fire, bms_fault, pcs_fault, pcs_tripped,
                dcdc_fault, dcdc_tripped, comm):  # fmt: skip
        self.obs = sm.Observation(
            soc=None if bms_stale or soc_unknown else soc,
            bms_stale="BMS data is stale or offline" if bms_stale else None,
            pcs_stale="PCS data is stale or offline" if pcs_stale else None,
            dcdc_stale="DC-DC data is stale or offline" if dcdc_stale else None,
            fire=fire,
            bms_fault="BMS fault (Rack Over Voltage Error)" if bms_fault or fire else None,
            pcs_fault="PCS total fault or trip" if pcs_fault or pcs_tripped else None,
            pcs_tripped=pcs_tripped,
            dcdc_fault="DC-DC trip" if dcdc_fault or dcdc_tripped else None,
            dcdc_tripped=dcdc_tripped,
            bms_comm_error=comm,
        )
        self.feed(sm.Observe(self.obs))

    @rule()
    def start(self) -> None:
        self.engaged = True
        self.feed(sm.Start())

    @rule()
    def stop(self) -> None:
        self.engaged = False
        self.feed(sm.Stop())

    @rule(dt=st.floats(0.01, 90))
    def time_passes(self, dt: float) -> None:
        self.now += dt
        self.feed(sm.Tick())

    @precondition(lambda self: self.pending is not None)
    @rule(ok=st.booleans(), dt=st.floats(0, 3))
    def device_answers(self, ok: bool, dt: float) -> None:
        assert self.pending is not None
        issue, self.pending = self.pending, None
        self.now += dt
        if ok:
            self.last_ack = self.now
            self.feed(sm.Written(self.now))
            if dict(issue.step.params).get("mode") == "stop" and issue.step.device_type == "PCS":
                self.pcs_stopped = True
        self.feed(sm.Done(issue.token, ok, None if ok else "refused", self.now if ok else None))

    @rule()
    def pcs_runs_again(self) -> None:  # the operator or a start sequence
        self.pcs_stopped = False
        self.enforce()

    # --- the interlocks' enforcement, run as after every snapshot --------------------------------------------
    def enforce(self) -> None:
        active = []
        if self.obs.fire:
            active.append(Active(RULE["fire"], "BMS", ("Fire Alarm",), ("Fire Alarm",)))
        if self.obs.bms_fault:
            active.append(Active(RULE["bms_fault"], "BMS", ("Rack Over Voltage Error",), ("Rack Over Voltage Error",)))
        engaged = self.engaged and self.m.state != sm.IDLE
        wanted = enforcement(active, engaged)
        if self.obs.fire:
            assert {t: w.mode for t, (w, _) in wanted.items()} == {"PCS": "stop", "DCDC": "stop"}
        pcs = wanted.get("PCS")
        if pcs and due(self.pcs_stopped, False, False, self.stop_sent, self.now, CTX.command_interval):
            assert pcs[0].mode == "stop"
            self.stop_sent = self.now
            self.last_ack = self.now  # the device acknowledges it (it counts for the machine's spacing too)
            self.m, _ = sm.step(self.m, sm.Written(self.now), self.now, CTX)

    # --- invariants ----------------------------------------------------------------------------------
    def check_issue(self, issue: sm.Issue) -> None:
        obs, step = self.obs, issue.step
        mode = dict(step.params).get("mode")
        assert not obs.fire and not obs.bms_fault, f"{step.label} issued with a fire or a BMS fault"
        assert not obs.blind, f"{step.label} issued on stale data: {obs.blind}"
        if step.device_type == "DCDC":
            assert not obs.dcdc_stale, f"{step.label} issued to a stale DC-DC"
            assert not obs.dcdc_fault or mode == "reset", f"{step.label} issued to a tripped DC-DC"
        if obs.pcs_fault:
            assert (step.device_type, mode) not in ENERGIZING, f"{step.label} issued to a faulted PCS"
        if self.last_ack is not None:
            first = self.m.index == 0
            needed = CTX.command_interval if first or step.gap is None else step.gap
            assert self.now - self.last_ack >= needed - 1e-6, f"{step.label} {self.now - self.last_ack:.2f} s after"

    @invariant()
    def a_fire_is_followed_by_a_pcs_stop_until_it_reads_back(self) -> None:
        if self.obs.fire and not self.pcs_stopped:
            assert self.stop_sent is not None and self.now - self.stop_sent < CTX.command_interval

    @invariant()
    def fault_hold_and_idle_wait_for_nothing(self) -> None:
        if self.m.state in (sm.FAULT, sm.HOLD, sm.IDLE):
            assert self.m.waiting is None, self.m


Automation.TestCase.settings = settings(
    max_examples=400, stateful_step_count=80, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
TestAutomation = Automation.TestCase
