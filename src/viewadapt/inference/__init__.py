"""Using a trained run: extract features of camera crops, match probes against a gallery, export ONNX."""

from viewadapt.inference.export import export_onnx
from viewadapt.inference.features_file import Features
from viewadapt.inference.model import Match, ReIDModel

__all__ = ["Features", "Match", "ReIDModel", "export_onnx"]
