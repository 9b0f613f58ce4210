"""The command line: user mistakes give one line naming the fix and a non-zero exit, no traceback."""

import subprocess
import sys

import pytest

from viewadapt.cli.main import main


def _run(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "viewadapt.cli.main", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=120)


@pytest.mark.parametrize("args, message", [
    (["train", "model.probe_backbone=nonet"], "model.probe_backbone 'nonet' is unknown"),
    (["train", "train.seed=x"], "train.seed: expected an integer"),
    (["train", "data.dataset=folder", "data.root=/no/such/place"], "/no/such/place does not exist"),
    (["train", "--config", "/no/config.yaml"], "/no/config.yaml does not exist"),
    (["evaluate", "/no/run"], "is not a run folder"),
])
def test_user_errors_are_one_line(args, message, tmp_path):
    res = _run(*args, f"output_dir={tmp_path}" if args[0] == "train" else "--subset=test", cwd=tmp_path)
    assert res.returncode == 2
    assert "Traceback" not in res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and lines[0].startswith("viewadapt: error:")


def test_train_command_writes_a_run(tiny_synthetic, tmp_path, capsys):
    from conftest import tiny_overrides

    args = tiny_overrides(tiny_synthetic, tmp_path / "runs") + ["train.adaptation.enabled=false", "name=cli"]
    assert main(["train", "--quiet", *args]) == 0
    out = capsys.readouterr().out
    assert "test (synthetic/custom (seed 0), single_shot): rank-1" in out and "run folder" in out
    assert (tmp_path / "runs" / "cli" / "model.safetensors").is_file()
    assert main(["train", "--resume", str(tmp_path / "runs" / "cli"), "train.seed=3"]) == 2


def test_the_demos_new_camera_trains_stage_a_longer_unless_the_user_says_otherwise():
    from viewadapt.cli.demo import run_overrides
    from viewadapt.config import load_config, packaged_configs

    demo = packaged_configs()["demo"]
    runs = {run: load_config(demo, extra) for run, extra in run_overrides([]).items()}
    assert {r: c.train.init.epochs for r, c in runs.items()} == {"paper": 9, "paper_new": 20, "siamese": 9,
                                                                 "recommended": 9, "siamese_new": 20}
    assert runs["siamese_new"].train.init.patience == 20 and runs["siamese_new"].data.labeled_pairs == 0
    assert runs["paper_new"].method() == runs["paper"].method()  # one method, two regimes
    mine = load_config(demo, run_overrides(["train.init.epochs=3", "model.shared=false"])["siamese_new"])
    assert mine.train.init.epochs == 3 and mine.model.shared  # the user's budget, the run's method


def test_demo_prints_both_regimes_and_says_where_the_recommended_method_wins(tiny_synthetic, tmp_path, capsys):
    from conftest import tiny_overrides

    from viewadapt.cli.demo import verdict

    assert main(["demo", "--quiet", *tiny_overrides(tiny_synthetic, tmp_path / "demo")]) == 0
    out = capsys.readouterr().out
    labelled, new = out.split("A new camera: camera B's training crops all unlabelled:")
    firsts = [[r.split(" | ")[0] for r in part.splitlines() if r.startswith("| ") and "rank-1" not in r]
              for part in (labelled, new)]
    floor = "| zero-shot: vggm_small random weights, no training"
    assert firsts == [[floor, "| Softmax ID (stage a only, one network)", "| Siamese shared weights (Eq. 5, stages a+b)",
                       "| the paper's Ours* (asymmetric Ms/Mt, Eq. 5, view adaptation; -c paper)",
                       "| **recommended**: camera statistics, stages a+b (+ self-training on unlabelled images; the "
                       "default)"],
                      [floor, "| Siamese shared weights (stages a+b), trained on camera A's labels",
                       "| the paper's Ours* (asymmetric Ms/Mt, Eq. 5, view adaptation; -c paper)",
                       "| **recommended**: the same network, camera B's statistics re-estimated from its crops "
                       "(viewadapt calibrate)"]]
    # the new camera's floor is the labelled regime's (one test split), and its runs hid camera B's labels
    assert labelled.count(floor) == new.count(floor) == 1
    assert "labeled_pairs: 0" in (tmp_path / "demo" / "siamese_new" / "config.yaml").read_text()
    assert (tmp_path / "demo" / "siamese_new" / "eval").is_dir()  # scored again, calibrated
    assert "Every camera labelled: the recommended method " in out and "A new camera without labels: " in out
    assert "# the recommended method" in (tmp_path / "demo" / "recommended" / "config.yaml").read_text()
    assert (tmp_path / "demo" / "demo.md").is_file() and (tmp_path / "demo" / "demo_cmc.png").is_file()
    assert (tmp_path / "demo" / "demo_cmc_new_camera.png").is_file()
    page = (tmp_path / "demo" / "index.html").read_text()  # one page: the tables, the curves, each run's report
    assert page.count("<table>") == 2 and 'src="demo_cmc.png"' in page and 'src="demo_cmc_new_camera.png"' in page
    assert verdict(40.0, 32.0).startswith("ties") and verdict(60.0, 15.0).startswith("wins by 45.0")
    assert verdict(10.0, 22.0).startswith("loses by 12.0")
    for run in ("siamese", "paper", "recommended", "siamese_new", "paper_new"):
        assert f'href="{run}/report.html"' in page and (tmp_path / "demo" / run / "report.html").is_file()
