"""The one description every dataset layout is turned into: a list of (path, identity, camera)."""

from __future__ import annotations

from dataclasses import dataclass, field

# An image of nobody the queries look for (Market-1501's id 0000): it may sit in a gallery, it is
# never an identity to train on or split by.
DISTRACTOR_PID = -1
# A training image whose identity nobody gave (a folder of a camera's unlabelled crops): pseudo-labels
# may give it one; no loss reads this value.
UNKNOWN_PID = -2
# A training image of a person labelled nowhere (the synthetic set's strangers): unknown to every loss
# like UNKNOWN_PID, but the log can count how many of them pseudo-labels took for someone else.
STRANGER_PID = -3


@dataclass(frozen=True)
class ImageRecord:
    """One image on disk: its path, the identity's label and the camera's index.

    ``subset`` is the official part of the dataset the image ships in (``train``, ``query`` or
    ``gallery``), empty where the layout defines none; the ``standard`` protocols are built from it.
    """

    path: str
    pid: int
    camid: int
    subset: str = ""


@dataclass
class DatasetDescription:
    """All images of a dataset, independent of its on-disk layout.

    ``base`` is the folder that split files store paths relative to. ``ordered_views`` says every
    identity is seen by exactly one camera pair whose first camera is the natural probe view
    (VIPeR's cam_a, CUHK03's first camera of each pair). ``test_sets`` are fixed test identity sets
    shipped with the data (CUHK03's 20 classic splits).
    """

    name: str
    root: str
    records: list[ImageRecord]
    camera_names: list[str] = field(default_factory=list)
    base: str = ""
    ordered_views: bool = False
    test_sets: list[list[int]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.base = self.base or self.root
        self.ordered_views = self.ordered_views or self.num_cameras == 2

    @property
    def pids(self) -> list[int]:
        """Identities, distractors excluded."""
        return sorted({r.pid for r in self.records if r.pid != DISTRACTOR_PID})

    @property
    def num_cameras(self) -> int:
        return len(self.camera_names) or len({r.camid for r in self.records})

    def cameras_of(self) -> dict[int, dict[int, list[str]]]:
        """identity -> camera -> image paths, distractors excluded."""
        by_pid: dict[int, dict[int, list[str]]] = {}
        for r in self.records:
            if r.pid != DISTRACTOR_PID:
                by_pid.setdefault(r.pid, {}).setdefault(r.camid, []).append(r.path)
        return by_pid


@dataclass(frozen=True)
class ViewRecord:
    """An image assigned to a view of the method: 0 = probe camera (Ms), 1 = gallery camera (Mt)."""

    path: str
    pid: int
    camid: int
    view: int
