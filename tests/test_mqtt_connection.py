"""The gateway's connection life on a real Mosquitto: restarts, the Last Will, passwords and TLS."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from datetime import datetime

import pytest

from pms_core.bus import BrokerStateChanged
from tests.helpers.broker import Mosquitto, Recorder
from tests.helpers.configs import write_config
from tests.helpers.mqtt import B, ask, mqtt_site
from tests.helpers.runner import start_runner
from tests.helpers.waiting import wait_for, wait_until

pytestmark = [pytest.mark.tcp, pytest.mark.broker]


async def test_broker_restart_drops_data_meanwhile_then_everything_is_back(tmp_path, broker):
    states: list[BrokerStateChanged] = []
    async with mqtt_site(tmp_path, broker) as plant:
        plant.runtime.bus.subscribe(BrokerStateChanged, states.append)
        gateway = plant.runtime.mqtt
        await plant.all_online()
        await wait_for(lambda: gateway.connected, 10, "connected")
        broker.stop()
        await wait_for(lambda: gateway.state == "disconnected", 10, "the broker loss noticed")
        dropped = gateway.dropped
        await wait_for(lambda: gateway.dropped >= dropped + 10, 5, "data dropped while the broker is away")

        broker.start()
        returned = time.monotonic()
        took = await wait_for(lambda: gateway.connected, 15, "reconnected within back-off cap + 5 s")
        rec = Recorder(broker.port, (f"{B}/#",))  # a new subscriber sees the retained topics republished
        answer = await ask(rec, f"{B}/control/auto_mode/status", {"request_id": "back"})
        assert answer["success"] and time.monotonic() - returned < 15
        await wait_for(lambda: rec.payloads(f"{B}/status") and rec.payloads(f"{B}/BMS/{plant.name('BMS')}/status"), 5,
                       "retained topics after the restart")  # fmt: skip
        assert rec.payloads(f"{B}/status")[-1]["status"] == "online"
        assert rec.payloads(f"{B}/status/operation_mode")[-1]["mode"] == "basic"
        # Nothing from the outage was queued: every data message is younger than the reconnection.
        await wait_for(lambda: len(rec.payloads(f"{B}/PCS/{plant.name('PCS')}/data")) >= 3, 5, "data again")
        stamps = [m["timestamp"] for m in rec.payloads(f"{B}/PCS/{plant.name('PCS')}/data")]
        assert all(plant.clock.now() - _epoch(s) < took + 6 for s in stamps)
        rec.close()
    seen = [s.state for s in states]
    changes = [b for a, b in zip([None, *seen], seen, strict=False) if a != b]
    assert changes[-3:] == ["disconnected", "connected", "disconnected"]  # lost, back, stopped
    assert states[-1].error == "stopped"
    print(f"reconnected {took:.1f} s after the broker returned")


def _epoch(stamp: str) -> float:
    return datetime.fromisoformat(stamp).timestamp()


@pytest.mark.parametrize(("stop", "reason"), [("kill", "unexpected_disconnect"), ("terminate", "shutdown")])
def test_the_last_will_on_a_killed_process_and_offline_on_a_clean_stop(tmp_path, broker, stop, reason):
    config = write_config(tmp_path, mqtt={"port": broker.port, "client_id": "pms-proc"})
    rec = Recorder(broker.port, (f"{B}/status",))
    proc = start_runner(config, tmp_path / "data", "--simulate")
    try:
        wait_until(lambda: any(p["status"] == "online" for p in rec.payloads(f"{B}/status")), 20, "online")
        getattr(proc, stop)()
        proc.communicate(timeout=10)
        wait_until(lambda: rec.payloads(f"{B}/status")[-1]["status"] == "offline", 10, "offline on B/status")
        last = rec.payloads(f"{B}/status")[-1]
        assert last["reason"] == reason and last["client_id"] == "pms-proc"
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
        rec.close()


@pytest.fixture
def secure_broker(tmp_path):
    """Mosquitto with TLS (a CA and a server certificate made here with openssl) and a password file."""
    certs = tmp_path / "certs"
    certs.mkdir()

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=certs, check=True, capture_output=True)

    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt", "-days", "2",
            "-subj", "/CN=PMS test CA")  # fmt: skip
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1")
    (certs / "san.ext").write_text("subjectAltName=IP:127.0.0.1\n")
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", "server.crt", "-days", "2", "-extfile", "san.ext")  # fmt: skip
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "other.key", "-out", "other.crt", "-days", "2",
            "-subj", "/CN=some other CA")  # fmt: skip
    subprocess.run(["mosquitto_passwd", "-b", "-c", str(certs / "passwd"), "pms", "s3cret"], check=True, capture_output=True)
    conf = (
        f"cafile {certs / 'ca.crt'}\ncertfile {certs / 'server.crt'}\nkeyfile {certs / 'server.key'}\n"
        f"allow_anonymous false\npassword_file {certs / 'passwd'}\n"
    )
    broker = Mosquitto(tmp_path / "secure", conf)
    broker.start()
    yield broker, certs
    broker.stop()


async def test_tls_with_the_right_password_connects(tmp_path, secure_broker):
    broker, certs = secure_broker
    tls = {"ca_file": "certs/ca.crt"}  # relative to the config file, as a site writes it
    async with mqtt_site(tmp_path, broker, username="pms", password="s3cret", tls=tls) as plant:
        await wait_for(lambda: plant.runtime.mqtt.connected, 10, "connected over TLS")
        rec = Recorder(broker.port, (f"{B}/#",), username="pms", password="s3cret", ca_file=str(certs / "ca.crt"))
        answer = await ask(rec, f"{B}/control/auto_mode/status", {})
        assert answer["success"]
        rec.close()


async def test_a_wrong_password_is_refused_and_said_in_status_and_log(tmp_path, secure_broker, caplog):
    broker, _ = secure_broker
    async with mqtt_site(tmp_path, broker, username="pms", password="wrong", tls={"ca_file": "certs/ca.crt"}) as plant:
        gateway = plant.runtime.mqtt
        await wait_for(lambda: gateway.error and "refused by the broker" in gateway.error, 10, "the refusal")
        assert gateway.state == "disconnected" and "authori" in gateway.error.lower()
        assert any("refused by the broker" in r.getMessage() for r in caplog.records)


# paho 2.2 leaves the socket of a failed TLS handshake to the garbage collector (_ssl_wrap_socket
# raises from do_handshake() without closing it): its ResourceWarning is paho's, not ours.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
@pytest.mark.filterwarnings("ignore:unclosed <ssl.SSLSocket:ResourceWarning")
async def test_an_untrusted_server_certificate_is_refused(tmp_path, secure_broker):
    broker, _ = secure_broker
    tls = {"ca_file": "certs/other.crt"}  # a CA that did not sign the broker's certificate
    async with mqtt_site(tmp_path, broker, username="pms", password="s3cret", tls=tls) as plant:
        gateway = plant.runtime.mqtt
        await wait_for(lambda: gateway.error and "certificate verify failed" in gateway.error, 10, "a TLS error")
        assert json.dumps(gateway.error)  # a plain message the console and log can show
