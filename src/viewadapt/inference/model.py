"""A trained run as a re-identification model with two verbs: ``extract`` and ``match``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
import torch
from tqdm import tqdm

from viewadapt.data.augment import eval_transform
from viewadapt.data.images import image_paths, read_image
from viewadapt.errors import DataError
from viewadapt.evaluation.distances import distance_blocks, unit_rows
from viewadapt.evaluation.faiss_search import faiss_search
from viewadapt.evaluation.rescoring import topk_stable
from viewadapt.inference.calibration import CameraStatistics, check_camera_name
from viewadapt.models.statistics import batch_norm_statistics, even_batches
from viewadapt.inference.features_file import Features, fingerprint
from viewadapt.builders import load_trained
from viewadapt.runs import WEIGHTS_FILE, resolve_device

VIEW_NAMES = ("probe", "gallery")


@dataclass
class Match:
    """One gallery item for a probe: rank (1-based), path, distance, Ds same-person probability (None
    for a run whose Ds was never trained: the few-shot baselines, ``loss.metric`` other than ds)."""

    rank: int
    path: str
    distance: float
    same_person: float | None


class ReIDModel:
    """Load with :meth:`from_run`; ``extract`` embeds crops of a view, ``match`` ranks a gallery.

    ``mappings`` are the run's view networks, ``embedder`` what matching runs (a view's network and
    the matcher's head for that view, if any), ``pair_scorer`` the run's Ds (None where it has none).
    """

    def __init__(self, run_dir: str | Path, device: str | None = None) -> None:
        self.run_dir = Path(run_dir)
        run = load_trained(self.run_dir)
        self.cfg, method = run.cfg, run.method
        self.device = resolve_device(device or self.cfg.train.device)
        self.mappings = method.mappings
        self.embedder = method.embedder().to(self.device).eval()
        self.pair_scorer = method.matcher.pair_scorer()
        if self.pair_scorer is not None:
            self.pair_scorer.to(self.device).eval()
        self.model_id = fingerprint(self.run_dir / WEIGHTS_FILE)
        self.transform = eval_transform(self.cfg.data.height, self.cfg.data.width)

    @classmethod
    def from_run(cls, run_dir: str | Path, device: str | None = None) -> "ReIDModel":
        return cls(run_dir, device)

    def view_names(self) -> dict[str, int]:
        """Names a view answers to: probe/gallery for the paper's two views (Ms and Mt: views 0 and 1);
        with camera groups also each group (its cameras joined by +) and each of its cameras."""
        names: dict[str, int] = {}
        for v, g in enumerate(self.cfg.data.camera_groups):
            names["+".join(g)] = v
            names.update({c: v for c in g})
        for i, name in enumerate(VIEW_NAMES):
            names.setdefault(name, i)  # a camera that is itself named so keeps its name
        return names

    def view_index(self, view: int | str) -> int:
        """A view number or name; one the model has no mapping for is an error naming those it has."""
        names = self.view_names()
        index = names.get(view, view) if isinstance(view, str) else view
        if not isinstance(index, int) or not 0 <= index < self.cfg.num_views:
            listed = ", ".join(f"{n} ({i})" for n, i in names.items())
            raise DataError(f"this model has no mapping for view '{view}': its views are {listed}")
        return index

    def _batches(self, images: Sequence[str], spans: Sequence[range], desc: str = "") -> Iterator[torch.Tensor]:
        # a bar with its ETA on a terminal, nothing in a log file
        for span in tqdm(spans, desc=desc, unit="batch", leave=False, disable=None, dynamic_ncols=True):
            yield torch.stack([self.transform(read_image(images[i])) for i in span]).to(self.device)

    def embedding_path(self, view: int | str, camera: str | None) -> tuple[torch.nn.Module, int]:
        """What embeds a view's images: its mapping (and matcher head), with a calibrated camera's own
        statistics where ``camera`` names one; and the view's index."""
        if not camera:
            index = self.view_index(view)
            return self.embedder.mapping(index), index
        stats = CameraStatistics.load(self.run_dir, camera, self.model_id)
        return stats.embedding_path(self.embedder), stats.view

    @torch.no_grad()
    def embed(self, images: Sequence[str], view: int | str, batch_size: int = 64, camera: str | None = None) -> np.ndarray:
        """Embeddings (N, D) of image files through the view's mapping (any size or mode: resized, RGB),
        normalised by calibrated ``camera``'s own statistics where one is named."""
        return self._embed_with(self.embedding_path(view, camera)[0], images, batch_size)

    @torch.no_grad()
    def _embed_with(self, module: torch.nn.Module, images: Sequence[str], batch_size: int) -> np.ndarray:
        spans = [range(s, min(s + batch_size, len(images))) for s in range(0, len(images), batch_size)]
        out = [module(batch).float().cpu().numpy() for batch in self._batches(images, spans, "embedding")]
        return np.concatenate(out) if out else np.zeros((0, self.embedder.embedding_dim), np.float32)

    def extract(self, images: str | Path | Sequence[str | Path], view: int | str, batch_size: int = 64,
                camera: str | None = None) -> Features:
        """Embed a folder of crops (or a list of files) of one camera view (or calibrated camera)."""
        paths = image_paths(images)
        module, index = self.embedding_path(view, camera)  # a camera's statistics are read once
        return Features(self._embed_with(module, paths, batch_size), paths, index, self.model_id, camera or "")

    def calibrate(self, images: str | Path | Sequence[str | Path], camera: str, view: int | str = "gallery",
                  batch_size: int = 64) -> CameraStatistics:
        """Estimate camera ``camera``'s batch-norm statistics from its unlabelled images on view
        ``view``'s weights (:mod:`viewadapt.inference.calibration`) and store them beside the run."""
        check_camera_name(camera)
        paths = image_paths(images)
        if len(paths) < 2:
            raise DataError(f"calibrating camera '{camera}' needs at least two of its images, found {len(paths)}: "
                            "give a folder of its crops (a few hundred estimate its statistics well)")
        index = self.view_index(view)
        batches = self._batches(paths, even_batches(len(paths), batch_size), f"calibrating {camera}")
        tensors = batch_norm_statistics(self.embedder.mappings.mapping(index), batches)
        stats = CameraStatistics(camera, index, self.model_id, len(paths), tensors)
        stats.save(self.run_dir)
        return stats

    def _gallery(self, gallery: str | Path | Sequence[str | Path] | Features, view: int | str,
                 camera: str | None) -> Features:
        if isinstance(gallery, (str, Path)) and str(gallery).endswith(".safetensors"):
            gallery = Features.load(gallery)
        if not isinstance(gallery, Features):
            return self.extract(gallery, view, camera=camera)
        if gallery.model != self.model_id:
            raise DataError(f"the gallery features were extracted with another model ({gallery.model}, this run is "
                            f"{self.model_id}): extract them again with this run")
        # features of another view (or camera) went through other weights or statistics: their distances to
        # this side's mean nothing, and nothing in the numbers would say so
        if (camera or "") != gallery.camera:
            had = f"calibrated camera {gallery.camera}" if gallery.camera else f"view {gallery.view}"
            wanted = f"calibrated camera {camera}" if camera else f"view {view}"
            raise DataError(f"the gallery features were extracted through {had}, and this match asks for {wanted}: "
                            f"give --gallery-{'camera ' + gallery.camera if gallery.camera else 'view ' + str(gallery.view)}"
                            ", or extract them again")
        if not camera and gallery.view != self.view_index(view):
            raise DataError(f"the gallery features were extracted through view {gallery.view} and this match asks "
                            f"for view {view} ({self.view_index(view)}): give --gallery-view {gallery.view}, or "
                            f"extract them again with --view {view}")
        return gallery

    @torch.no_grad()
    def match(
        self, probes: str | Path | Sequence[str | Path], gallery: str | Path | Sequence[str | Path] | Features,
        k: int = 10, probe_view: int | str = "probe", gallery_view: int | str = "gallery", use_faiss: bool = False,
        probe_camera: str | None = None, gallery_camera: str | None = None,
    ) -> dict[str, list[Match]]:
        """For each probe image, its ``k`` nearest gallery items by the run's ``eval.distance`` (ties in
        gallery order), with Ds's probability that the pair is the same person where the run trained Ds.
        A calibrated camera (``probe_camera``, ``gallery_camera``) embeds that side with its own statistics."""
        probe_paths = image_paths(probes)
        g = self._gallery(gallery, gallery_view, gallery_camera)
        if len(g.paths) == 0:
            raise DataError("the gallery is empty")
        qf = self.embed(probe_paths, probe_view, camera=probe_camera)
        k = min(k, len(g.paths))
        cosine = self.cfg.eval.distance == "cosine"
        if use_faiss:
            # faiss searches by Euclidean distance: between unit vectors it is sqrt(2 - 2 cos)
            dist, idx = faiss_search(*((unit_rows(qf), unit_rows(g.features)) if cosine else (qf, g.features)), k)
            dist = dist ** 2 / 2 if cosine else dist
        else:
            blocks = distance_blocks(qf, g.features, self.cfg.eval.distance)
            rows = [(topk_stable(block, k), block) for _, block in blocks]
            idx = np.concatenate([i for i, _ in rows])
            dist = np.concatenate([np.take_along_axis(b, i, 1) for i, b in rows])
        prob = None
        if self.pair_scorer is not None:
            e_s = torch.from_numpy(np.repeat(qf, k, axis=0)).to(self.device)
            e_t = torch.from_numpy(g.features[idx.reshape(-1)]).to(self.device)
            prob = torch.sigmoid(self.pair_scorer(e_s, e_t)).cpu().numpy().reshape(len(qf), k)
        return {p: [Match(r + 1, g.paths[j], float(dist[n, r]), None if prob is None else float(prob[n, r]))
                    for r, j in enumerate(idx[n])]
                for n, p in enumerate(probe_paths)}
