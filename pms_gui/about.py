"""Help > About: the version and build variant, where the PMS keeps its files, and the bundled libraries' licences.

Versions are read at run time (the installed distributions' metadata, else the module's own version attribute,
which is what a PyInstaller bundle without the metadata still has), so the box never states a version that is
not the one running. The text is selectable: an operator copies it into a support request.
"""

from __future__ import annotations

import html
import importlib
import platform
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from PyQt5.QtCore import qVersion
from PyQt5.QtWidgets import QDialog, QDialogButtonBox, QTextBrowser, QVBoxLayout, QWidget

from pms_core.build_info import build_info
from pms_core.config import LoadedConfig
from pms_core.logs import log_folder
from pms_core.paths import bundle_dir, data_dir
from pms_gui.i18n import tr

UNKNOWN = "—"
FONTS_DIR = Path("resources") / "fonts"  # where a build would bundle fonts (none today: the system's are used)


@dataclass(frozen=True)
class Library:
    name: str
    distribution: str | None  # the name importlib.metadata knows
    attribute: str | None  # "module:attribute" holding the version, when the metadata is not there
    licence: str


# pyproject.toml's dependencies (and the console's extra), with what they pull in, as a build bundles them.
LIBRARIES: tuple[Library, ...] = (
    Library("PyQt5", "PyQt5", "PyQt5.QtCore:PYQT_VERSION_STR", "GPL v3 (Riverbank Computing)"),
    Library("PyQt5-sip", "PyQt5_sip", None, "BSD-2-Clause (Riverbank Computing)"),
    Library("pymodbus", "pymodbus", "pymodbus:__version__", "BSD-3-Clause"),
    Library("paho-mqtt", "paho-mqtt", "paho.mqtt:__version__", "EPL-2.0 / EDL-1.0 (Eclipse Foundation)"),
    Library("qasync", "qasync", "qasync:__version__", "BSD-2-Clause"),
    Library("pyqtgraph", "pyqtgraph", "pyqtgraph:__version__", "MIT"),
    Library("PyYAML", "PyYAML", "yaml:__version__", "MIT"),
    Library("pydantic", "pydantic", "pydantic:VERSION", "MIT"),
    Library("pydantic-core", "pydantic_core", "pydantic_core:__version__", "MIT"),
    Library("annotated-types", "annotated-types", None, "MIT"),
    Library("typing-extensions", "typing_extensions", None, "PSF-2.0"),
    Library("typing-inspection", "typing-inspection", None, "MIT"),
    Library("numpy", "numpy", "numpy:__version__", "BSD-3-Clause"),
)


def library_version(lib: Library) -> str:
    if lib.distribution:
        try:
            return metadata.version(lib.distribution)
        except metadata.PackageNotFoundError:
            pass
    if lib.attribute:
        module, _, attribute = lib.attribute.partition(":")
        try:
            return str(getattr(importlib.import_module(module), attribute))
        except (ImportError, AttributeError):
            pass
    return UNKNOWN


def library_rows() -> list[tuple[str, str, str]]:
    """(name, version, licence) of Python, Qt and every bundled library; Noto CJK only when a build bundles it."""
    rows = [
        ("Python", platform.python_version(), "PSF License 2.0 (Python Software Foundation)"),
        ("Qt", qVersion() or UNKNOWN, "LGPL v3 (The Qt Company)"),
    ]
    rows += [(lib.name, library_version(lib), lib.licence) for lib in LIBRARIES]
    fonts = bundle_dir() / FONTS_DIR
    if fonts.is_dir() and any("noto" in f.name.lower() for f in fonts.iterdir()):
        rows.append(("Noto Sans CJK", UNKNOWN, "SIL Open Font License 1.1"))
    return rows


def about_rows(loaded: LoadedConfig) -> list[tuple[str, str]]:
    info = build_info()
    return [
        (tr("about.version"), info.shown_version),
        (tr("about.variant"), f"{tr(f'variant.{info.variant}')} ({info.variant})"),
        (tr("about.config"), str(loaded.path.resolve())),
        (tr("about.data"), str(data_dir().resolve())),
        (tr("about.logs"), str(log_folder(loaded.config.logging.file).resolve())),
    ]


def about_html(loaded: LoadedConfig) -> str:
    e = html.escape
    cell = "style='padding: 1px 12px 1px 0'"
    head = "".join(f"<tr><td {cell}><b>{e(k)}</b></td><td>{e(v)}</td></tr>" for k, v in about_rows(loaded))
    libs = "".join(
        f"<tr><td {cell}>{e(name)}</td><td {cell}>{e(version)}</td><td>{e(licence)}</td></tr>"
        for name, version, licence in library_rows()
    )
    return (
        f"<h2>{e(tr('app.title'))}</h2><table>{head}</table>"
        f"<h3>{e(tr('about.libraries'))}</h3>"
        f"<table><tr><th align='left' {cell}>{e(tr('about.library'))}</th><th align='left' {cell}>"
        f"{e(tr('about.version'))}</th><th align='left'>{e(tr('about.licence'))}</th></tr>{libs}</table>"
    )


class AboutDialog(QDialog):
    """Shown non-modal (never exec'd): the console goes on updating and stays usable beside it."""

    def __init__(self, loaded: LoadedConfig, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("aboutDialog")
        self.setWindowTitle(tr("about.title"))
        layout = QVBoxLayout(self)
        self.text = QTextBrowser(self)
        self.text.setObjectName("aboutText")
        self.text.setOpenLinks(False)
        self.text.setHtml(about_html(loaded))
        layout.addWidget(self.text)
        buttons = QDialogButtonBox(QDialogButtonBox.Close, self)
        buttons.button(QDialogButtonBox.Close).setText(tr("about.close"))
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.resize(720, 700)

    def plain_text(self) -> str:
        return self.text.toPlainText()
