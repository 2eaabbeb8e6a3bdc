"""A real Mosquitto on a free loopback port, and a paho client that records what it receives."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt

from tests.helpers.ports import free_port


def mosquitto_binary() -> str:
    found = shutil.which("mosquitto") or ("/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None)
    if found is None:
        raise RuntimeError("mosquitto is not installed: run `make test`, which installs it")
    return found


class Mosquitto:
    """One broker process; `conf` lines are added to a plain anonymous listener unless they define their own."""

    def __init__(self, folder: Path, conf: str = "", port: int | None = None) -> None:
        self.folder = folder
        self.port = port or free_port()
        self.conf = conf
        self.proc: subprocess.Popen[bytes] | None = None
        folder.mkdir(parents=True, exist_ok=True)

    def start(self, timeout: float = 10.0) -> None:
        conf = self.folder / "mosquitto.conf"
        body = self.conf or "allow_anonymous true\n"
        # `user root`: a broker started as root would otherwise drop to `mosquitto` and not read the test files.
        # set_tcp_nodelay: Mosquitto's own sockets would otherwise add ~40 ms per exchange (Nagle).
        base = f"listener {self.port} 127.0.0.1\npersistence false\nuser root\nset_tcp_nodelay true\n"
        conf.write_text(base + body, encoding="utf-8")
        with (self.folder / "mosquitto.log").open("ab") as log:  # the child keeps its own copy of the handle
            self.proc = subprocess.Popen([mosquitto_binary(), "-c", str(conf)], stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"mosquitto exited: {(self.folder / 'mosquitto.log').read_text(errors='replace')}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.02)  # polling the port until the broker listens
        raise RuntimeError(f"mosquitto did not listen on {self.port} within {timeout} s")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(5)
        self.proc = None


class Recorder:
    """A test's own MQTT client: records every message of its subscriptions (thread-safe)."""

    def __init__(self, port: int, topics: tuple[str, ...] = ("#",), **auth: Any) -> None:
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"test-{free_port()}")
        if auth.get("username"):
            self.client.username_pw_set(auth["username"], auth.get("password"))
        if auth.get("ca_file"):
            self.client.tls_set(ca_certs=auth["ca_file"])
        self.received: list[tuple[str, bytes, bool]] = []
        self.arrived: list[float] = []  # time.time() of each received message, for latency figures
        self._lock = threading.Lock()
        self._subscribed = threading.Event()
        self.client.on_message = self._on_message
        # As the gateway does: without TCP_NODELAY every QoS 1 publish waits ~40 ms for a delayed ACK.
        self.client.on_socket_open = lambda client, userdata, sock: sock.setsockopt(
            socket.IPPROTO_TCP, socket.TCP_NODELAY, 1
        )
        self.client.on_subscribe = lambda *args: self._subscribed.set()
        # Subscribing on every connect keeps the subscriptions across a broker restart (clean sessions).
        self.client.on_connect = lambda client, *args: client.subscribe([(t, 1) for t in topics])
        self.client.reconnect_delay_set(1, 2)
        self.client.connect("127.0.0.1", port, 30)
        self.client.loop_start()
        if not self._subscribed.wait(5):
            raise RuntimeError("the test client's subscription was not acknowledged")

    def _on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        with self._lock:
            self.received.append((msg.topic, msg.payload, bool(msg.retain)))
            self.arrived.append(time.time())

    def publish(self, topic: str, payload: Any, retain: bool = False) -> None:
        data = payload if isinstance(payload, (bytes, str)) else json.dumps(payload, ensure_ascii=False)
        self.client.publish(topic, data, qos=1, retain=retain).wait_for_publish(5)

    def payloads(self, topic: str) -> list[dict[str, Any]]:
        with self._lock:
            return [json.loads(p) for t, p, _ in self.received if t == topic and p]

    def timed(self, topic: str) -> list[tuple[float, dict[str, Any]]]:
        """(arrival time, payload) of every message on `topic`."""
        with self._lock:
            return [(a, json.loads(p)) for (t, p, _), a in zip(self.received, self.arrived, strict=True) if t == topic]

    def raw(self, topic: str) -> list[bytes]:
        with self._lock:
            return [p for t, p, _ in self.received if t == topic]

    def count_where(self, test: Callable[[str], bool]) -> int:
        """How many messages arrived on topics that pass `test`."""
        with self._lock:
            return sum(1 for t, _, _ in self.received if test(t))

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
