"""Random control messages (hypothesis) through a real Mosquitto: answered or ignored per the contract, nothing written.

The PMS runs in its own thread and event loop for the whole module, in auto
mode with its BMS offline: no command may reach a device, whatever arrives
(switching to basic mode is the one message left out, since it legitimately
re-enables device commands). Each message is sent on its own and, where the
contract says it is answered, its one answer is awaited; a sentinel request
closes each example, so an extra or a missing answer shows in the count.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from pms_core.clock import Clock
from pms_core.config import Thresholds, load_config
from tests.helpers.broker import Mosquitto, Recorder
from tests.helpers.configs import write_config
from tests.helpers.mqtt import B
from tests.helpers.site import SimulatedSite
from tests.helpers.waiting import wait_for, wait_until

pytestmark = [pytest.mark.tcp, pytest.mark.broker]

LOCATION = "대실마을"
SYSTEM = ("operation_mode", "auto_mode/start", "auto_mode/stop", "auto_mode/status", "basic_mode", "threshold_config",
          "alarm_ack")  # fmt: skip
DEVICES = ("한자연_BMS", "한자연_PCS", "한자연_DCDC")


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fuzz")
    broker = Mosquitto(folder / "broker")
    broker.start()
    config = write_config(
        folder,
        mqtt={"port": broker.port, "client_id": "pms-fuzz", "location": LOCATION, "allow_raw_writes": True},
        history={"path": str(folder / "data" / "history.db")},  # the state file goes beside it, not to the user's folder
    )
    held: dict = {}
    ready = threading.Event()

    async def run() -> None:
        held["stop"] = asyncio.Event()
        async with SimulatedSite(load_config(config), Clock(), mqtt=True) as plant:
            held["plant"] = plant
            await plant.all_online()
            await wait_for(lambda: plant.runtime.mqtt.connected, 10, "connected")
            assert plant.runtime.operation.set_mode("auto", source="gui").ok
            await plant.sim.server(plant.name("BMS")).stop()  # the automatic mode cannot start either
            await wait_for(lambda: plant.device("BMS").state == "offline", 10, "BMS offline")
            held["loop"] = asyncio.get_running_loop()
            ready.set()
            await held["stop"].wait()

    tracebacks = Tracebacks()
    logging.getLogger().addHandler(tracebacks)
    thread = threading.Thread(target=lambda: asyncio.run(run()), name="pms under fuzz")
    thread.start()
    assert ready.wait(30), "the PMS did not come up"
    rec = Recorder(broker.port, (f"{B}/#",))
    yield held["plant"], rec, tracebacks
    logging.getLogger().removeHandler(tracebacks)
    rec.close()
    held["loop"].call_soon_threadsafe(held["stop"].set)
    thread.join(10)
    broker.stop()


class Tracebacks(logging.Handler):
    """Every log record that carries an exception: a bug met while handling a message."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info:
            self.records.append(self.format(record))


def answered_on(topic: str) -> str | None:
    """Where the contract says a message on `topic` is answered, or None where it is not ours to answer."""
    parts = topic.removeprefix(f"{B}/control/").split("/")
    status, control = f"{B}/status", f"{B}/control"
    if parts[0] == LOCATION and len(parts) > 1:
        parts, status, control = parts[1:], f"{status}/{LOCATION}", f"{control}/{LOCATION}"
    if parts[-1] == "response":
        return None
    if "/".join(parts) in SYSTEM or parts[0] in {s.split("/")[0] for s in SYSTEM}:
        return f"{status}/operation_mode/response"
    if len(parts) == 2 and parts[1] == "command":
        return f"{control}/{parts[0]}/response"
    return None


# Topic levels as a broker accepts them: no wildcards, no control characters, no noncharacters such as U+1FFFF
# (Mosquitto drops a client that publishes those, so they never reach the PMS).
segment = st.text(st.characters(blacklist_characters="/#+", blacklist_categories=["Cc", "Cs", "Cn"]), min_size=1, max_size=8)
suffix = st.one_of(
    st.sampled_from(SYSTEM),
    st.sampled_from(DEVICES).map(lambda d: f"{d}/command"),
    st.sampled_from((*DEVICES, "없는장치")).map(lambda d: f"{d}/response"),
    segment.map(lambda s: f"{s}/command"),
    segment.map(lambda s: f"auto_mode/{s}"),
    st.lists(segment, min_size=1, max_size=3).map("/".join),
)
topic = st.one_of(
    suffix.map(lambda s: f"{B}/control/{s}"),
    suffix.map(lambda s: f"{B}/control/{LOCATION}/{s}"),
    suffix.map(lambda s: f"{B}/control/송정마을/{s}"),
)
# Hostile values too: NaN and +-Infinity (Python's json writes them), integers of any size, lone surrogates, long text.
scalar = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**40), 2**40), st.integers(), st.floats(), st.text(max_size=12),
    st.text(st.characters(categories=["Cs", "Lo", "So"]), max_size=6), st.text(min_size=200, max_size=1000),
    st.sampled_from(["auto", "basic", "manual", "charge", "stop", "solar", "write_register", *DEVICES]),
)  # fmt: skip
fields = st.fixed_dictionaries(
    {},
    optional={
        "mode": scalar, "device_name": st.one_of(st.sampled_from(DEVICES), scalar), "command": st.one_of(
            st.sampled_from(["operation_mode", "reset_faults", "dc_contactor", "set_charge_power", "reset_errors"]), scalar),
        "params": st.one_of(st.dictionaries(st.sampled_from(["mode", "kw", "enable"]), scalar, max_size=2), scalar),
        "kw": scalar, "enable": scalar, "action": scalar, "address": st.one_of(st.integers(0, 300), scalar),
        "value": st.one_of(st.integers(0, 0xFFFF), scalar), "request_id": scalar, "gui_request_id": scalar,
        "timestamp": st.one_of(st.just("2020-01-01T00:00:00"), st.datetimes().map(lambda d: d.isoformat()), scalar),
        "soc_high_threshold": scalar, "soc_lower_limit": scalar, "command_interval": scalar, "alarm": scalar,
    },
)  # fmt: skip
json_value = st.recursive(
    scalar, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3), max_leaves=8
)
payload = st.one_of(
    fields.map(lambda d: json.dumps(d).encode()),
    # an integer longer than Python parses by default (4,300 digits) in a field of every kind
    st.tuples(st.sampled_from(["request_id", "value", "kw", "command_interval"]), st.integers(4301, 6000)).map(
        lambda f: b'{"%s": %s}' % (f[0].encode(), b"9" * f[1])
    ),
    json_value.map(lambda v: json.dumps(v).encode()),
    st.binary(max_size=40),
    st.text(max_size=40).map(str.encode),
)


def switches_to_basic(topic_: str, body: bytes) -> bool:
    try:
        message = json.loads(body)
    except ValueError:
        return False
    mode = message.get("mode") if isinstance(message, dict) else None
    return topic_.endswith("/operation_mode") and isinstance(mode, str) and mode.lower() in ("basic", "manual")


def responses(rec: Recorder) -> int:
    return rec.count_where(lambda t: t.endswith("/response"))


counter = iter(range(10**9))
site_stats = {"messages": 0}


# No shrinking: each message of a failing example costs up to 5 s of waiting, so shrinking one would run far past
# the suite's time; the failing example is reported as drawn instead.
@settings(
    max_examples=300,
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(st.lists(st.tuples(topic, payload), min_size=5, max_size=25))
@pytest.mark.slow
def test_random_control_messages_are_answered_or_ignored_and_nothing_is_written(site, messages):
    plant, rec, tracebacks = site
    sent = [(t, b) for t, b in messages if not switches_to_basic(t, b)]
    at_start = responses(rec)
    for topic_, body in sent:
        where = answered_on(topic_)
        before = len(rec.raw(where)) if where else 0
        rec.publish(topic_, body)
        if where:
            wait_until(lambda w=where, n=before: len(rec.raw(w)) > n, 5, f"an answer on {where} to {topic_} {body!r}")
    sentinel = f"sentinel-{next(counter)}"
    rec.publish(f"{B}/control/auto_mode/status", {"request_id": sentinel})
    wait_until(lambda: any(p.get("request_id") == sentinel for p in rec.payloads(f"{B}/status/operation_mode/response")),
               5, "the sentinel's answer")  # fmt: skip

    ours = sum(1 for t, _ in sent if t.endswith("/response"))  # the recorder hears its own publishes too
    answers = responses(rec) - at_start - ours
    expected = sum(1 for t, _ in sent if answered_on(t)) + 1  # + the sentinel
    assert answers == expected, f"{answers} answers for {expected} answerable messages"
    assert plant.sim.plant.writes == []
    assert all(d.refused == [] for d in plant.sim.devices.values())
    assert plant.runtime.mqtt.connected and plant.runtime.operation.mode == "auto"
    assert tracebacks.records == []
    Thresholds(**plant.runtime.settings.current.as_dict())  # what was applied is still within every bound
    site_stats["messages"] += len(sent)


def test_after_the_fuzzing_the_pms_still_publishes_and_wrote_nothing(site):
    plant, rec, _ = site
    assert site_stats["messages"] >= 2000, site_stats  # thousands of random messages went before this test
    data = len(rec.raw(f"{B}/PCS/한자연_PCS/data"))
    wait_until(lambda: len(rec.raw(f"{B}/PCS/한자연_PCS/data")) > data + 3, 5, "data still published")
    assert plant.sim.plant.writes == [] and plant.runtime.mqtt.connected
    print(f"{site_stats['messages']} random control messages, nothing written")
