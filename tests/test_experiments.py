"""Named experiments: every method over seeds, cached runs, a table with the paper's numbers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import tiny_overrides
from viewadapt.cli.main import main
from viewadapt.experiments import EXPERIMENTS
from viewadapt.experiments.runner import run_experiment
from viewadapt.runs.folder import cpu_model


def test_registry_overrides_are_valid_configs_that_say_what_they_set():
    """Every row in every setting it runs in, on the config the published tables use (and, for settings a
    real dataset takes, on the CUHK03 pair-1 one): a valid config in which each override's key holds the
    value the override gives (the last one a key is given, as a row's own override wins over its setting's)."""
    from viewadapt.config import PAPER_METHOD, load_config
    from viewadapt.yamlio import load_yaml

    def value_at(cfg, key: str):
        node = cfg
        for part in key.split("."):
            node = getattr(node, part)
        return node

    checked = 0
    for exp in EXPERIMENTS.values():
        for config, generated in (("experiments-pretrained", True), ("cuhk03_pair1-cpu", False)):
            if exp.synthetic_only and not generated:
                continue
            for setting in (s for s in exp.settings if s.applies(generated)):
                for m in exp.methods:
                    if (m.only and setting.name not in m.only) or m.data not in ("any", "synthetic" if generated
                                                                                  else "real"):
                        continue
                    given = [*setting.overrides_for(generated), *m.overrides_for(generated)]
                    given = [o.format(probe="efficientnet_lite0", gallery="efficientnet_lite1") for o in given]
                    cfg = load_config(config, [*PAPER_METHOD, *given])
                    wanted = dict(o.split("=", 1) for o in given)
                    for key, raw in wanted.items():
                        assert value_at(cfg, key) == load_yaml(raw), (exp.name, setting.name, m.key, key)
                    checked += 1
    assert checked > 150


def test_every_row_has_a_stable_key_of_its_own():
    """--methods, records' tables and make_results.sh name rows by key, which survives rows added."""
    for exp in EXPERIMENTS.values():
        keys = [m.key for m in exp.methods]
        assert all(keys) and len(set(keys)) == len(keys), exp.name
        assert not exp.baseline or exp.baseline in keys, exp.name


def test_a_pair_and_its_swap_share_one_zero_shot_floor():
    """The floor averages each network over both views, so Table VI's asymmetric and swapped rows have one."""
    from viewadapt.config import load_config
    from viewadapt.builders import zero_shot_label

    pair = ["model.probe_backbone=efficientnet_lite1", "model.gallery_backbone=efficientnet_lite0"]
    swapped = ["model.probe_backbone=efficientnet_lite0", "model.gallery_backbone=efficientnet_lite1"]
    label = zero_shot_label(load_config("paper", pair))
    assert label == zero_shot_label(load_config("paper", swapped))
    assert "efficientnet_lite0 / efficientnet_lite1" in label and "mean over the networks" in label


def test_each_shift_setting_turns_on_its_own_kinds_of_camera_difference():
    from viewadapt.config import load_config
    from viewadapt.data.synthetic import KNOBS

    on = {s.name: {k for k in KNOBS if getattr(load_config(None, list(s.overrides)).data.synthetic, k) > 0}
          for s in EXPERIMENTS["asymmetry"].settings}
    default = {"colour", "blur", "resolution", "flip"}
    assert on == {"few_shot": default, "viper_like": default, "multi_shot": default, "few_shot_colour": {"colour"},
                  "few_shot_viewpoint": {"viewpoint", "resolution"}, "few_shot_infrared": {"infrared"},
                  "unlabeled_gallery": default}


def test_a_synthetic_set_gets_its_own_folder_and_where_is_not_part_of_the_run_key():
    from viewadapt.config import load_config
    from viewadapt.experiments.runner import own_synthetic_root, run_key

    def placed(*overrides: str):
        cfg = load_config(None, ["data.root=sets", *overrides])
        key = run_key(cfg)
        own_synthetic_root(cfg)
        return cfg.data.root, key

    (plain, key), (again, _) = placed(), placed()
    (shifted, _), (larger, _) = placed("data.synthetic.infrared=1"), placed("data.height=160")
    assert plain == again and len({plain, shifted, larger}) == 3 and plain.startswith("sets-")
    assert placed("data.root=elsewhere")[1] == key  # the images are the same wherever they are written
    # a benchmark is its name and variant wherever it lies; one's own folder is where it lies
    real = [load_config(None, ["data.dataset=market1501", f"data.root={r}"]) for r in ("a", "b")]
    assert run_key(real[0]) == run_key(real[1])
    own = [load_config(None, ["data.dataset=folder", f"data.root={r}"]) for r in ("a", "b")]
    assert run_key(own[0]) != run_key(own[1])
    own_synthetic_root(real[0])
    assert real[0].data.root == "a"


PAIR = ["ours_eq2", "ours"]  # Table II's two rows, without the Siamese baseline every paper table carries


@pytest.fixture
def fast(tiny_synthetic, tmp_path):
    return tiny_overrides(tiny_synthetic, tmp_path / "unused") + [
        "train.init.epochs=1", "train.similarity.epochs=1", "train.adaptation.epochs=1"]


def test_table2_runs_every_method_over_seeds_and_reuses_finished_runs(fast, tmp_path, capsys):
    path = run_experiment("table2", None, fast, seeds=2, out=tmp_path / "exp", quiet=False, methods=PAIR)
    said = capsys.readouterr().out  # which run of how many, and from the second on the time left
    assert "== run 1 of 4: Ours (Eq. 2), seed 0\n" in said and "== run 4 of 4, about " in said
    table = path.read_text()
    assert "| Ours (Eq. 2) (`ours_eq2`) |" in table and "| Ours* (Eq. 5/6) (`ours`) |" in table and " ± " in table
    assert "paper rank-1" not in table  # the synthetic set is not one of the paper's datasets
    runs = sorted((tmp_path / "exp" / "runs").glob("*/seed*"))
    assert len(runs) == 4 and sorted(r.name for r in runs) == ["seed0", "seed0", "seed1", "seed1"]
    from viewadapt.config import load_config

    seeds = {load_config(r / "config.yaml").loss.adaptive: [] for r in runs}
    for r in runs:
        cfg = load_config(r / "config.yaml")
        seeds[cfg.loss.adaptive].append(cfg.train.seed)
    assert {k: sorted(v) for k, v in seeds.items()} == {False: [0, 1], True: [0, 1]}
    stamp = runs[0].joinpath("metrics.json").stat().st_mtime_ns
    run_experiment("table2", None, fast, seeds=2, out=tmp_path / "exp", methods=PAIR)  # everything cached
    assert runs[0].joinpath("metrics.json").stat().st_mtime_ns == stamp
    assert (tmp_path / "exp" / "table2" / "cmc.png").is_file()


def test_an_interrupted_run_is_resumed(fast, tmp_path):
    from viewadapt.builders import create_trainer
    from viewadapt.config import load_config
    from viewadapt.experiments.runner import run_key

    settings = fast + ["loss.adaptive=false", "train.seed=0"]
    run = tmp_path / "exp" / "runs" / run_key(load_config("paper", settings)) / "seed0"  # experiments' default
    cfg = load_config("paper", settings + [f"output_dir={run.parent}", "name=seed0"])
    create_trainer(cfg, verbose=False).fit(max_epochs=1)  # stopped after one epoch
    assert not json.loads((run / "metrics.json").read_text())["finished"]
    run_experiment("table2", None, fast, seeds=1, out=tmp_path / "exp", methods=PAIR)
    assert json.loads((run / "metrics.json").read_text())["finished"]
    assert sorted(p.name for p in run.parent.iterdir()) == ["seed0"]  # resumed in place, not restarted


def test_runs_are_keyed_by_what_their_results_depend_on(fast):
    """Experiments share a setting's runs (the method's defaults are a row of most of them); any
    change of config, but where the run is written and what leaves its results alone, trains anew."""
    from viewadapt.config import load_config
    from viewadapt.experiments.runner import run_key

    key = run_key(load_config(None, fast))
    assert run_key(load_config(None, fast + ["train.seed=5", "output_dir=elsewhere", "name=x"])) == key
    assert run_key(load_config(None, fast + ["train.tensorboard=true", "data.cache_images=false"])) == key
    assert run_key(load_config(None, fast + ["data.synthetic.view_shift=1.0"])) == key  # the default, spelt out
    assert run_key(load_config(None, fast + ["loss.gamma=1.0"])) != key
    assert run_key(load_config(None, fast + ["eval.trials=3"])) != key
    assert run_key(load_config(None, fast + ["data.unlabeled_root=/crops"])) != key


def test_viewshift_refuses_a_real_dataset(tmp_path):
    from viewadapt.errors import ConfigError

    with pytest.raises(ConfigError, match="data.dataset=synthetic"):
        run_experiment("viewshift", None, ["data.dataset=viper", f"data.root={tmp_path}"], out=tmp_path / "exp")


@pytest.mark.parametrize("name", ["fig6", "ablation"])
def test_every_method_of_the_new_experiments_trains(fast, tmp_path, name):
    path = run_experiment(name, None, fast + ["train.init.epochs=1"], seeds=1, out=tmp_path / "exp")
    table = path.read_text()
    assert all(f"| {m.label.format(probe='vggm_small', gallery='mobilenet_v3_small')}" in table
               for m in EXPERIMENTS[name].methods)


def test_experiment_command_lists_and_rejects_unknown(capsys):
    assert main(["experiment", "list"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in ("table2", "table6", "table7", "fig6", "fig7", "ablation", "viewshift"))
    assert "  2. no_adaptation: No adaptation (stage c, Eq. 5 only)\n" in out and "settings: few_shot, viper_like" in out
    assert main(["experiment", "table99"]) == 2
    assert "unknown experiment 'table99'" in capsys.readouterr().err


def test_dataset_option_picks_the_datasets_packaged_config(tmp_path, capsys):
    assert main(["experiment", "table2", "--dataset", "viper", "--data-root", str(tmp_path / "nowhere"),
                 "--seeds", "1", "--out", str(tmp_path / "exp")]) == 2
    err = capsys.readouterr().err
    assert str(tmp_path / "nowhere" / "viper") in err  # the missing dataset is named where it was looked for


def test_a_run_cached_before_a_config_key_existed_is_found_and_reused(fast, tmp_path):
    """Adding a config key changes every run key; the runs made before it read with the key at its
    default, and an experiment reuses them instead of training again."""
    import shutil

    import yaml

    from viewadapt.config import load_config
    from viewadapt.experiments.runner import run_key

    run_experiment("table2", None, fast, seeds=1, out=tmp_path / "exp", methods=PAIR)
    runs = sorted((tmp_path / "exp" / "runs").glob("*/seed0"))
    old = runs[0].parent.with_name("0123456789ab")
    runs[0].parent.rename(old)  # as if keyed by an older version of the config
    shutil.rmtree(tmp_path / "exp" / "records")  # and cached before runs left records
    config = old / "seed0" / "config.yaml"
    tree = yaml.safe_load(config.read_text())
    tree["dd"].pop("warmup")  # written before the key existed
    config.write_text(yaml.safe_dump(tree))
    stamp = (old / "seed0" / "metrics.json").stat().st_mtime_ns
    run_experiment("table2", None, fast, seeds=1, out=tmp_path / "exp", methods=PAIR)
    moved = sorted((tmp_path / "exp" / "runs").glob("*/seed0"))
    assert len(moved) == 2 and not old.exists()  # the emptied key folder is gone too
    assert {p.parent.name for p in moved} == {run_key(load_config(p / "config.yaml")) for p in moved}
    assert any((p / "metrics.json").stat().st_mtime_ns == stamp for p in moved)  # reused, not retrained


def test_methods_are_chosen_by_their_listed_numbers(fast, tmp_path, capsys):
    path = run_experiment("table7", None, fast, seeds=1, out=tmp_path / "exp", methods=[2, 1])
    rows = [line.split(" |")[0] for line in path.read_text().splitlines() if line.startswith("| ") and "zero" not in line]
    assert rows[1:] == ["| No adaptation (stage c, Eq. 5 only) (`no_adaptation`)",
                        "| Ours* (Eq. 3 view confusion) (`ours`)"]
    assert len(list((tmp_path / "exp" / "runs").iterdir())) == 2
    # the record keeps the processor: one config and code trains to other numbers on another kind of host
    assert f"({cpu_model()}), torch" in path.read_text()
    assert main(["experiment", "table7", "--methods", "0", "dann", "--out", str(tmp_path / "none")]) == 2
    assert "has methods keys ours, no_adaptation, dan, adda, softmax, siamese or 1 to 6 (viewadapt experiment list), not 0, dann" \
        in capsys.readouterr().err
    assert not (tmp_path / "none").exists()


def test_settings_are_chosen_by_name_and_an_unknown_one_is_named(tmp_path, capsys):
    from viewadapt.experiments.runner import _chosen_settings

    recipes = EXPERIMENTS["recipes"]
    assert [s.name for s in _chosen_settings(recipes, ["multi_shot", "few_shot"])] == ["multi_shot", "few_shot"]
    assert _chosen_settings(recipes, None) == recipes.settings
    assert main(["experiment", "recipes", "--settings", "few_shot", "huge", "--out", str(tmp_path / "exp")]) == 2
    err = capsys.readouterr().err
    assert "no setting huge" in err and "few_shot, viper_like, multi_shot" in err
    assert not (tmp_path / "exp").exists()  # refused before anything ran


REPO = Path(__file__).parent.parent


def _published() -> list[list[str]]:
    """The lines of docs/make_results.sh's ALL: each published table's experiment, seeds, settings, methods."""
    script = (REPO / "docs" / "make_results.sh").read_text()
    return [line.split() for line in script.split('ALL="', 1)[1].split('"', 1)[0].splitlines() if line.strip()]


@pytest.mark.parametrize("line", _published(), ids=" ".join)
def test_every_published_table_is_rebuilt_from_the_committed_records(line, tmp_path):
    """The page's tables come from the records in the repository, training nothing; a change to the
    config that moved any run's key (a default, a row's overrides) would empty its rows here."""
    name, seeds, settings, methods, config = (line + ["experiments-pretrained"])[:5]
    path = run_experiment(name, config, [], seeds=int(seeds), out=tmp_path,
                          settings=None if settings == "all" else settings.split(","),
                          methods=None if methods == "all" else methods.split(","),
                          records=REPO / "docs" / "results" / "records", report_only=True)
    suffix = "" if config == "experiments-pretrained" else f"-{config}"
    file = f"{name}-s{seeds}-{settings.replace(',', '_')}-{methods.replace(',', '_')}{suffix}.md"  # make_results.sh's
    section = REPO / "docs" / "results" / "sections" / file
    rows = [row for row in path.read_text().splitlines() if row.startswith("|") or row.startswith("No run")]
    assert rows == [row for row in section.read_text().splitlines() if row.startswith("|") or row.startswith("No run")]


def test_every_committed_record_is_filed_under_the_key_its_config_has_today():
    """A config key added without a thought for the run keys re-keys every record the next time a table is
    rebuilt (the records move, their results do not change): this says so before it reaches the repository."""
    from viewadapt.config import config_from_dict
    from viewadapt.experiments.records import run_key

    records = sorted((REPO / "docs" / "results" / "records").glob("*/seed*.json"))
    assert records
    moved = [p.relative_to(REPO).as_posix() for p in records
             if run_key(config_from_dict(json.loads(p.read_text())["config"])) != p.parent.name]
    assert not moved, f"{len(moved)} records would move, the first {moved[0]}: leave the new key out of run_key, " \
                      "or move them with REPORT_ONLY=1 bash docs/make_results.sh"
