"""ONNX export of each view mapping: images (N, 3, H, W) in [0, 1] -> embeddings (N, D).

The backbone's input normalisation is inside the graph; the batch size is dynamic, the image size is
the run's ``data.height`` x ``data.width`` (the size the mappings were trained at).
"""

from __future__ import annotations

import inspect
import json
import warnings
from contextlib import ExitStack
from pathlib import Path
from typing import Sequence

import torch

from viewadapt.errors import ViewAdaptError
from viewadapt.files import atomic_path, check_outputs, make_folder, write_text
from viewadapt.inference.calibration import CameraStatistics
from viewadapt.inference.features_file import fingerprint
from viewadapt.builders import load_trained
from viewadapt.runs import WEIGHTS_FILE


META_FILE = "onnx.json"


def export_onnx(run_dir: str | Path, out_dir: str | Path, opset: int = 17, force: bool = False,
                cameras: Sequence[str] = ()) -> list[Path]:
    """Write ``probe.onnx`` and ``gallery.onnx`` (``view2.onnx``... for further camera views; one
    ``shared.onnx`` for a Siamese run), ``camera_<name>.onnx`` for each calibrated camera of ``cameras``
    (its view's graph with its own statistics), and ``onnx.json`` (input size, views, model fingerprint) into
    ``out_dir``, which may be new, empty or an earlier export; any other folder only with ``force``.
    Nothing else in ``out_dir`` is touched: files of an earlier export that this one does not write
    (its ``shared.onnx`` where there are now two views) are removed, as ``onnx.json`` lists them."""
    try:
        import onnx  # noqa: F401 - the exporter needs it
    except ImportError:
        raise ViewAdaptError("ONNX export needs the onnx package: pip install \"viewadapt[onnx]\"") from None
    out_dir = Path(out_dir).resolve()
    earlier = _check_out_dir(out_dir, force)
    check_outputs({"--out": out_dir}, runs=[run_dir])
    run = load_trained(run_dir)
    cfg, embedder = run.cfg, run.method.embedder().eval()
    if embedder.one_network:
        parts = {"shared": embedder.mapping(0)}
    else:
        parts = {"probe": embedder.mapping(0), "gallery": embedder.mapping(1)}
        parts.update({f"view{v}": embedder.mapping(v) for v in range(2, embedder.num_views)})
    model_id = fingerprint(Path(run_dir) / WEIGHTS_FILE)
    for name in cameras:
        parts[f"camera_{name}"] = CameraStatistics.load(run_dir, name, model_id).embedding_path(embedder)
    make_folder(out_dir)
    example = torch.rand(2, 3, cfg.data.height, cfg.data.width)
    # torch >= 2.5 defaults new code paths to the torch.export exporter; the TorchScript one handles the
    # size-dependent TF padding of the EfficientNet-Lite nets, so ask for it where the switch exists.
    legacy = {"dynamo": False} if "dynamo" in inspect.signature(torch.onnx.export).parameters else {}
    files = {name: f"{name}.onnx" for name in parts}
    meta = {"height": cfg.data.height, "width": cfg.data.width, "embedding_dim": embedder.embedding_dim,
            "input": "RGB in [0, 1], NCHW float32; normalisation is inside the graph",
            "files": files, "model": model_id}
    with ExitStack() as written:
        # Every graph goes to a temporary name first; only when all are written do they take their names.
        staged = {name: written.enter_context(atomic_path(out_dir / file)) for name, file in files.items()}
        for name, module in parts.items():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                torch.onnx.export(module, (example,), str(staged[name]), input_names=["images"],
                                  output_names=["embeddings"], opset_version=opset,
                                  dynamic_axes={"images": {0: "batch"}, "embeddings": {0: "batch"}}, **legacy)
        # The graphs take their names one by one: until the last has, onnx.json says the folder is mid-way
        # (complete: false) and lists every graph of both exports, so a process killed in between leaves a
        # folder no reader takes for a whole export, and that the next export still knows as its own.
        both = {**{Path(f).stem: f for f in sorted(earlier)}, **files}
        write_text(out_dir / META_FILE, json.dumps({**meta, "files": both, "complete": False}, indent=1))
    for stale in sorted(earlier - set(files.values())):
        (out_dir / stale).unlink(missing_ok=True)  # a graph the earlier export wrote, listed in its onnx.json
    write_text(out_dir / META_FILE, json.dumps({**meta, "complete": True}, indent=1))
    return [out_dir / file for file in sorted(files.values())]


def _check_out_dir(out_dir: Path, force: bool) -> set[str]:
    """Whether the export may write into ``out_dir``; returns the graph files an earlier export there
    wrote (names from its ``onnx.json``, plain ``*.onnx`` names only)."""
    if out_dir.exists() and not out_dir.is_dir():
        raise ViewAdaptError(f"--out {out_dir} is a file: give a folder (new, empty or an earlier export)")
    if not out_dir.parent.is_dir():
        raise ViewAdaptError(f"--out {out_dir}: the folder {out_dir.parent} does not exist; create it first")
    if not out_dir.exists() or not any(out_dir.iterdir()):
        return set()
    earlier = _earlier_export(out_dir / META_FILE)
    if earlier is None and not force:
        raise ViewAdaptError(f"--out {out_dir} is not empty and holds no earlier export: give a new or empty "
                             "folder, or add --force to write the export's files there (nothing else is touched)")
    return earlier or set()


def _earlier_export(meta: Path) -> set[str] | None:
    try:
        files = json.loads(meta.read_text())["files"]
        names = set(files.values())
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    if not all(isinstance(n, str) and n == Path(n).name and n.endswith(".onnx") for n in names):
        return None
    return names
