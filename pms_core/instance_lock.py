"""One PMS per data folder: a lock on a file in the folder that holds the PMS's writable state.

Two copies on one data folder (the exe double-clicked twice, or the console beside `main.py`) would poll and
command the same devices, write one history and share one MQTT client id, which the broker hands back and forth.
The lock is an OS lock on `pms.lock`, so the OS releases it when the process dies: a crash leaves no stale lock.

The file: byte 0 is the byte that is locked; the holder's pid follows it as ASCII digits and a newline. Windows
cannot read a byte range that another process has locked, so the pid is kept outside the locked byte where the
second copy can read it to say who holds the folder. The file is never deleted (deleting a lock file lets two
processes lock two different files of one name); a clean release empties the pid.
"""

from __future__ import annotations

import errno
import os
import sys
from pathlib import Path
from types import TracebackType

LOCK_FILE = "pms.lock"
_PID_AT = 1  # the pid starts after the locked byte 0
_PID_MAX = 32  # bytes read for the pid: digits and a newline, with room to spare

if sys.platform == "win32":
    import msvcrt

    def _try_lock(fd: int) -> bool:
        """Lock byte 0 without waiting; False if another process holds it."""
        os.lseek(fd, 0, os.SEEK_SET)  # msvcrt.locking locks from the current position
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError as exc:
            if exc.errno in (errno.EACCES, errno.EDEADLK):  # what the CRT says for a byte locked elsewhere
                return False
            raise
        return True

    def _unlock(fd: int) -> None:
        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)

else:
    import fcntl

    def _try_lock(fd: int) -> bool:
        """Lock the file without waiting; False if another process holds it."""
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:  # EWOULDBLOCK / EAGAIN: held by another open file, in this process or another
            return False
        return True

    def _unlock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)


class AlreadyRunning(Exception):
    """Another PMS holds the lock of this data folder."""

    def __init__(self, folder: Path, pid: int | None) -> None:
        self.folder = folder
        self.pid = pid
        super().__init__(f"PMS is already running ({self.who}) with the data folder {folder}")

    @property
    def who(self) -> str:
        """`pid N`, or `pid unknown` when the holder had not written it yet (it had just started)."""
        return f"pid {self.pid}" if self.pid is not None else "pid unknown"


class InstanceLock:
    """The lock of one data folder: `acquire()` (AlreadyRunning if another PMS holds it), `release()`; or `with`.

    Other failures (a read-only folder, a file system without locks) raise OSError: the caller decides."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.path = folder / LOCK_FILE
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> None:
        if self._fd is not None:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        # O_BINARY: Windows would otherwise translate the newline. The descriptor is not inherited by children
        # (PEP 446), so a program started from the PMS does not keep the folder locked after the PMS ends.
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | getattr(os, "O_BINARY", 0), 0o644)
        try:
            if not _try_lock(fd):
                raise AlreadyRunning(self.folder, _read_pid(fd))
            _write_pid(fd, os.getpid())
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd

    def release(self) -> None:
        """Give the folder up (idempotent). The OS does the same if the process dies."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            # Empty the pid while still holding the lock: after unlocking, the next holder's pid may be there.
            os.ftruncate(fd, _PID_AT)
            _unlock(fd)
        except OSError:
            pass  # closing the file releases the lock anyway
        finally:
            os.close(fd)

    def __enter__(self) -> InstanceLock:
        self.acquire()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.release()


def _write_pid(fd: int, pid: int) -> None:
    data = f"{pid}\n".encode("ascii")
    os.lseek(fd, 0, os.SEEK_SET)
    # The holder may write the byte it locked (the lock keeps out the others); a space there, rather than the
    # NUL a new file would have, keeps the file readable as text.
    os.write(fd, b" " + data)
    os.ftruncate(fd, _PID_AT + len(data))  # a longer pid of an earlier holder must not leave digits behind


def _read_pid(fd: int) -> int | None:
    """The holder's pid, or None if it is not there (yet) or not a number."""
    try:
        os.lseek(fd, _PID_AT, os.SEEK_SET)
        text = os.read(fd, _PID_MAX).decode("ascii", errors="replace").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None
