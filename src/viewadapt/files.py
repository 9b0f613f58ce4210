"""Writing files so that a crash, a full disk or a second process never leaves a half-written one.

The files that hold a user's work (a run's config, split, checkpoints, weights and metrics, features
files, ONNX exports, reports and tables) go through :func:`atomic_path`: the content goes to a temporary
name that only this process uses, gets the permissions of any ordinary new file (the umask's), and is then
renamed over the real name in one step. On any failure the temporary file, which this process itself
created, is removed and the previous file, if any, is left as it was.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping

from viewadapt.errors import ViewAdaptError


class WriteError(ViewAdaptError):
    """A file could not be written: no such folder, no permission, no space left."""


def _umask_mode() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


# A file name's longest length on the usual file systems (ext4, APFS, NTFS: 255 bytes).
NAME_MAX = 255


def temporary_name(path: Path, pid: int | None = None) -> Path:
    """A sibling name no other process writes: two processes saving the same file never share one. A name
    too long to take the prefix and suffix is shortened to a digest of itself."""
    pid = os.getpid() if pid is None else pid
    name = path.name
    if len(f".{name}.{pid}.tmp".encode()) > NAME_MAX:
        name = hashlib.sha1(name.encode()).hexdigest()[:20]
    return path.with_name(f".{name}.{pid}.tmp")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):  # another user's process, or a system that cannot tell: keep its files
        return True
    return True


def remove_stale_temporaries(path: Path) -> None:
    """Remove the temporary files an earlier process left for ``path`` when it was killed before it could
    (``kill -9``, a power cut): names :func:`temporary_name` gives ``path`` with a PID no process has now.
    Nothing else is touched."""
    digest = hashlib.sha1(path.name.encode()).hexdigest()[:20]
    try:
        siblings = list(path.parent.glob(".*.tmp"))
    except OSError:
        return
    for tmp in siblings:
        match = re.fullmatch(r"\.(.+)\.(\d+)\.tmp", tmp.name)
        if match and match[1] in (path.name, digest) and int(match[2]) != os.getpid() and not _alive(int(match[2])):
            try:
                tmp.unlink()
            except OSError:
                pass


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
    remove_stale_temporaries(path)
    try:
        yield tmp
        os.chmod(tmp, _umask_mode())  # some writers (safetensors) create files readable by the owner only
        os.replace(tmp, path)
    except OSError as exc:
        raise write_failure(path, exc) from None
    finally:
        try:
            tmp.unlink(missing_ok=True)  # this process's own temporary file; gone already after a replace
        except OSError:  # a read-only folder never let it be made: the error that matters is the one above
            pass


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


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def check_outputs(outputs: Mapping[str, str | Path | None], reads: Iterable[str | Path] = (),
                  runs: Iterable[str | Path] = ()) -> None:
    """The one rule for what a command writes, checked before it does any work: an output is never one of
    the files the command reads, never inside a folder it reads (where it would join its inputs: a rank
    list drawn into the gallery folder is a gallery image the next time), and never inside a run folder
    (``runs``: its files are `viewadapt train`'s; only the run commands write there). ``outputs`` maps an
    option (``--out``) to its path; None is no output."""
    runs = [Path(r).resolve() for r in runs]
    sources = [Path(r).resolve() for r in reads]
    for option, out in outputs.items():
        if out is None:
            continue
        target = Path(out).resolve()
        for run in runs:
            if _inside(target, run):
                raise ViewAdaptError(f"{option} {out} is inside the run folder {run}, whose files are viewadapt "
                                     "train's: write it elsewhere")
        for source in sources:
            if target == source or (source.is_dir() and _inside(target, source)):
                what = "is" if target == source else "is inside"
                raise ViewAdaptError(f"{option} {out} {what} {source}, which this command reads: write it "
                                     "elsewhere")


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


def read_json(path: str | Path, fix: str = "restore it or write it again") -> Any:
    """A JSON file viewadapt wrote, or one line naming it and ``fix`` when it is missing, truncated (a
    copy cut short, a disk that filled) or not JSON."""
    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
        raise ViewAdaptError(f"{path} cannot be read ({reason}): {fix}") from None

