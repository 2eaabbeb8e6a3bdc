"""The MQTT contract on a real Mosquitto, driven by a real client, against the simulator over real TCP."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta, timezone

import pytest

from pms_core.mqtt import gateway as gateway_module
from tests.helpers.broker import Recorder
from tests.helpers.mqtt import B, ask, mqtt_site
from tests.helpers.waiting import wait_for

pytestmark = [pytest.mark.tcp, pytest.mark.broker]


@pytest.fixture
async def site(tmp_path, broker):
    """The PMS on the simulator, connected to the broker, with a recording client on pms/#."""
    rec = Recorder(broker.port, (f"{B}/#",))
    plant = mqtt_site(tmp_path, broker)
    async with plant:
        await plant.all_online()
        await wait_for(lambda: plant.runtime.mqtt.connected, 10, "connected to the broker")
        yield plant, rec
    rec.close()


async def test_online_status_data_messages_and_device_status(site):
    plant, rec = site
    bms, pcs = plant.name("BMS"), plant.name("PCS")
    await wait_for(lambda: len(rec.payloads(f"{B}/BMS/{bms}/data")) >= 5, 5, "BMS data messages")
    status = rec.payloads(f"{B}/status")[-1]
    assert status["status"] == "online" and status["client_id"] == "pms-test"

    msg = rec.payloads(f"{B}/BMS/{bms}/data")[-1]
    assert msg["device_name"] == bms and msg["device_type"] == "BMS" and msg["state"] == "online"
    assert msg["ip_address"] == "127.0.0.1" and datetime.fromisoformat(msg["timestamp"]).tzinfo is not None
    soc = msg["data"]["battery_soc"]
    assert soc["unit"] == "%" and soc["type"] == "uint16" and soc["raw_value"] == round(soc["value"] * 10)
    assert abs(soc["value"] - plant.sim.plant.bms.soc) < 0.5
    mode = msg["data"]["battery_system_operation_mode"]
    assert mode["type"] == "bitmask" and isinstance(mode["active_bits"], list) and mode["active_bits"]
    assert msg["data"]["battery_power"]["type"] == "derived"
    assert bms.encode() in rec.raw(f"{B}/BMS/{bms}/data")[-1]  # UTF-8, not \\uXXXX

    pcs_msg = rec.payloads(f"{B}/PCS/{pcs}/data")[-1]
    assert pcs_msg["data"]["operating_mode"] == {"value": "stop", "type": "derived"}
    assert pcs_msg["data"]["state_1"]["fields"]["operating_mode"] == "stop"
    assert rec.payloads(f"{B}/PCS/{pcs}/status")[-1]["state"] == "online"
    first = rec.payloads(f"{B}/status/operation_mode")[-1]
    assert first["mode"] == "basic" and first["auto_state"] == "IDLE" and first["thresholds"]["soc_high_threshold"] == 88
    assert rec.payloads(f"{B}/status/threshold_config")[-1]["soc_low_threshold"] == 5


async def test_mode_switch_and_the_automatic_mode_over_mqtt(site):
    plant, rec = site
    answer = await ask(rec, f"{B}/control/operation_mode", {"mode": "manual", "gui_request_id": "g-1"})
    assert answer["success"] and answer["request_id"] == "g-1" and answer["command"] == "operation_mode"
    assert (await ask(rec, f"{B}/control/auto_mode/start", {}))["success"] is False  # only in auto mode
    assert (await ask(rec, f"{B}/control/operation_mode", {"mode": "auto"}))["success"]
    answer = await ask(rec, f"{B}/control/auto_mode/start", {"request_id": 7})
    assert answer["success"] and answer["request_id"] == 7
    await wait_for(lambda: ("PCS", 21, 0x55) in plant.writes(), 5, "the start sequence's first write")
    status = rec.payloads(f"{B}/status/operation_mode")[-1]
    assert status["mode"] == "auto" and status["auto_running"] and status["auto_state"] == "STARTING"
    assert status["step"] and status["last_command"]["source"] == "auto"

    refused = await ask(rec, f"{B}/control/basic_mode", {"device_name": plant.name("PCS"), "command": "reset_faults"})
    assert not refused["success"] and "switch to basic mode" in refused["message"]

    assert (await ask(rec, f"{B}/control/auto_mode/stop", {}))["success"]
    await wait_for(lambda: rec.payloads(f"{B}/status/operation_mode")[-1]["auto_state"] == "IDLE", 5, "IDLE")
    count = len(rec.payloads(f"{B}/status/operation_mode"))
    assert (await ask(rec, f"{B}/control/auto_mode/status", {}))["success"]
    await wait_for(lambda: len(rec.payloads(f"{B}/status/operation_mode")) > count, 5, "status published on request")
    assert (await ask(rec, f"{B}/control/operation_mode", {"mode": "basic"}))["success"]


async def test_basic_mode_commands_in_both_parameter_styles(site):
    plant, rec = site
    pcs, dcdc = plant.name("PCS"), plant.name("DCDC")
    answer = await ask(rec, f"{B}/control/basic_mode", {"device_name": pcs, "command": "operation_mode",
                                                           "params": {"mode": "charge"}, "request_id": "b1"})  # fmt: skip
    assert answer["success"] and answer["status"] == "written" and answer["writes"] == [[22, 0x55]]
    answer = await ask(rec, f"{B}/control/basic_mode", {"device_name": dcdc, "command": "operation_mode", "mode": "solar"})
    assert answer["success"] and answer["writes"] == [[107, 0x55]]
    answer = await ask(rec, f"{B}/control/basic_mode", {"device_name": pcs, "command": "set_charge_power", "kw": 7.5})
    assert answer["success"] and answer["writes"] == [[1, 75]]
    assert plant.writes() == [("PCS", 22, 0x55), ("DCDC", 107, 0x55), ("PCS", 1, 75)]

    def confirmed(request_id):
        return any(
            (s.get("last_command") or {}).get("request_id") == request_id and s["last_command"]["status"] == "confirmed"
            for s in rec.payloads(f"{B}/status/operation_mode")
        )

    await wait_for(lambda: confirmed("b1"), 5, "the charge command confirmed on B/status/operation_mode")

    bad = await ask(rec, f"{B}/control/basic_mode", {"device_name": pcs, "command": "operation_mode", "mode": "turbo"})
    assert not bad["success"] and "'turbo' is not one of" in bad["message"]
    bad = await ask(rec, f"{B}/control/basic_mode", {"device_name": "없는장치", "command": "reset_faults"})
    assert not bad["success"] and "unknown device" in bad["message"]
    assert len(plant.writes()) == 3


async def test_thresholds_are_applied_persisted_and_refused_out_of_order(site, data_folder):
    plant, rec = site
    answer = await ask(rec, f"{B}/control/threshold_config", {"soc_upper_limit": 90, "soc_lower_limit": 10,
                                                             "soc_charge_stop_threshold": 30})  # fmt: skip
    assert answer["success"]
    await wait_for(lambda: rec.payloads(f"{B}/status/threshold_config")[-1]["soc_high_threshold"] == 90, 5, "new thresholds")
    saved = json.loads((data_folder / "pms_state.json").read_text(encoding="utf-8"))
    assert saved["settings"] == {"soc_high_threshold": 90, "soc_low_threshold": 10, "soc_charge_stop_threshold": 30}

    bad = await ask(rec, f"{B}/control/threshold_config", {"soc_low_threshold": 50})
    assert not bad["success"] and "thresholds out of order" in bad["message"]
    bad = await ask(rec, f"{B}/control/threshold_config", {"charging_power": 500})
    assert not bad["success"] and "above the PCS rating of 30.0 kW" in bad["message"]
    bad = await ask(rec, f"{B}/control/threshold_config", {"soc_high_threshold": "high"})
    assert not bad["success"] and "must be a number" in bad["message"]
    assert plant.runtime.settings.current.soc_low_threshold == 10
    # A NaN (what Python's json writes) must never be applied, published or saved: it would poison every later start.
    before = (data_folder / "pms_state.json").read_text(encoding="utf-8")
    bad = await ask(rec, f"{B}/control/threshold_config", '{"command_interval": NaN}')
    assert not bad["success"] and "command_interval: NaN is not a number JSON allows" in bad["message"]
    assert (data_folder / "pms_state.json").read_text(encoding="utf-8") == before
    assert plant.runtime.settings.current.command_interval == 5


async def test_raw_writes_are_refused_by_default(site):
    plant, rec = site
    pcs = plant.name("PCS")
    payload = {"action": "write_register", "address": 2, "value": 30, "gui_request_id": "r1"}
    answer = await ask(rec, f"{B}/control/{pcs}/command", payload, f"{B}/control/{pcs}/response")
    assert answer == {**answer, "success": False, "request_id": "r1", "device_name": pcs}
    assert "allow_raw_writes" in answer["message"] and plant.writes() == []


async def test_raw_writes_when_allowed_only_to_writable_mapped_registers(tmp_path, broker):
    rec = Recorder(broker.port, (f"{B}/#",))
    async with mqtt_site(tmp_path, broker, allow_raw_writes=True) as plant:
        await plant.all_online()
        await wait_for(lambda: plant.runtime.mqtt.connected, 10, "connected")
        pcs = plant.name("PCS")
        response = f"{B}/control/{pcs}/response"
        ok = await ask(rec, f"{B}/control/{pcs}/command", {"action": "write_register", "address": 2, "value": 30}, response)
        assert ok["success"] and plant.writes() == [("PCS", 2, 30)]
        for payload, reason in (
            ({"action": "write_register", "address": 0, "value": 1}, "not a writable register"),  # the rating
            ({"action": "write_register", "address": 25, "value": 1}, "not a writable register"),  # unmapped
            (
                {"action": "write_register", "address": 2, "value": 70000},
                "value: Input should be less than or equal to 65535, got 70000",
            ),
            ({"action": "write_register", "address": 2, "value": 400}, "above the limit 30.0 kW"),  # the rating read
            ({"action": "write_register", "address": 20, "value": 0x12}, "pcs_stop (20) takes only 0x55"),
            ({"action": "write_register", "address": 28, "value": 0x55}, "written by no command of the map"),
            ({"action": "write_register", "address": "2", "value": 1}, "address: Input should be a valid integer, got '2'"),
            ({"action": "read_register", "address": 2}, "action: Input should be 'write_register', got 'read_register'"),
        ):
            answer = await ask(rec, f"{B}/control/{pcs}/command", payload, response)
            assert not answer["success"] and reason in answer["message"]
        assert plant.writes() == [("PCS", 2, 30)]
    rec.close()


async def test_location_scoped_topics_and_other_locations(tmp_path, broker):
    rec = Recorder(broker.port, (f"{B}/#",))
    async with mqtt_site(tmp_path, broker, location="대실마을") as plant:
        await plant.all_online()
        await wait_for(lambda: plant.runtime.mqtt.connected, 10, "connected")
        scoped = f"{B}/status/대실마을/operation_mode/response"
        answer = await ask(rec, f"{B}/control/대실마을/auto_mode/status", {"request_id": "s1"}, scoped)
        assert answer["success"] and answer["request_id"] == "s1"
        assert (await ask(rec, f"{B}/control/auto_mode/status", {}))["success"]  # the flat form still works
        assert rec.payloads(f"{B}/status/대실마을/operation_mode")[-1]["mode"] == "basic"
        assert rec.payloads(f"{B}/status/대실마을/threshold_config")

        # A request repeated in the other form is answered where the copy arrived, and executed once.
        once = {"device_name": plant.name("BMS"), "command": "reset_errors", "request_id": "both forms"}
        first = await ask(rec, f"{B}/control/basic_mode", once)
        again = await ask(rec, f"{B}/control/대실마을/basic_mode", once, scoped)
        assert first["success"] and again == first
        assert plant.writes() == [("BMS", 201, 0x50)]

        rec.publish(f"{B}/control/송정마을/operation_mode", {"mode": "auto"})  # another location's
        answer = await ask(rec, f"{B}/control/대실마을/operation_mode", {"mode": "auto"}, scoped)  # ours, after it
        assert answer["success"] and answer["message"] == "switched to auto mode"
        assert rec.payloads(f"{B}/status/송정마을/operation_mode/response") == []
    rec.close()


async def test_the_rules_every_handler_follows(site):
    plant, rec = site
    bms = plant.name("BMS")
    response = f"{B}/status/operation_mode/response"

    bad = await ask(rec, f"{B}/control/operation_mode", b"{not json")
    assert not bad["success"] and "not valid JSON" in bad["message"]
    bad = await ask(rec, f"{B}/control/operation_mode", [1, 2])
    assert not bad["success"] and "must be a JSON object" in bad["message"]
    bad = await ask(rec, f"{B}/control/auto_mode/strat", {})
    assert not bad["success"] and "unknown control topic" in bad["message"]

    old = (datetime.now(timezone.utc) - timedelta(seconds=90)).isoformat()
    stale = await ask(rec, f"{B}/control/basic_mode", {"device_name": bms, "command": "reset_errors", "timestamp": old})
    assert not stale["success"] and "stale command" in stale["message"]
    ahead = (datetime.now(timezone.utc) + timedelta(days=3650)).isoformat()  # ten years ahead: a clock or a replay
    future = await ask(rec, f"{B}/control/basic_mode", {"device_name": bms, "command": "reset_errors", "timestamp": ahead})
    assert not future["success"] and "in the future" in future["message"]
    naive_now = datetime.now().isoformat()  # what the sites' back end sends: local time, no offset
    fresh = await ask(rec, f"{B}/control/auto_mode/status", {"timestamp": naive_now})
    assert fresh["success"]

    once = {"device_name": bms, "command": "reset_errors", "request_id": "same"}
    first, again = await ask(rec, f"{B}/control/basic_mode", once), await ask(rec, f"{B}/control/basic_mode", once)
    assert first["success"] and again == first
    assert plant.writes() == [("BMS", 201, 0x50)]  # answered twice, executed once
    # 1,001 other requests later, but within command_max_age_s: still remembered, still not executed again
    for batch in range(0, 1001, 50):  # in batches, so that every answer is in before the repeat is asked
        ids = range(batch, min(batch + 50, 1001))
        expected = len(rec.payloads(response)) + len(ids)
        for i in ids:
            await plant.runtime.mqtt.control.handle(f"{B}/control/auto_mode/status", f'{{"request_id": "s{i}"}}'.encode(),
                                                    False)  # fmt: skip
        await wait_for(lambda n=expected: len(rec.payloads(response)) == n, 10, "the batch answered")
    assert (await ask(rec, f"{B}/control/basic_mode", once)) == first and plant.writes() == [("BMS", 201, 0x50)]

    rec.publish(f"{B}/control/{bms}/response", {"success": True})  # our own kind of answer: never a command
    count = len(rec.payloads(response))
    assert (await ask(rec, f"{B}/control/auto_mode/status", {}))["success"]
    assert len(rec.payloads(response)) == count + 1  # only the status request was answered
    assert plant.writes() == [("BMS", 201, 0x50)]


async def test_a_retained_command_is_not_replayed_at_connect(tmp_path, broker):
    rec = Recorder(broker.port, (f"{B}/#",))
    command = {"device_name": "한자연_PCS", "command": "operation_mode", "mode": "charge"}
    rec.publish(f"{B}/control/basic_mode", command, retain=True)  # left on the broker by some back end
    async with mqtt_site(tmp_path, broker) as plant:
        await plant.all_online()
        await wait_for(lambda: plant.runtime.mqtt.connected, 10, "connected")
        assert (await ask(rec, f"{B}/control/auto_mode/status", {}))["success"]
        assert [r["command"] for r in rec.payloads(f"{B}/status/operation_mode/response")] == ["auto_mode/status"]
        assert plant.writes() == []
    rec.publish(f"{B}/control/basic_mode", b"", retain=True)
    rec.close()


async def test_alarms_are_published_raised_acknowledged_and_cleared(site):
    plant, rec = site
    pcs = plant.name("PCS")
    plant.sim.set_bits(pcs, "trip_1", 1)  # Batt 저전압
    await wait_for(lambda: rec.payloads(f"{B}/alarm/{pcs}"), 5, "alarm raised")
    raised = rec.payloads(f"{B}/alarm/{pcs}")[0]
    assert raised["alarm"] == "trip_1.0" and raised["severity"] == "fault" and raised["active"]
    assert raised["message"] == "Batt 저전압" and raised["code"] == "IR24.0"
    await wait_for(lambda: any(a["alarm"] == "trip_1.0" for a in rec.payloads(f"{B}/status/alarms")[-1]["active"]), 5,
                   "alarm listed")  # fmt: skip
    ack = await ask(rec, f"{B}/control/alarm_ack", {"device_name": pcs, "alarm": "trip_1.0"})
    assert ack["success"]
    listed = [a for a in rec.payloads(f"{B}/status/alarms")[-1]["active"] if a["alarm"] == "trip_1.0"]
    assert listed[0]["acknowledged_by"] == "mqtt"
    bad = await ask(rec, f"{B}/control/alarm_ack", {"device_name": pcs, "alarm": "trip_9.9"})
    assert not bad["success"] and "no active alarm" in bad["message"]
    plant.sim.set_bits(pcs, "trip_1", 0)
    await wait_for(lambda: not rec.payloads(f"{B}/alarm/{pcs}")[-1]["active"], 5, "alarm cleared")


async def test_the_command_line_clients_drive_the_pms(site, broker):
    plant, rec = site
    # A retained probe tells when mosquitto_sub's subscription is in place: it prints the probe first.
    rec.publish("probe/cli", "ready", retain=True)
    sub = await asyncio.create_subprocess_exec(
        "mosquitto_sub", "-h", "127.0.0.1", "-p", str(broker.port), "-t", "probe/cli",
        "-t", f"{B}/status/operation_mode/response", "-C", "2", "-W", "15", stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert (await asyncio.wait_for(sub.stdout.readline(), 10)).strip() == b"ready"
    payload = json.dumps({"device_name": plant.name("PCS"), "command": "operation_mode", "mode": "regen",
                          "request_id": "cli"}, ensure_ascii=False)  # fmt: skip
    pub = await asyncio.create_subprocess_exec(
        "mosquitto_pub", "-h", "127.0.0.1", "-p", str(broker.port), "-q", "1", "-t", f"{B}/control/basic_mode", "-m", payload
    )
    assert await pub.wait() == 0
    answer = json.loads(await asyncio.wait_for(sub.stdout.readline(), 10))
    assert await sub.wait() == 0
    assert answer["success"] and answer["request_id"] == "cli"
    assert plant.writes() == [("PCS", 23, 0x55)]


async def test_a_command_that_grows_too_old_waiting_for_its_device_is_not_written(site):
    plant, rec = site
    pcs = plant.name("PCS")
    server = plant.sim.server(pcs)
    server.stop_answering()  # the device hangs: a command ahead of ours holds it until the link gives up (1 s)
    ahead = asyncio.create_task(plant.runtime.commands.execute(pcs, "operation_mode", {"mode": "stop"}, source="gui"))
    await wait_for(plant.runtime.commands._locks[pcs].locked, 2, "a command ahead holding the PCS")
    sent = (datetime.now(timezone.utc) - timedelta(seconds=29.5)).isoformat()  # fresh on arrival (limit 30 s)
    message = {"device_name": pcs, "command": "operation_mode", "mode": "charge", "timestamp": sent}
    answer = await ask(rec, f"{B}/control/basic_mode", message)
    assert not answer["success"] and "stale command" in answer["message"] and "when its turn came" in answer["message"]
    await ahead
    server.resume_answering()
    assert all(address != 22 for _, address, _ in plant.writes())


async def test_a_lone_surrogate_in_a_message_is_answered_once_and_executed_once(site):
    plant, rec = site
    response = f"{B}/status/operation_mode/response"
    bms = plant.name("BMS")
    payload = f'{{"device_name": "{bms}", "command": "reset_errors", "request_id": "x\\ud800"}}'.encode()
    answer = await ask(rec, f"{B}/control/basic_mode", payload, response)
    assert answer["success"] and answer["request_id"] == "x\ufffd"  # answered, with the character replaced
    again = await ask(rec, f"{B}/control/basic_mode", payload, response)
    assert again == answer and plant.writes() == [("BMS", 201, 0x50)]  # a repeat is recognised, executed once


async def test_a_burst_of_300_control_messages_gets_300_answers(site):
    """Commands for one device beyond a few waiting are refused busy at once; every message is answered once."""
    plant, rec = site
    response = f"{B}/status/operation_mode/response"
    bms = plant.name("BMS")
    before = len(rec.payloads(response))
    started = asyncio.get_running_loop().time()
    for i in range(300):
        if i % 3:
            rec.publish(f"{B}/control/auto_mode/status", {"request_id": f"b{i}"})
        else:
            rec.publish(f"{B}/control/basic_mode", {"device_name": bms, "command": "reset_errors", "request_id": f"b{i}"})
    assert asyncio.get_running_loop().time() - started < 3  # a burst, not a trickle
    await wait_for(lambda: len(rec.payloads(response)) >= before + 300, 30, "300 answers")
    answers = [a for a in rec.payloads(response)[before:] if str(a.get("request_id", "")).startswith("b")]
    assert sorted(a["request_id"] for a in answers) == sorted(f"b{i}" for i in range(300))  # each exactly once
    commands = [a for a in answers if a["command"] == "basic_mode"]
    written = [a for a in commands if a["success"]]
    assert len(written) == len([w for w in plant.writes() if w[1] == 201])  # an answer says what was written
    assert all("busy" in a["message"] for a in commands if not a["success"])


async def test_a_retained_status_the_client_refused_is_sent_again(tmp_path, broker, monkeypatch):
    """Even when paho's queue overflows (here made tiny), the broker ends up holding the latest thresholds."""
    monkeypatch.setattr(gateway_module, "MAX_QUEUED", 3)
    rec = Recorder(broker.port, (f"{B}/#",))
    async with mqtt_site(tmp_path, broker) as plant:
        await plant.all_online()
        await wait_for(lambda: plant.runtime.mqtt.connected, 10, "connected")
        for i in range(60):  # each change publishes its answer, the thresholds and the operation status
            rec.publish(f"{B}/control/threshold_config", {"soc_high_threshold": 95 if i == 59 else 90 + i % 2})
        await wait_for(lambda: plant.runtime.settings.current.soc_high_threshold == 95, 10, "the last change applied")
        gateway = plant.runtime.mqtt
        assert gateway.lost_answers > 0  # the tiny queue did overflow
        await wait_for(lambda: not gateway._unsent, 10, "every refused status sent again")
        late = Recorder(broker.port, (f"{B}/status/threshold_config",))  # a dashboard connecting afterwards
        await wait_for(lambda: bool(late.payloads(f"{B}/status/threshold_config")), 10, "the retained thresholds")
        assert late.payloads(f"{B}/status/threshold_config")[-1]["soc_high_threshold"] == 95
        late.close()
    rec.close()
