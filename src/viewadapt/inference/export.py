"""ONNX export of each view mapping: images (N, 3, H, W) in [0, 1] -> embeddings (N, D).

The backbone's input normalisation is inside the graph; the batch size is dynamic, the image size is
the run's ``data.height`` x ``data.width`` (the size the mappings were trained at).
"""

from __future__ import annotations

import inspect
import json
import shutil
import warnings
from pathlib import Path

import torch

from viewadapt.errors import ViewAdaptError
from viewadapt.inference.features_file import fingerprint
from viewadapt.runs import WEIGHTS_FILE, load_trained


def export_onnx(run_dir: str | Path, out_dir: str | Path, opset: int = 17) -> list[Path]:
    """Write ``probe.onnx`` and ``gallery.onnx`` (``view2.onnx``... for further camera views; one
    ``shared.onnx`` for a Siamese run) and ``onnx.json`` (input size, views, model fingerprint).
    All or nothing: the files appear together."""
    try:
        import onnx  # noqa: F401 - the exporter needs it
    except ImportError:
        raise ViewAdaptError("ONNX export needs the onnx package: pip install \"viewadapt[onnx]\"") from None
    run = load_trained(run_dir)
    cfg, embedder = run.cfg, run.method.embedder().eval()
    out_dir = Path(out_dir)
    tmp = out_dir.with_name(out_dir.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    if embedder.one_network:
        parts = {"shared": embedder.mapping(0)}
    else:
        parts = {"probe": embedder.mapping(0), "gallery": embedder.mapping(1)}
        parts.update({f"view{v}": embedder.mapping(v) for v in range(2, embedder.num_views)})
    example = torch.rand(2, 3, cfg.data.height, cfg.data.width)
    # torch >= 2.5 defaults new code paths to the torch.export exporter; the TorchScript one handles the
    # size-dependent TF padding of the EfficientNet-Lite nets, so ask for it where the switch exists.
    legacy = {"dynamo": False} if "dynamo" in inspect.signature(torch.onnx.export).parameters else {}
    try:
        for name, module in parts.items():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                torch.onnx.export(module, (example,), str(tmp / f"{name}.onnx"), input_names=["images"],
                                  output_names=["embeddings"], opset_version=opset,
                                  dynamic_axes={"images": {0: "batch"}, "embeddings": {0: "batch"}}, **legacy)
        meta = {"height": cfg.data.height, "width": cfg.data.width, "embedding_dim": embedder.embedding_dim,
                "input": "RGB in [0, 1], NCHW float32; normalisation is inside the graph",
                "files": {name: f"{name}.onnx" for name in parts}, "model": fingerprint(Path(run_dir) / WEIGHTS_FILE)}
        (tmp / "onnx.json").write_text(json.dumps(meta, indent=1))
        if out_dir.exists():
            shutil.rmtree(out_dir)
        tmp.rename(out_dir)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return sorted(out_dir.glob("*.onnx"))
