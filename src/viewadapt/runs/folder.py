"""The run folder: resolved config, environment, split, log, metrics, checkpoints and final weights."""

from __future__ import annotations

import json
import logging
import platform
import subprocess
import sys
import time
from contextlib import suppress
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from viewadapt import __version__
from viewadapt.files import WriteError, write_text
from viewadapt.runs.lock import LOCK_FILE

if TYPE_CHECKING:
    from viewadapt.data import Split

LOGGER_NAME = "viewadapt"
# A log record with this attribute set goes to train.log only (the console has its own line for it).
FILE_ONLY = "file_only"
# What a run folder holds, by name.
CONFIG_FILE = "config.yaml"
ENVIRONMENT_FILE = "environment.json"
SPLIT_FILE = "split.json"
METRICS_FILE = "metrics.json"
LOG_FILE = "train.log"
CHECKPOINT_FILE = Path("checkpoints") / "last.pt"
WEIGHTS_FILE = "model.safetensors"
# Where metrics.json keeps the zero-shot floor, beside the results of the stages.
ZERO_SHOT = "zero_shot"


def new_run_dir(output_dir: str | Path, name: str = "") -> Path:
    """``<output_dir>/<name or timestamp>``; an existing folder gets a numbered suffix, never overwritten."""
    base = Path(output_dir) / (name or time.strftime("%Y%m%d-%H%M%S"))
    path, n = base, 1
    while True:
        try:
            path.mkdir(parents=True)  # not exist_ok: of two processes making one name, the second moves on
            return path
        except FileExistsError:
            if not path.parent.is_dir():
                raise WriteError(f"cannot make run folder {path}: {path.parent} is a file; set output_dir to a "
                                 "folder") from None
            path, n = base.with_name(f"{base.name}-{n}"), n + 1
        except OSError as exc:
            raise WriteError(f"cannot make run folder {path}: {exc.strerror}; set output_dir to a writable "
                             "folder") from None


def new_run_folder(output_dir: str | Path, name: str, config_text: str, split: "Split", split_base: str,
                   world: int = 1) -> Path:
    """A new run folder under ``output_dir`` (named ``name`` or by the time) holding the resolved config
    (``config_text``), the environment and the split (paths relative to ``split_base``)."""
    run_dir = new_run_dir(output_dir, name)
    try:
        write_text(run_dir / CONFIG_FILE, config_text)
        write_json(run_dir / ENVIRONMENT_FILE, {**environment(), "world_size": world})
        split.to_json(run_dir / SPLIT_FILE, split_base)
    except BaseException:
        remove_new_run_folder(run_dir)  # a folder without its config could not be resumed
        raise
    return run_dir


# What a run folder holds before its first epoch: all a failed start may take back.
_BEFORE_TRAINING = (CONFIG_FILE, ENVIRONMENT_FILE, SPLIT_FILE, LOG_FILE, LOCK_FILE)


def remove_new_run_folder(run_dir: Path) -> None:
    """Take back a run folder that never trained, so a failed start leaves no half-made run: the files a
    new run folder holds before its first epoch, by name, then the folder if that left it empty (a file
    of anyone else's stays, and so does the folder)."""
    logger = logging.getLogger(LOGGER_NAME)
    for h in list(logger.handlers):
        if isinstance(h, logging.FileHandler) and Path(h.baseFilename).parent == run_dir.resolve():
            logger.removeHandler(h)
            h.close()
    for name in _BEFORE_TRAINING:
        (run_dir / name).unlink(missing_ok=True)
    with suppress(OSError):  # rmdir removes an empty folder only
        run_dir.rmdir()


def run_finished(run_dir: Path) -> bool:
    """Whether the run in ``run_dir`` trained to its end (weights written, metrics say so)."""
    try:
        return (run_dir / WEIGHTS_FILE).is_file() and json.loads((run_dir / METRICS_FILE).read_text())["finished"]
    except (OSError, ValueError, KeyError, TypeError):
        return False


def cpu_model() -> str:
    """The processor and the vector instructions torch's kernels use on it, which a VM's platform string
    (its kernel) does not say: one host repeats a run to the digit, another trained the same config and
    code to numbers up to 2.9 points of rank-1 apart at one seed (docs/history.md)."""
    name = platform.processor()
    with suppress(OSError):  # Linux names the processor there; a VM's generic name needs its model number
        first = Path("/proc/cpuinfo").read_text().split("\n\n", 1)[0]
        info = dict((k.strip(), v.strip()) for k, _, v in (line.partition(":") for line in first.splitlines()))
        if "model name" in info:
            name = f"{info['model name']}, family {info.get('cpu family', '?')} model {info.get('model', '?')}"
    return f"{name or 'unknown processor'} ({torch.backends.cpu.get_cpu_capability()})"


def _git(*args: str) -> str:
    """What git says of the checkout this package runs from; nothing where it is installed, not checked out."""
    try:
        return subprocess.run(["git", *args], capture_output=True, text=True, timeout=5,
                              cwd=Path(__file__).parent).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def environment() -> dict:
    commit = _git("rev-parse", "HEAD")
    # a run trained from uncommitted changes to the package is not its commit's code: records said so nowhere
    package = str(Path(__file__).parents[1])
    dirty = bool(commit) and bool(_git("status", "--porcelain", "--untracked-files=no", "--", package))
    import torchvision

    return {
        "viewadapt": __version__,
        "git_commit": commit,
        "git_dirty": dirty,
        "python": sys.version.split()[0],
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "numpy": np.__version__,
        "platform": platform.platform(),
        "cpu_threads": torch.get_num_threads(),
        "cpu": cpu_model(),
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "argv": sys.argv,
        "started": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }


def write_json(path: Path, data: dict) -> None:
    write_text(path, json.dumps(data, indent=1))


def setup_logging(run_dir: Path, verbose: bool = True) -> logging.Logger:
    """Log to ``run_dir/train.log`` and, when ``verbose``, to the console (all but ``FILE_ONLY`` records)."""
    logger = logging.getLogger(LOGGER_NAME)
    logger.setLevel(logging.INFO)
    for h in list(logger.handlers):
        logger.removeHandler(h)
        h.close()
    fh = logging.FileHandler(run_dir / LOG_FILE)
    fh.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
    logger.addHandler(fh)
    if verbose:
        ch = logging.StreamHandler(sys.stderr)
        ch.setFormatter(logging.Formatter("%(message)s"))
        ch.addFilter(lambda record: not getattr(record, FILE_ONLY, False))
        logger.addHandler(ch)
    logger.propagate = False
    return logger
