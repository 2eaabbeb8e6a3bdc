"""The MQTT gateway: paho on its own network thread, everything else on the event loop.

paho's thread only hands what it receives to the loop (`call_soon_threadsafe`):
the Windows event loop under qasync has no `add_reader`, so nothing here may
depend on it. Publishing is a non-blocking hand-over to paho's thread. While
the broker is away, data messages are dropped rather than queued; the retained
status topics are kept here and republished after every reconnect.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt

from pms_core.alarms import AlarmMonitor
from pms_core.automation.operation_manager import OperationManager, OperationStatus
from pms_core.build_info import build_info
from pms_core.bus import (
    AlarmAcknowledged,
    AlarmChanged,
    BrokerState,
    BrokerStateChanged,
    Bus,
    LinkStateChanged,
    Snapshot,
)
from pms_core.clock import Clock
from pms_core.commands import CommandResult, CommandService
from pms_core.config import MqttConfig, beside_config
from pms_core.devices import Device
from pms_core.mqtt import messages
from pms_core.mqtt.control import ControlHandler, decode
from pms_core.supervision import Watch

log = logging.getLogger(__name__)

RECONNECT_MIN, RECONNECT_MAX = 1, 10  # seconds; the contract caps the back-off at 10 s
CONNECT_TIMEOUT = 5.0
# QoS 1 messages paho may hold for the broker (answers, retained status). Data is QoS 0 and never queued. A burst
# of control messages makes two or three each: a cap of 100 dropped answers; this one is a few MB at most.
MAX_QUEUED = 10_000
RESEND_AFTER = 1.0  # seconds before a retained status that paho refused is sent again
STOP_TIMEOUT = 1.5  # seconds for the offline message and paho's thread on shutdown
# A broker gives a client_id to its newest connection and drops the older one. Two PMS with one client_id take the
# connection from each other every RECONNECT_MIN or so; a network or a broker rarely drops an established
# connection this often. Real seconds (time.monotonic): the plant clock of a test may run faster.
TAKEOVER_LOSSES, TAKEOVER_WINDOW = 3, 60.0


class MqttGateway:
    def __init__(
        self,
        config: MqttConfig,
        config_path: Path,
        bus: Bus,
        devices: dict[str, Device],
        operation: OperationManager,
        commands: CommandService,
        alarms: AlarmMonitor,
        pcs_rating: Callable[[], float | None],
        clock: Clock,
    ) -> None:
        self.config = config
        self.config_path = config_path
        self.bus = bus
        self.devices = devices
        self.operation = operation
        self.alarms = alarms
        self.clock = clock
        self.base = config.base_topic
        self.broker = f"{config.broker}:{config.port}"
        self.last_change = BrokerStateChanged("disconnected", self.broker, None, clock.now())  # also for late readers
        self.dropped = 0  # data messages dropped while the broker was away
        self.control = ControlHandler(
            config, operation, commands, alarms, pcs_rating, self.publish_operation_status, self._respond, clock
        )
        self._client: mqtt.Client | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._retained: dict[str, bytes] = {}  # status topics, republished after every reconnect
        self._unsent: set[str] = set()  # retained topics whose latest payload paho refused: sent again shortly
        self.lost_answers = 0  # answers paho refused (its queue full): logged, counted
        self._status: OperationStatus | None = None
        self._last_command: dict[str, Any] | None = None
        self._thresholds: dict[str, float] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._warned_other: set[str] = set()
        self._losses: deque[float] = deque(maxlen=TAKEOVER_LOSSES)  # when established connections were lost
        self._warned_takeover = False
        self._started: str | None = None  # when start() ran, for B/status/info
        # A bug in one of its handlers is the gateway's alarm, and the next event is handled as if nothing happened.
        self.watch = Watch("MQTT gateway", bus, clock)
        guard = self.watch.guard
        bus.subscribe(Snapshot, guard("data", self._on_snapshot))
        bus.subscribe(LinkStateChanged, guard("link status", self._on_link))
        bus.subscribe(OperationStatus, guard("operation status", self._on_operation))
        bus.subscribe(CommandResult, guard("command status", self._on_command))
        bus.subscribe(AlarmChanged, guard("alarms", self._on_alarm))
        bus.subscribe(AlarmAcknowledged, guard("alarms", lambda _: self._publish_alarm_list()))

    @property
    def state(self) -> BrokerState:
        return self.last_change.state

    @property
    def error(self) -> str | None:
        return self.last_change.error

    @property
    def connected(self) -> bool:
        return self.state == "connected"

    # --- life -----------------------------------------------------------------------------
    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._started = self.clock.iso()
        # What is in force at start, kept for the first connection (nothing may change before it).
        self._on_operation(self.operation.status())
        self._publish_alarm_list()
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=self.config.client_id)
        client.on_connect = self._thread_connected
        client.on_disconnect = self._thread_disconnected
        client.on_connect_fail = self._thread_connect_failed
        client.on_message = self._thread_message
        client.on_socket_open = _nodelay
        # paho's network thread must outlive a bug in a callback of ours (it would end it, and MQTT with it).
        client.suppress_exceptions = True
        client.on_log = _paho_errors
        client.reconnect_delay_set(RECONNECT_MIN, RECONNECT_MAX)
        client.max_queued_messages_set(MAX_QUEUED)
        client.connect_timeout = CONNECT_TIMEOUT
        client.will_set(
            f"{self.base}/status",
            messages.encode({"status": "offline", "reason": "unexpected_disconnect", "client_id": self.config.client_id}),
            qos=1,
            retain=True,
        )
        if self.config.username:
            client.username_pw_set(self.config.username, self.config.password or None)
        if self.config.tls is not None:
            tls = self.config.tls
            try:
                client.tls_set(
                    ca_certs=self._path(tls.ca_file), certfile=self._path(tls.cert_file), keyfile=self._path(tls.key_file)
                )
            except (OSError, ValueError) as exc:
                self._set_state("disconnected", f"TLS set-up failed: {exc}")
                log.error("MQTT: cannot use the TLS files of mqtt.tls: %s; MQTT stays off", exc)
                return
        self._client = client
        self._set_state("connecting", None)
        client.connect_async(self.config.broker, self.config.port, self.config.keepalive)
        client.loop_start()
        log.info("MQTT: connecting to %s as %s", self.broker, self.config.client_id)

    async def stop(self) -> None:
        """Say `offline` (retained) on a clean shutdown, then close the connection and paho's thread."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        client, self._client = self._client, None
        if client is None:
            return
        if self.connected:
            info = client.publish(f"{self.base}/status", self._availability("offline", "shutdown"), qos=1, retain=True)
            with contextlib.suppress(RuntimeError, ValueError):  # lost the connection meanwhile: the Last Will says it
                await asyncio.to_thread(info.wait_for_publish, STOP_TIMEOUT)
        client.disconnect()
        await self._join(client)
        self._set_state("disconnected", "stopped")

    async def _join(self, client: mqtt.Client) -> None:
        """paho's loop_stop() blocks until its thread ends: wait for it off the event loop, bounded."""
        loop = asyncio.get_running_loop()
        done = loop.create_future()

        def stopped() -> None:
            if not done.done():
                done.set_result(None)

        def stop_loop() -> None:
            client.loop_stop()
            self._hand(stopped)

        threading.Thread(target=stop_loop, name="mqtt stop", daemon=True).start()
        try:
            await asyncio.wait_for(done, STOP_TIMEOUT)
        except TimeoutError:
            log.warning("MQTT: the network thread did not end within %s s; leaving it to the process exit", STOP_TIMEOUT)

    # --- paho's thread: hand everything to the loop -------------------------------------
    def _hand(self, callback: Any, *args: Any) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):  # the loop closed between the check and the call
            loop.call_soon_threadsafe(self.watch.guard(callback.__name__.strip("_"), callback), *args)

    def _thread_connected(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        self._hand(self._connected, reason.is_failure, str(reason))

    def _thread_disconnected(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        self._hand(self._disconnected, str(reason))

    def _thread_connect_failed(self, client: mqtt.Client, userdata: Any) -> None:
        # paho calls this inside its `except OSError`: the exception in flight is the reason.
        exc = sys.exc_info()[1]
        self._hand(self._connect_failed, str(exc) if exc else "connection failed")

    def _thread_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        self._hand(self._message, msg.topic, msg.payload, bool(msg.retain))

    # --- the loop: connection events ------------------------------------------------------
    def _connected(self, failed: bool, reason: str) -> None:
        if self._client is None:
            return
        if failed:
            self._set_state("disconnected", f"refused by the broker: {reason}")
            return
        client = self._client
        # B/status too: a retained `online` of another client_id means two controllers on one plant.
        client.subscribe([(f"{self.base}/status", 1), (f"{self.base}/control/#", 1)])
        self._set_state("connected", None)
        client.publish(f"{self.base}/status", self._availability("online"), qos=1, retain=True)
        self._unsent.clear()
        # Which PMS, which build, since when: renewed at every connection (its timestamp says when this one began)
        # and sent with the other retained status below.
        info = self._info()
        for topic in self._status_topics("info"):
            self._retained[topic] = info
        for topic, payload in self._retained.items():
            self._publish(topic, payload, qos=1, retain=True)
        # Judged once connected again, so that the alarm also reaches pms/alarm/PMS (dropped while disconnected).
        self._check_takeover()

    def _disconnected(self, reason: str) -> None:
        # Only a connection that was up is "lost"; after a refusal the refusal stays the reason shown.
        if self._client is not None and self.connected:
            self._set_state("disconnected", f"connection lost: {reason}")
            self._losses.append(time.monotonic())

    def _connect_failed(self, error: str) -> None:
        if self._client is not None:
            self._set_state("disconnected", f"cannot connect: {error}")

    def _set_state(self, state: BrokerState, error: str | None) -> None:
        if (state, error) == (self.state, self.error):
            return
        self.last_change = BrokerStateChanged(state, self.broker, error, self.clock.now())
        if state == "connected":
            log.info("MQTT: connected to %s", self.broker)
        elif error and self._client is not None:
            log.warning("MQTT: %s %s (%s); retrying", self.broker, state, error)
        self.bus.publish(self.last_change)

    def _message(self, topic: str, payload: bytes, retained: bool) -> None:
        if topic == f"{self.base}/status":
            self._check_other_controller(payload, retained)
            return
        task = asyncio.create_task(self.control.handle(topic, payload, retained), name=f"mqtt {topic}")
        self._tasks.add(task)
        task.add_done_callback(self._handled)

    def _handled(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        exc = task.exception()
        if exc is None:
            self.watch.ok("control")
        else:
            self.watch.failed(exc, "control")

    def _check_other_controller(self, payload: bytes, retained: bool) -> None:
        """Two PMS on one base topic would both command the plant: say so loudly."""
        try:
            status = decode(payload)
        except ValueError:
            return
        other = status.get("client_id")
        if status.get("status") == "online" and other and other != self.config.client_id and other not in self._warned_other:
            self._warned_other.add(other)
            text = (f"another PMS ({other}) is online on {self.base}/status of this broker: two controllers on one"
                    " plant? Check mqtt.client_id, base_topic and location")  # fmt: skip
            log.error("MQTT: %s", text)
            alarm = AlarmChanged("PMS", "two_controllers", "two_controllers", "warning", True, text, self.clock.now())
            self.bus.publish(alarm)

    def _check_takeover(self) -> None:
        """Our client_id taken over again and again: the same id in another client, most likely a second PMS."""
        losses = self._losses
        if self._warned_takeover or len(losses) < TAKEOVER_LOSSES or losses[-1] - losses[0] > TAKEOVER_WINDOW:
            return
        self._warned_takeover = True  # once: the next takeovers say nothing new, and the alarm stays raised
        text = (f"another client with the same client_id ({self.config.client_id}, mqtt.client_id) keeps taking the"
                f" connection to {self.broker} over ({len(losses)} connections lost within"
                f" {losses[-1] - losses[0]:.0f} s): two PMS on one plant? Stop the other one, or give each its own"
                " mqtt.client_id")  # fmt: skip
        log.error("MQTT: %s", text)
        self.bus.publish(AlarmChanged("PMS", "two_controllers", "two_controllers", "warning", True, text, self.clock.now()))

    # --- the loop: publishing -------------------------------------------------------------
    def _publish(self, topic: str, payload: bytes, qos: int = 0, retain: bool = False) -> None:
        if retain:
            self._retained[topic] = payload
        client = self._client
        if client is None or not self.connected:
            if not retain:
                self.dropped += 1
            return
        info = client.publish(topic, payload, qos=qos, retain=retain)
        if info.rc == mqtt.MQTT_ERR_SUCCESS:
            self._unsent.discard(topic)
        elif retain:  # the latest status must reach the broker: again in a moment (a reconnect sends it anyway)
            if not self._unsent and self._loop is not None:
                self._loop.call_later(RESEND_AFTER, self._resend)
            self._unsent.add(topic)
        elif qos:
            self.lost_answers += 1
            log.error("MQTT: %s not sent (%s)", topic, mqtt.error_string(info.rc))

    def _resend(self) -> None:
        # Emptied first: a topic refused again re-arms this timer (only a first refusal into an empty set does; one
        # refused while others still waited in the set would otherwise never be sent again).
        topics, self._unsent = self._unsent, set()
        for topic in topics:
            self._publish(topic, self._retained[topic], qos=1, retain=True)

    def _respond(self, topic: str, response: dict[str, Any]) -> None:
        self._publish(topic, messages.encode(response), qos=1)

    def _status_topics(self, name: str) -> list[str]:
        """`B/status/<name>`, and `B/status/<location>/<name>` where a location is set."""
        loc = self.config.location
        return [f"{self.base}/status/{name}"] + ([f"{self.base}/status/{loc}/{name}"] if loc else [])

    def _availability(self, status: str, reason: str | None = None) -> bytes:
        payload = {"status": status, "timestamp": self.clock.iso(), "client_id": self.config.client_id}
        if reason:
            payload["reason"] = reason
        return messages.encode(payload)

    def _info(self) -> bytes:
        build = build_info()
        return messages.encode({
            "version": build.shown_version, "variant": build.variant, "started": self._started,
            "host": socket.gethostname(), "client_id": self.config.client_id, "timestamp": self.clock.iso(),
        })  # fmt: skip

    def _on_snapshot(self, snap: Snapshot) -> None:
        if not self.connected:
            self.dropped += 1
            return
        device = self.devices[snap.device_name]
        payload = messages.data_message(snap, device.map, device.config.ip, device.state, self.clock)
        self._publish(f"{self.base}/{snap.device_type}/{snap.device_name}/data", messages.encode(payload))

    def _on_link(self, event: LinkStateChanged) -> None:
        topic = f"{self.base}/{event.device_type}/{event.device_name}/status"
        self._publish(topic, messages.encode(messages.link_status(event, self.clock)), qos=1, retain=True)

    def _on_operation(self, status: OperationStatus) -> None:
        self._status = status
        self.publish_operation_status()
        if status.thresholds != self._thresholds:
            self._thresholds = dict(status.thresholds)
            for topic in self._status_topics("threshold_config"):
                self._publish(topic, messages.encode(status.thresholds), qos=1, retain=True)

    def _on_command(self, result: CommandResult) -> None:
        self._last_command = messages.command_summary(result, self.clock)
        self.publish_operation_status()

    def publish_operation_status(self) -> None:
        if self._status is None:  # before start(): nothing to say yet
            return
        payload = messages.encode(messages.operation_mode(self._status, self._last_command, self.clock))
        for topic in self._status_topics("operation_mode"):
            self._publish(topic, payload, qos=1, retain=True)

    def _on_alarm(self, event: AlarmChanged) -> None:
        self._publish(f"{self.base}/alarm/{event.device_name}", messages.encode(messages.alarm(event, self.clock)), qos=1)
        self._publish_alarm_list()

    def _publish_alarm_list(self) -> None:
        payload = messages.encode(messages.active_alarms(list(self.alarms.active.values()), self.clock))
        for topic in self._status_topics("alarms"):
            self._publish(topic, payload, qos=1, retain=True)

    def _path(self, name: str | None) -> str | None:
        return str(beside_config(name, self.config_path)) if name else None


def _paho_errors(client: mqtt.Client, userdata: Any, level: int, text: str) -> None:
    """A callback of ours that raised in paho's thread (paho goes on; its other errors are the connection state's)."""
    if level == mqtt.MQTT_LOG_ERR and text.startswith("Caught exception"):
        log.error("MQTT client: %s", text)


def _nodelay(client: mqtt.Client, userdata: Any, sock: Any) -> None:
    """Without TCP_NODELAY the keepalive ping delays the next publish by about 40 ms (ARCHITECTURE.md)."""
    with contextlib.suppress(OSError, AttributeError):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
