"""Shared fixtures: configs on free loopback ports, the simulator and the PMS runtime over real TCP, a broker, Qt.

Only fixtures live here; what tests import is in tests/helpers/.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# The repository first on the path, so that the product and `tests.helpers` import however pytest is started.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import qasync

from pms_core.clock import Clock
from pms_core.config import LoadedConfig, load_config
from pms_gui import i18n
from tests.helpers.broker import Mosquitto
from tests.helpers.configs import write_config
from tests.helpers.site import SimulatedSite
from tests.helpers.waiting import no_tasks_left


@pytest.fixture(autouse=True)
def data_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Logs and state files of a test go to its own folder, never to the user's."""
    folder = tmp_path / "data"
    monkeypatch.setenv("PMS_DATA_DIR", str(folder))
    return folder


@pytest.fixture
def config_path(tmp_path: Path) -> Path:
    return write_config(tmp_path)


@pytest.fixture
def loaded(config_path: Path) -> LoadedConfig:
    return load_config(config_path)


@pytest.fixture
async def site(loaded: LoadedConfig):
    """A simulated site on the `loaded` config, in real time, every device online."""
    async with SimulatedSite(loaded, Clock()) as s:
        await s.all_online()
        yield s


@pytest.fixture
def broker(tmp_path: Path):
    """A real Mosquitto on a free loopback port, stopped after the test."""
    mosquitto = Mosquitto(tmp_path / "broker")
    mosquitto.start()
    yield mosquitto
    mosquitto.stop()


@pytest.fixture
def run_qt(qapp):
    """Run an async scenario on a qasync loop; fail if it leaves tasks running (like `no_leaked_tasks`)."""
    loop = qasync.QEventLoop(qapp)
    i18n.set_language("ko")
    quit_on_close = qapp.quitOnLastWindowClosed()
    qapp.setQuitOnLastWindowClosed(False)  # as in the product: the loop ends when the scenario does

    async def guarded(scenario: Callable[[], Awaitable[None]]) -> None:
        await scenario()
        await no_tasks_left()

    def run(scenario: Callable[[], Awaitable[None]]) -> None:
        loop.run_until_complete(guarded(scenario))

    yield run
    loop.close()
    qapp.setQuitOnLastWindowClosed(quit_on_close)
    i18n.set_language("ko")


@pytest.fixture(autouse=True)
async def no_leaked_tasks():
    """A test must not leave tasks running behind it (they would act on a plant nobody watches)."""
    yield
    await no_tasks_left()


@pytest.fixture(autouse=True)
def declared_markers(request: pytest.FixtureRequest) -> None:
    """A test that takes a simulated site, a broker or Qt carries the marker that says so (pyproject.toml), so that
    `pytest -m "not tcp and not broker and not gui and not slow"` leaves it out."""
    needs = {"site": "tcp", "broker": "broker", "secure_broker": "broker", "run_qt": "gui", "qtbot": "gui", "qapp": "gui"}
    missing: dict[str, str] = {}
    for fixture, marker in needs.items():
        if fixture in request.fixturenames and not request.node.get_closest_marker(marker):
            missing.setdefault(marker, fixture)
    if missing:
        what = ", ".join(f"`{m}` (it takes `{f}`)" for m, f in sorted(missing.items()))
        pytest.fail(f"mark this test or its module {what}: pytestmark = ... or @pytest.mark.<name>")
