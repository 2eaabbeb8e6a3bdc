"""Thresholds and timings from every door (config.yml, the state file, MQTT and the console): finite, bounded, or
refused with the key, and nothing changes."""

from __future__ import annotations

import itertools
import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pms_core.automation.settings import SettingsError, SettingsStore
from pms_core.bus import AlarmChanged
from pms_core.config import AutoModeConfig, Thresholds
from tests.helpers.configs import auto_site
from tests.helpers.waiting import wait_for

BAD_NUMBERS = st.one_of(
    st.sampled_from([math.nan, math.inf, -math.inf, 1e12, -1.0, 1e308]),
    st.floats(allow_nan=False).filter(lambda x: abs(x) > 1e5),
)
NOT_NUMBERS = st.one_of(st.text(max_size=20), st.booleans(), st.none(), st.lists(st.integers(), max_size=2))


@settings(max_examples=200, deadline=None)
@given(key=st.sampled_from(sorted(Thresholds.model_fields)), value=st.one_of(BAD_NUMBERS, NOT_NUMBERS))
def test_a_bad_threshold_is_refused_with_its_key_and_changes_nothing(tmp_path_factory, key, value):
    """The store behind MQTT `threshold_config` and the console's Apply."""
    folder = tmp_path_factory.mktemp("state")
    store = SettingsStore(AutoModeConfig(), folder / "pms_state.json")
    before = store.current
    with pytest.raises(SettingsError) as err:
        store.update({key: value}, pcs_rating_kw=30)
    assert key in str(err.value)
    assert store.current == before and not (folder / "pms_state.json").exists()


def test_bounds_are_the_documented_ones(tmp_path):
    store = SettingsStore(AutoModeConfig(), tmp_path / "pms_state.json")
    for key, low, high in (("command_interval", 0.5, 600), ("dcdc_standby_time", 1, 86_400)):
        store.update({key: low}, None)
        store.update({key: high}, None)
        for wrong, words in ((low / 2, f"greater than or equal to {low}"), (high * 2, f"less than or equal to {high}")):
            with pytest.raises(SettingsError, match=words):
                store.update({key: wrong}, None)
    with pytest.raises(SettingsError, match="above the PCS rating of 30"):
        store.update({"charging_power": 31}, pcs_rating_kw=30)


@pytest.mark.tcp
async def test_a_poisoned_state_file_is_set_aside_and_the_pms_starts_from_config_yml(tmp_path, data_folder):
    """A NaN that once reached the state file must not fault the automatic mode at every later start."""
    data_folder.mkdir(parents=True)
    state = data_folder / "pms_state.json"
    poisoned = {"settings": {"command_interval": math.nan}, "mode": {"mode": "auto", "auto_running": True}}
    state.write_text(json.dumps(poisoned))  # as the PMS once wrote it: Python's json writes NaN
    plant = auto_site(tmp_path, 50, 1, command_interval=5, resume_on_start=True)
    alarms: list[AlarmChanged] = []
    plant.runtime.bus.subscribe(AlarmChanged, alarms.append)
    async with plant:
        await plant.all_online()
        assert plant.runtime.settings.current.command_interval == 5  # config.yml's
        assert any(a.alarm == "state_file_invalid" and a.active and "NaN" in a.message for a in alarms)
        aside = list(data_folder.glob("pms_state.json.invalid-*"))
        assert len(aside) == 1 and aside[0].read_text() == json.dumps(poisoned)  # kept as it was, to look at
        assert "NaN" not in state.read_text()  # what the PMS has written since is valid
        op = plant.runtime.operation
        assert op.mode == "basic"  # the mode to resume was in the file set aside: nothing restored from it
        assert op.set_mode("auto", source="gui").ok and op.start_auto(source="gui").ok
        await wait_for(lambda: plant.runtime.auto.machine.state == "NORMAL", 10, "the start sequence")
        times = [t for t, *_ in plant.sim.plant.writes]
    assert [round(b - a) for a, b in itertools.pairwise(times)] == [5, 5, 5]  # spaced by config.yml's interval


def test_a_garbage_state_file_is_set_aside_too(tmp_path):
    path = tmp_path / "pms_state.json"
    path.write_bytes(b"\xff\xfe garbage")
    store = SettingsStore(AutoModeConfig(), path)
    assert store.problem and "cannot be read" in store.problem and store.sources["command_interval"] == "config.yml"
    path.write_text('{"settings": {"command_interval": Infinity}}')
    assert "not a valid state file" in (SettingsStore(AutoModeConfig(), path).problem or "")
    assert len(list(tmp_path.glob("pms_state.json.invalid-*"))) >= 1 and not path.exists()
