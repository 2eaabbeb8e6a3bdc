"""The console while a farm's back end commands the PMS over MQTT (a real Mosquitto): remote changes show at once."""

from __future__ import annotations

import pytest

from pms_core.clock import Clock
from pms_core.config import load_config
from pms_gui import i18n
from tests.helpers.broker import Recorder
from tests.helpers.configs import write_config
from tests.helpers.gui import console
from tests.helpers.mqtt import B, ask
from tests.helpers.site import SimulatedSite
from tests.helpers.waiting import wait_for

pytestmark = [pytest.mark.gui, pytest.mark.tcp, pytest.mark.broker, pytest.mark.slow]


def test_an_automatic_start_sent_over_mqtt_shows_in_the_auto_panel_step_by_step(tmp_path, run_qt, broker):
    async def scenario() -> None:
        config = write_config(tmp_path, mqtt={"port": broker.port}, auto_mode={"command_interval": 1})
        async with SimulatedSite(load_config(config), Clock(), mqtt=True) as plant, console(plant) as window:
            shown = i18n.tr("status.broker", state=i18n.tr("broker.connected"))
            await wait_for(lambda: shown in window.broker_label.text(), 10, "the broker shown connected")
            rec = Recorder(broker.port, (f"{B}/#",))
            panel = window.auto
            seen: list[int] = []

            def active_step() -> bool:
                active = [i for i, chip in enumerate(panel.chips) if chip.property("phase") == "active"]
                if active and (not seen or seen[-1] != active[0]):
                    seen.append(active[0])
                return panel.state_label.text() == i18n.tr("auto.state", state=i18n.tr("state.NORMAL"))

            assert (await ask(rec, f"{B}/control/operation_mode", {"mode": "auto"}))["success"]
            await wait_for(window.auto.mode_buttons["auto"].isChecked, 3, "auto mode shown")
            assert (await ask(rec, f"{B}/control/auto_mode/start", {}))["success"]
            await wait_for(active_step, 20, "the start sequence followed to normal operation")
            assert seen == [0, 1, 2, 3]
            sources = {r[2] for r in window.events.rows() if r[1] == i18n.tr("kind.command")}
            assert sources == {i18n.tr("src.auto")}
            asked = [r[4] for r in window.events.rows() if r[1] == i18n.tr("kind.mode") and r[2] == i18n.tr("src.mqtt")]
            assert i18n.tr("ev.mode_changed", mode=i18n.tr("mode.auto")) in asked  # who asked shows, not just "PMS"
            assert i18n.tr("ev.auto_state", state=i18n.tr("state.STARTING")) in asked
            on_its_own = [r[4] for r in window.events.rows() if r[1] == i18n.tr("kind.mode") and r[2] == i18n.tr("src.auto")]
            assert i18n.tr("ev.auto_state", state=i18n.tr("state.NORMAL")) in on_its_own  # the machine's own step
            assert (await ask(rec, f"{B}/control/threshold_config", {"soc_high_threshold": 91}))["success"]
            await wait_for(lambda: any(r[2:5] == [i18n.tr("src.mqtt"), "PMS", "soc_high_threshold = 91.0"]
                                       for r in window.events.rows()), 3, "the threshold change logged")  # fmt: skip
            assert (await ask(rec, f"{B}/control/operation_mode", {"mode": "basic"}))["success"]
            await wait_for(window.auto.mode_buttons["basic"].isChecked, 3, "basic mode shown")
            rec.close()

    run_qt(scenario)
