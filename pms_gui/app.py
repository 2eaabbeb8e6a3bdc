"""Start-up pieces of the console: high-DPI scaling, the QApplication's font, the settings file, the one excepthook."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import traceback
from collections.abc import Callable
from types import TracebackType
from typing import Any

from PyQt5.QtCore import QSettings, Qt
from PyQt5.QtGui import QFont, QFontDatabase, QGuiApplication
from PyQt5.QtWidgets import QApplication

from pms_core.paths import data_dir

log = logging.getLogger("pms.console")

# Korean-capable families, best first: Debian's fonts-noto-cjk, then what Windows and macOS ship.
CJK_FAMILIES = (
    "Noto Sans CJK KR",
    "Noto Sans KR",
    "Malgun Gothic",
    "맑은 고딕",
    "Apple SD Gothic Neo",
    "NanumGothic",
    "Noto Sans CJK JP",
    "Noto Sans CJK SC",
    "WenQuanYi Zen Hei",
)


def enable_high_dpi() -> bool:
    """Scale the console by the screen's DPI (a Windows PC at 125 % or 150 %) with sharp icons; before the
    QApplication exists (Qt reads these once). Fractional factors are used as they are (Qt >= 5.14): rounding 1.25
    down to 1 would leave the console tiny, up to 2 would not fit the screen. Returns whether it is on: not offscreen
    (screenshots, the selftest), whose nominal 100 dpi would scale everything by 1.04, nor once the QApplication is."""
    if QApplication.instance() is not None:
        log.warning("high-DPI scaling must be set before the QApplication is created")
        return False
    if os.environ.get("QT_QPA_PLATFORM", "").startswith("offscreen"):
        return False
    QApplication.setAttribute(Qt.AA_EnableHighDpiScaling, True)
    QApplication.setAttribute(Qt.AA_UseHighDpiPixmaps, True)
    if hasattr(QGuiApplication, "setHighDpiScaleFactorRoundingPolicy"):
        QGuiApplication.setHighDpiScaleFactorRoundingPolicy(Qt.HighDpiScaleFactorRoundingPolicy.PassThrough)
    return True


def pick_font(app: QApplication, point_size: float = 10.0) -> str | None:
    """Use a family that renders Korean; returns it, or None (with a warning) if the platform has none."""
    families = set(QFontDatabase().families())
    family = next((f for f in CJK_FAMILIES if f in families), None)
    if family is None:
        log.warning("no Korean-capable font found (install fonts-noto-cjk): Korean text may not render")
        return None
    font = QFont(family)
    font.setPointSizeF(point_size)
    app.setFont(font)
    return family


def console_settings() -> QSettings:
    """The console's own settings (layout, language) in the data folder, beside the logs."""
    folder = data_dir()
    folder.mkdir(parents=True, exist_ok=True)
    return QSettings(str(folder / "console.ini"), QSettings.IniFormat)


class ErrorReporter:
    """The one excepthook: every uncaught error is logged and shown to the operator; the console keeps running."""

    def __init__(self) -> None:
        self.show: Callable[[str], None] | None = None
        self.count = 0
        self._previous = sys.excepthook

    def install(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        sys.excepthook = self.excepthook
        if loop is not None:
            loop.set_exception_handler(self.loop_exception)

    def uninstall(self) -> None:
        sys.excepthook = self._previous

    def excepthook(self, kind: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        self.count += 1
        text = "".join(traceback.format_exception(kind, exc, tb))
        log.error("unexpected error: %s", text)
        if self.show is not None:
            try:
                self.show(text)
            except Exception:
                log.exception("cannot show the error to the operator")

    def loop_exception(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        exc = context.get("exception")
        if isinstance(exc, BaseException):
            self.excepthook(type(exc), exc, exc.__traceback__)
        else:
            self.count += 1
            log.error("event loop: %s", context.get("message"))
            if self.show is not None:
                self.show(str(context.get("message")))
