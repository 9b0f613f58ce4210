"""What a run will cost, said before it has cost much: the first batches of a new run are timed and the
whole run's training time extrapolated from them (:class:`TimedBatches`, :func:`run_estimate`)."""

from __future__ import annotations

import time
from typing import Callable, Iterable, Iterator

WARM_UP = 1  # batches left out of the timing: the first one pays for caches, allocators and threads
TIMED = 4  # batches timed after it


class TimedBatches:
    """The batches of a loader, as they are, timing the first ones: after ``WARM_UP + TIMED`` batches it
    calls ``report(seconds per image)`` once. It draws nothing and changes nothing the training sees."""

    def __init__(self, batches: Iterable, report: Callable[[float], None]) -> None:
        self.batches, self.report = batches, report

    def __len__(self) -> int:
        return len(self.batches)  # type: ignore[arg-type]

    def __iter__(self) -> Iterator:
        start, images = 0.0, 0
        for i, batch in enumerate(self.batches):
            if i == WARM_UP:
                start = time.perf_counter()
            elif i == WARM_UP + TIMED:
                self.report((time.perf_counter() - start) / max(images, 1))
            if i >= WARM_UP:
                images += len(batch[0])
            yield batch


def run_estimate(seconds_per_image: float, images_per_stage: dict[str, int], size: tuple[int, int]) -> str:
    """One line: the run's training time at the measured pace (every stage's epochs, early stopping aside),
    and on a CPU at more than 96 x 48 how much a laptop's budget (-c cpu) would save."""
    total = seconds_per_image * sum(images_per_stage.values())
    parts = ", ".join(f"{name} {seconds_per_image * n / 60:.1f}" for name, n in images_per_stage.items())
    line = (f"expected training time: about {total / 60:.0f} min ({parts} min; {1 / seconds_per_image:.0f} "
            "images/s over the first batches; early stopping may end stages sooner)")
    height, width = size
    if height * width >= 2 * 96 * 48:  # one thread here: 256 x 128 trained 8.8x fewer images/s than 96 x 48
        line += (f"; at {height} x {width}: -c cpu trains the same method at 96 x 48, about "
                 f"{height * width / (96 * 48):.0f}x faster on a CPU")
    return line
