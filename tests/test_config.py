"""Typed config: YAML, overrides, and one clear message per bad value."""

from pathlib import Path

import pytest

from viewadapt.config import Config, load_config
from viewadapt.errors import ConfigError


def test_defaults_follow_the_paper():
    cfg = load_config()
    assert (cfg.loss.margin, cfg.loss.gamma) == (2.0, 2.5)
    assert cfg.train.batch_p * cfg.train.batch_s == 128
    assert cfg.train.similarity.lr == 1e-3 and cfg.train.similarity.lr_step == 10
    assert cfg.model.probe_backbone != cfg.model.gallery_backbone and not cfg.model.shared


def test_yaml_then_overrides(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("train:\n  similarity: {epochs: 3}\n  seed: 4\nmodel: {shared: true}\n")
    cfg = load_config(path, ["train.seed=9", "model.ds_hidden=[8, 16]"])
    assert cfg.train.similarity.epochs == 3 and cfg.train.seed == 9 and cfg.model.shared
    assert cfg.model.ds_hidden == [8, 16]
    assert cfg.train.init.monitor == "val_rank1"  # a partial section keeps that section's defaults
    assert load_config(None, []).to_dict() == Config().to_dict()


def test_round_trip_through_yaml(tmp_path):
    cfg = load_config(None, ["loss.gamma=1.5", "name=x"])
    path = tmp_path / "resolved.yaml"
    path.write_text(cfg.to_yaml())
    assert load_config(path).to_dict() == cfg.to_dict()


@pytest.mark.parametrize("override, message", [
    ("train.similarity.epoch=3", "unknown config key 'train.similarity.epoch'"),
    ("train.seed=abc", "train.seed: expected an integer"),
    ("model.shared=maybe", "model.shared: expected true or false"),
    ("model.probe_backbone=alexnet9", "model.probe_backbone 'alexnet9' is unknown"),
    ("loss.margin=-1", "loss.margin must be > 0"),
    ("eval.protocol=multi", "eval.protocol 'multi'"),
    ("train.init.monitor=val_loss", "stage (a) has no Ds"),
    ("seed", "must look like key.path=value"),
    ("dd.input=pooled", "dd.input 'pooled' is not one of: embedding, feature"),
    ("data.labeled_pairs=1", "data.labeled_pairs=1 is below train.batch_p=16"),
])
def test_bad_values_name_the_key(override, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_config(None, [override])


def test_the_discriminators_keys_that_moved_still_load(tmp_path):
    """Dd's settings moved into the dd section; a config.yaml written before, and the old names on the
    command line, read as they did (a new key beside an old one wins)."""
    old = tmp_path / "config.yaml"
    old.write_text("model: {dd_hidden: 32, dd_input: feature}\ntrain: {dd_lr: 0.01, dd_steps: 3, dd_warmup: 7}\n")
    cfg = load_config(old)
    assert (cfg.dd.hidden, cfg.dd.input, cfg.dd.lr, cfg.dd.steps, cfg.dd.warmup) == (32, "feature", 0.01, 3, 7)
    assert load_config(None, ["train.dd_steps=4", "dd.steps=2"]).dd.steps == 2
    assert load_config(None, ["train.dd_steps=4"]).dd.steps == 4
    from viewadapt.config import config_from_dict

    tree = {"model": {"dd_hidden": 8}}
    assert config_from_dict(tree).dd.hidden == 8 and tree == {"model": {"dd_hidden": 8}}  # the caller's left as it was


def test_missing_and_malformed_files(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("train: [1, 2\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad)


def test_packaged_dataset_configs_load_by_name():
    from viewadapt.config import packaged_configs

    names = set(packaged_configs())
    assert {"demo", "viper", "cuhk03", "market1501", "dukemtmc"} <= names
    for name in ("viper", "cuhk03", "market1501", "dukemtmc"):
        cfg = load_config(name)
        assert cfg.data.dataset == name and cfg.data.protocol == "paper" and cfg.data.root == "data"
        assert cfg.train.batch_p * cfg.train.batch_s == 128  # the paper's batch
        assert cfg.train.similarity.lr == 1e-3 and cfg.train.similarity.lr_step == 10
    assert load_config("market1501", ["data.protocol=standard"]).data.protocol == "standard"
    with pytest.raises(ConfigError, match="packaged configs: .*market1501"):
        load_config("market")


def test_every_packaged_config_loads():
    from viewadapt.config import packaged_configs

    for name in packaged_configs():
        assert load_config(name).data.dataset
    assert {"experiments-small", "experiments-pretrained", "experiments-large"} <= set(packaged_configs())


def test_the_configuration_reference_is_current_and_documents_every_key():
    """docs/config.md is written from the config's own code: stale, it fails here; a key without a
    comment in the code fails here too."""
    from pathlib import Path

    from viewadapt.cli.config_reference import config_reference

    text = config_reference()
    committed = Path(__file__).parent.parent / "docs" / "config.md"
    assert committed.read_text() == text, "regenerate: python -m viewadapt.cli.config_reference > docs/config.md"
    rows = [line for line in text.splitlines() if line.startswith("| `")]
    keys = {row.split("`")[1] for row in rows}

    def leaves(tree: dict, prefix: str = "") -> set:
        return set().union(*(leaves(v, f"{prefix}{k}.") if isinstance(v, dict) else {f"{prefix}{k}"}
                             for k, v in tree.items()))

    assert keys == leaves(load_config(None).to_dict())
    assert not [row for row in rows if row.endswith("|  |")], "give every config field a comment"
    assert "One of: `full`, `partial:K`, `bn`, `stats`, `none`." in text  # the choices come from the code


def test_the_defaults_are_the_recommended_method_and_paper_is_the_papers():
    from viewadapt.config import PAPER_METHOD, RECOMMENDED_METHOD

    default = load_config()
    assert default.to_dict() == load_config(None, list(RECOMMENDED_METHOD)).to_dict()
    assert default.method().startswith("the recommended method")
    assert (default.data.height, default.data.width) == (256, 128)
    assert (default.train.init.schedule, default.train.init.warmup) == ("step", 0)
    paper = load_config("paper")
    assert paper.to_dict() == load_config("paper", list(PAPER_METHOD)).to_dict()
    assert paper.method().startswith("the paper's method")
    assert (paper.model.asymmetry, paper.model.gallery_backbone) == ("full", "efficientnet_lite1")
    assert [paper.stage(n).enabled for n in ("init", "similarity", "adaptation", "self_training")] == [
        True, True, True, False]
    assert load_config("paper", ["loss.adaptation=mmd"]).method().startswith("neither")
    assert "stages a+b" in load_config(None, ["model.asymmetry=bn"]).method()


def test_shared_still_means_siamese_under_the_new_defaults():
    """model.shared=true alone is the Siamese network, resolved as it always was (so experiment runs keep
    their keys); with another explicit level it contradicts it."""
    siamese = load_config(None, ["model.shared=true"])
    assert siamese.model.shared and siamese.model.asymmetry == "full"
    assert siamese.method().startswith("neither") and "asymmetry=none" in siamese.method()
    with pytest.raises(ConfigError, match="model.shared=true is model.asymmetry=none"):
        load_config(None, ["model.shared=true", "model.asymmetry=stats"])


def test_a_run_folder_says_which_method_it_trained(tiny_config):
    from viewadapt.builders import prepare_split, split_base
    from viewadapt.builders.trainer import run_config_text
    from viewadapt.runs.folder import new_run_folder

    cfg = tiny_config()
    run = new_run_folder(cfg.output_dir, cfg.name, run_config_text(cfg), prepare_split(cfg.data)[1],
                         split_base(cfg.data))
    head = (run / "config.yaml").read_text().splitlines()[:2]
    assert head[0] == "# the paper's method (-c paper): asymmetric Ms / Mt, Eq. 5, stages a+b+c"
    assert "-c paper" in head[1] and load_config(run / "config.yaml").to_dict() == cfg.to_dict()


def test_only_the_edge_imports_the_config():
    """data, models, objectives, training, runs, evaluation, inference and reports take plain values:
    the typed config is read by the builders, the command line and the experiments alone."""
    import ast

    import viewadapt

    package = Path(viewadapt.__file__).parent
    edge = ("builders", "cli", "experiments")
    readers = set()
    for path in package.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [f"{node.module}.{a.name}" for a in node.names] if isinstance(node, ast.ImportFrom) else [])
            if any(n == "viewadapt.config" or n.startswith("viewadapt.config.") for n in names):
                readers.add(path.relative_to(package).parts[0])
    assert readers and readers <= set(edge), readers - set(edge)
