"""Named experiments: every method over seeds, cached runs, a table with the paper's numbers."""

from __future__ import annotations

import json

import pytest

from conftest import tiny_overrides
from viewadapt.cli.main import main
from viewadapt.experiments import EXPERIMENTS
from viewadapt.experiments.runner import run_experiment


def test_registry_overrides_are_valid_configs():
    from viewadapt.config import load_config

    for exp in EXPERIMENTS.values():
        for m in exp.methods:
            load_config(None, [o.format(probe="vggm_small", gallery="dnet_small") for o in m.overrides])


@pytest.fixture
def fast(tiny_synthetic, tmp_path):
    return tiny_overrides(tiny_synthetic, tmp_path / "unused") + [
        "train.init.epochs=1", "train.similarity.epochs=1", "train.adaptation.epochs=1"]


def test_table2_runs_every_method_over_seeds_and_reuses_finished_runs(fast, tmp_path, capsys):
    path = run_experiment("table2", None, fast, seeds=2, out=tmp_path / "exp")
    table = path.read_text()
    assert "| Ours (Eq. 2) |" in table and "| Ours* (Eq. 5/6) |" in table and " ± " in table
    assert "paper" not in table  # the synthetic set is not one of the paper's datasets
    runs = sorted(p.relative_to(tmp_path / "exp") for p in (tmp_path / "exp").glob("table2/*/seed*"))
    assert [str(r) for r in runs] == ["table2/ours-eq-2/seed0", "table2/ours-eq-2/seed1",
                                      "table2/ours-eq-5-6/seed0", "table2/ours-eq-5-6/seed1"]
    from viewadapt.config import load_config

    assert [load_config(tmp_path / "exp" / r / "config.yaml").train.seed for r in runs[:2]] == [0, 1]
    stamp = (tmp_path / "exp" / runs[0] / "metrics.json").stat().st_mtime_ns
    run_experiment("table2", None, fast, seeds=2, out=tmp_path / "exp")  # everything cached
    assert (tmp_path / "exp" / runs[0] / "metrics.json").stat().st_mtime_ns == stamp
    assert (tmp_path / "exp" / "table2" / "cmc.png").is_file()


def test_an_interrupted_run_is_resumed(fast, tmp_path):
    from viewadapt.config import load_config
    from viewadapt.training import Trainer

    run = tmp_path / "exp" / "table2" / "ours-eq-2" / "seed0"
    cfg = load_config(None, fast + ["loss.adaptive=false", "train.seed=0", f"output_dir={run.parent}", "name=seed0"])
    Trainer.create(cfg, verbose=False).fit(max_epochs=1)  # stopped after one epoch
    assert not json.loads((run / "metrics.json").read_text())["finished"]
    run_experiment("table2", None, fast, seeds=1, out=tmp_path / "exp")
    assert json.loads((run / "metrics.json").read_text())["finished"]
    assert sorted(p.name for p in run.parent.iterdir()) == ["seed0"]  # resumed in place, not restarted


def test_experiment_command_lists_and_rejects_unknown(capsys):
    assert main(["experiment", "list"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in ("table2", "table6", "table7", "fig7"))
    assert main(["experiment", "table99"]) == 2
    assert "unknown experiment 'table99'" in capsys.readouterr().err
