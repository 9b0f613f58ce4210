"""Nothing a user types loses their work: every mistake is one line with exit code 2, no file the
project did not write is ever deleted, one process at a time trains a run folder, and a run stopped
by a signal or a full disk resumes."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from conftest import tiny_overrides
from viewadapt.cli.main import main
from viewadapt.data.synthetic import SyntheticSpec, generate
from viewadapt.errors import ViewAdaptError
from viewadapt.files import WriteError
from viewadapt.runs.checkpoint import load_checkpoint
from viewadapt.runs.lock import RunFolderBusy, RunLock
from viewadapt.builders import create_trainer, resume_trainer

PWNED = "pwned-by-a-crafted-file"  # the file a crafted input would make if its code ran


def _copy_run(run: Path, dest: Path) -> Path:
    shutil.copytree(run, dest, ignore=shutil.ignore_patterns("run.lock"))
    return dest


@pytest.fixture(scope="module")
def bad(trained_run, tiny_synthetic, tmp_path_factory) -> dict[str, Path]:
    """Crafted inputs, each broken in one way, beside a copy of a finished run."""
    root = tmp_path_factory.mktemp("bad")
    files = {"run": _copy_run(trained_run, root / "run"), "root": root, "syn": tiny_synthetic}
    files["afile"] = root / "afile.txt"
    files["afile"].write_text("not a folder, not an image")
    (root / "list.yaml").write_text("- 1\n- 2\n")
    (root / "tag.yaml").write_text(f"train: !!python/object/apply:os.system ['touch {root / PWNED}']\n")
    (root / "binary.yaml").write_bytes(b"\x7fELF\x02\x01\x01\x00\xd0\xff")
    one = root / "onecam" / "camA"
    for i, image in enumerate(sorted((tiny_synthetic / "cam_a").rglob("*.jpg"))[:3]):
        (one / f"{i:04d}").mkdir(parents=True)
        shutil.copy(image, one / f"{i:04d}" / "x.jpg")
    images = sorted(tiny_synthetic.rglob("*.jpg"))
    rows = ["path,identity,camera"] + [f"{p},{p.parent.name},{p.parent.parent.name}" for p in images]
    (root / "latin1.csv").write_bytes(("\n".join(rows) + "\ncaf\xe9.jpg,1,c\n").encode("latin-1"))
    weights = load_file(str(files["run"] / "model.safetensors"))
    for name, meta in (("meta_yaml", "model: [1"), ("meta_list", "- 1\n- 2"), ("meta_type", "model: 5")):
        run = _copy_run(files["run"], root / name)
        save_file(weights, str(run / "model.safetensors"), {"config": meta})
    run = _copy_run(files["run"], root / "tampered")
    raw = bytearray((run / "model.safetensors").read_bytes())
    raw[8:20] = b'{"__x":!!!!!'
    (run / "model.safetensors").write_bytes(bytes(raw))
    for name, drop in (("no_history", "history"), ("no_stage", "stage_index")):
        run = _copy_run(files["run"], root / name)
        (run / "model.safetensors").unlink()
        state = torch.load(run / "checkpoints" / "last.pt", weights_only=True)
        state.pop(drop)
        torch.save(state, run / "checkpoints" / "last.pt")
    run = _copy_run(files["run"], root / "pickled")
    (run / "model.safetensors").unlink()

    class Payload:
        def __reduce__(self):
            return os.system, (f"touch {root / PWNED}",)

    torch.save({"format": 1, "models": Payload()}, run / "checkpoints" / "last.pt")
    run = _copy_run(files["run"], root / "tagged_config")
    (run / "config.yaml").write_text((root / "tag.yaml").read_text())
    return files


# One row a mistake: the arguments ({name} is a path of the `bad` fixture, TINY the tiny run's
# overrides), a fragment of the message.
TINY = "<tiny overrides>"
CASES = [
    (["train", "train.seed=[1"], "the value is not valid YAML"),
    (["train", "train=5"], "train is a section, not a value"),
    (["train", "model=resnet"], "model is a section, not a value"),
    (["train", "train.seed"], "must look like key.path=value"),
    (["train", "train.nosuch=1"], "unknown config key 'train.nosuch'"),
    (["train", "train.seed.x=1"], "train.seed: expected an integer"),
    (["train", "train.seed=x"], "train.seed: expected an integer"),
    (["train", "train.seed=!!python/object/apply:os.system [true]"], "not valid YAML"),
    (["train", "train.init.epochs=0"], "train.init.epochs must be >= 1"),
    (["train", "data.height=8"], "data.height must be >= 32"),
    (["train", "name=../../elsewhere"], "must be a plain folder name"),
    (["train", "model.probe_backbone=nonet"], "model.probe_backbone 'nonet' is unknown"),
    (["train", "train.device=tpu"], "train.device must be auto, cpu or cuda"),
    (["train", "-c", "/no/such.yaml"], "/no/such.yaml does not exist"),
    (["train", "-c", "{root}"], "is a folder"),
    (["train", "-c", "{root}/list.yaml"], "must hold a mapping of settings"),
    (["train", "-c", "{root}/tag.yaml"], "is not valid YAML"),
    (["train", "-c", "{root}/binary.yaml"], "not UTF-8 text"),
    (["train", "data.dataset=folder", "data.root=/no/such/place"], "/no/such/place does not exist"),
    (["train", "data.dataset=folder", "data.root={root}/onecam"], "needs at least two"),
    (["train", "data.dataset=csv", "data.root={root}/latin1.csv"], "is not UTF-8 text"),
    (["train", TINY, "output_dir={afile}"], "Not a directory"),
    (["train", TINY, "data.unlabeled_root=/no/crops", "train.adaptation.enabled=false",
      "train.self_training.enabled=true"], "data.unlabeled_root /no/crops is not a folder"),
    (["train", TINY, "data.unlabeled_root={run}/checkpoints", "train.adaptation.enabled=false",
      "train.self_training.enabled=true"], "checkpoints holds no images"),
    (["train", TINY, "output_dir=/proc/no/such"], "cannot make run folder"),
    (["train", "--resume", "/no/run"], "is not a run folder"),
    (["train", "--resume", "{root}"], "is not a run folder"),
    (["train", "--resume", "{run}", "train.seed=3"], "drop --config and overrides"),
    (["train", "--resume", "{run}"], "has finished training: nothing to resume"),
    (["train", "--resume", "{root}/pickled"], "cannot be read (UnpicklingError)"),
    (["train", "--resume", "{root}/no_history"], "is incomplete (KeyError: 'history')"),
    (["train", "--resume", "{root}/no_stage"], "is incomplete (KeyError: 'stage_index')"),
    (["evaluate", "/no/run"], "is not a run folder"),
    (["evaluate", "{run}", "--trials", "0"], "--trials: must be 1 or more, not 0"),
    (["evaluate", "{run}", "--trials", "-2"], "--trials: must be 1 or more"),
    (["evaluate", "{run}", "--search", "faiss", "--topk", "0"], "--topk: must be 1 or more"),
    (["evaluate", "{run}", "--protocol", "nosuch"], "eval.protocol 'nosuch' is not one of"),
    (["evaluate", "{root}/meta_yaml"], "meta_yaml/model.safetensors: the config stored in its metadata"),
    (["evaluate", "{root}/meta_list"], "meta_list/model.safetensors: the config stored in its metadata"),
    (["evaluate", "{root}/meta_type"], "meta_type/model.safetensors: the config stored in its metadata"),
    (["evaluate", "{root}/tampered"], "the file is corrupt"),
    (["evaluate", "{root}/tagged_config"], "is not valid YAML"),
    (["report", "/no/run"], "is not a run folder"),
    (["extract", "{run}", "{syn}/cam_a", "--out", "{root}/f.safetensors", "--batch-size", "0"], "--batch-size"),
    (["extract", "{run}", "{syn}/cam_a", "--out", "{root}/f.safetensors", "--view", "7"], "no mapping for view '7'"),
    (["extract", "{run}", "{run}/checkpoints", "--out", "{root}/f.safetensors"], "holds no images"),
    (["extract", "{run}", "{syn}/cam_a", "--out", "{root}"], "is a folder: give a file name"),
    (["extract", "{run}", "{syn}/cam_a", "--out", "/proc/f.safetensors"], "cannot write /proc/f.safetensors"),
    (["extract", "{run}", "{syn}/cam_a", "--out", "{root}/f.safetensors", "--device", "cuda:7"], "device cuda:7"),
    (["extract", "{run}", "{syn}/cam_a", "--out", "{root}/f.safetensors", "--device", "junk"],
     "'junk' is not a device name"),
    (["match", "{run}", "{syn}/cam_a/0000", "--gallery", "{syn}/cam_b", "--k", "0"], "--k: must be 1 or more"),
    (["match", "{run}", "{syn}/cam_a/0000", "--gallery", "{syn}/cam_b", "--k", "-1"], "--k: must be 1 or more"),
    (["match", "{run}", "/no/probe.jpg", "--gallery", "{syn}/cam_b"], "/no/probe.jpg does not exist"),
    (["match", "{run}", "{syn}/cam_a/0000", "--gallery", "/no/gallery"], "/no/gallery does not exist"),
    (["match", "{run}", "{syn}/cam_a/0000", "--gallery", "{root}/tampered/model.safetensors"],
     "not a viewadapt features file"),
    (["match", "{run}", "{afile}", "--gallery", "{syn}/cam_b"], "cannot read image"),
    (["export", "{run}", "--out", "."], "is not empty and holds no earlier export"),
    (["export", "{run}", "--out", "{run}"], "add --force"),
    (["export", "{run}", "--out", "{afile}"], "is a file"),
    (["export", "{run}", "--out", "/no/such/folder"], "does not exist; create it first"),
    (["export", "{root}/no_history", "--out", "{root}/onnx_new"], "its training did not finish"),
    (["experiment", "table6", "--seeds", "0"], "--seeds: must be 1 or more"),
    (["experiment", "nosuch"], "unknown experiment 'nosuch'"),
    (["experiment", "table6", "--methods", "99"], "has methods keys ours, swapped"),
    (["experiment", "recipes", "--settings", "nosuch"], "has no setting nosuch"),
    (["datasets", "info", "nosuch"], "unknown dataset 'nosuch'"),
    (["datasets", "info", "csv", "--data-root", "{root}/latin1.csv"], "is not UTF-8 text"),
    (["demo", "train.seed=x"], "train.seed: expected an integer"),
    (["nosuch-command"], "invalid choice"),
]


@pytest.mark.parametrize("args, message", CASES, ids=[" ".join(a)[:60] for a, _ in CASES])
def test_every_mistake_is_one_line_with_exit_code_2(args, message, bad, monkeypatch, capsys):
    monkeypatch.chdir(bad["root"])
    tiny = tiny_overrides(bad["syn"], bad["root"] / "runs")
    argv = [b for a in args for b in (tiny if a == TINY else [a.format(**{k: str(v) for k, v in bad.items()})])]
    before = _tree(bad["root"])
    assert _exit_code(argv) == 2
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert "Traceback" not in err and len(lines) == 1, err
    assert message in lines[0] and ": error: " in lines[0]
    assert _tree(bad["root"]) == before  # nothing written, nothing removed
    assert not (bad["root"] / PWNED).exists()  # no crafted file ran code


def _exit_code(argv: list[str]) -> int:
    """What the command exits with: main's return value, or the code argparse exits with."""
    try:
        return main(argv)
    except SystemExit as exc:
        return exc.code


def _tree(root: Path) -> list[str]:
    # run.lock is the lock's own file, made the first time a folder is locked and kept (lock.py says why)
    return sorted(str(p) for p in root.rglob("*") if p.name != "run.lock")


def test_the_command_itself_prints_one_line_and_no_traceback(tmp_path):
    """The installed entry point, not the function: what a shell user sees."""
    res = subprocess.run([sys.executable, "-m", "viewadapt.cli.main", "train", "train.seed=[1"],
                         capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert res.returncode == 2 and res.stderr.count("\n") == 1 and "Traceback" not in res.stderr


# ---- nothing the project did not write is deleted ---------------------------------------------------

def test_export_never_removes_a_file_it_did_not_write(trained_run, tmp_path, capsys):
    pytest.importorskip("onnx")
    out = tmp_path / "export"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    assert main(["export", str(trained_run), "--out", str(out)]) == 2  # a foreign folder: refused
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]
    assert main(["export", str(trained_run), "--out", str(out), "--force"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["gallery.onnx", "notes.txt", "onnx.json", "probe.onnx"]
    # An earlier export is replaced without --force: its graphs, and one this export no longer writes.
    meta = json.loads((out / "onnx.json").read_text())
    meta["files"]["shared"] = "shared.onnx"
    (out / "onnx.json").write_text(json.dumps(meta))
    (out / "shared.onnx").write_bytes(b"an earlier export's graph")
    assert main(["export", str(trained_run), "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["gallery.onnx", "notes.txt", "onnx.json", "probe.onnx"]
    assert (out / "notes.txt").read_text() == "mine"
    # The run folder itself is a foreign folder to an export: without --force nothing happens to it.
    files = sorted(p.name for p in trained_run.iterdir())
    assert main(["export", str(trained_run), "--out", str(trained_run)]) == 2
    assert sorted(p.name for p in trained_run.iterdir()) == files
    capsys.readouterr()


def test_regenerating_the_synthetic_set_keeps_files_it_did_not_write(tmp_path):
    root = generate(tmp_path / "syn", SyntheticSpec(num_identities=3, images_per_view=1, seed=0), 64, 32)
    (root / "cam_a" / "0000" / "mine.jpg").write_bytes(b"a user's file")
    (root / "cam_a" / "notes.txt").write_text("mine")
    generate(root, SyntheticSpec(num_identities=2, images_per_view=1, seed=1), 64, 32)
    assert (root / "cam_a" / "0000" / "mine.jpg").read_bytes() == b"a user's file"
    assert (root / "cam_a" / "notes.txt").read_text() == "mine"
    assert not (root / "cam_a" / "0002").exists()  # the older set's third identity is gone
    assert len(list(root.rglob("0000_cam_a_*.jpg"))) == 1


# ---- the run-folder lock ----------------------------------------------------------------------------

HOLDER = """
import sys, time
from viewadapt.runs.lock import RunLock
RunLock.acquire(sys.argv[1])
print("held", flush=True)
time.sleep(600)
"""


def _hold(folder: Path) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(folder)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_a_second_process_on_a_run_folder_is_refused_and_a_dead_holder_frees_it(tiny_config, capsys):
    cfg = tiny_config("name=locked", "train.adaptation.enabled=false")
    trainer = create_trainer(cfg, verbose=False)
    trainer.close()  # made, never trained: no checkpoint yet
    run = trainer.run_dir
    holder = _hold(run)
    try:
        with pytest.raises(RunFolderBusy, match=f"in use by PID {holder.pid} on "):
            RunLock.acquire(run)
        assert main(["train", "--resume", str(run)]) == 2
        assert f"PID {holder.pid}" in capsys.readouterr().err
        # The experiment cache neither deletes nor touches a run another process holds.
        from viewadapt.experiments.runner import run_method

        files = sorted(p.name for p in run.iterdir())
        with pytest.raises(RunFolderBusy):
            run_method(cfg, run, quiet=True)
        assert sorted(p.name for p in run.iterdir()) == files
    finally:
        holder.kill()  # as kill -9 would: the holder gets no chance to clean up
        holder.wait()
    resumed = resume_trainer(run, verbose=False)  # the dead holder's lock is free
    try:
        assert resumed.progress() == "no epoch completed; continuing with stage init, epoch 1"
        resumed.fit(max_epochs=1)
        assert load_checkpoint(run / "checkpoints" / "last.pt")["epoch"] == 0
    finally:
        resumed.close()


# ---- signals and faults of the machine ----------------------------------------------------------------

def _train_process(args: list[str], cwd: Path, **kw) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "viewadapt.cli.main", "train", *args], cwd=cwd,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def test_sigterm_keeps_the_last_checkpoint_and_prints_how_to_resume(tiny_synthetic, tmp_path):
    args = tiny_overrides(tiny_synthetic, tmp_path / "runs") + ["name=term", "train.init.epochs=40",
                                                                 "train.init.patience=40"]
    proc = _train_process(args, tmp_path)
    checkpoint = tmp_path / "runs" / "term" / "checkpoints" / "last.pt"
    deadline = time.time() + 180
    while not checkpoint.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.2)
    assert checkpoint.exists(), proc.communicate()
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 128 + signal.SIGTERM
    assert "Traceback" not in err and f"viewadapt train --resume {checkpoint.parent.parent}" in err
    assert "stopped by SIGTERM" in (checkpoint.parent.parent / "train.log").read_text()
    assert sorted(p.name for p in checkpoint.parent.iterdir()) == ["last.pt"]  # no temporary file left
    resumed = resume_trainer(checkpoint.parent.parent, verbose=False)
    done = load_checkpoint(checkpoint)["epoch"] + 1
    assert resumed.progress() == f"last completed stage init epoch {done}/40; continuing with epoch {done + 1}"
    resumed.close()


def test_a_full_disk_gives_one_line_and_the_resume_command_and_leaves_no_litter(tiny_synthetic, tmp_path):
    """The file-size limit makes writes of over 1 MB fail as a full disk does (Python ignores SIGXFSZ):
    the run folder and its small files are written, the first checkpoint is not."""
    import resource

    args = ["--quiet", *tiny_overrides(tiny_synthetic, tmp_path / "runs"), "name=full"]
    limit = lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 20, 1 << 20))  # noqa: E731
    proc = _train_process(args, tmp_path, preexec_fn=limit)
    _, err = proc.communicate(timeout=300)
    run = tmp_path / "runs" / "full"
    assert proc.returncode == 2 and "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert f"cannot write {run / 'checkpoints' / 'last.pt'}" in err and f"viewadapt train --resume {run}" in err
    assert f"viewadapt train --resume {run}" in (run / "train.log").read_text()
    assert not list(run.rglob("*.tmp"))
    resumed = resume_trainer(run, verbose=False)  # a folder --resume accepts: it starts the run over
    resumed.close()


def test_a_failed_checkpoint_write_keeps_the_previous_one(tiny_config, monkeypatch):
    trainer = create_trainer(tiny_config("name=disk", "train.adaptation.enabled=false"), verbose=False)
    trainer.fit(max_epochs=1)
    checkpoint = trainer.run_dir / "checkpoints" / "last.pt"
    before = checkpoint.read_bytes()

    def full_disk(obj, path):
        Path(path).write_bytes(b"half a checkpoint")
        raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 704 vs 598")

    monkeypatch.setattr(torch, "save", full_disk)
    with pytest.raises(WriteError, match=f"cannot write {checkpoint}: the write failed"):
        trainer.fit(max_epochs=1)
    assert checkpoint.read_bytes() == before
    assert sorted(p.name for p in checkpoint.parent.iterdir()) == ["last.pt"]
    trainer.close()


def test_a_run_that_fails_to_start_leaves_no_folder_and_keeps_a_foreign_file(tiny_config, monkeypatch):
    import viewadapt.builders.trainer as trainer_module

    def broken(cfg):
        raise ViewAdaptError("the backbone's weights are missing: put them in place")

    cfg = tiny_config("name=fails")
    monkeypatch.setattr(trainer_module, "build_method", broken)
    with pytest.raises(ViewAdaptError, match="weights are missing"):
        create_trainer(cfg, verbose=False)
    assert not (Path(cfg.output_dir) / "fails").exists()
    from viewadapt.runs.folder import remove_new_run_folder

    run = Path(cfg.output_dir) / "other"
    run.mkdir()
    (run / "config.yaml").write_text("a run's config")
    (run / "mine.txt").write_text("someone else's")
    remove_new_run_folder(run)
    assert sorted(p.name for p in run.iterdir()) == ["mine.txt"]


# ---- resume says where it stands and leaves a finished run alone ----------------------------------------

def test_resume_of_a_finished_run_changes_nothing(trained_run, tmp_path, capsys):
    run = _copy_run(trained_run, tmp_path / "done")
    stamps = {p.name: p.stat().st_mtime_ns for p in run.rglob("*") if p.is_file()}
    assert main(["train", "--resume", str(run)]) == 2
    assert "has finished training" in capsys.readouterr().err
    assert {p.name: p.stat().st_mtime_ns for p in run.rglob("*") if p.is_file()} == stamps


def test_resume_names_the_last_completed_epoch_and_the_next(tiny_config):
    trainer = create_trainer(tiny_config("name=progress", "train.adaptation.enabled=false"), verbose=False)
    trainer.fit(max_epochs=1)
    trainer.close()
    resumed = resume_trainer(trainer.run_dir, verbose=False)
    assert resumed.progress() == "last completed stage init epoch 1/2; continuing with epoch 2"
    resumed.fit(max_epochs=1)
    assert resumed.progress() == "stage init completed; continuing with stage similarity, epoch 1"
    resumed.close()
    assert "last completed stage init epoch 1/2" in (trainer.run_dir / "train.log").read_text()


# ---- what the files look like ---------------------------------------------------------------------

def test_every_file_of_a_run_gets_the_same_ordinary_mode(trained_run, tiny_synthetic, tmp_path):
    from viewadapt.inference import ReIDModel

    images = sorted((tiny_synthetic / "cam_b").rglob("*.jpg"))[:2]
    feats = ReIDModel.from_run(trained_run).extract(images, "gallery").save(tmp_path / "f.safetensors")
    mask = os.umask(0)
    os.umask(mask)
    expected = 0o666 & ~mask
    for path in [feats, trained_run / "model.safetensors", trained_run / "checkpoints" / "last.pt",
                 trained_run / "metrics.json", trained_run / "config.yaml"]:
        assert path.stat().st_mode & 0o777 == expected, path


def test_a_csv_with_a_byte_order_mark_reads_like_one_without(tiny_synthetic, tmp_path):
    from viewadapt.data.datasets.csv_index import read_csv_index

    images = sorted(tiny_synthetic.rglob("*.jpg"))
    text = "\n".join(["path,identity,camera"] + [f"{p},{p.parent.name},{p.parent.parent.name}" for p in images])
    (tmp_path / "plain.csv").write_text(text, encoding="utf-8")
    (tmp_path / "bom.csv").write_text("\ufeff" + text, encoding="utf-8")
    plain, bom = read_csv_index(tmp_path / "plain.csv"), read_csv_index(tmp_path / "bom.csv")
    assert bom.records == plain.records and bom.camera_names == ["cam_a", "cam_b"]


def test_match_takes_a_folder_of_probes(trained_run, tiny_synthetic, capsys):
    assert main(["match", str(trained_run), str(tiny_synthetic / "cam_a" / "0000"), "--gallery",
                 str(tiny_synthetic / "cam_b"), "--k", "2"]) == 0
    assert capsys.readouterr().out.count("probe ") == 2  # the identity's two images
