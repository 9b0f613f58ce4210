"""Inputs are never outputs, no command writes outside what it was given, nothing hangs, nothing is silently
wrong: what a user types or hands over (an image, a run folder someone sent, a damaged file) gives the
right result or one line naming the fix, and never costs them a file."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

from conftest import tiny_overrides
from viewadapt.cli.main import main
from viewadapt.config import load_config
from viewadapt.data.images import image_paths, load_image
from viewadapt.errors import ConfigError, DataError, ViewAdaptError
from viewadapt.files import WriteError, atomic_write, check_outputs, temporary_name

TINY = "<tiny overrides>"


def _copy_run(run: Path, dest: Path) -> Path:
    shutil.copytree(run, dest, ignore=shutil.ignore_patterns("run.lock"))
    return dest


def _config_with(run: Path, change) -> None:
    """Edit a run folder's config.yaml (its first lines are comments the loader skips)."""
    tree = yaml.safe_load((run / "config.yaml").read_text())
    change(tree)
    (run / "config.yaml").write_text(yaml.safe_dump(tree, sort_keys=False))


@pytest.fixture(scope="module")
def given(trained_run, tiny_synthetic, tmp_path_factory) -> dict[str, Path]:
    """What a user hands the commands: a run, images, and damaged or misleading copies of each."""
    root = tmp_path_factory.mktemp("given")
    files = {"root": root, "syn": tiny_synthetic, "run": _copy_run(trained_run, root / "run")}
    files["probe"] = root / "probe.jpg"
    shutil.copy(sorted((tiny_synthetic / "cam_a").rglob("*.jpg"))[0], files["probe"])
    files["gallery"] = root / "gallery"
    shutil.copytree(tiny_synthetic / "cam_b", files["gallery"])
    assert main(["extract", str(files["run"]), str(files["gallery"]), "--view", "probe", "--out",
                 str(root / "probe_view.safetensors")]) == 0
    other = _copy_run(trained_run, root / "other_split")
    _config_with(other, lambda t: t["data"].update(split_seed=1))
    (root / "twice.yaml").write_text("train:\n  seed: 1\ntrain:\n  init: {epochs: 1}\n")
    damaged = _copy_run(trained_run, root / "damaged")
    (damaged / "metrics.json").write_text((damaged / "metrics.json").read_text()[:40])
    syn = root / "damaged_syn"
    shutil.copytree(tiny_synthetic, syn)
    (syn / "synthetic.json").write_text('{"num_identities": 1')
    os.mkfifo(root / "pipe.jpg")
    images = sorted(tiny_synthetic.rglob("*.jpg"))
    rows = ["path,identity,camera,subset"] + [f"{p},{p.parent.name},{p.parent.parent.name},train" for p in images]
    rows += [f"{images[0]},q1,cam_a,query", f"{images[1]},q2,cam_a,query", f"{images[-1]},g9,cam_b,gallery"]
    (root / "nomatch.csv").write_text("\n".join(rows) + "\n")
    return files


CASES = [
    # a command never writes onto its inputs, nor into a run folder
    (["match", "{run}", "{probe}", "--gallery", "{gallery}", "--image", "{probe}"], "which this command reads"),
    (["match", "{run}", "{probe}", "--gallery", "{gallery}", "--image", "{gallery}/ranks.png"],
     "is inside {gallery}"),
    (["match", "{run}", "{probe}", "--gallery", "{gallery}", "--json", "{run}/metrics.json"],
     "is inside the run folder"),
    (["extract", "{run}", "{gallery}", "--out", "{run}/model.safetensors"], "is inside the run folder"),
    (["extract", "{run}", "{gallery}", "--out", "{gallery}/features.safetensors"], "which this command reads"),
    (["match", "{run}", "{probe}", "--gallery", "{gallery}", "--image", "{root}/ranks.txt"],
     "names no image format"),
    # no hang on what is not a regular file
    (["match", "{run}", "{root}/pipe.jpg", "--gallery", "{gallery}"], "is not a regular file"),
    # nothing silently wrong
    (["match", "{run}", "{probe}", "--gallery", "{root}/probe_view.safetensors"],
     "extracted through view 0 and this match asks for view gallery"),
    (["evaluate", "{root}/other_split"], "the weights trained on another split"),
    (["train", "-c", "{root}/twice.yaml"], "the key 'train' is given twice (lines 1 and 3)"),
    (["train", "train.init.lr=.inf"], "expected a finite number"),
    (["train", "loss.margin=.nan"], "expected a finite number"),
    # damaged files and system refusals are a line
    (["report", "{root}/damaged"], "metrics.json cannot be read (JSONDecodeError)"),
    (["train", TINY, "data.root={root}/damaged_syn"], "synthetic.json is damaged"),
    (["extract", "{run}", "{gallery}", "--out", "{root}/" + "x" * 300 + ".safetensors"], "File name too long"),
    (["train", TINY, "data.dataset=csv", "data.root={root}/nomatch.csv", "data.protocol=standard",
      "data.num_valid=2"], "no query identity has a gallery image from another camera"),
]


@pytest.mark.parametrize("args, message", CASES, ids=[" ".join(a)[:60] for a, _ in CASES])
def test_every_case_is_one_line_and_writes_nothing(args, message, given, monkeypatch, capsys):
    monkeypatch.chdir(given["root"])
    tiny = tiny_overrides(given["syn"], given["root"] / "runs")
    names = {k: str(v) for k, v in given.items()}
    argv = [b for a in args for b in (tiny if a == TINY else [a.format(**names)])]
    before = _tree(given["root"])
    try:
        code = main(argv)
    except SystemExit as exc:
        code = exc.code
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert code == 2 and "Traceback" not in err and len(lines) == 1, err
    assert message.format(**names) in lines[0]
    assert _tree(given["root"]) == before


def _tree(root: Path) -> dict[str, int]:
    return {str(p): p.lstat().st_mtime_ns for p in root.rglob("*") if p.name != "run.lock"}


# ---- the one rule for outputs ---------------------------------------------------------------------------

def test_outputs_beside_the_inputs_are_fine_and_the_rule_names_the_option(tmp_path):
    (tmp_path / "gallery").mkdir()
    (tmp_path / "run").mkdir()
    check_outputs({"--out": tmp_path / "gallery.safetensors"}, reads=[tmp_path / "gallery"], runs=[tmp_path / "run"])
    with pytest.raises(ViewAdaptError, match="^--json .* is inside the run folder"):
        check_outputs({"--image": None, "--json": tmp_path / "run" / "sub" / "x.json"}, runs=[tmp_path / "run"])


def test_export_and_match_of_a_synthetic_run_touch_no_data_root(trained_run, tiny_synthetic, tmp_path,
                                                                 monkeypatch, capsys):
    """A received run folder decides nothing about where we write: its data.root points at a place that
    does not exist, the working directory is empty, and after match, export and evaluate both still are
    (evaluate draws the synthetic set it needs into a temporary folder)."""
    run = _copy_run(trained_run, tmp_path / "received")
    elsewhere = tmp_path / "not-here"
    _config_with(run, lambda t: t["data"].update(root=str(elsewhere)))
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    probe = sorted((tiny_synthetic / "cam_a").rglob("*.jpg"))[0]
    assert main(["match", str(run), str(probe), "--gallery", str(tiny_synthetic / "cam_b"), "--k", "2"]) == 0
    assert main(["evaluate", str(run)]) == 0
    if __import__("importlib").util.find_spec("onnx"):
        assert main(["export", str(run), "--out", str(tmp_path / "onnx")]) == 0
    capsys.readouterr()
    assert not elsewhere.exists() and not list(work.iterdir())


def test_match_draws_its_rank_list_atomically_and_never_over_an_input(trained_run, tiny_synthetic, tmp_path, capsys):
    probe = tmp_path / "probe.jpg"
    shutil.copy(sorted((tiny_synthetic / "cam_a").rglob("*.jpg"))[0], probe)
    before = probe.read_bytes()
    assert main(["match", str(trained_run), str(probe), "--gallery", str(tiny_synthetic / "cam_b"),
                 "--image", str(tmp_path / "ranks.jpg")]) == 0
    assert probe.read_bytes() == before and Image.open(tmp_path / "ranks.jpg").format == "JPEG"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["probe.jpg", "ranks.jpg"]  # no temporary file left
    capsys.readouterr()


# ---- images: one loader, every mode, every Pillow error ------------------------------------------------

def test_every_pillow_mode_reaches_the_model_as_the_picture_it_is(tmp_path):
    ramp = (np.arange(32 * 16).reshape(32, 16) * 120).astype(np.uint16)  # 0 .. 61,320 of 65,535
    Image.fromarray(ramp).save(tmp_path / "grey16.png")
    assert Image.open(tmp_path / "grey16.png").mode.startswith("I")
    grey = np.asarray(load_image(tmp_path / "grey16.png"))
    assert grey.shape == (32, 16, 3) and grey.max() == 61320 // 257 and grey.min() == 0  # not 100% white
    clear = Image.new("RGBA", (8, 8), (255, 0, 0, 0))
    clear.save(tmp_path / "alpha.png")
    assert tuple(np.asarray(load_image(tmp_path / "alpha.png"))[0, 0]) == (128, 128, 128)
    palette = Image.new("P", (8, 8), 0)
    palette.putpalette([0, 0, 0] + [255, 255, 255] * 255)
    palette.save(tmp_path / "palette.png", transparency=0)
    assert tuple(np.asarray(load_image(tmp_path / "palette.png"))[0, 0]) == (128, 128, 128)
    Image.new("L", (8, 8), 200).save(tmp_path / "l.png")
    assert tuple(np.asarray(load_image(tmp_path / "l.png"))[0, 0]) == (200, 200, 200)


def test_a_decompression_bomb_and_a_truncated_file_are_a_data_error(tmp_path, monkeypatch):
    Image.new("RGB", (64, 64)).save(tmp_path / "big.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)  # 4,096 pixels: over twice the limit, a bomb
    with pytest.raises(DataError, match="big.png .*decompression bomb"):
        load_image(tmp_path / "big.png")
    monkeypatch.undo()
    Image.new("RGB", (64, 128), (10, 200, 30)).save(tmp_path / "cut.jpg", quality=95)
    data = (tmp_path / "cut.jpg").read_bytes()
    (tmp_path / "cut.jpg").write_bytes(data[: len(data) // 3])
    with pytest.raises(DataError, match="cut.jpg"):
        load_image(tmp_path / "cut.jpg")


def test_folders_are_searched_through_symlinks_without_hidden_entries_pipes_or_loops(tmp_path):
    crops = tmp_path / "crops"
    real = tmp_path / "elsewhere" / "door"
    for folder, n in ((crops / "a", 1), (real, 10)):
        for i in range(n):
            folder.mkdir(parents=True, exist_ok=True)
            Image.new("RGB", (8, 16)).save(folder / f"{i}.jpg")
    (crops / "door").symlink_to(real, target_is_directory=True)
    (crops / "a" / "loop").symlink_to(crops, target_is_directory=True)  # a link to an ancestor: no loop
    (crops / ".ipynb_checkpoints").mkdir()
    Image.new("RGB", (8, 16)).save(crops / ".ipynb_checkpoints" / "x.jpg")
    Image.new("RGB", (8, 16)).save(crops / "a" / "._0.jpg")  # macOS's resource file beside a copy
    os.mkfifo(crops / "a" / "pipe.jpg")
    found = image_paths(crops)
    assert len(found) == 11 and not any("/." in p or "pipe" in p for p in found)
    with pytest.raises(DataError, match="pipe.jpg is not a regular file"):
        image_paths(crops / "a" / "pipe.jpg")


def test_a_hidden_folder_is_no_camera_and_no_person(tiny_synthetic, tmp_path):
    from viewadapt.data.datasets import read_folder_dataset

    root = tmp_path / "cams"
    shutil.copytree(tiny_synthetic / "cam_a", root / "cam_a")
    shutil.copytree(tiny_synthetic / "cam_b", root / "cam_b")
    (root / ".ipynb_checkpoints" / "0000").mkdir(parents=True)
    shutil.copy(next((root / "cam_a").rglob("*.jpg")), root / ".ipynb_checkpoints" / "0000" / "x.jpg")
    shutil.copytree(root / "cam_a" / "0000", root / "cam_a" / ".trash")
    dataset = read_folder_dataset(root)
    assert dataset.camera_names == ["cam_a", "cam_b"] and len(dataset.pids) == 16


# ---- YAML as people write it ---------------------------------------------------------------------------

def test_numbers_read_as_yaml_1_2_reads_them(tmp_path):
    cfg = load_config(None, ["train.init.lr=3e-4", "train.similarity.lr=1e-3", "loss.margin=1.0e0"])
    assert (cfg.train.init.lr, cfg.train.similarity.lr, cfg.loss.margin) == (3e-4, 1e-3, 1.0)
    (tmp_path / "c.yaml").write_text("train:\n  init: {lr: 5e-4, epochs: 10}\n")
    cfg = load_config(tmp_path / "c.yaml")
    assert cfg.train.init.lr == 5e-4 and cfg.train.init.epochs == 10 and isinstance(cfg.train.init.epochs, int)
    with pytest.raises(ConfigError, match="train.init.epochs: expected an integer, got 10.0"):
        load_config(None, ["train.init.epochs=1e1"])


# ---- files: temporary names, stale temporaries, read-only places ---------------------------------------

def test_temporary_names_fit_the_file_system_and_stale_ones_go(tmp_path):
    long = tmp_path / ("f" * 240 + ".safetensors")
    assert len(temporary_name(long).name.encode()) <= 255
    target = tmp_path / "probe.onnx"
    dead = temporary_name(target, pid=2 ** 22 + 12345)  # beyond pid_max: no process has it
    dead.write_bytes(b"6.5 MB of a killed export")
    mine = tmp_path / ".probe.onnx.tmp"  # not a name this project gives: someone else's
    mine.write_bytes(b"mine")
    atomic_write(target, lambda tmp: tmp.write_bytes(b"graph"))
    assert not dead.exists() and mine.read_bytes() == b"mine" and target.read_bytes() == b"graph"
    atomic_write(long, lambda tmp: tmp.write_bytes(b"x"))
    assert long.read_bytes() == b"x"


def test_a_read_only_place_is_one_line_from_the_write_and_from_its_clean_up(tmp_path, monkeypatch):
    def refuse(*args, **kwargs):
        raise OSError(30, "Read-only file system")

    monkeypatch.setattr(os, "replace", refuse)
    monkeypatch.setattr(Path, "unlink", refuse)
    with pytest.raises(WriteError, match="cannot write .*x.json: Read-only file system"):
        atomic_write(tmp_path / "x.json", lambda tmp: tmp.write_text("{}"))


def test_a_read_only_run_folder_is_one_line_for_the_lock(tmp_path, monkeypatch):
    import builtins

    from viewadapt.runs.lock import RunLock

    real_open = builtins.open

    def read_only(file, mode="r", *args, **kwargs):
        if str(file).endswith("run.lock"):
            raise OSError(30, "Read-only file system")
        return real_open(file, mode, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", read_only)
    with pytest.raises(ViewAdaptError, match="cannot lock .*Read-only file system.*copy it somewhere writable"):
        RunLock.acquire(tmp_path)


# ---- training: checks before the first epoch, divergence, a moved dataset --------------------------------

def _folder_copy(tiny_synthetic: Path, dest: Path) -> Path:
    for cam in ("cam_a", "cam_b"):
        shutil.copytree(tiny_synthetic / cam, dest / cam)
    return dest


def test_a_truncated_test_image_stops_the_run_before_it_starts_with_the_command_to_list_them(
        tiny_synthetic, tmp_path, capsys):
    data = _folder_copy(tiny_synthetic, tmp_path / "cams")
    args = tiny_overrides(data, tmp_path / "runs") + ["data.dataset=folder", "name=cut"]
    cfg = load_config(None, args)
    from viewadapt.builders import prepare_split

    victim = Path(prepare_split(cfg.data)[1].test[0].path)
    raw = victim.read_bytes()
    victim.write_bytes(raw[: len(raw) // 3])  # the header reads; the pixels do not
    assert main(["train", "--quiet", *args]) == 2
    err = capsys.readouterr().err.strip()
    assert victim.name in err and f"viewadapt datasets info folder --data-root {data} --verify" in err
    assert not (tmp_path / "runs" / "cut").exists() and len(err.splitlines()) == 1


def test_a_resumed_run_asks_for_a_missing_image_back_and_follows_a_moved_dataset(tiny_synthetic, tmp_path, capsys):
    from viewadapt.builders import create_trainer, resume_trainer

    data = _folder_copy(tiny_synthetic, tmp_path / "cams")
    cfg = load_config(None, tiny_overrides(data, tmp_path / "runs") + ["data.dataset=folder", "name=r",
                                                                         "train.adaptation.enabled=false"])
    trainer = create_trainer(cfg, verbose=False)
    trainer.fit(max_epochs=1)
    trainer.close()
    run = trainer.run_dir
    gone = Path(trainer.split.test[0].path)
    kept = gone.read_bytes()
    gone.unlink()
    with pytest.raises(DataError, match="restore them: .*split.json lists the run's images"):
        resume_trainer(run, verbose=False)
    gone.write_bytes(kept)
    data.rename(tmp_path / "moved")
    with pytest.raises(DataError, match="none of the .* images of the split is under data.root=.*point data.root in "
                                        ".*config.yaml at its new place"):
        resume_trainer(run, verbose=False)
    _config_with(run, lambda t: t["data"].update(root=str(tmp_path / "moved")))
    resumed = resume_trainer(run, verbose=False)  # the checkpoint's own config still says the old root
    assert resumed.progress().startswith("last completed stage init epoch 1/2")
    resumed.close()


def test_a_diverging_run_stops_naming_the_stage_the_epoch_and_the_rate(tiny_synthetic, tmp_path, capsys):
    from viewadapt.runs.checkpoint import load_checkpoint

    args = tiny_overrides(tiny_synthetic, tmp_path / "runs") + [
        "name=boom", "train.adaptation.enabled=false", "train.similarity.lr=1.0e+12", "train.similarity.epochs=3"]
    assert main(["train", "--quiet", *args]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert "training diverged in stage similarity, epoch 1" in err and "lower train.similarity.lr (now 1e+12)" in err
    assert "--resume" not in err  # it would diverge again
    state = load_checkpoint(tmp_path / "runs" / "boom" / "checkpoints" / "last.pt")
    assert (state["stage_index"], state["epoch"]) == (0, 1)  # stage (a)'s last epoch: the last good one


# ---- printing names that are not UTF-8 ------------------------------------------------------------------

def test_a_file_name_that_is_not_utf8_is_printed_not_fatal(trained_run, tiny_synthetic, tmp_path):
    gallery = tmp_path / "gallery"
    gallery.mkdir()
    source = sorted((tiny_synthetic / "cam_b").rglob("*.jpg"))[0].read_bytes()
    with open(os.path.join(os.fsencode(gallery), b"caf\xe9.jpg"), "wb") as f:
        f.write(source)
    probe = sorted((tiny_synthetic / "cam_a").rglob("*.jpg"))[0]
    env = {**os.environ, "PYTHONIOENCODING": "utf-8:strict"}
    res = subprocess.run([sys.executable, "-m", "viewadapt.cli.main", "match", str(trained_run), str(probe),
                          "--gallery", str(gallery), "--k", "1"], capture_output=True, env=env, timeout=300)
    assert res.returncode == 0, res.stderr.decode(errors="replace")
    assert b"caf\\udce9.jpg" in res.stdout


def test_features_of_another_camera_are_refused_for_a_gallery(given):
    from viewadapt.inference import ReIDModel
    from viewadapt.inference.features_file import Features

    model = ReIDModel.from_run(given["run"])
    features = Features.load(given["root"] / "probe_view.safetensors")
    with pytest.raises(DataError, match="extracted through view 0, and this match asks for calibrated camera door"):
        model._gallery(features, "gallery", "door")
    assert model._gallery(features, "probe", None) is features


def test_a_weights_file_of_the_same_split_still_scores(given, capsys):
    assert main(["evaluate", str(given["run"])]) == 0
    capsys.readouterr()
    json.loads((given["run"] / "eval" / "test_single_shot.json").read_text())


# ---- fuzz: damaged files of every kind in a folder of crops -------------------------------------------

def _damaged(path: Path, kind: str, rng: np.random.Generator) -> None:
    """A file as copies, disks and other tools leave them: ``kind`` says how it is broken."""
    good = path.with_suffix(".png")
    Image.fromarray(rng.integers(0, 255, (16, 8, 3), dtype=np.uint8)).save(good)
    data = good.read_bytes()
    good.unlink()
    if kind == "truncated":
        data = data[: int(rng.integers(1, len(data) - 1))]
    elif kind == "flipped":
        data = bytearray(data)
        for i in rng.integers(8, len(data), 6):
            data[i] ^= 0xFF
        data = bytes(data)
    elif kind == "random":
        data = rng.integers(0, 256, int(rng.integers(0, 300)), dtype=np.uint8).tobytes()
    elif kind == "empty":
        data = b""
    elif kind == "text":
        data = b"this is not an image, it only has the name of one\n"
    path.write_bytes(data)


def test_fuzz_the_loader_never_fails_but_in_one_line_naming_the_file(tmp_path):
    """Random damage to the crops of a folder (truncated, bits flipped, random bytes, empty, text under an
    image's name): every one is listed by the check a run makes before it starts, or decodes to a real
    picture; nothing raises but a one-line DataError; the good crops stay readable."""
    from viewadapt.data.images import find_unreadable

    rng = np.random.default_rng(20261207)
    kinds = ["truncated", "flipped", "random", "empty", "text"]
    damaged = []
    for i in range(60):
        path = tmp_path / f"{i:03d}{['.jpg', '.png', '.bmp'][i % 3]}"
        _damaged(path, kinds[i % len(kinds)], rng)
        damaged.append(str(path))
    good = tmp_path / "good.png"
    Image.new("RGB", (8, 16), (1, 2, 3)).save(good)
    listed = find_unreadable([*damaged, str(good)])
    assert all(str(good) not in entry for entry in listed)
    for path in damaged:
        try:
            image = load_image(path)
        except DataError as exc:
            assert "\n" not in str(exc) and path in str(exc)
            assert any(entry.startswith(f"{path} (") for entry in listed), path
        else:  # a flip Pillow does not notice still decodes to a picture of the right size
            assert image.size == (8, 16) and not any(entry.startswith(f"{path} (") for entry in listed)
    assert sum(1 for p in damaged if any(e.startswith(f"{p} (") for e in listed)) >= 45


def test_an_export_killed_between_its_graphs_leaves_a_folder_marked_incomplete_and_the_next_one_mends_it(
        trained_run, tmp_path, monkeypatch, capsys):
    """kill -9 while the graphs take their names: onnx.json already says complete: false and lists every
    graph of both exports, so no reader takes the mix for an export, the next export knows the folder as
    its own, and the killed process's temporary files go when it writes the same graphs."""
    pytest.importorskip("onnx")
    import viewadapt.files as files

    out = tmp_path / "onnx"
    assert main(["export", str(trained_run), "--out", str(out)]) == 0
    real_replace, moved = os.replace, []

    def killed(src, dst):
        if str(dst).endswith(".onnx") and moved:
            raise KeyboardInterrupt  # the process dies here; nothing of it cleans up after
        moved.append(dst)
        return real_replace(src, dst)

    monkeypatch.setattr(files.os, "replace", killed)
    monkeypatch.setattr(files, "remove_stale_temporaries", lambda path: None)
    monkeypatch.setattr(Path, "unlink", lambda self, missing_ok=False: None)  # kill -9: no clean-up runs
    with pytest.raises(KeyboardInterrupt):
        from viewadapt.inference import export_onnx

        export_onnx(trained_run, out)
    monkeypatch.undo()
    meta = json.loads((out / "onnx.json").read_text())
    assert meta["complete"] is False and set(meta["files"].values()) >= {"probe.onnx", "gallery.onnx"}
    leftovers = [p for p in out.iterdir() if p.name.endswith(".tmp")]
    assert leftovers  # the killed process's temporary graph
    # pretend its writer is gone for good (a PID no process has): the next export sweeps it
    for p in leftovers:
        p.rename(p.with_name(p.name.replace(f".{os.getpid()}.", ".4194999.")))
    assert main(["export", str(trained_run), "--out", str(out)]) == 0
    assert json.loads((out / "onnx.json").read_text())["complete"] is True
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]
    capsys.readouterr()
