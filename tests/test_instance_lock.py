"""One PMS per data folder (pms_core/instance_lock.py, main.py, the console), and a client_id taken over on the
broker raising `two_controllers`."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

import main_gui_integrated
from pms_core import data_folder
from pms_core.build_info import build_info
from pms_core.bus import AlarmChanged
from pms_core.clock import Clock
from pms_core.config import load_config
from pms_core.instance_lock import LOCK_FILE, AlreadyRunning, InstanceLock
from pms_gui import boot
from tests.helpers.broker import Recorder
from tests.helpers.configs import write_config
from tests.helpers.paths import ROOT
from tests.helpers.site import SimulatedSite
from tests.helpers.waiting import wait_for, wait_until

HOLDER = (
    "import sys; from pathlib import Path; from pms_core.instance_lock import InstanceLock; "
    "InstanceLock(Path(sys.argv[1])).acquire(); sys.stdin.read()"  # holds the lock until killed
)


def pid_in(folder: Path) -> str:
    """What the lock file says after its locked byte 0: the holder's pid, or nothing."""
    path = folder / LOCK_FILE
    return path.read_bytes()[1:].decode("ascii").strip() if path.exists() else ""


# --- the lock -------------------------------------------------------------------------------------


def test_a_second_process_is_refused_with_the_pid_of_the_first_and_the_lock_is_free_once_it_died(tmp_path):
    folder = tmp_path / "농장 데이터"  # Korean and a space in the path
    with subprocess.Popen([sys.executable, "-c", HOLDER, str(folder)], cwd=ROOT, stdin=subprocess.PIPE) as holder:
        try:
            wait_until(lambda: pid_in(folder) == str(holder.pid), 10, "the holder's pid in the lock file")
            with pytest.raises(AlreadyRunning) as refused:
                InstanceLock(folder).acquire()
            assert refused.value.pid == holder.pid and refused.value.folder == folder
            assert str(refused.value) == f"PMS is already running (pid {holder.pid}) with the data folder {folder}"
        finally:
            holder.kill()  # a crash: no release, the OS frees the lock
    assert pid_in(folder) == str(holder.pid)  # the dead holder's pid is still written ...
    with InstanceLock(folder) as lock:  # ... and means nothing: the lock is free
        assert lock.held and pid_in(folder) == str(os.getpid())
    assert pid_in(folder) == ""  # a clean release empties the pid


def test_the_lock_is_held_against_a_second_lock_in_the_same_process_until_released(tmp_path):
    folder = tmp_path / "data"
    first = InstanceLock(folder)
    first.acquire()
    first.acquire()  # idempotent
    with pytest.raises(AlreadyRunning) as refused:
        InstanceLock(folder).acquire()
    assert refused.value.pid == os.getpid()
    first.release()
    first.release()  # idempotent
    with InstanceLock(folder):
        pass


# --- main.py --------------------------------------------------------------------------------------


@pytest.mark.tcp
@pytest.mark.broker
def test_a_second_main_py_exits_3_while_the_first_keeps_publishing_steadily_online(tmp_path, broker):
    history = tmp_path / "기록" / "history.db"  # the lock goes beside the history, not into PMS_DATA_DIR
    config = write_config(
        tmp_path, mqtt={"broker": "127.0.0.1", "port": broker.port, "client_id": "pms-lock-test"},
        history={"path": str(history)},
    )  # fmt: skip
    env = {**os.environ, "PMS_DATA_DIR": str(tmp_path / "data")}
    command = [sys.executable, "main.py", "--config", str(config)]
    recorder = Recorder(broker.port, ("pms/#",))
    with (tmp_path / "first.out").open("wb") as out:
        first = subprocess.Popen([*command, "--simulate"], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        data = [f"pms/{t}/한자연_{t}/data" for t in ("BMS", "PCS", "DCDC")]
        wait_until(lambda: all(recorder.raw(t) for t in data), 15, "data messages of the first PMS")
        assert pid_in(history.parent) == str(first.pid)

        second = subprocess.run(
            [*command, "--simulate"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=30, check=False
        )
        assert second.returncode == 3, second.stderr
        assert second.stderr.strip() == (
            f"PMS is already running (pid {first.pid}); this copy exits. Data folder: {history.parent}"
        )
        # Reading the history needs no lock: export runs beside the running PMS.
        export = subprocess.run([*command, "export", "--out", str(tmp_path / "out.csv")], cwd=ROOT, env=env,
                                capture_output=True, text=True, timeout=30, check=False)  # fmt: skip
        assert export.returncode == 0, export.stderr

        # The first goes on publishing, on one connection: pms/status said `online` once and nothing since.
        published = len(recorder.raw(data[0]))
        wait_until(lambda: len(recorder.raw(data[0])) >= published + 5, 10, "more data after the second copy")
        assert first.poll() is None
        statuses = recorder.payloads("pms/status")
        assert [(s["status"], s["client_id"]) for s in statuses] == [("online", "pms-lock-test")]
        late = Recorder(broker.port, ("pms/status",))  # and a newcomer reads the retained `online`
        try:
            wait_until(lambda: late.payloads("pms/status"), 5, "the retained status")
            assert late.payloads("pms/status")[0]["status"] == "online"
        finally:
            late.close()
        # The second copy left no trace in the first's log (it exits before opening it).
        log = (tmp_path / "data" / "logs" / "pms.log").read_text(encoding="utf-8")
        assert log.count(f"{build_info().banner} starting") == 1
    finally:
        first.send_signal(signal.SIGINT)
        try:
            first.wait(10)
        finally:
            first.kill()
        recorder.close()
    assert first.returncode == 0, (tmp_path / "first.out").read_text(encoding="utf-8", errors="replace")[-3000:]
    assert pid_in(history.parent) == ""  # released on exit


# --- the console ----------------------------------------------------------------------------------


@pytest.mark.gui
def test_the_console_refuses_a_second_copy_with_a_korean_message_box_and_exit_code_3(
    tmp_path, data_folder, qapp, monkeypatch, capsys
):
    config = write_config(tmp_path)  # no history path: the lock is in the data folder
    shown: list[str] = []
    monkeypatch.setattr(boot, "show_startup_error", shown.append)  # instead of a modal box
    args = main_gui_integrated.parse_args(["--config", str(config)])
    with InstanceLock(data_folder):  # "the other PMS", held by this process
        code = boot.start(args, windowed=True, ask_operator=True, scratch=None)
    assert code == 3
    assert shown == [f"PMS가 이미 실행 중입니다 (pid {os.getpid()}). 이 창은 닫힙니다.\n\n데이터 폴더: {data_folder}"]
    assert f"PMS is already running (pid {os.getpid()}); this copy exits" in capsys.readouterr().err
    # In English when asked for it; the language of the console is not changed by it.
    exc = AlreadyRunning(data_folder, None)
    assert boot.already_running_text(exc, "en").startswith("PMS is already running (pid ?).")


def test_the_console_selftest_runs_beside_a_running_pms(tmp_path, data_folder, monkeypatch):
    """The selftest's data folder is its own temporary one: the lock of the site's folder does not stop it."""
    config = write_config(tmp_path)
    started: list[Path] = []
    monkeypatch.setattr(boot, "setup_logging", lambda level, file: tmp_path / "pms.log")
    monkeypatch.setattr(boot, "run_console", lambda args, loaded: started.append(loaded.path) or 0)
    args = main_gui_integrated.parse_args(["--config", str(config), "--selftest"])
    (tmp_path / "scratch").mkdir()
    with InstanceLock(data_folder):
        code = boot.start(args, windowed=False, ask_operator=False, scratch=tmp_path / "scratch")
    assert code == 0 and started == [tmp_path / "scratch" / "config.yml"]


# --- the broker takeover ----------------------------------------------------------------------------


def take_over(port: int, client_id: str) -> None:
    """Connect with `client_id` (the broker drops the PMS's connection) and wait until the PMS takes it back."""
    connected, lost = threading.Event(), threading.Event()
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, reconnect_on_failure=False)
    client.on_connect = lambda *args: connected.set()
    client.on_disconnect = lambda *args: lost.set()
    client.connect("127.0.0.1", port, 30)
    client.loop_start()
    try:
        assert connected.wait(5), "the impostor did not connect"
        assert lost.wait(5), "the PMS did not take its client_id back"
    finally:
        client.loop_stop()


@pytest.mark.tcp
@pytest.mark.broker
@pytest.mark.slow
async def test_a_client_id_taken_over_again_and_again_raises_two_controllers_once(tmp_path, broker, caplog):
    client_id = "pms-takeover-test"
    config = write_config(tmp_path, mqtt={"broker": "127.0.0.1", "port": broker.port, "client_id": client_id})
    recorder = Recorder(broker.port, ("pms/alarm/PMS",))
    raised: list[AlarmChanged] = []
    try:
        async with SimulatedSite(load_config(config), Clock(), mqtt=True) as plant:
            gateway = plant.runtime.mqtt
            assert gateway is not None
            plant.runtime.bus.subscribe(AlarmChanged, lambda e: e.alarm == "two_controllers" and raised.append(e))
            await wait_for(lambda: gateway.connected, 10, "the PMS connected")
            for takeover in range(1, 5):
                await asyncio.to_thread(take_over, broker.port, client_id)
                await wait_for(lambda: gateway.connected, 5, "the PMS connected again")
                if takeover < 3:  # one or two lost connections are a network's or a broker's doing
                    assert raised == []
                else:
                    await wait_for(lambda: raised, 5, "the two_controllers alarm")
            assert len(raised) == 1  # raised and logged once, not at every takeover
            alarm = raised[0]
            assert (alarm.device_name, alarm.severity, alarm.active) == ("PMS", "warning", True)
            assert f"another client with the same client_id ({client_id}, mqtt.client_id)" in alarm.message
            assert "two PMS on one plant?" in alarm.message
            await wait_for(lambda: recorder.payloads("pms/alarm/PMS"), 5, "the alarm on MQTT")
            sent = recorder.payloads("pms/alarm/PMS")
            assert [(m["alarm"], m["active"]) for m in sent] == [("two_controllers", True)]
            assert sent[0]["message"] == alarm.message
    finally:
        recorder.close()
    said = [r for r in caplog.records if r.name == "pms_core.mqtt.gateway" and "keeps taking" in r.getMessage()]
    assert len(said) == 1


def test_a_folder_that_cannot_be_locked_leaves_the_pms_running_unguarded_with_a_warning(tmp_path):
    (tmp_path / "not a folder").write_text("", encoding="utf-8")
    config = write_config(tmp_path, history={"path": str(tmp_path / "not a folder" / "history.db")})
    lock, unguarded = data_folder.lock_data_folder(load_config(config))
    assert not lock.held and unguarded is not None
    assert unguarded.startswith(f"cannot lock {tmp_path / 'not a folder' / LOCK_FILE} (")
    lock.release()  # harmless when not held
