"""Early stopping on a validation value, remembering the best model state."""

from __future__ import annotations

import copy
import math


class EarlyStopping:
    """Stop after ``patience`` epochs without improvement; ``mode`` is "min" (a loss) or "max" (rank-1)."""

    def __init__(self, patience: int, mode: str) -> None:
        self.patience, self.mode = patience, mode
        self.best = math.inf if mode == "min" else -math.inf
        self.best_epoch = -1
        self.bad_epochs = 0
        self.best_state: dict | None = None

    def step(self, value: float, epoch: int, state: dict) -> bool:
        """Record an epoch's value; keep a copy of ``state`` if it is the best. Returns True to stop."""
        better = value < self.best if self.mode == "min" else value > self.best
        if better:
            self.best, self.best_epoch, self.bad_epochs = value, epoch, 0
            self.best_state = copy.deepcopy(state)
        else:
            self.bad_epochs += 1
        return self.bad_epochs >= self.patience

    def state_dict(self) -> dict:
        return {"best": self.best, "best_epoch": self.best_epoch, "bad_epochs": self.bad_epochs,
                "best_state": self.best_state}

    def load_state_dict(self, state: dict) -> None:
        self.best, self.best_epoch = state["best"], state["best_epoch"]
        self.bad_epochs, self.best_state = state["bad_epochs"], state["best_state"]
