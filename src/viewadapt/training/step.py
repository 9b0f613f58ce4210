"""One optimisation step, the same in every stage: autocast, backward, gradients averaged across
ranks, optimiser step; with fp16, loss scaling around it."""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext

import torch

from viewadapt.errors import ConfigError, ViewAdaptError
from viewadapt.training.distributed import Dist

AMP_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


class Diverged(ViewAdaptError):
    """The loss or the weights stopped being finite numbers: the learning rate is too high for the run."""


class Stepper:
    """``autocast()`` for forward passes, ``step(loss, optimizer)`` per optimiser, ``end_iteration()``
    once per batch; ``amp`` is ``none``, ``bf16`` or ``fp16`` (``train.amp``). Gradients are averaged
    before the fp16 overflow check, so every rank takes the same decision to step or skip."""

    def __init__(self, amp: str = "none", device: torch.device | str = "cpu", d: Dist | None = None) -> None:
        self.device, self.dist = torch.device(device), d or Dist()
        if amp == "fp16" and self.device.type != "cuda":
            raise ConfigError("train.amp=fp16 needs a CUDA device: use bf16 or none on a CPU")
        self.dtype = AMP_DTYPES.get(amp)  # "none" (the config checks the names): full precision
        self.scaler = torch.amp.GradScaler("cuda") if amp == "fp16" else None

    def autocast(self) -> AbstractContextManager:
        return torch.autocast(self.device.type, dtype=self.dtype) if self.dtype else nullcontext()

    def step(self, loss: torch.Tensor, optimizer: torch.optim.Optimizer) -> None:
        # fp16 loss scaling skips the steps whose gradients overflow by design; otherwise a loss that is no
        # finite number means the weights already are not, or are about to be: stop before the step
        if self.scaler is None and not torch.isfinite(loss.detach()).all():
            raise Diverged(f"the loss became {loss.detach().float().sum().item()}")
        optimizer.zero_grad(set_to_none=True)
        (self.scaler.scale(loss) if self.scaler else loss).backward()
        self.dist.average_gradients(p for group in optimizer.param_groups for p in group["params"])
        if self.scaler:
            self.scaler.step(optimizer)
        else:
            optimizer.step()

    def end_iteration(self) -> None:
        if self.scaler:
            self.scaler.update()

    def state_dict(self) -> dict:
        return self.scaler.state_dict() if self.scaler else {}

    def load_state_dict(self, state: dict) -> None:
        if self.scaler and state:
            self.scaler.load_state_dict(state)
