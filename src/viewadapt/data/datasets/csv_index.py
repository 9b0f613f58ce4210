"""A CSV index for custom data: ``path,identity,camera`` rows, with an optional ``subset`` column.

Paths are relative to the CSV file's folder (or absolute). Identities and cameras are free text;
identity ``-1`` marks a distractor (gallery only). A ``subset`` of ``train``/``query``/``gallery``
on every row enables the ``standard`` protocol, the way Market-1501 ships its parts.
"""

from __future__ import annotations

import csv
from pathlib import Path

from viewadapt.data.records import DISTRACTOR_PID, DatasetDescription, ImageRecord
from viewadapt.errors import DataError

COLUMNS = ("path", "identity", "camera")
SUBSETS = ("train", "query", "gallery")


def read_csv_index(index: str | Path, name: str = "csv") -> DatasetDescription:
    index = Path(index)
    if not index.is_file():
        raise DataError(f"index file {index} does not exist: point data.root at a CSV with columns "
                        f"{','.join(COLUMNS)}[,subset]")
    # utf-8-sig: spreadsheet programs start a UTF-8 CSV with a byte-order mark, which is no part of a name
    try:
        with index.open(newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            header = [h.strip() for h in reader.fieldnames or []]
            if any(c not in header for c in COLUMNS):
                raise DataError(f"{index}: the first line must name the columns {','.join(COLUMNS)} "
                                f"(optionally ,subset); found {','.join(header) or 'nothing'}")
            rows = [({k.strip(): (v or "").strip() for k, v in row.items() if k}, n)
                    for n, row in enumerate(reader, 2)]
    except UnicodeDecodeError:
        raise DataError(f"{index} is not UTF-8 text: save it as CSV in UTF-8 (spreadsheets: \"CSV UTF-8\")") from None
    if not rows:
        raise DataError(f"{index} lists no images: add one row per image")
    base = index.parent
    idents = sorted({r["identity"] for r, _ in rows if r["identity"] != "-1"})
    cams = sorted({r["camera"] for r, _ in rows})
    pid_of, cam_of = {p: i for i, p in enumerate(idents)}, {c: i for i, c in enumerate(cams)}
    records = []
    with_subset = "subset" in header
    for row, line in rows:
        if not row["path"] or not row["identity"] or not row["camera"]:
            raise DataError(f"{index} line {line}: path, identity and camera must all be given")
        path = base / row["path"]
        if not path.is_file():
            raise DataError(f"{index} line {line}: image {path} does not exist; fix the path or drop the row")
        subset = row.get("subset", "") if with_subset else ""
        if with_subset and subset not in SUBSETS:
            raise DataError(f"{index} line {line}: subset '{subset}' is not one of {', '.join(SUBSETS)}")
        pid = DISTRACTOR_PID if row["identity"] == "-1" else pid_of[row["identity"]]
        records.append(ImageRecord(str(path), pid, cam_of[row["camera"]], subset))
    return DatasetDescription(name, str(index), records, cams, base=str(base))
