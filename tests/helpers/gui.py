"""The operator console on a simulated site, offscreen (the tests drive it with conftest's `run_qt`)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from pms_core.clock import Clock
from pms_core.config import load_config
from pms_gui.app import console_settings
from pms_gui.main_window import MainWindow
from tests.helpers.configs import write_config
from tests.helpers.site import SimulatedSite


def gui_site(tmp_path: Path, clock: Clock | None = None, **sections) -> SimulatedSite:
    """A site for the console, on a real-time clock unless given one (`sections`: more of its config)."""
    return SimulatedSite(load_config(write_config(tmp_path, **sections)), clock or Clock())


@asynccontextmanager
async def console(site: SimulatedSite) -> AsyncIterator[MainWindow]:
    """The console on a started site once every device is online; closed however the test ends."""
    await site.all_online()
    window = MainWindow(site.runtime, console_settings())
    window.show()
    try:
        yield window
    finally:
        await close_window(window)


async def close_window(window: MainWindow) -> None:
    await window.shutdown()
    window.hide()
    window.deleteLater()
