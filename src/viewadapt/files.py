"""Writing files so that a crash, a full disk or a second process never leaves a half-written one.

The files that hold a user's work (a run's config, split, checkpoints, weights and metrics, features
files, ONNX exports, reports and tables) go through :func:`atomic_path`: the content goes to a temporary
name that only this process uses, gets the permissions of any ordinary new file (the umask's), and is then
renamed over the real name in one step. On any failure the temporary file, which this process itself
created, is removed and the previous file, if any, is left as it was.
"""

from __future__ import annotations

import os
import re
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

from viewadapt.errors import ViewAdaptError


class WriteError(ViewAdaptError):
    """A file could not be written: no such folder, no permission, no space left."""


def _umask_mode() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def temporary_name(path: Path) -> Path:
    """A sibling name no other process writes: two processes saving the same file never share one."""
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


def write_failure(path: Path, exc: BaseException) -> WriteError:
    """One line naming the file, the system's reason and what to do."""
    # torch and safetensors wrap the system's answer in text of their own; only an OSError has it plainly
    found = re.search(r"([A-Z][\w ]+) \(os error \d+\)", str(exc))
    reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else found[1] if found else "the write failed"
    return WriteError(f"cannot write {path}: {reason}; free some space or make the folder writable")


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path to write ``path``'s new content to; on leaving normally it replaces
    ``path`` (with ordinary permissions), on any exception it is removed and ``path`` is untouched."""
    path = Path(path)
    tmp = temporary_name(path)
    try:
        yield tmp
        os.chmod(tmp, _umask_mode())  # some writers (safetensors) create files readable by the owner only
        os.replace(tmp, path)
    except OSError as exc:
        raise write_failure(path, exc) from None
    finally:
        tmp.unlink(missing_ok=True)  # this process's own temporary file; gone already after a replace


def atomic_write(path: str | Path, write: Callable[[Path], object]) -> Path:
    """``write(tmp)`` then rename ``tmp`` to ``path`` (see :func:`atomic_path`). Writers that report
    I/O failures as their own exception types (torch, safetensors) are told apart from programming
    errors by the words of their message."""
    path = Path(path)
    with atomic_path(path) as tmp:
        try:
            write(tmp)
        except Exception as exc:
            if isinstance(exc, OSError) or _io_failure(exc):
                raise write_failure(path, exc) from None
            raise
    return path


def _io_failure(exc: BaseException) -> bool:
    text = str(exc).lower()
    return any(word in text for word in ("i/o error", "no space", "file write failed", "unexpected pos",
                                         "permission denied", "no such file", "disk quota", "too large"))


def make_folder(path: str | Path, parents: bool = False) -> Path:
    """``path`` as a folder (one already there is fine); a failure is one line naming the folder."""
    path = Path(path)
    try:
        path.mkdir(parents=parents, exist_ok=True)
    except OSError as exc:
        raise WriteError(f"cannot make folder {path}: {exc.strerror or exc}; choose a writable place") from None
    return path


def write_text(path: str | Path, text: str) -> Path:
    return atomic_write(path, lambda tmp: tmp.write_text(text))
