"""Datasets as one description (path, identity, camera), identity splits, loaders and SP batches."""

from viewadapt.data.datasets import DATASETS
from viewadapt.data.records import DatasetDescription, ImageRecord, ViewRecord
from viewadapt.data.splits import Split, camera_views, hide_gallery_labels, make_identity_split, make_split
from viewadapt.data.synthetic import SyntheticSpec, generate, set_name

__all__ = [
    "DATASETS",
    "DatasetDescription",
    "ImageRecord",
    "Split",
    "SyntheticSpec",
    "ViewRecord",
    "camera_views",
    "generate",
    "hide_gallery_labels",
    "make_identity_split",
    "make_split",
    "set_name",
]
