"""The PMS on a real broker, and asking it over MQTT as a farm's back end does."""

from __future__ import annotations

from pms_core.clock import Clock
from pms_core.config import load_config
from tests.helpers.broker import Mosquitto, Recorder
from tests.helpers.configs import write_config
from tests.helpers.site import SimulatedSite
from tests.helpers.waiting import wait_for

B = "pms"  # the topic base


def mqtt_site(tmp_path, broker: Mosquitto, poll: float = 0.2, **mqtt) -> SimulatedSite:
    """A site whose PMS publishes to `broker` as client pms-test (`mqtt`: more of the mqtt section)."""
    loaded = load_config(
        write_config(tmp_path, poll_interval=poll, mqtt={"port": broker.port, "client_id": "pms-test", **mqtt})
    )
    return SimulatedSite(loaded, Clock(), mqtt=True)


async def ask(rec: Recorder, topic: str, payload, response: str = f"{B}/status/operation_mode/response", retain=False):
    """Publish a control message and return the one response that answers it."""
    before = len(rec.payloads(response))
    rec.publish(topic, payload, retain=retain)
    await wait_for(lambda: len(rec.payloads(response)) > before, 5, f"a response on {response}")
    return rec.payloads(response)[before]
