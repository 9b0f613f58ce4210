"""The run-folder lock: one process at a time trains or resumes a run folder.

The lock is an advisory lock on ``run.lock`` in the folder, taken by the operating system for the open
file (``fcntl.flock``; ``msvcrt.locking`` on Windows). The system drops it when the holder exits in
any way, ``kill -9`` included, so a lock left by a dead process is simply free: the next process takes
it over, with no stale-PID guessing. The file itself holds the holder's PID and host, for the message
a second process gets. The file stays (it is the project's own and tiny): deleting a lock file while
another process waits on it would let two processes hold "the" lock at once.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import IO

from viewadapt.errors import ViewAdaptError

LOCK_FILE = "run.lock"

try:
    import fcntl

    def _try_lock(f: IO) -> bool:
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except OSError:
            return False
except ImportError:  # Windows
    import msvcrt

    def _try_lock(f: IO) -> bool:
        try:
            f.seek(0)
            msvcrt.locking(f.fileno(), msvcrt.LK_NBLCK, 1)
            return True
        except OSError:
            return False


class RunFolderBusy(ViewAdaptError):
    """Another live process trains or resumes this run folder."""


# Locks this process holds, by folder, with how many holders in this process share each: a process
# may open one folder twice (a test resuming the trainer it just ran); other processes are refused.
_HELD: dict[Path, list] = {}


class RunLock:
    """Held from :meth:`acquire` until :meth:`release` (or the process's end)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._held = False

    @classmethod
    def acquire(cls, folder: str | Path) -> "RunLock":
        """Take the folder's lock, or raise :class:`RunFolderBusy` naming the live holder."""
        folder = Path(folder).resolve()
        lock = cls(folder)
        if folder in _HELD:
            _HELD[folder][1] += 1
        else:
            try:
                f = open(folder / LOCK_FILE, "a+")
            except OSError as exc:  # a read-only copy of a run (a mounted archive, another user's folder)
                raise ViewAdaptError(f"cannot lock {folder} ({exc.strerror or exc}): this command writes into the "
                                     "run folder; copy it somewhere writable and give the copy") from None
            if not _try_lock(f):
                f.seek(0)
                holder = f.read().strip() or "another process"
                f.close()
                raise RunFolderBusy(f"{folder} is in use by {holder}: wait for it to finish, stop it, or use "
                                    "another folder")
            f.seek(0)
            f.truncate()
            f.write(f"PID {os.getpid()} on {socket.gethostname()}\n")
            f.flush()
            _HELD[folder] = [f, 1]
        lock._held = True
        return lock

    def release(self) -> None:
        if not self._held:
            return
        self._held = False
        entry = _HELD[self.folder]
        entry[1] -= 1
        if entry[1] == 0:
            f = _HELD.pop(self.folder)[0]
            f.seek(0)
            f.truncate()
            f.close()  # closing the file drops the system's lock

    def __enter__(self) -> "RunLock":
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
