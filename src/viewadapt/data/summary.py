"""Counts that describe a dataset and a split (what ``viewadapt datasets info`` prints)."""

from __future__ import annotations

from collections import Counter

from viewadapt.data.records import DISTRACTOR_PID, DatasetDescription, ViewRecord
from viewadapt.data.splits import SPLIT_NAMES, Split


def dataset_counts(ds: DatasetDescription) -> dict:
    """Images, identities, cameras; how many cameras see each identity; the official parts if any."""
    people = [r for r in ds.records if r.pid != DISTRACTOR_PID]
    cams_per_id = Counter(len(c) for c in ds.cameras_of().values())
    out = {
        "images": len(ds.records),
        "identities": len(ds.pids),
        "distractor_images": len(ds.records) - len(people),
        "cameras": ds.num_cameras,
        "camera_names": ds.camera_names,
        "images_per_camera": {ds.camera_names[c] if c < len(ds.camera_names) else str(c): n
                              for c, n in sorted(Counter(r.camid for r in ds.records).items())},
        "identities_by_cameras": dict(sorted(cams_per_id.items())),
        "classic_test_sets": len(ds.test_sets),
    }
    parts = sorted({r.subset for r in ds.records if r.subset})
    if parts:
        out["parts"] = {p: {"images": sum(r.subset == p for r in ds.records),
                            "identities": len({r.pid for r in people if r.subset == p})} for p in parts}
    return out


def _records_counts(records: list[ViewRecord]) -> dict:
    ids = {r.pid for r in records if r.pid != DISTRACTOR_PID}
    views = Counter(r.view for r in records)
    return {
        "identities": len(ids),
        "images": len(records),
        "probe_images": views[0],
        "gallery_images": views[1],
        "cameras": len({r.camid for r in records}),
        "distractor_images": sum(r.pid == DISTRACTOR_PID for r in records),
    }


def split_counts(split: Split) -> dict:
    return {name: _records_counts(split.subset(name)) for name in SPLIT_NAMES}
