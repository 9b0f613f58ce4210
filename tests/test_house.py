"""The house: one training contract (hooks write to the trainer's store, never to the trainer), each config
key declared once (validation, the run key and docs/config.md read the same declaration), pseudo-label
rules as a registry, old spellings in one module."""

from __future__ import annotations

import ast
import dataclasses
import enum
import inspect
from pathlib import Path

import pytest

from viewadapt.config import Config, load_config, validate
from viewadapt.config_migrations import MOVED, migrate
from viewadapt.declare import UNSET, check_declared, declarations, declared, result_tree, setting
from viewadapt.errors import ConfigError
from viewadapt.experiments.records import run_key
from viewadapt.training.pseudo_labels import LEFT_OUT, PSEUDO_LABELS

SRC = Path(__file__).parent.parent / "src" / "viewadapt"


def _trainer_names(func: ast.AST) -> set[str]:
    """Names a function binds to the trainer: ``t = self.trainer``, a parameter called trainer."""
    names = {"trainer"}
    for node in ast.walk(func):
        if isinstance(node, ast.Assign) and ast.unparse(node.value) in ("self.trainer", "trainer"):
            names |= {ast.unparse(t) for t in node.targets if isinstance(t, ast.Name)}
    return names


def _root(target: ast.AST) -> str:
    while isinstance(target, (ast.Attribute, ast.Subscript)):
        if isinstance(target, ast.Attribute) and ast.unparse(target.value) == "self.trainer":
            return "self.trainer"
        target = target.value
    return ast.unparse(target)


def _trainer_assignments(func: ast.AST) -> list[ast.AST]:
    """The assignments of a function to an attribute (or an item of one) of the trainer."""
    names = _trainer_names(func) | {"self.trainer"}
    found = []
    for node in ast.walk(func):
        targets = node.targets if isinstance(node, ast.Assign) else \
            [node.target] if isinstance(node, (ast.AugAssign, ast.AnnAssign)) else []
        found += [t for t in targets if isinstance(t, (ast.Attribute, ast.Subscript)) and _root(t) in names]
    return found


def test_no_module_but_the_trainer_assigns_a_trainer_attribute():
    """Hooks and stages read the trainer and write what they measure to its store through methods: an
    assignment to ``t.x``, ``t.x[k]`` or ``self.trainer.x`` anywhere else would make the order of hooks
    matter again."""
    found = []
    for path in sorted(SRC.rglob("*.py")):
        if path == SRC / "training" / "trainer.py":
            continue
        tree = ast.parse(path.read_text())
        for func in [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]:
            found += [f"{path.relative_to(SRC)}:{t.lineno} {ast.unparse(t)}" for t in _trainer_assignments(func)]
    assert not found, found


def test_the_checker_finds_such_an_assignment():
    """The walk above can fail: the assignments through the trainer that the hooks used to make are found,
    and binding a name to the trainer is not one."""
    func = ast.parse("def after_epoch(self, trainer):\n    t = self.trainer\n    t.stop_stage = True\n"
                     "    self.trainer.elapsed += 1\n    t.stage_results['a']['b'] = 2\n"
                     "    trainer.zero_shot = {}\n    t.store.add_results('a')\n").body[0]
    assert [ast.unparse(t) for t in _trainer_assignments(func)] == [
        "t.stop_stage", "self.trainer.elapsed", "t.stage_results['a']['b']", "trainer.zero_shot"]


def test_validate_is_short_and_made_of_named_rules():
    from viewadapt import config

    assert len(inspect.getsource(validate).splitlines()) <= 10
    for rule in config.RULES:
        assert rule.__name__.startswith("_") and len(inspect.getsource(rule).splitlines()) <= 30, rule.__name__


FREE_TEXT = {"data.root", "data.protocol", "data.variant", "data.unlabeled_root", "data.test_root", "output_dir"}


def _keys(cls: type = Config, prefix: str = ""):
    for key, f, d in declarations(cls, prefix):
        kind = f.type if not isinstance(f.type, str) else eval(f.type, vars(__import__(cls.__module__, fromlist=["x"])))
        if dataclasses.is_dataclass(kind):
            yield from _keys(kind, f"{key}.")
        else:
            yield key, f, d


def test_every_text_key_declares_what_it_accepts():
    """A text key is a choice (a registry, an enum, a tuple defined once), a grammar of its own, or free
    text that a named rule checks (the dataset decides protocol and variant): never a list written twice."""
    undeclared = [key for key, f, d in _keys() if f.type in (str, "str") and d.choices is None and d.parse is None
                  and key not in FREE_TEXT]
    assert not undeclared, undeclared


def test_a_declared_range_is_checked_with_the_key_named():
    with pytest.raises(ConfigError, match="^train.similarity.patience must be >= 1, not 0$"):
        load_config(None, ["train.similarity.patience=0"])
    with pytest.raises(ConfigError, match="^data.num_test must be >= 2 or -1, not 0$"):
        load_config(None, ["data.num_test=0"])
    with pytest.raises(ConfigError, match="^eval.kr_lambda must be in \\[0, 1\\], not 2$"):
        load_config(None, ["eval.kr_lambda=2"])
    with pytest.raises(ConfigError, match="^data.synthetic.num_cameras must be in \\[2, 26\\], not 30$"):
        load_config(None, ["data.synthetic.num_cameras=30"])
    with pytest.raises(ConfigError, match="train.amp 'fp8' is not one of: none, bf16, fp16"):
        load_config(None, ["train.amp=fp8"])


@dataclasses.dataclass
class _Section:
    old: int = setting(3, low=1)
    quiet: bool = setting(False, results=False)
    new: str = setting("plain", choices=("plain", "fancy"), since="2099-01-01")
    moved_default: int = setting(5, since="2099-01-01", was=0)


def test_a_key_that_changes_no_result_or_keeps_its_first_value_keys_no_run():
    """What keeps every committed record's key without a hand-kept list: result_tree leaves out a key that
    changes no result, and a key added later while it holds the value runs had before it."""
    assert result_tree(_Section()) == {"old": 3, "moved_default": 5}
    assert result_tree(_Section(quiet=True)) == result_tree(_Section())
    assert result_tree(_Section(new="fancy")) == {"old": 3, "new": "fancy", "moved_default": 5}
    assert result_tree(_Section(moved_default=0)) == {"old": 3}
    with pytest.raises(ConfigError, match="^x.new 'gaudy' is not one of: plain, fancy$"):
        check_declared(_Section(new="gaudy"), "x.")
    plain = load_config(None, [])
    assert run_key(plain) == run_key(load_config(None, ["output_dir=elsewhere", "name=n", "train.tensorboard=false",
                                                        "data.cache_images=false"]))
    assert run_key(plain) == run_key(load_config(None, ["train.self_training.rule=mutual", "train.sp_epoch=identities"]))
    assert run_key(plain) != run_key(load_config(None, ["train.sp_epoch=images"]))


@dataclasses.dataclass
class _Inner:
    radius: float = 0.5


@dataclasses.dataclass
class _Rule:
    rule: str = setting("near", since="2099-01-01")
    k: int = setting(2, when=("rule", "near"))
    inner: _Inner = setting(default_factory=_Inner, since="2099-01-01", when=("rule", "far"))


def test_a_rules_settings_key_a_run_only_where_the_rule_runs_and_always_there():
    """A setting of one rule keys no run of another, and where its rule runs it keys the run at any value:
    at its default too, so that changing that default later gives the new runs keys of their own (the
    cluster defaults changed on 2026-12-07 while a section at its default keyed nothing, and two settings
    shared one cached run)."""
    assert result_tree(_Rule()) == {"k": 2}
    assert result_tree(_Rule(k=7)) == {"k": 7}
    assert result_tree(_Rule(rule="far")) == {"rule": "far", "inner": {"radius": 0.5}}
    assert result_tree(_Rule(rule="far", k=7)) == result_tree(_Rule(rule="far"))
    assert result_tree(_Rule(rule="far", inner=_Inner(0.3))) == {"rule": "far", "inner": {"radius": 0.3}}
    mutual = load_config(None, ["train.self_training.enabled=true"])
    assert run_key(mutual) == run_key(load_config(None, ["train.self_training.enabled=true",
                                                         "train.self_training.cluster.eps=0.3"]))
    cluster = load_config(None, ["train.self_training.rule=cluster"])
    assert "cluster" in result_tree(cluster)["train"]["self_training"]
    assert run_key(cluster) == run_key(load_config(None, ["train.self_training.rule=cluster",
                                                          "train.self_training.k=9"]))


# The defaults of the keys added after the first version, as the records written before each key have them:
# a key at this value is left out of run keys, so changing its default would give an old record the new
# default's meaning. Change a default here only with ``was=`` its old value in the declaration.
SINCE_DEFAULTS = {
    "data.train_subset": -1, "data.labeled_people": -1, "data.unlabeled_root": "", "data.test_root": "",
    "data.synthetic.strangers": 0,
    "train.self_training.rule": "mutual", "train.self_training.loss": "matcher", "train.sp_epoch": "identities",
}


def test_a_key_added_later_keeps_the_value_its_earlier_runs_had():
    found = {}

    def walk(obj, prefix):
        for f in dataclasses.fields(obj):
            value, d = getattr(obj, f.name), declared(f)
            if d.since and d.results and d.when is None and d.was is UNSET:
                found[prefix + f.name] = value.value if isinstance(value, enum.Enum) else value
            elif dataclasses.is_dataclass(value):
                walk(value, f"{prefix}{f.name}.")

    walk(Config(), "")
    assert found == SINCE_DEFAULTS, "a `since` key's default changed: declare was= its old value"


def test_old_spellings_read_as_they_meant():
    tree = {"model": {"dd_hidden": 32, "shared": True}, "train": {"dd_lr": 0.01, "dd_steps": 2}}
    migrated = migrate(tree)
    assert migrated == {"model": {"shared": True, "asymmetry": "full"}, "train": {},
                        "dd": {"hidden": 32, "lr": 0.01, "steps": 2}}
    assert set(MOVED.values()) <= {("dd", f.name) for f in dataclasses.fields(Config().dd)}
    both = migrate({"model": {"dd_input": "feature"}, "dd": {"input": "embedding"}})
    assert both["dd"]["input"] == "embedding"  # the new key, set too, wins
    assert migrate({"model": {"shared": True}}, user=False) == {"model": {"shared": True}}
    cfg = load_config(None, ["model.shared=true", "model.dd_hidden=64"])
    assert cfg.model.view_asymmetry.one_network and cfg.dd.hidden == 64


# ---- pseudo-label rules: a registry, every entry trained, validated and documented ---------------------

def test_an_unknown_rule_is_refused_naming_the_registered_ones():
    with pytest.raises(ConfigError, match=f"train.self_training.rule 'nosuch' is unknown: choose one of "
                                          f"{', '.join(PSEUDO_LABELS)}"):
        load_config(None, ["train.self_training.rule=nosuch"])


@pytest.mark.parametrize("rule", list(PSEUDO_LABELS))
def test_every_pseudo_label_rule_trains_a_camera_without_labels(rule, tiny_config):
    from viewadapt.builders import create_trainer

    cfg = tiny_config("data.labeled_pairs=0", "model.asymmetry=stats", "model.probe_backbone=mobilenet_v3_small",
                      "train.adaptation.enabled=false", "train.self_training.enabled=true",
                      "train.self_training.epochs=2", "train.init.epochs=1", "train.similarity.epochs=1",
                      f"train.self_training.rule={rule}", f"name={rule}")
    trainer = create_trainer(cfg, verbose=False)
    metrics = trainer.fit()
    trainer.close()
    steps = [h for h in metrics["history"] if h["stage"] == "self_training"]
    assert metrics["finished"] and len(steps) == 2
    assert all(0 <= h["pseudo_labelled"] <= 1 for h in steps)
    doc = (Path(__file__).parent.parent / "docs" / "config.md").read_text()
    assert f"`{rule}` (" in doc  # documented from the rule's own description


@pytest.mark.parametrize("rule", list(PSEUDO_LABELS))
def test_every_rule_labels_an_obvious_case_and_leaves_out_what_it_cannot_place(rule):
    """Two labelled people far apart, an unlabelled crop beside each: each crop takes its neighbour's
    identity (or a rule's own for a new person, never the other labelled one's)."""
    import numpy as np

    from viewadapt.config import SelfTrainingConfig
    from viewadapt.training.pseudo_labels import Embedded

    labelled = np.array([[1.0, 0.0], [0.99, 0.1], [0.0, 1.0], [0.1, 0.99]])
    pids = np.array([7, 7, 9, 9])
    unlabelled = np.array([[0.98, 0.05], [0.05, 0.98]])
    data = Embedded(labelled, pids, np.array([0, 1, 0, 1]), unlabelled, np.array([1, 1]))
    got = PSEUDO_LABELS[rule].assign(data, SelfTrainingConfig(epochs=1), 0)
    assert got.shape == (2,) and got[0] != 9 and got[1] != 7
    assert set(got.tolist()) & {7, 9} or set(got.tolist()) == {LEFT_OUT}


# ---- every registry's entries, each tested ---------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(__import__("viewadapt.data", fromlist=["DATASETS"]).DATASETS))
def test_every_dataset_says_where_it_comes_from_and_fails_on_an_empty_folder_in_one_line(name, tmp_path):
    """Each registered dataset describes its layout and origin, finds nothing in an empty folder, and
    reading it there is a DataError of one line (the synthetic set draws itself: it reads what it drew; one's
    own folder is wherever data.root says, found or not)."""
    from viewadapt.builders import load_dataset
    from viewadapt.config import DataConfig
    from viewadapt.data import DATASETS
    from viewadapt.errors import DataError

    source = DATASETS[name]
    assert source.title and source.layout and source.origin and "custom" in source.protocols
    empty = tmp_path / "empty"
    empty.mkdir()
    root = empty / "index.csv" if source.root_is_file else empty
    if source.generated:
        dataset = load_dataset(DataConfig(dataset=name, root=str(root), height=64, width=32,
                                          synthetic=DataConfig().synthetic.__class__(num_identities=6,
                                                                                    images_per_view=1)))
        assert len(dataset.pids) == 6
        return
    assert source.locate(tmp_path / "missing") is None and (source.own_root or source.locate(empty) is None)
    with pytest.raises(DataError) as err:
        load_dataset(DataConfig(dataset=name, root=str(root)))
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("name", sorted(__import__("viewadapt.evaluation.rescoring", fromlist=["RERANKERS"]).RERANKERS))
def test_every_reranker_scores_a_trained_run_and_is_documented(name, trained_run, tmp_path, capsys):
    import json
    import shutil

    from viewadapt.cli.main import main

    run = shutil.copytree(trained_run, tmp_path / "run")
    assert main(["evaluate", str(run), "--rerank", name]) == 0
    capsys.readouterr()
    suffix = "" if name == "none" else f"_{name}"
    result = json.loads((run / "eval" / f"test_single_shot{suffix}.json").read_text())
    assert 0 <= result["rank1"] <= 1 and result["rerank"] == name
    assert f"`{name}` (" in (Path(__file__).parent.parent / "docs" / "config.md").read_text()
