"""The supported datasets by name (the value of ``data.dataset``), each an adapter to one description."""

from __future__ import annotations

from pathlib import Path

from viewadapt.data.datasets import bounding_box, cuhk03, cuhk03_pair1, viper
from viewadapt.data.datasets.base import DatasetSource
from viewadapt.data.datasets.csv_index import read_csv_index
from viewadapt.data.datasets.folder import read_folder_dataset
from viewadapt.data.synthetic import STRANGERS
from viewadapt.registry import Registry


def _exists(root: Path) -> Path | None:
    return root if root.exists() else None


DATASETS: Registry[DatasetSource] = Registry("dataset")
for _source in (
    DatasetSource(
        "viper", "VIPeR", "<root>/viper/VIPeR/{cam_a,cam_b}/NNN_AAA.bmp",
        "Gray et al., VIPeR v1.0 (VIPeR.v1.0.zip)", viper.read, viper.locate,
        paper_split=(216, 100, 316),
        standard="10 random trials of 316 training / 316 test people (data.trial 0-9), cam_a probe",
        random_halves=(10, 316),
    ),
    DatasetSource(
        "cuhk03", "CUHK03", "<root>/cuhk03/cuhk03_release/cuhk-03.mat [+ cuhk03_new_protocol_config_*.mat]",
        "Li et al., CUHK03 (cuhk03_release.zip); new-protocol files from Zhong et al.'s CUHK03-NP",
        cuhk03.read, cuhk03.locate, paper_split=(1160, 100, 100),
        standard="new protocol: 767 training / 700 test people, query/gallery from "
                 "cuhk03_new_protocol_config_<variant>.mat",
        variants=cuhk03.VARIANTS, standard_fix="put cuhk03_new_protocol_config_<variant>.mat into <root>/cuhk03/",
    ),
    DatasetSource(
        "cuhk03_pair1", "CUHK03 camera pair 1 (real crops, two cameras)",
        "<root>/cuhk03_{labeled,detected}/{camA,camB}/<identity>/<image>.jpg",
        "Li et al., CUHK03: camera pair 1 as github.com/manideep2510/CUHK03_dataset holds it, laid out by camera",
        cuhk03_pair1.read, cuhk03_pair1.locate, paper_split=cuhk03_pair1.PAPER_SPLIT, variants=cuhk03_pair1.VARIANTS,
        published_as="cuhk03",
    ),
    DatasetSource(
        "market1501", "Market-1501",
        "<root>/market1501/Market-1501-v15.09.15/{bounding_box_train,bounding_box_test,query}/",
        "Zheng et al., Market-1501 (Market-1501-v15.09.15.zip)", bounding_box.read_market,
        bounding_box.locate_market, paper_split=(650, 100, 751),
        standard="official parts: bounding_box_train (751 people) / query vs bounding_box_test",
    ),
    DatasetSource(
        "dukemtmc", "DukeMTMC-reID",
        "<root>/dukemtmc-reid/DukeMTMC-reID/{bounding_box_train,bounding_box_test,query}/",
        "Zheng et al., DukeMTMC-reID (withdrawn by its creators: only a copy you already have)",
        bounding_box.read_duke, bounding_box.locate_duke, paper_split=(602, 100, 702),
        standard="official parts: bounding_box_train (702 people) / query vs bounding_box_test",
    ),
    DatasetSource(
        "synthetic", "Synthetic two-camera benchmark", "generated under data.root (no download)",
        "drawn by viewadapt.data.synthetic", lambda root, v: read_folder_dataset(root, "synthetic", (STRANGERS,)), _exists,
        generated=True, default_root="data/synthetic",
    ),
    DatasetSource(
        "folder", "Custom folder tree", "<data.root>/<camera>/<identity>/*.jpg", "your own cameras",
        lambda root, v: read_folder_dataset(root, root.name or "folder"), _exists, own_root=True,
    ),
    DatasetSource(
        "csv", "Custom CSV index", "data.root = index.csv with columns path,identity,camera[,subset]",
        "your own cameras", lambda root, v: read_csv_index(root, root.stem or "csv"), _exists,
        standard="the rows' subset column (train/query/gallery)", own_root=True, root_is_file=True,
        standard_fix="add a subset column (train/query/gallery) to the index",
    ),
):
    DATASETS.register(_source.name)(_source)

# The paper's datasets: those Table I splits
BENCHMARKS = tuple(name for name, source in DATASETS.items() if source.paper_split)

__all__ = ["BENCHMARKS", "DATASETS", "DatasetSource", "read_csv_index", "read_folder_dataset"]
