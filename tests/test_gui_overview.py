"""The overview dock over the simulator (real TCP on 127.0.0.1, offscreen) and its energy bars over a history on disk.

The flow tests read the diagram's model (the directions and values it decided), not pixels. The energy tests
write known counter values with the product's own history writer (`History`, fed snapshots through its bus) and
compare the bars with sums worked out by hand below, a counter reset included.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from datetime import time as day_time
from pathlib import Path

import numpy as np
import pytest
from PyQt5.QtCore import QSettings

from pms_core.bus import Bus, Snapshot
from pms_core.clock import Clock
from pms_core.config import load_config
from pms_core.energy import total_key
from pms_core.history import History, HistoryReader, counter_increase
from pms_core.registers import load_map
from pms_core.runtime import Runtime
from pms_gui import i18n
from pms_gui import overview as overview_module
from pms_gui.app import console_settings
from pms_gui.bridge import DeviceView
from pms_gui.main_window import LAYOUT_VERSION, MainWindow
from pms_gui.overview import NEAR_ZERO_KW, OverviewPanel, day_start, flow_model
from pms_gui.tasks import TaskSet
from pms_gui.widgets import DASH
from tests.helpers.configs import today_at, write_config
from tests.helpers.gui import console, gui_site
from tests.helpers.paths import ROOT
from tests.helpers.waiting import wait_for

HOUR, DAY = 3600.0, 86400.0


# --- the flows follow the plant ----------------------------------------------------------------------------
@pytest.mark.gui
@pytest.mark.tcp
def test_the_arrows_follow_the_simulated_power_signs_and_repaint_only_on_change(tmp_path, run_qt):
    async def scenario() -> None:
        async with gui_site(tmp_path) as plant, console(plant) as window:
            ov, pcs = window.overview, plant.name("PCS")
            await wait_for(lambda: all(n.fresh for n in ov.flow.model.nodes.values()), 5, "every part fresh")
            flows = ov.flow.model.flows
            assert all(f.toward is None and f.kw == 0.0 for f in flows.values()), "a stopped plant: no arrow"
            battery = ov.flow.model.nodes["battery"]
            assert (battery.value, battery.kw, battery.detail) == ("50.0%", 0.0, i18n.tr("bms.state.idle"))
            # The bridge re-sends every device at every poll and once a second: nothing shown changes, no repaint.
            repaints, frames = ov.flow.repaints, window.bridge.frames
            await wait_for(lambda: window.bridge.frames >= frames + 8, 5, "re-sent views")
            assert ov.flow.repaints == repaints

            run = plant.runtime.commands.execute
            assert (await run(pcs, "set_charge_power", {"kw": 5.0}, source="gui")).status != "failed"
            assert (await run(pcs, "operation_mode", {"mode": "charge"}, source="gui")).status != "failed"
            await wait_for(lambda: ov.flow.model.flows["pcs_dc"].toward == "battery", 10, "charging shown")
            await wait_for(lambda: ov.flow.model.nodes["battery"].kw == 5.0, 5, "the battery's own power")
            flows, nodes = ov.flow.model.flows, ov.flow.model.nodes
            assert (flows["pcs_dc"].toward, flows["pcs_dc"].kw) == ("battery", 5.0)  # from the PCS into the battery
            assert nodes["battery"].kw == 5.0 and nodes["battery"].detail == i18n.tr("ov.battery.charging", kw="5.0 kW")
            assert nodes["pcs"].value == i18n.tr("pcs.mode.charge")
            assert flows["pv"].toward is None  # the DC-DC is stopped
            assert ov.flow.repaints > repaints
            # The AC arrow follows the sign the PCS map gives ac_active_power (+ = charging: from the AC side in).
            ac = plant.device("PCS").snapshot.value("ac_active_power")
            assert abs(ac) == pytest.approx(5.0) and flows["ac"].kw == pytest.approx(ac)
            assert flows["ac"].toward == ("pcs" if ac > 0 else "ac")

            assert (await run(pcs, "set_discharge_power", {"kw": 4.0}, source="gui")).status != "failed"
            assert (await run(pcs, "operation_mode", {"mode": "regen"}, source="gui")).status != "failed"
            await wait_for(lambda: ov.flow.model.flows["pcs_dc"].toward == "pcs", 10, "discharging shown")
            await wait_for(lambda: ov.flow.model.nodes["battery"].kw == -4.0, 5, "the battery's own power")
            flows, nodes = ov.flow.model.flows, ov.flow.model.nodes
            assert flows["pcs_dc"].kw == -4.0 and nodes["battery"].detail == i18n.tr("ov.battery.discharging", kw="4.0 kW")
            ac = plant.device("PCS").snapshot.value("ac_active_power")
            assert flows["ac"].toward == ("pcs" if ac > 0 else "ac") and abs(flows["ac"].kw) == pytest.approx(4.0)

    run_qt(scenario)


@pytest.mark.gui
@pytest.mark.tcp
def test_a_stopped_device_greys_its_part_and_shows_no_value(tmp_path, run_qt):
    async def scenario() -> None:
        async with gui_site(tmp_path) as plant, console(plant) as window:
            ov, dcdc = window.overview, plant.name("DCDC")
            await wait_for(lambda: ov.flow.model.nodes["pv"].fresh, 5, "PV fresh")
            await plant.sim.server(dcdc).stop()
            await wait_for(lambda: not ov.flow.model.nodes["pv"].fresh, 10, "PV greyed")
            pv, line = ov.flow.model.nodes["pv"], ov.flow.model.flows["pv"]
            assert pv.value == DASH and pv.detail in (i18n.tr("link.stale"), i18n.tr("link.offline"))
            assert (line.fresh, line.kw, line.toward) == (False, None, None)
            others = ov.flow.model.nodes
            assert others["battery"].fresh and others["pcs"].fresh and ov.flow.model.flows["pcs_dc"].fresh

    run_qt(scenario)


def test_a_near_zero_flow_has_no_direction_and_a_stale_view_shows_a_dash():
    """The model alone, from the console's own DeviceViews (no plant needed for the boundaries)."""

    def view(kind: str, fresh: bool, **values: float) -> DeviceView:
        snap = Snapshot(f"x_{kind}", kind, 0.0, 0.0, dict(values), {}, {})
        return DeviceView(f"x_{kind}", "online", 0.1, fresh, snap, None)

    model = flow_model({"PCS": view("PCS", True, battery_instantaneous_power=NEAR_ZERO_KW * 0.9)}, has_pv=False)
    assert model.flows["pcs_dc"].toward is None and "pv" not in model.flows and "pv" not in model.nodes
    model = flow_model({"PCS": view("PCS", True, battery_instantaneous_power=-0.06)}, has_pv=False)
    assert (model.flows["pcs_dc"].toward, model.flows["pcs_dc"].kw) == ("pcs", -0.1)
    model = flow_model({"BMS": view("BMS", False, battery_power=3.0, battery_soc=40.0)}, has_pv=False)
    assert model.nodes["battery"].kw is None and model.nodes["battery"].value == DASH
    assert model.nodes["battery"].detail == i18n.tr("link.stale")


@pytest.mark.gui
async def test_without_a_dcdc_there_is_no_pv_part_nor_bar(tmp_path, qapp):
    devices = [{"name": f"x_{t}", "type": t, "ip": "127.0.0.1", "port": 1502 + i} for i, t in enumerate(("BMS", "PCS"))]
    runtime = Runtime(load_config(write_config(tmp_path, devices=devices)), with_mqtt=False, with_history=False)
    panel = OverviewPanel(runtime, TaskSet())
    assert panel.flow.parts == ("battery", "pcs", "ac") and "pv" not in panel.flow.model.nodes
    assert [b.key for b in panel.bars.bars] == ["charged", "discharged", "delivered"]
    panel.resize(700, 300)
    assert not panel.grab().isNull()  # painted (a painting error would fail the test)


# --- the dock -----------------------------------------------------------------------------------------------
def in_front(widget) -> bool:
    return not widget.visibleRegion().isEmpty()


@pytest.mark.gui
def test_the_overview_dock_is_the_raised_default_view_and_replaces_older_saved_layouts(tmp_path, run_qt, monkeypatch):
    async def scenario() -> None:
        plant = gui_site(tmp_path)
        old = MainWindow(plant.runtime, console_settings())
        settings = console_settings()
        settings.setValue("window/state", old.saveState(LAYOUT_VERSION - 1))  # a layout saved before the overview
        settings.setValue("window/geometry", old.saveGeometry())
        settings.sync()
        await old.shutdown()
        old.deleteLater()
        window = MainWindow(plant.runtime, QSettings(settings.fileName(), QSettings.IniFormat))
        window.show()
        try:
            overview, trends = window.docks["dock_overview"], window.docks["dock_trends"]
            assert overview.objectName() == "dock_overview" and overview.windowTitle() == "개요"
            assert overview.isAncestorOf(window.overview)
            assert window.tabifiedDockWidgets(overview) == [trends]
            # Qt moves the tab behind out of sight (it stays "visible"): what is in front has a visible region.
            await wait_for(lambda: in_front(window.overview), 2, "the overview in front")
            assert not in_front(window.trends)
            trends.raise_()
            await wait_for(lambda: in_front(window.trends) and not in_front(window.overview), 2, "the trends raised")
            # The bars are read at the first show; behind another tab the minute timer reads nothing; raised again
            # after their minute is up, they are read at once.
            ov = window.overview
            await wait_for(lambda: ov._refreshing.done(), 2, "the first read done")  # noqa: PLW0108 - read when called
            assert ov.requested == 1
            ov.timer.timeout.emit()
            assert ov.requested == 1, "no read behind another tab"
            monkeypatch.setattr(overview_module, "REFRESH_S", 0.0)  # as if the minute were up
            window.reset_layout()
            await wait_for(lambda: in_front(window.overview), 2, "the overview in front again after a reset")
            await wait_for(lambda: ov.requested >= 2, 2, "read when raised")
            await wait_for(lambda: ov._refreshing.done(), 2, "the read done")  # noqa: PLW0108 - read when called
            requested = ov.requested
            ov.timer.timeout.emit()
            assert ov.requested == requested + 1, "in front: read every minute"
        finally:
            await window.shutdown()
            window.hide()
            window.deleteLater()

    run_qt(scenario)


# --- energy: known counters into a history on disk --------------------------------------------------------
# Readings at 10:00 and 16:00 of each of the last 35 days (the plant's clock says 18:00 today), plus one at
# 23:59:30 yesterday. PCS lifetime counters (kWh): + day increment from 10:00 to 16:00, + night increment from 16:00
# to the next 10:00, half of it counted by 23:59:30 yesterday.
PCS_STEPS = {"dc_charge": (5.0, 1.0), "dc_discharge": (3.0, 0.5), "ac_discharge": (2.5, 0.0), "ac_charge": (6.0, 1.0)}
RESET_DAY = 3  # days ago: the PCS's DC charge counter restarts (a replaced PCS) and reads 2.0 at 16:00
# The DC-DC's today's generation (a day counter): 3.0 at 10:00, 11.0 or 12.0 (odd days back) at 16:00, 0 at night.
EXPECTED = {
    "today": {
        "pv": 3.0 + 8.0,  # yesterday's 12.0 just before midnight, then 3.0: counted from zero; then 3 -> 11
        "charged": 0.5 + 5.0,  # from the reading just before midnight: half the night, then the day
        "discharged": 0.25 + 3.0,
        "delivered": 2.5,
    },
    "7d": {  # days 6..0: 7 days and the 6 nights between them
        "pv": 7 * 8.0 + 3 * 1.0 + 6 * 3.0,  # 3 odd days make 9; each of the 6 mornings starts again from zero
        "charged": 6 * 5.0 + 6 * 1.0,  # the day of the reset counts nothing (never a negative bar)
        "discharged": 7 * 3.0 + 6 * 0.5,
        "delivered": 7 * 2.5,
    },
    "30d": {
        "pv": 30 * 8.0 + 15 * 1.0 + 29 * 3.0,
        "charged": 29 * 5.0 + 29 * 1.0,
        "discharged": 30 * 3.0 + 29 * 0.5,
        "delivered": 30 * 2.5,
    },
}
WINDOW_DAYS = {"today": 1, "7d": 7, "30d": 30}


def midnight_before(now: float, days_back: int) -> float:
    day = datetime.fromtimestamp(now).date() - timedelta(days=days_back)
    return datetime.combine(day, day_time()).timestamp()


async def write_energy_history(path: Path, pcs: str, dcdc: str, now: float) -> dict[str, float]:
    """The readings above, through the product's history writer; returns the PCS counters at 16:00 today."""
    maps = {pcs: load_map(ROOT / "config" / "pcs_map.json"), dcdc: load_map(ROOT / "config" / "dcdc_map.json")}
    history = History(path, 30, Bus(), Clock(), maps)
    await history.start()
    assert history.ok

    def publish(ts: float, totals: dict[str, float], pv: float) -> None:
        derived = {total_key(c): v for c, v in totals.items()}
        history.bus.publish(Snapshot(pcs, "PCS", ts, 0.0, {}, {}, derived))
        history.bus.publish(Snapshot(dcdc, "DCDC", ts, 0.0, {"today_kwh": pv}, {}, {}))

    totals = {c: 50_000.0 + 1000 * i for i, c in enumerate(PCS_STEPS)}
    final: dict[str, float] = {}
    for days_back in range(34, -1, -1):
        midnight = midnight_before(now, days_back)
        publish(midnight + 10 * HOUR, totals, 3.0)
        totals = {c: v + PCS_STEPS[c][0] for c, v in totals.items()}
        if days_back == RESET_DAY:
            totals["dc_charge"] = 2.0
        pv = 11.0 + days_back % 2
        publish(midnight + 16 * HOUR, totals, pv)
        final = dict(totals)
        if days_back == 1:
            publish(midnight + DAY - 30, {c: v + PCS_STEPS[c][1] / 2 for c, v in totals.items()}, pv)
        totals = {c: v + PCS_STEPS[c][1] for c, v in totals.items()}
    await history.flush()
    await history.stop()
    return final


def test_a_counter_counts_its_increases_and_a_drop_is_a_restart():
    assert counter_increase(np.array([5.0])) == 0.0
    assert counter_increase(np.array([5.0, 7.0, 2.0, 4.0])) == 4.0  # 5 -> 7, then a restart at 2, 2 -> 4
    assert counter_increase(np.array([5.0, 7.0, 2.0, 4.0]), from_zero=True) == 6.0  # and the 2 since it restarted


async def test_energy_between_sums_each_window_from_the_history_on_disk(tmp_path):
    now = today_at(18)
    await write_energy_history(tmp_path / "h.db", "p", "d", now)
    reader = HistoryReader(tmp_path / "h.db")
    keys = {"charged": "dc_charge", "discharged": "dc_discharge", "delivered": "ac_discharge"}
    for window, days in WINDOW_DAYS.items():
        since = midnight_before(now, days - 1)
        got = reader.energy_between("p", [total_key(c) for c in keys.values()], since, now)
        assert {k: got[total_key(c)] for k, c in keys.items()} == pytest.approx(
            {k: v for k, v in EXPECTED[window].items() if k != "pv"}
        ), window
        pv = reader.energy_between("d", ["today_kwh"], since, now, day_counters=["today_kwh"])
        assert pv == pytest.approx({"today_kwh": EXPECTED[window]["pv"]}), window
    assert reader.energy_between("p", ["no_such_counter"], now - DAY, now) == {}
    assert reader.energy_between("p", [total_key("dc_charge")], now + HOUR, now + 2 * HOUR) == {}  # nothing recorded


@pytest.mark.gui
@pytest.mark.tcp
def test_the_energy_bars_equal_the_history_sums(tmp_path, data_folder, run_qt):
    async def scenario() -> None:
        now = today_at(18)
        plant = gui_site(tmp_path, Clock(1.0, start=now))
        final = await write_energy_history(data_folder / "history.db", plant.name("PCS"), plant.name("DCDC"), now)
        # The simulated PCS goes on from today's 16:00 counters and stands still (stopped): the live readings the
        # console's own history adds count nothing more; the stopped DC-DC reads 0 kWh today (a restart: nothing).
        sim = {"ac_charge": "ac_chg", "ac_discharge": "ac_dis", "dc_charge": "dc_chg", "dc_discharge": "dc_dis"}
        plant.sim.plant.pcs.energy.update({sim[c]: v for c, v in final.items()})
        async with plant, console(plant) as window:
            bars = window.overview.bars
            await wait_for(lambda: window.overview.refreshes >= 1, 10, "the bars read")
            assert bars.values is not None
            for window_key, expected in EXPECTED.items():
                assert bars.values[window_key] == pytest.approx(expected), window_key
            assert bars.corner_text() == i18n.tr("ov.as_of", time="18:00")
            window.set_language("en")
            assert bars.corner_text() == "kWh · as of 18:00" and window.docks["dock_overview"].windowTitle() == "Overview"
            assert window.overview.flow.model.language == "en"

    run_qt(scenario)


@pytest.mark.gui
@pytest.mark.tcp
def test_without_history_the_bars_say_so(tmp_path, run_qt):
    async def scenario() -> None:
        plant = gui_site(tmp_path)
        plant.runtime.history = None  # a runtime built without its history file
        async with plant, console(plant) as window:
            await wait_for(lambda: window.overview.bars.problem == "ov.no_history", 5, "no history shown")
            assert window.overview.bars.values is None

    run_qt(scenario)


def test_day_windows_start_at_local_midnight():
    noon = datetime.combine(date(2026, 3, 15), day_time(12)).timestamp()
    assert day_start(noon, 0) == datetime.combine(date(2026, 3, 15), day_time()).timestamp()
    assert day_start(noon, 29) == datetime.combine(date(2026, 2, 14), day_time()).timestamp()
