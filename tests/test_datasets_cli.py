"""`viewadapt datasets`, `datasets info`, and training/evaluating on a benchmark layout."""

from __future__ import annotations

import json

import pytest
from PIL import Image

from conftest import tiny_overrides
from layouts import make_market, make_viper
from viewadapt.cli.main import main


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    make_viper(root)
    return make_market(root)


def test_datasets_lists_what_is_found(data_root, capsys):
    assert main(["datasets", "--data-root", str(data_root)]) == 0
    out = capsys.readouterr().out
    lines = {line.split()[0]: line for line in out.splitlines() if line.split()}
    assert f"found: {data_root}/viper/VIPeR" in lines["viper"]
    assert f"found: {data_root}/market1501/Market-1501-v15.09.15" in lines["market1501"]
    assert "missing: expected" in lines["cuhk03"] and "missing: expected" in lines["dukemtmc"]


def test_info_counts_parts_and_splits(data_root, capsys):
    assert main(["datasets", "info", "market1501", "--data-root", str(data_root), "--num-valid", "2"]) == 0
    out = capsys.readouterr().out
    assert "images 70  identities 10  distractor images 2  cameras 6" in out
    assert "official parts: gallery 26 images / 4 ids, query 8 images / 4 ids, train 36 images / 6 ids" in out
    assert "protocol paper (Table I, train/valid/test 650/100/751)" in out and "not available" in out
    standard = out[out.index("protocol standard"):].splitlines()
    assert standard[2].split() == ["train", "4", "24", "16", "8", "3", "0"]  # 3 cameras: 2 probe, 1 gallery
    assert standard[4].split() == ["test", "4", "34", "8", "26", "4", "2"]


def test_info_counts_the_split_train_makes_by_default(data_root, tmp_path, capsys):
    """Without --num-*: the dataset's packaged config's sizes (Market's C_valid of 100), else the defaults."""
    assert main(["datasets", "info", "market1501", "--data-root", str(data_root), "--protocol", "custom"]) == 0
    assert "protocol custom (train/valid/test 200/100/-1)" in capsys.readouterr().out
    for camera in ("door", "lobby"):
        (tmp_path / camera / "0001").mkdir(parents=True)
        Image.new("RGB", (8, 16)).save(tmp_path / camera / "0001" / "a.jpg")
    assert main(["datasets", "info", "folder", "--data-root", str(tmp_path)]) == 0
    assert "protocol custom (train/valid/test 200/30/-1)" in capsys.readouterr().out


def test_info_viper_standard_trial(data_root, capsys):
    args = ["datasets", "info", "viper", "--data-root", str(data_root), "--protocol", "standard", "--trial", "3",
            "--num-valid", "50"]
    assert main(args) == 0
    rows = {line.split()[0]: line.split() for line in capsys.readouterr().out.splitlines()[6:] if line.strip()}
    assert rows["train"][:5] == ["train", "266", "532", "266", "266"] and rows["test"][:3] == ["test", "316", "632"]


def test_info_verify_names_a_corrupt_image(tmp_path, capsys):
    root = make_market(tmp_path)
    bad = next((root / "market1501" / "Market-1501-v15.09.15" / "query").iterdir())
    bad.write_bytes(b"not a jpeg")
    assert main(["datasets", "info", "market1501", "--data-root", str(root), "--protocol", "standard",
                 "--num-valid", "2", "--verify"]) == 0
    out = capsys.readouterr().out
    assert "verified 70 images: 1 unreadable" in out and f"  {bad} (" in out


@pytest.mark.parametrize("args, message", [
    (["datasets", "info", "mars"], "unknown dataset 'mars'"),
    (["datasets", "info", "folder"], "give the folder with --data-root"),
    (["datasets", "info", "market1501", "--data-root", "/nowhere"], "extract Market-1501-v15.09.15.zip into"),
    (["datasets", "info", "market1501", "--variant", "labeled"], "market1501 has no variant 'labeled'"),
])
def test_info_user_errors(args, message, capsys):
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]


def test_train_and_evaluate_on_the_market_layout(data_root, tiny_synthetic, tmp_path, capsys):
    args = tiny_overrides(tiny_synthetic, tmp_path / "runs") + [
        "data.dataset=market1501", f"data.root={data_root}", "data.protocol=standard", "data.num_valid=2",
        "eval.protocol=all_gallery", "train.batch_p=2", "train.adaptation.enabled=false", "name=market"]
    assert main(["train", "--quiet", *args]) == 0
    assert "test (market1501/standard (seed 0), all_gallery)" in capsys.readouterr().out
    run = tmp_path / "runs" / "market"
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["test"]["num_queries"] == 8 and metrics["test"]["split"] == "market1501/standard (seed 0)"
    assert main(["evaluate", str(run)]) == 0
    saved = json.loads((run / "eval" / "test_all_gallery.json").read_text())
    assert saved["split"] == "market1501/standard (seed 0)" and saved["mAP"] == pytest.approx(metrics["test"]["mAP"])


def test_config_rejects_a_protocol_the_dataset_lacks(capsys):
    assert main(["train", "data.dataset=synthetic", "data.protocol=paper"]) == 2
    assert "data.protocol 'paper' is not available for synthetic: choose one of custom" in capsys.readouterr().err


def test_unreadable_files_stop_a_run_before_it_starts(tiny_synthetic, tmp_path, capsys):
    root = make_market(tmp_path / "data")
    bad = sorted((root / "market1501" / "Market-1501-v15.09.15" / "bounding_box_test").glob("0003_*.jpg"))[0]
    bad.write_bytes(b"")
    args = tiny_overrides(tiny_synthetic, tmp_path / "runs") + [
        "data.dataset=market1501", f"data.root={root}", "data.protocol=standard", "data.num_valid=2"]
    assert main(["train", "--quiet", *args]) == 2
    err = capsys.readouterr().err
    assert f"1 of 66 images cannot be read, the first: {bad} (" in err
    # the command as it must be typed: --verify alone needs the data root it was not given
    assert f"`viewadapt datasets info market1501 --data-root {root} --verify`" in err
    assert not (tmp_path / "runs").exists()


def test_an_image_that_breaks_mid_run_is_named_in_one_line(tiny_synthetic, tmp_path):
    """A truncated JPEG passes the header check and fails when decoded: every image is decoded before the
    first epoch, so it is named before the run starts, not inside a loader worker mid-run."""
    import shutil
    import subprocess
    import sys

    root = tmp_path / "syn"
    shutil.copytree(tiny_synthetic, root)
    victim = sorted((root / "cam_a").rglob("*.jpg"))[0]
    victim.write_bytes(victim.read_bytes()[:300])
    args = tiny_overrides(root, tmp_path / "runs") + ["data.num_test=-1", "data.num_workers=1", "data.num_train=10"]
    res = subprocess.run([sys.executable, "-m", "viewadapt.cli.main", "train", "--quiet", *args],
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 2 and "Traceback" not in res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and f"the first: {victim} (" in lines[0], res.stderr
    assert "before training" in lines[0] and not (tmp_path / "runs").exists()  # found before it starts
