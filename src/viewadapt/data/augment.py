"""Training-image augmentation with torchvision's transforms v2, as named presets with tunable strengths
(the ``data.augment`` config section).

The paper trains without augmentation (preset ``paper``); the strong re-ID baselines flip, pad and crop,
and randomly erase a rectangle (preset ``reid``, Zhong et al.'s random erasing, Luo et al.'s bag of tricks).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
from torchvision.transforms import v2

from viewadapt.declare import check_declared, setting

# preset -> the operations it applies, in this order
AUGMENT_PRESETS: dict[str, tuple[str, ...]] = {
    "paper": (),
    "light": ("flip", "crop"),
    "reid": ("flip", "crop", "erasing"),
    "reid_jitter": ("flip", "crop", "jitter", "erasing"),
}
# Erased rectangles are filled with the ImageNet mean, i.e. zero after the backbones' input normalisation.
ERASE_VALUE = (0.485, 0.456, 0.406)


@dataclass
class AugmentOptions:
    # paper (none), light (flip + pad-crop), reid (+ random erasing), reid_jitter (+ colour jitter)
    preset: str = setting("reid", choices=AUGMENT_PRESETS)
    flip: float = setting(0.5, low=0, high=1, what="a probability")  # probability of a horizontal flip
    pad: int = setting(10, low=0)  # pixels of (edge) padding before a random crop back to the image size
    erasing: float = setting(0.5, low=0, high=1, what="a probability")  # probability of erasing a random rectangle
    jitter: float = setting(0.2, low=0, high=1)  # brightness, contrast and saturation jitter (hue a quarter of it)

    def ops(self) -> tuple[str, ...]:
        return AUGMENT_PRESETS[self.preset]

    def check(self, key: str = "data.augment") -> None:
        """Each bad value a :class:`ConfigError` naming ``key.field`` and what it accepts."""
        check_declared(self, f"{key}.")


def _to_tensor() -> list[Callable]:
    return [v2.ToImage(), v2.ToDtype(torch.float32, scale=True)]


def train_transform(height: int, width: int, a: AugmentOptions) -> Callable:
    """(3, H, W) uint8 image tensor (or PIL image) -> (3, height, width) float tensor in [0, 1], augmented
    as ``a`` says."""
    ops = a.ops()
    steps: list[Callable] = [v2.Resize((height, width))]
    if "flip" in ops:
        steps.append(v2.RandomHorizontalFlip(a.flip))
    if "crop" in ops and a.pad:
        steps += [v2.Pad(a.pad, padding_mode="edge"), v2.RandomCrop((height, width))]
    steps += _to_tensor()
    if "jitter" in ops and a.jitter:
        steps.append(v2.ColorJitter(brightness=a.jitter, contrast=a.jitter, saturation=a.jitter, hue=a.jitter / 4))
    if "erasing" in ops and a.erasing:
        steps.append(v2.RandomErasing(a.erasing, value=list(ERASE_VALUE)))
    return v2.Compose(steps)


def eval_transform(height: int, width: int) -> Callable:
    return v2.Compose([v2.Resize((height, width)), *_to_tensor()])
