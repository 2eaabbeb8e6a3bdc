"""One PMS per data folder, as both programs (main.py, the console) take it at start, before anything polls.

The lock itself is pms_core/instance_lock.py; here is which folder it guards, what a second copy says and the
exit code it leaves with.
"""

from __future__ import annotations

from pms_core.config import LoadedConfig
from pms_core.instance_lock import AlreadyRunning, InstanceLock
from pms_core.runtime import state_file

ALREADY_RUNNING = 3  # the exit code of a second copy on a data folder that a running PMS holds


def lock_data_folder(loaded: LoadedConfig) -> tuple[InstanceLock, str | None]:
    """Take the lock of the folder that holds the PMS's writable state (the state file's: beside the history,
    else the data folder); AlreadyRunning if another PMS holds it.

    A folder where no lock can be taken for another reason (read-only, a file system without locks) does not stop
    the PMS, as a history that cannot be written does not: it runs unguarded, and the warning returned says so.
    """
    lock = InstanceLock(state_file(loaded.config.history.path, None).parent)
    try:
        lock.acquire()  # AlreadyRunning is not an OSError: it passes to the caller
    except OSError as exc:
        return lock, f"cannot lock {lock.path} ({exc}): a second PMS on this data folder would not be stopped"
    return lock, None


def already_running_line(exc: AlreadyRunning) -> str:
    """The one line a second copy writes to stderr before it exits with ALREADY_RUNNING."""
    return f"PMS is already running ({exc.who}); this copy exits. Data folder: {exc.folder}"
