"""The automatic mode's pure state machine, input by input: next state and the exact actions."""

from __future__ import annotations

from dataclasses import replace

import pytest

from pms_core.automation import state_machine as sm
from pms_core.automation.state_machine import (
    CHARGING,
    FAULT,
    HOLD,
    IDLE,
    NORMAL,
    RECOVERY,
    SOC_HIGH,
    STARTING,
    Alarm,
    Context,
    Done,
    Issue,
    Machine,
    Observation,
    Observe,
    Reject,
    Start,
    Stop,
    Tick,
    Written,
)  # fmt: skip

CTX = Context(
    soc_high_threshold=88, soc_low_threshold=5, soc_charge_stop_threshold=25, dcdc_standby_time=30,
    command_interval=5, charging_power=10,
)  # fmt: skip


PCS_FAULT = "PCS total fault or trip on PCS (Total Fault (Trip Anyone))"


def fresh(soc: float, **kw) -> Observe:
    return Observe(Observation(soc=soc, bms_stale=None, **kw))


STALE = Observe(Observation())


def issued(actions) -> list[tuple[str, str, dict]]:
    return [(a.step.device_type, a.step.command, dict(a.step.params)) for a in actions if isinstance(a, Issue)]


class Driver:
    """Feeds inputs at plant times and acknowledges issued commands, recording every write."""

    def __init__(self, ctx: Context = CTX, soc: float = 50) -> None:
        self.ctx = ctx
        self.m = Machine()
        self.now = 0.0
        self.writes: list[tuple[float, str, str, dict]] = []
        self.last: tuple = ()
        self.feed(fresh(soc))

    def feed(self, event, at: float | None = None):
        if at is not None:
            self.now = at
        self.m, self.last = sm.step(self.m, event, self.now, self.ctx)
        for dev, cmd, params in issued(self.last):
            self.writes.append((self.now, dev, cmd, params))
        return self.last

    def ack(self, ok: bool = True, reason: str | None = None, after: float = 0.5):
        """The device acknowledges the pending write `after` seconds later."""
        assert self.m.waiting == "ack", self.m
        self.now += after
        return self.feed(Done(self.m.token, ok, reason, self.now))

    def run_until_idle_wait(self, limit: int = 20) -> None:
        """Acknowledge and tick through a whole sequence."""
        for _ in range(limit):
            if self.m.waiting == "ack":
                self.ack()
            elif self.m.waiting == "gap":
                self.feed(Tick(), at=self.m.deadline)
            else:
                return


def test_idle_ignores_everything_but_start():
    d = Driver()
    for event in (Tick(), fresh(2), fresh(95), STALE, Done(1, True), Stop()):
        assert d.feed(event) == ()
        assert d.m.state == IDLE


@pytest.mark.parametrize(
    ("obs", "reason"),
    [
        (Observation(), "BMS data is stale or offline"),
        (Observation(soc=50, bms_stale=None, pcs_stale="PCS data is stale or offline"), "PCS data is stale"),
        (Observation(soc=50, bms_stale=None, dcdc_stale="DC-DC data is stale or offline"), "DC-DC data is stale"),
        (Observation(soc=None, bms_stale=None), "BMS SOC is not known"),
        (Observation(soc=50, bms_stale=None, pcs_fault=PCS_FAULT), "PCS total fault"),
        (Observation(soc=50, bms_stale=None, fire=True), "BMS fire alarm"),
        (Observation(soc=50, bms_stale=None, bms_fault="BMS fault on BMS (Rack Over Voltage Error)"), "Rack Over Voltage"),
    ],
)
def test_start_is_refused_on_stale_bms_or_faults(obs, reason):
    d = Driver()
    acts = d.feed(Observe(obs))
    acts = d.feed(Start())
    assert d.m.state == IDLE and len(acts) == 1 and isinstance(acts[0], Reject) and reason in acts[0].reason


def test_start_sequence_exact_order_and_spacing():
    d = Driver()
    assert issued(d.feed(Start(), at=100)) == [("PCS", "operation_mode", {"mode": "standby"})]
    assert d.m.state == STARTING and d.m.step_label(CTX) == "PCS run / standby (21)"
    assert d.ack(after=0.2) == ()  # acknowledged at 100.2
    assert d.m.deadline == pytest.approx(105.2) and d.m.step_label(CTX).startswith("wait, then PCS independent")
    assert d.feed(Tick(), at=105.1) == ()  # not yet
    assert issued(d.feed(Tick(), at=105.2)) == [("PCS", "operation_mode", {"mode": "independent"})]
    d.run_until_idle_wait()
    assert [(round(t, 1), dev, p.get("mode")) for t, dev, _, p in d.writes] == [
        (100.0, "PCS", "standby"), (105.2, "PCS", "independent"), (110.7, "DCDC", "reset"), (116.2, "DCDC", "solar"),
    ]  # fmt: skip
    assert d.m.state == NORMAL


def test_start_without_dcdc_skips_its_steps_and_the_soc_high_rule():
    d = Driver(replace(CTX, has_dcdc=False), soc=50)
    d.feed(Start())
    d.run_until_idle_wait()
    assert [p["mode"] for *_, p in d.writes] == ["standby", "independent"]
    d.feed(fresh(95), at=d.now + 100)
    assert d.last == () and d.m.state == NORMAL


def started(soc: float = 50, ctx: Context = CTX) -> Driver:
    d = Driver(ctx, soc)
    d.feed(Start())
    d.run_until_idle_wait()
    d.writes.clear()
    d.feed(Tick(), at=d.now + 10)
    return d


@pytest.mark.parametrize("soc", [6, 50, 87.9])
def test_normal_does_nothing_between_the_thresholds(soc):
    d = started()
    assert d.feed(fresh(soc), at=d.now + 1) == () and d.m.state == NORMAL


def test_soc_high_cycles_dcdc_standby_and_solar():
    d = started()
    t0 = d.now + 1
    assert issued(d.feed(fresh(88), at=t0)) == [("DCDC", "operation_mode", {"mode": "standby"})]
    assert d.m.state == SOC_HIGH
    d.ack(after=0)
    assert d.m.deadline == t0 + 30  # dcdc_standby_time
    assert issued(d.feed(Tick(), at=t0 + 30)) == [("DCDC", "operation_mode", {"mode": "solar"})]
    d.ack(after=0)
    assert d.m.state == NORMAL and d.m.deadline == t0 + 35  # still high: next cycle no sooner than command_interval
    assert d.feed(Tick(), at=t0 + 34) == ()
    assert issued(d.feed(Tick(), at=t0 + 35)) == [("DCDC", "operation_mode", {"mode": "standby"})]


def test_soc_low_runs_the_charge_cycle_until_the_stop_threshold():
    d = started()
    d.feed(fresh(5), at=d.now + 1)  # exactly the low threshold
    assert d.m.state == CHARGING
    d.run_until_idle_wait()
    assert [(dev, cmd, p) for _, dev, cmd, p in d.writes] == [
        ("PCS", "operation_mode", {"mode": "stop"}),
        ("PCS", "operation_mode", {"mode": "standby"}),
        ("PCS", "set_charge_power", {"kw": 10}),
        ("PCS", "operation_mode", {"mode": "charge"}),
    ]
    assert d.m.state == CHARGING and d.m.waiting == "soc" and d.m.step_label(CTX) == "charging until SOC >= 25 %"
    assert d.feed(fresh(24.9), at=d.now + 100) == ()
    d.writes.clear()
    assert issued(d.feed(fresh(25), at=d.now + 100)) == [("PCS", "operation_mode", {"mode": "stop"})]
    d.run_until_idle_wait()
    assert [p["mode"] for *_, p in d.writes] == ["stop", "independent"]
    assert d.m.state == NORMAL


def test_stale_bms_holds_raises_an_alarm_and_issues_nothing():
    d = started()
    d.feed(fresh(4), at=d.now + 1)  # charge cycle: PCS stop issued
    d.ack()
    acts = d.feed(STALE)
    assert d.m.state == HOLD and acts == (Alarm("auto_hold", True, "warning", d.m.why),)
    assert "stale" in d.m.reason
    d.writes.clear()
    for t in (10, 20, 30):
        assert d.feed(Tick(), at=d.now + t) == ()
    assert d.feed(Done(d.m.token, True), at=d.now) == ()
    assert d.writes == []
    acts = d.feed(fresh(4), at=d.now + 1)  # back, SOC still low: the charge cycle from its first step
    assert isinstance(acts[0], Alarm) and not acts[0].active
    assert issued(acts) == [("PCS", "operation_mode", {"mode": "stop"})]
    assert d.m.state == CHARGING


@pytest.mark.parametrize(
    ("held_at", "soc_back", "expected"),
    [
        ("charging", 30, ["stop", "independent"]),  # reached the stop threshold during the hold
        ("charging", 10, []),  # still charging: keep waiting
        ("soc_high", 80, ["solar"]),  # DC-DC was put in standby: give it back its solar mode
        ("soc_high", 95, ["standby", "solar"]),  # still high: the cycle again
        ("normal", 50, []),
    ],
)
def test_after_hold_the_interrupted_sequence_restarts_or_normal_operation_returns(held_at, soc_back, expected):
    d = started()
    if held_at == "charging":
        d.feed(fresh(4), at=d.now + 1)
        d.run_until_idle_wait()
    elif held_at == "soc_high":
        d.feed(fresh(90), at=d.now + 1)
        d.ack()
    d.feed(STALE)
    d.writes.clear()
    d.feed(fresh(soc_back), at=d.now + 60)
    d.run_until_idle_wait()
    assert [p["mode"] for *_, p in d.writes] == expected


def test_pcs_total_fault_is_fault_and_nothing_more_is_issued():
    d = started()
    acts = d.feed(fresh(50, pcs_fault=PCS_FAULT), at=d.now + 1)
    assert d.m.state == FAULT and issued(acts) == [] and "PCS total fault" in d.m.reason
    assert [a.code for a in acts if isinstance(a, Alarm)] == ["auto_fault"]
    for event in (fresh(2), fresh(95), Tick()):
        assert d.feed(event, at=d.now + 100) == ()
    assert isinstance(d.feed(Start())[0], Reject)  # leaving FAULT takes stop, then start
    d.feed(Stop())
    assert d.m.state == IDLE
    d.feed(fresh(50))
    assert issued(d.feed(Start())) == [("PCS", "operation_mode", {"mode": "standby"})]


def test_bms_fire_is_fault_and_the_machine_issues_nothing_more():
    """The fire stop itself is the interlocks' (every mode, retried until read back): tests/test_interlocks.py."""
    d = started()
    acts = d.feed(fresh(50, fire=True), at=d.now + 1)
    assert issued(acts) == [] and [a.code for a in acts if isinstance(a, Alarm)] == ["auto_fault"]
    assert d.m.state == FAULT and d.m.reason == "BMS fire alarm"


def test_a_fire_in_fault_becomes_the_reason():
    d = started()
    d.feed(fresh(50, pcs_fault=PCS_FAULT), at=d.now + 1)
    acts = d.feed(fresh(50, pcs_fault=PCS_FAULT, fire=True), at=d.now + 1)
    assert d.m.state == FAULT and d.m.reason == "BMS fire alarm" and d.m.cause == "fire"
    assert [(a.code, a.active) for a in acts if isinstance(a, Alarm)] == [("auto_fault", True)] and issued(acts) == []


def test_a_failed_step_is_retried_once_then_fault():
    d = Driver()
    d.feed(Start(), at=0)
    assert d.ack(ok=False, reason="exception 0x04") == ()
    assert d.m.state == STARTING and d.m.deadline == pytest.approx(5.5)
    assert issued(d.feed(Tick(), at=5.5)) == [("PCS", "operation_mode", {"mode": "standby"})]  # the one retry
    acts = d.ack(ok=False, reason="exception 0x04")
    assert d.m.state == FAULT and "PCS run / standby (21) failed twice: exception 0x04" in d.m.reason
    assert [a.code for a in acts if isinstance(a, Alarm)] == ["auto_fault"]


def test_a_retry_that_succeeds_continues_the_sequence():
    d = Driver()
    d.feed(Start(), at=0)
    d.ack(ok=False, reason="not confirmed")
    d.feed(Tick(), at=d.m.deadline)
    d.ack()
    d.feed(Tick(), at=d.m.deadline)
    assert [p["mode"] for *_, p in d.writes] == ["standby", "standby", "independent"]
    d.ack(ok=False)  # a later step has its own retry
    assert d.m.state == STARTING


def test_threshold_changes_take_effect_at_once():
    d = started()
    d.feed(fresh(80), at=d.now + 1)
    assert d.m.state == NORMAL
    d.ctx = replace(CTX, soc_high_threshold=75)
    assert issued(d.feed(Tick())) == [("DCDC", "operation_mode", {"mode": "standby"})]
    d.ctx = replace(CTX, charging_power=7.5)
    d2 = started(ctx=d.ctx)
    d2.feed(fresh(3), at=d2.now + 1)
    d2.run_until_idle_wait()
    assert ("PCS", "set_charge_power", {"kw": 7.5}) in [(dev, c, p) for _, dev, c, p in d2.writes]


@pytest.mark.parametrize("where", ["starting", "normal", "hold", "charging", "fault"])
def test_stop_goes_idle_from_every_state_and_writes_nothing(where):
    d = Driver()
    d.feed(Start())
    if where != "starting":
        d.run_until_idle_wait()
    if where == "hold":
        d.feed(STALE)
    elif where == "charging":
        d.feed(fresh(3), at=d.now + 10)
    elif where == "fault":
        d.feed(fresh(50, pcs_fault=PCS_FAULT))
    token = d.m.token
    acts = d.feed(Stop())
    assert d.m.state == IDLE and issued(acts) == []
    assert [a.active for a in acts if isinstance(a, Alarm)] == ([False] if where == "hold" else [])
    assert d.feed(Done(token, True), at=d.now + 1) == () and d.feed(Tick(), at=d.now + 100) == ()


def test_auto_recovery_sequence_attempts_and_cooldown():
    ctx = replace(CTX, recovery_enabled=True, recovery_max_attempts=2, recovery_cooldown=120)
    d = started(ctx=ctx)
    t0 = d.now + 1
    d.feed(fresh(50, bms_comm_error=True), at=t0)
    assert d.m.state == RECOVERY
    d.run_until_idle_wait()
    assert [(round(t - t0, 1), dev, cmd, p) for t, dev, cmd, p in d.writes] == [
        (0.0, "BMS", "reset_errors", {}),
        (2.5, "BMS", "dc_contactor", {"enable": True}),
        (6.0, "PCS", "reset_faults", {}),
        (8.5, "PCS", "operation_mode", {"mode": "independent"}),
    ]
    assert d.m.state == NORMAL
    d.writes.clear()
    d.feed(fresh(50, bms_comm_error=True), at=t0 + 60)  # within the cooldown
    assert d.writes == []
    d.feed(fresh(50, bms_comm_error=True), at=t0 + 121)
    d.run_until_idle_wait()
    assert len(d.writes) == 4  # the second and last attempt
    d.writes.clear()
    d.feed(fresh(50, bms_comm_error=True), at=t0 + 1000)
    assert d.writes == [] and d.m.recovery_attempts == 2


def test_recovery_is_off_unless_enabled():
    d = started()
    d.feed(fresh(50, bms_comm_error=True), at=d.now + 1)
    assert d.m.state == NORMAL and d.writes == []


def test_outcome_of_an_old_command_is_ignored():
    d = Driver()
    d.feed(Start())
    old = d.m.token
    d.ack()
    assert d.feed(Done(old, False, "late"), at=d.now + 1) == ()
    assert d.m.state == STARTING and not d.m.retried


# --- interlocks as the machine sees them ------------------------------------------------------------
DCDC_TRIP = "DC-DC trip on DCDC (출력 과전압 (DcLink 과전압))"


def test_a_stale_pcs_holds_like_a_stale_bms_and_the_sequence_restarts_when_it_returns():
    d = Driver()
    d.feed(Start(), at=0)
    d.ack()
    acts = d.feed(fresh(50, pcs_stale="PCS data is stale or offline"), at=1)
    assert d.m.state == HOLD and "PCS data is stale" in d.m.reason and issued(acts) == []
    assert d.feed(Tick(), at=100) == ()
    acts = d.feed(fresh(50), at=101)
    assert issued(acts) == [("PCS", "operation_mode", {"mode": "standby"})]  # the start sequence from its first step


def test_after_hold_the_machine_waits_for_a_known_soc_and_never_assumes_one():
    d = started()
    d.feed(STALE, at=d.now + 1)
    assert d.feed(Observe(Observation(soc=None, bms_stale=None)), at=d.now + 1) == ()
    assert d.m.state == HOLD and d.m.reason.startswith("BMS SOC is not known")
    assert issued(d.feed(fresh(3), at=d.now + 1)) == [("PCS", "operation_mode", {"mode": "stop"})]  # decided on 3 %


def test_a_tripped_dcdc_gets_no_command_but_reset_and_the_pcs_side_keeps_running():
    d = Driver()
    d.feed(fresh(50, dcdc_fault=DCDC_TRIP))
    d.feed(Start())
    d.run_until_idle_wait()
    # The start sequence's reset goes to the tripped DC-DC (it is what clears a trip); its solar step does not.
    assert [(dev, p["mode"]) for _, dev, _, p in d.writes] == [("PCS", "standby"), ("PCS", "independent"),
                                                               ("DCDC", "reset")]  # fmt: skip
    assert d.m.state == NORMAL and d.m.dcdc_missed and DCDC_TRIP in d.m.note(has_dcdc=True).text
    d.writes.clear()
    d.feed(fresh(95, dcdc_fault=DCDC_TRIP), at=d.now + 100)  # SOC high: no DC-DC cycle while it is tripped
    d.feed(fresh(3, dcdc_fault=DCDC_TRIP), at=d.now + 100)  # SOC low: the PCS's charge cycle still runs
    d.run_until_idle_wait()
    assert [p.get("mode") for _, dev, _, p in d.writes] == ["stop", "standby", None, "charge"]
    d.feed(fresh(30, dcdc_fault=DCDC_TRIP), at=d.now + 1000)
    d.run_until_idle_wait()
    d.writes.clear()
    d.feed(fresh(50), at=d.now + 100)  # the DC-DC is healthy again: its solar mode back, nothing more
    d.run_until_idle_wait()
    assert [(dev, p["mode"]) for _, dev, _, p in d.writes] == [("DCDC", "solar")] and not d.m.dcdc_missed


def test_a_dcdc_that_goes_stale_mid_cycle_has_its_steps_skipped_then_gets_solar_back():
    d = started()
    d.feed(fresh(90), at=d.now + 1)  # SOC high: DC-DC standby issued
    d.ack()
    d.feed(fresh(90, dcdc_stale="DC-DC data is stale or offline"), at=d.now + 1)
    d.feed(Tick(), at=d.m.deadline)  # the solar step is due: skipped, not written
    assert d.m.state == NORMAL and [p["mode"] for *_, p in d.writes] == ["standby"]
    d.feed(fresh(80), at=d.now + 10)
    d.run_until_idle_wait()
    assert [p["mode"] for *_, p in d.writes] == ["standby", "solar"]


def test_command_interval_holds_across_stop_and_start():
    d = Driver()
    d.feed(Start(), at=0)  # PCS 21 issued; the device acknowledges at 0.3, its confirmation is still pending
    d.feed(Written(0.3), at=0.3)
    d.feed(Stop(), at=0.31)
    assert d.feed(Start(), at=0.31) == () and d.m.deadline == pytest.approx(5.3)
    assert issued(d.feed(Tick(), at=5.3)) == [("PCS", "operation_mode", {"mode": "standby"})]


RECOVERING = replace(CTX, fault_recovery=True, fault_recovery_per_hour=2)
START_MODES = ["standby", "independent", "reset", "solar"]


def test_fault_recovery_resets_and_starts_again_after_the_trips_stayed_clear_for_60_s():
    d = started(ctx=RECOVERING)
    d.feed(fresh(50, pcs_fault=PCS_FAULT, pcs_tripped=True), at=d.now + 1)
    assert d.m.state == FAULT
    latched = fresh(50, pcs_fault=PCS_FAULT)  # the trip has gone; the total fault stays latched until a reset
    t0 = d.now + 10
    assert d.feed(latched, at=t0) == () and d.m.deadline == t0 + 60
    d.feed(fresh(50, pcs_fault=PCS_FAULT, pcs_tripped=True), at=t0 + 30)  # back again: the 60 s start over
    d.feed(latched, at=t0 + 40)
    assert d.feed(latched, at=t0 + 99) == ()
    d.writes.clear()
    acts = d.feed(latched, at=t0 + 100)
    assert d.m.state == RECOVERY and "fault recovery attempt 1 of 2" in d.m.reason
    assert [(a.code, a.active) for a in acts if isinstance(a, Alarm)] == [("auto_fault", False)]
    d.ack()
    d.feed(fresh(50), at=d.now + 1)  # the reset cleared the latched fault
    d.run_until_idle_wait()
    assert [(dev, p.get("mode")) for _, dev, _, p in d.writes] == [
        ("PCS", None), ("PCS", "standby"), ("PCS", "independent"), ("DCDC", "reset"), ("DCDC", "solar")]  # fmt: skip
    assert d.m.state == NORMAL


def test_fault_recovery_is_limited_per_hour_and_never_after_a_fire_or_a_bms_fault():
    d = started(ctx=RECOVERING)
    for attempt in range(3):
        d.feed(fresh(50, pcs_fault=PCS_FAULT, pcs_tripped=True), at=d.now + 1)
        d.feed(fresh(50), at=d.now + 1)
        d.feed(Tick(), at=d.now + 61)
        assert d.m.state == (RECOVERY if attempt < 2 else FAULT), attempt
        d.run_until_idle_wait()
    assert d.m.deadline is not None and d.m.deadline - d.now > 3000  # the third waits for the hour to pass
    for obs in (fresh(50, fire=True), fresh(50, bms_fault="BMS fault on BMS (Cell Over Temperature Error)")):
        d2 = started(ctx=RECOVERING)
        d2.feed(obs, at=d2.now + 1)
        d2.feed(fresh(50), at=d2.now + 1)
        d2.feed(Tick(), at=d2.now + 3600)
        assert d2.m.state == FAULT and issued(d2.last) == []


def test_without_fault_recovery_fault_stays():
    d = started()
    d.feed(fresh(50, pcs_fault=PCS_FAULT, pcs_tripped=True), at=d.now + 1)
    d.feed(fresh(50), at=d.now + 1)
    assert d.feed(fresh(50), at=d.now + 3600) == () and d.m.state == FAULT


def test_a_tripped_dcdc_is_reset_by_fault_recovery_once_its_trips_stayed_clear():
    d = started(ctx=RECOVERING)
    d.feed(fresh(50, dcdc_fault=DCDC_TRIP, dcdc_tripped=True), at=d.now + 1)
    latched = fresh(50, dcdc_fault=DCDC_TRIP)
    t0 = d.now + 1
    d.feed(latched, at=t0)
    assert d.feed(latched, at=t0 + 59) == () and d.m.state == NORMAL
    assert issued(d.feed(Tick(), at=t0 + 60)) == [("DCDC", "operation_mode", {"mode": "reset"})]
    assert d.m.state == RECOVERY and "DC-DC fault recovery attempt 1 of 2" in d.m.reason
    d.ack()
    d.feed(fresh(50), at=d.now + 1)
    d.run_until_idle_wait()
    assert [p["mode"] for *_, p in d.writes][-2:] == ["reset", "solar"] and d.m.state == NORMAL


def test_a_bms_fault_that_arises_in_fault_becomes_its_cause_and_is_never_recovered():
    d = started(ctx=RECOVERING)
    d.feed(fresh(50, pcs_fault=PCS_FAULT, pcs_tripped=True), at=d.now + 1)
    acts = d.feed(fresh(50, pcs_fault=PCS_FAULT, bms_fault="BMS fault on BMS (Cell Over Voltage Error)"), at=d.now + 1)
    assert d.m.cause == "bms" and "Cell Over Voltage" in d.m.reason and [a.code for a in acts] == ["auto_fault"]
    d.feed(fresh(50), at=d.now + 1)  # everything clears
    assert d.feed(Tick(), at=d.now + 3600) == () and d.m.state == FAULT


def test_a_dcdc_trip_that_returns_outside_normal_operation_restarts_the_60_s():
    d = started(ctx=RECOVERING)
    tripped, latched = fresh(50, dcdc_fault=DCDC_TRIP, dcdc_tripped=True), fresh(50, dcdc_fault=DCDC_TRIP)
    d.feed(tripped, at=d.now + 1)
    d.feed(latched, at=d.now + 1)  # cleared: the 60 s begin
    d.feed(fresh(3, dcdc_fault=DCDC_TRIP), at=d.now + 10)  # the charge cycle begins
    d.feed(fresh(3, dcdc_fault=DCDC_TRIP, dcdc_tripped=True), at=d.now + 20)  # tripped again while charging
    again = d.now + 5
    d.feed(fresh(3, dcdc_fault=DCDC_TRIP), at=again)
    assert d.m.dcdc_clear_since == again
