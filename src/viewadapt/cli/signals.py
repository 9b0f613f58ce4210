"""SIGTERM (what batch schedulers and ``docker stop`` send) handled as Ctrl-C is."""

from __future__ import annotations

import signal
import threading
from contextlib import contextmanager
from typing import Iterator


class Stop:
    """Which signal asked the command to stop (None while none has), and the exit code that says so."""

    def __init__(self) -> None:
        self.signal: int | None = None

    @property
    def exit_code(self) -> int:
        return 128 + (self.signal or signal.SIGINT)  # the shell's code for a command a signal ended


@contextmanager
def stop_on_signals() -> Iterator[Stop]:
    """While inside, SIGTERM and SIGINT raise KeyboardInterrupt in the main thread, so the work in hand
    is abandoned between two Python steps and every ``finally`` runs (temporary files go, the run
    folder's lock is let go); the yielded :class:`Stop` says which signal came."""
    stop = Stop()
    if threading.current_thread() is not threading.main_thread():  # signals reach the main thread only
        yield stop
        return

    def handler(signum: int, frame: object) -> None:
        stop.signal = stop.signal or signum
        raise KeyboardInterrupt

    previous = {s: signal.signal(s, handler) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield stop
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
