"""A camera's batch-norm statistics, re-estimated from its own unlabelled images (AdaBN; CBN at test time).

A trained network normalises every layer by the statistics of the images it was trained on. A camera
whose images look different (another sensor, light, angle) is served better by statistics of its own:
each batch norm's running mean and variance are estimated again from a folder of that camera's crops,
with every weight left as trained. This works for a camera the run has seen (its view re-estimated) and
for one it never saw (a new camera, added without retraining), on any run whose network has batch
norms: view-specific statistics (``model.asymmetry=stats``) or a shared network alike.

A calibrated camera is stored beside the run as ``cameras/<name>.safetensors``: the statistics, the view
whose weights they go with, the number of images, and the fingerprint of the weights they were
estimated under (statistics of another model are refused).
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file
from torch import nn

from viewadapt.errors import DataError
from viewadapt.files import atomic_write, make_folder
from viewadapt.models import Embedder
from viewadapt.models.statistics import STATISTICS

CAMERAS_DIR = "cameras"
FORMAT = "1"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


@dataclass
class CameraStatistics:
    """One calibrated camera: its batch-norm statistics, the view whose weights they go with, the
    number of images they were estimated from and the fingerprint of the run's weights."""

    name: str
    view: int
    model: str
    images: int
    tensors: dict[str, torch.Tensor]

    def save(self, run_dir: str | Path) -> Path:
        folder = make_folder(Path(run_dir) / CAMERAS_DIR)
        meta = {"format": FORMAT, "name": self.name, "view": str(self.view), "model": self.model,
                "images": str(self.images)}
        return atomic_write(folder / f"{self.name}.safetensors", lambda tmp: save_file(self.tensors, str(tmp), meta))

    @classmethod
    def load(cls, run_dir: str | Path, name: str, model: str) -> "CameraStatistics":
        """The statistics of camera ``name``, which must belong to the weights fingerprinted ``model``."""
        path = Path(run_dir) / CAMERAS_DIR / f"{check_camera_name(name)}.safetensors"
        if not path.is_file():
            known = ", ".join(calibrated_cameras(run_dir)) or "none yet"
            raise DataError(f"camera '{name}' is not calibrated for {run_dir} (calibrated: {known}): run "
                            f"`viewadapt calibrate {run_dir} <folder of its images> --camera {name}`")
        try:
            with safe_open(str(path), "pt") as f:
                meta = f.metadata() or {}
            tensors = load_file(str(path))
            view, images = int(meta["view"]), int(meta["images"])
        except Exception as exc:  # safetensors raises several kinds for a damaged file
            raise DataError(f"{path} is corrupt or not a viewadapt camera file ({exc!s:.80}): calibrate the "
                            "camera again") from None
        if meta.get("format") != FORMAT:
            raise DataError(f"{path} has format {meta.get('format')}, this viewadapt reads {FORMAT}: calibrate again")
        if meta.get("model") != model:
            raise DataError(f"{path} holds statistics of other weights ({meta.get('model')}; this run's are "
                            f"{model}): calibrate camera '{name}' again with this run")
        return cls(name, view, model, images, tensors)

    def embedding_path(self, embedder: Embedder) -> nn.Module:
        """What embeds this camera's images: its view's path of ``embedder`` (the view's network, and
        the matcher's head where it has one) with the network normalised by this camera's statistics."""
        return embedder.mapping(self.view, self.apply(embedder.mappings.mapping(self.view)).eval())

    def apply(self, network: nn.Module) -> nn.Module:
        """A copy of ``network`` (the camera's view) normalised by this camera's statistics."""
        net = copy.deepcopy(network)
        own = {k: v for k, v in net.state_dict().items() if k.endswith(STATISTICS)}
        if own.keys() != self.tensors.keys() or any(own[k].shape != v.shape for k, v in self.tensors.items()):
            raise DataError(f"camera '{self.name}' was calibrated for another network than view {self.view} of "
                            "this run: calibrate it again")
        net.load_state_dict(self.tensors, strict=False)
        return net


def check_camera_name(name: str) -> str:
    """A camera name is a plain file name: letters, digits, ``_``, ``.`` and ``-``."""
    if not _NAME.fullmatch(name):
        raise DataError(f"camera name '{name}' must be letters, digits, _, . or - (it names a file)")
    return name


def calibrated_cameras(run_dir: str | Path) -> list[str]:
    return sorted(p.stem for p in (Path(run_dir) / CAMERAS_DIR).glob("*.safetensors"))

