"""The console on the real X11 platform (xcb) under Xvfb, as on a Linux desktop, and its first-run size.

`make run` once aborted on a fresh Debian desktop with "Could not load the Qt platform plugin xcb": Qt's xcb
plugin needs X libraries that Debian does not install by default. scripts/bootstrap.sh (gui extra) installs what
ldd finds missing, and Xvfb for this test (test extra). The test starts the console on a 1366x768 screen at 96 dpi
(a farm PC) and on a 1920x1080 one at 120 dpi (125 %, high-DPI scaling): it must open a window that fits the screen.
"""

from __future__ import annotations

import os
import select
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from PyQt5.QtCore import QRect
from PyQt5.QtGui import QImage

from pms_gui.main_window import DEFAULT_SIZE, first_run_geometry
from tests.helpers.configs import write_config
from tests.helpers.paths import ROOT


@contextmanager
def xvfb(size: str, dpi: int) -> Iterator[str]:
    """An X server on a free display (Xvfb picks it and writes it to -displayfd when it is ready)."""
    if shutil.which("Xvfb") is None:
        can_install = hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("apt-get")
        if can_install:
            pytest.fail("Xvfb is missing: scripts/bootstrap.sh gui,test installs it (as make test does)")
        pytest.skip("Xvfb is not installed and cannot be installed here (not root, or no apt-get)")
    read, write = os.pipe()
    server = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write), "-screen", "0", f"{size}x24", "-dpi", str(dpi), "-nolisten", "tcp"],
        pass_fds=(write,), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    os.close(write)
    try:
        ready, _, _ = select.select([read], [], [], 10)
        number = os.read(read, 32).decode().strip() if ready else ""
        if not number:
            server.kill()
            pytest.fail(f"Xvfb did not start: {server.communicate(timeout=5)[1].decode(errors='replace')[-2000:]}")
        yield f":{number}"
    finally:
        os.close(read)
        if server.poll() is None:
            server.terminate()
            server.communicate(timeout=10)  # and closes its pipe


def distinct_colours(image: QImage, step: int = 7) -> int:
    return len({image.pixel(x, y) for x in range(0, image.width(), step) for y in range(0, image.height(), step)})


@pytest.mark.parametrize(("size", "dpi"), [("1366x768", 96), ("1920x1080", 120)])
@pytest.mark.gui
@pytest.mark.tcp
@pytest.mark.slow
def test_the_console_opens_on_the_real_xcb_platform_and_fits_the_screen(tmp_path, size, dpi):
    config = write_config(tmp_path, poll_interval=0.5)
    out = tmp_path / "xcb.png"
    with xvfb(size, dpi) as display:
        env = {"PMS_DATA_DIR": str(tmp_path / "data"), "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
               "HOME": str(tmp_path), "DISPLAY": display, "QT_QPA_PLATFORM": "xcb"}  # fmt: skip
        args = ["main_gui_integrated.py", "--config", str(config), "--demo", "--screenshot", str(out), "--exit-after", "3"]
        proc = subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
                              check=False)  # fmt: skip
    assert "Could not load the Qt platform plugin" not in proc.stderr, proc.stderr[-3000:]
    assert proc.returncode == 0, proc.stderr[-3000:]
    image = QImage(str(out))
    assert not image.isNull()
    screen_w, screen_h = map(int, size.split("x"))
    # the first start fits the screen (95 % of it: the window's frame needs the rest), in device pixels
    assert 0.8 * screen_w <= image.width() <= screen_w and 0.8 * screen_h <= image.height() <= screen_h
    assert distinct_colours(image) > 30, "a blank window"


def test_the_first_run_window_fits_the_available_screen_area():
    farm_pc = QRect(0, 0, 1366, 728)  # 1366x768 less a 40 px taskbar
    rect, maximize = first_run_geometry(farm_pc)
    assert farm_pc.contains(rect) and maximize
    assert (rect.width(), rect.height()) == (1297, 691)
    assert rect.center() == farm_pc.center()
    hd = QRect(0, 0, 1920, 1040)  # the default size leaves no room for the window frame: 95 %, maximized
    rect, maximize = first_run_geometry(hd)
    assert (rect.width(), rect.height(), maximize) == (1824, 988, True)
    large = QRect(1920, 0, 2560, 1400)  # a second screen, right of the first
    rect, maximize = first_run_geometry(large)
    assert (rect.width(), rect.height()) == DEFAULT_SIZE and not maximize and large.contains(rect)
