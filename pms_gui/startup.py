"""Start with Windows: a shortcut to the console in the user's Startup folder.

The shortcut is a real `.lnk`, made by Windows' own `WScript.Shell` COM object through a one-line PowerShell call
(PowerShell ships with every supported Windows; no new dependency). A `.lnk` rather than a `.cmd`: nothing flashes a
console window at logon, the shortcut carries the program's icon, it shows in Task Manager's start-up list as the
program, and Korean paths need no code-page care (cmd.exe reads a batch file in the OEM code page). The paths reach
PowerShell in environment variables, never spliced into the script, so no quoting or encoding can break them.
Removing the shortcut is a plain file deletion.

On other systems there is no Startup folder: `StartupShortcut.supported` is False and the console hides the item.
The folder and the process runner are injectable, so the logic runs under test on Linux.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pms_core.config import DEFAULT_CONFIG
from pms_core.paths import PROJECT_DIR, bundle_dir, frozen

SHORTCUT_NAME = "PMS.lnk"
TIMEOUT_S = 30.0
CREATE_NO_WINDOW = 0x08000000  # subprocess.CREATE_NO_WINDOW, which exists only on Windows

# $ErrorActionPreference = 'Stop': any failure ends PowerShell with a non-zero exit code and the reason on stderr.
SCRIPT = (
    "$ErrorActionPreference = 'Stop'; "
    "$s = (New-Object -ComObject WScript.Shell).CreateShortcut($env:PMS_LNK); "
    "$s.TargetPath = $env:PMS_LNK_TARGET; $s.Arguments = $env:PMS_LNK_ARGS; "
    "$s.WorkingDirectory = $env:PMS_LNK_DIR; $s.IconLocation = $env:PMS_LNK_ICON; "
    "$s.Description = 'PMS'; $s.Save()"
)

Runner = Callable[..., Any]  # subprocess.run's signature


class StartupError(Exception):
    """The shortcut could not be made or removed; the message says why."""


@dataclass(frozen=True)
class Launch:
    """How Windows starts the console at logon."""

    target: Path
    arguments: tuple[str, ...]
    working_dir: Path
    icon: Path

    @property
    def argument_line(self) -> str:
        return subprocess.list2cmdline(self.arguments)


def startup_folder(environ: dict[str, str] | os._Environ[str] | None = None, platform: str = sys.platform) -> Path | None:
    """`%APPDATA%\\Microsoft\\Windows\\Start Menu\\Programs\\Startup` on Windows; None elsewhere."""
    env = os.environ if environ is None else environ
    appdata = env.get("APPDATA")
    if platform != "win32" or not appdata:
        return None
    return Path(appdata) / "Microsoft" / "Windows" / "Start Menu" / "Programs" / "Startup"


def this_program(config: Path | None = None) -> Launch:
    """The running console: the exe when frozen, else pythonw (no console window) with main_gui_integrated.py.

    `config` goes on the command line unless it is the default one, so the console starts as it runs now.
    """
    args: tuple[str, ...] = ()
    if config is not None and config.resolve() != DEFAULT_CONFIG.resolve():
        args = ("--config", str(config.resolve()))
    if frozen():
        exe = Path(sys.executable).resolve()
        return Launch(exe, args, exe.parent, exe)
    python = Path(sys.executable)
    pythonw = python.with_name("pythonw.exe") if python.name.lower() == "python.exe" else python
    interpreter = pythonw if pythonw.is_file() else python
    return Launch(interpreter, (str(PROJECT_DIR / "main_gui_integrated.py"), *args), PROJECT_DIR,
                  bundle_dir() / "resources" / "pms.ico")  # fmt: skip


def powershell() -> str:
    root = os.environ.get("SYSTEMROOT", r"C:\Windows")  # case-insensitive on Windows
    path = Path(root) / "System32" / "WindowsPowerShell" / "v1.0" / "powershell.exe"
    return str(path) if path.is_file() else "powershell.exe"


class StartupShortcut:
    def __init__(self, folder: Path | None, launch: Launch, run: Runner = subprocess.run) -> None:
        self.folder = folder
        self.launch = launch
        self.run = run

    @classmethod
    def for_this_program(cls, config: Path | None = None) -> StartupShortcut:
        return cls(startup_folder(), this_program(config))

    @property
    def supported(self) -> bool:
        return self.folder is not None

    @property
    def path(self) -> Path:
        if self.folder is None:
            raise StartupError("no Startup folder on this system")
        return self.folder / SHORTCUT_NAME

    def enabled(self) -> bool:
        return self.folder is not None and self.path.is_file()

    def command(self) -> tuple[list[str], dict[str, str]]:
        """The PowerShell call that makes the shortcut, and the environment that carries the paths."""
        env = {
            **os.environ,
            "PMS_LNK": str(self.path),
            "PMS_LNK_TARGET": str(self.launch.target),
            "PMS_LNK_ARGS": self.launch.argument_line,
            "PMS_LNK_DIR": str(self.launch.working_dir),
            "PMS_LNK_ICON": f"{self.launch.icon},0",
        }
        return [powershell(), "-NoProfile", "-NonInteractive", "-ExecutionPolicy", "Bypass", "-Command", SCRIPT], env

    def enable(self) -> Path:
        """Make the shortcut (blocks for about a second: call it off the event loop). Returns its path."""
        path = self.path
        path.parent.mkdir(parents=True, exist_ok=True)
        args, env = self.command()
        try:
            done = self.run(args, env=env, capture_output=True, text=True, errors="replace", timeout=TIMEOUT_S, check=False,
                            creationflags=CREATE_NO_WINDOW if sys.platform == "win32" else 0)  # fmt: skip
        except (OSError, subprocess.SubprocessError) as exc:
            raise StartupError(f"cannot run PowerShell: {exc}") from exc
        if done.returncode != 0 or not path.is_file():
            reason = (done.stderr or done.stdout or "").strip() or f"exit code {done.returncode}"
            raise StartupError(f"cannot create {path}: {reason}")
        return path

    def disable(self) -> None:
        try:
            self.path.unlink(missing_ok=True)
        except OSError as exc:
            raise StartupError(f"cannot remove {self.path}: {exc}") from exc
