"""The one description every dataset layout is turned into: a list of (path, identity, camera)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ImageRecord:
    """One image on disk: its path, the identity's label and the camera's index."""

    path: str
    pid: int
    camid: int


@dataclass
class DatasetDescription:
    """All images of a dataset, independent of its on-disk layout."""

    name: str
    root: str
    records: list[ImageRecord]
    camera_names: list[str] = field(default_factory=list)

    @property
    def pids(self) -> list[int]:
        return sorted({r.pid for r in self.records})

    @property
    def num_cameras(self) -> int:
        return len(self.camera_names) or len({r.camid for r in self.records})


@dataclass(frozen=True)
class ViewRecord:
    """An image assigned to a view of the method: 0 = probe camera (Ms), 1 = gallery camera (Mt)."""

    path: str
    pid: int
    camid: int
    view: int
