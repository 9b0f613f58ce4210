"""One typed configuration for a run: dataclasses, loadable from YAML, overridable as ``key.path=value``."""

from __future__ import annotations

import copy
import dataclasses
import importlib.util
import math
import typing
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
import yaml

from viewadapt.data.augment import AugmentOptions
from viewadapt.data.datasets import DATASETS
from viewadapt.data.synthetic import SyntheticSpec
from viewadapt.errors import ConfigError
from viewadapt.evaluation.options import EvalOptions
from viewadapt.evaluation.rescoring import RERANKERS
from viewadapt.models.backbones import BACKBONES, build_backbone
from viewadapt.models.asymmetry import ASYMMETRIES, Asymmetry
from viewadapt.models.mapping import NECKS
from viewadapt.objectives import DD_INPUTS, DOMAIN_TERMS, MATCHERS
from viewadapt.yamlio import load_yaml

STAGES = ("init", "similarity", "adaptation", "self_training")
# The two methods a user picks between, as the keys that make them (every other key: data, recipe, budget).
# The recommended one is the defaults (`viewadapt train`): every weight shared, each camera with batch-norm
# statistics of its own, stages (a) and (b), self-training where a camera has unlabelled images; the
# paper's (`-c paper`, and every row of the paper's experiments): asymmetric Ms / Mt, stages (a)-(c).
RECOMMENDED_METHOD = ("model.asymmetry=stats", "train.adaptation.enabled=false", "train.self_training.enabled=true")
PAPER_METHOD = ("model.asymmetry=full", "train.adaptation.enabled=true", "train.self_training.enabled=false")
MONITORS = ("val_loss", "val_rank1")
OPTIMIZERS = ("adam", "sgd")
SCHEDULES = ("step", "cosine")
AMP_MODES = ("none", "bf16", "fp16")
SAMPLERS = ("random", "pk")
SP_EPOCHS = ("identities", "images")
KEEPS = ("best", "last")
CLASSIFIERS = ("separate", "shared")


@dataclass
class DataConfig:
    # the embedded synthetic set (generated under root), a standard dataset (root: the folder holding
    # them), folder (root/<camera>/<id>/*.jpg: one's own cameras) or csv (root: the index file)
    dataset: str = "synthetic"
    root: str = "data/synthetic"  # where the dataset is (see data.dataset)
    protocol: str = "custom"  # identity split: custom (num_* below), paper (Table I) or standard
    trial: int = 0  # which of a protocol's repeated splits (VIPeR standard: 0-9, CUHK03 paper: 0-19)
    variant: str = ""  # CUHK03: labeled (default) or detected
    # One view per camera group, e.g. [[c1, c2], [c3], [c4, c5, c6]] (camera names as `datasets info`
    # lists them): V = len(camera_groups) mappings, a V-way Dd. Empty: the paper's two views, a probe
    # and a gallery camera per identity.
    camera_groups: list[list[str]] = field(default_factory=list)
    synthetic: SyntheticSpec = field(default_factory=SyntheticSpec)  # the embedded benchmark
    height: int = 256  # every image is resized to height x width pixels
    width: int = 128  # (see data.height)
    augment: AugmentOptions = field(default_factory=AugmentOptions)  # training images only
    num_train: int = 200  # protocol custom: identities in C_train, C_valid, C_test; -1 for C_test takes the rest
    num_valid: int = 30  # C_valid's identities (protocol custom): validation picks epochs and stops stages
    num_test: int = -1  # C_test's identities (protocol custom); -1: every identity left
    split_seed: int = 0  # the draw of the identity split (and of the identities data.labeled_pairs keeps)
    # Train on this many of C_train's identities (a seeded draw; -1: all of them), C_valid and C_test as the
    # protocol drew them: a budget that cannot afford a large set's every training image
    train_subset: int = -1
    # A gallery camera with few labels: only this many C_train identities keep their labels in the
    # gallery view (with camera groups: the last view); the others are labelled in the other views only,
    # and their gallery-view images are seen, unlabelled, by stage (c)'s view term and self-training
    # alone (-1: every identity labelled everywhere; 0: a gallery camera without labels, with two views
    # SP batches then pair images within the probe camera)
    labeled_pairs: int = -1
    # A folder of the gallery camera's crops (with camera groups: the last view's) that carry no identity,
    # searched recursively: self-training pseudo-labels them and stage (c)'s view term sees them, beside
    # the camera's labelled images and any data.labeled_pairs hides; empty: none
    unlabeled_root: str = ""
    num_workers: int = 0  # data-loading processes (0: load in the training process)
    # Decode the training and validation images once, before the first epoch, and keep them in memory
    # (uint8 at their own size: about 25 MB per 1,000 Market-1501 crops) instead of reading every file
    # every epoch; false for a training set larger than the memory
    cache_images: bool = True

    @property
    def num_views(self) -> int:
        """V: one view per camera group, else the paper's two."""
        return len(self.camera_groups) or 2

    @property
    def has_unlabeled(self) -> bool:
        """Whether the last view has unlabelled training images: labels hidden, a folder of crops, or the
        synthetic set's strangers."""
        return self.labeled_pairs != -1 or bool(self.unlabeled_root) or self.synthetic.strangers > 0


@dataclass
class ModelConfig:
    probe_backbone: str = "efficientnet_lite0"  # Ms
    gallery_backbone: str = "efficientnet_lite1"  # Mt; ignored when shared
    extra_backbones: list[str] = field(default_factory=list)  # views 2..V-1 (default: gallery_backbone)
    shared: bool = False  # Siamese baseline: one network for both views (asymmetry none)
    # What each view has of its own: full (a network each, the paper's; two backbones), partial:K (the
    # probe backbone's first K stages, the rest shared), bn (its batch norms only), stats (its batch
    # norms' running statistics only: camera-based batch normalisation, every weight shared: the
    # recommended default), none (Siamese)
    asymmetry: str = "stats"
    pretrained: bool = True  # start from ImageNet weights (shipped for EfficientNet-Lite0/1/2), else random ones
    allow_download: bool = False  # torchvision weights only: fetch into torch's hub cache when missing
    # bnneck: the pooled feature itself, batch-normalised (embedding_dim is then the backbone's width);
    # linear: pooled feature -> random linear layer to embedding_dim (the paper's reading)
    neck: str = "bnneck"
    embedding_dim: int = 256  # the embedding's width with neck=linear
    normalize: bool = True  # L2-normalised embeddings (what the classifier of stage (a) and Eq. 2/5 see)
    ds_hidden: list[int] = field(default_factory=lambda: [1024, 2048])  # the similarity discriminator's layers
    regressor_hidden: list[int] = field(default_factory=lambda: [512])  # loss.metric=regression's T

    @property
    def view_asymmetry(self) -> Asymmetry:
        """``asymmetry`` and ``shared`` as the one value they spell (validation has parsed it once)."""
        return Asymmetry.parse(self.asymmetry, self.shared)


@dataclass
class LossConfig:
    margin: float = 2.0  # the contrastive term's margin m (Eq. 2): negatives are pushed this far apart
    gamma: float = 2.5  # the contrastive term's weight (Eq. 2, 5; Fig. 7's sweep)
    adaptive: bool = True  # Eq. 5/6 ("Ours*") instead of Eq. 2 ("Ours")
    detach_weights: bool = False  # Eq. 6's pair weights as constants (no gradient through them)
    lambda_sim: float = 1.0  # weight of the similarity loss in stage (c); 0 = literal Algorithm 1
    # stage (c)'s domain term: the method's Eq. 3, a baseline's, or none (stage (c) as more similarity
    # training: the ablation with the method's budget)
    adaptation: str = "confusion"
    # what stage (b) learns to match with: the method's Ds (Eq. 2/5), or a few-shot baseline of Fig. 6
    metric: str = "ds"
    fewshot_scale: float = 10.0  # inverse temperature of the few-shot learners' cosine softmax
    label_smoothing: float = 0.1  # stage (a): label smoothing of the identity softmax
    triplet: float = 0.0  # stage (a): weight of the batch-hard triplet loss (needs train.init_sampler=pk)
    triplet_margin: float = 0.3  # stage (a): the triplet loss's margin


@dataclass
class StageConfig:
    """One stage of training (Algorithm 1's steps, and self-training): its optimiser, schedule, and
    when it stops."""

    enabled: bool = True  # train this stage
    epochs: int = 10  # at most this many epochs (early stopping may end it sooner)
    optimizer: str = "adam"  # "adam" or "sgd" (momentum 0.9)
    lr: float = 1e-3  # the learning rate the schedule starts from
    schedule: str = "step"  # step: lr times lr_decay every lr_step epochs; cosine: cosine decay to 0
    lr_step: int = 10  # the step schedule's period in epochs
    lr_decay: float = 0.1  # the step schedule's factor
    warmup: int = 0  # epochs of linear warm-up before the schedule
    weight_decay: float = 5e-4  # L2 weight decay
    patience: int = 3  # early stopping: epochs without a better validation value
    monitor: str = "val_loss"  # what validation watches: val_loss (the stage's own objective) or val_rank1
    keep: str = "best"  # the stage ends with its best validation epoch, or its last (a small C_valid is noisy)


@dataclass
class SelfTrainingConfig(StageConfig):
    """The self-training stage: each epoch pseudo-labels the gallery camera's unlabelled images (C_train's
    images whose labels ``data.labeled_pairs`` hides, ``data.unlabeled_root``'s and the synthetic set's
    ``data.synthetic.strangers``) by cross-camera mutual nearest neighbours (an image takes the labelled
    identity it is nearest, and is among that identity's k nearest unlabelled images), then trains the
    matcher's loss (Eq. 5) on SP batches of the labelled and pseudo-labelled images together. Where every
    image is labelled (``data.labeled_pairs=-1``, no ``data.unlabeled_root``, no strangers) there is nothing
    to pseudo-label and the stage is skipped, so one config serves every camera network."""

    enabled: bool = True
    lr: float = 3e-4
    k: int = 2  # the reciprocal check: the image is among its identity's k nearest unlabelled images
    # the confidence rule: the first epoch keeps this fraction of the mutual pairs (the largest margins
    # between an image's nearest and second-nearest identity), rising linearly to all by the last epoch
    start: float = 0.5


@dataclass
class TrainConfig:
    # stage (a): the step schedule (the rate / 10 after 40% of the epochs, no warm-up), which beat warm-up +
    # cosine decay by 9 points of rank-1 in the recipe ablation (docs/results.md)
    init: StageConfig = field(default_factory=lambda: StageConfig(
        epochs=30, monitor="val_rank1", schedule="step", lr_step=12, warmup=0, patience=30, keep="last"))
    similarity: StageConfig = field(default_factory=lambda: StageConfig(epochs=20))
    # stage (c), the paper's view adaptation: off by default (it helped in no measured setting; -c paper)
    adaptation: StageConfig = field(default_factory=lambda: StageConfig(enabled=False, epochs=10))
    self_training: SelfTrainingConfig = field(default_factory=SelfTrainingConfig)
    batch_p: int = 16  # SP batches: P identities x S images = 128, the paper's batch
    batch_s: int = 8  # SP batches: images per identity, split between the two views
    init_batch_size: int = 32  # stage (a)'s random batches
    # stage (a)'s batches: random (init_batch_size images) or pk (batch_p identities x batch_s images
    # over both views, what a triplet loss needs; an epoch of about as many images as the training set)
    init_sampler: str = "random"
    # stage (a)'s identity classifiers: one per network (separate, the paper's), or one that all the
    # networks share (shared: Ms and Mt learn one space of class prototypes, an aligned start for (b))
    init_classifier: str = "separate"
    # What an epoch of the SP-batch stages ((b), (c), self-training) is: identities (each training identity
    # leads one batch of P x S images, the paper's) or images (as many batches as show each training image
    # about once): the same number of steps whether a camera has every label or a few
    sp_epoch: str = "identities"
    seed: int = 0  # the run's random seed: weights, batches, augmentation (a resumed run continues its draws)
    device: str = "auto"  # auto (a GPU when there is one), cpu, cuda or cuda:N
    amp: str = "none"  # mixed precision on CUDA: bf16 or fp16 (loss-scaled); bf16 also runs on CPUs
    # TensorBoard scalars in the run's tensorboard/ folder (every epoch's losses, learning rate, validation
    # rank-1 / mAP, Dd accuracy; each stage's view leakage and test scores): `tensorboard --logdir runs`.
    # Needs `pip install "viewadapt[tensorboard]"`
    tensorboard: bool = False


@dataclass
class EvalConfig(EvalOptions):
    """How runs are scored (:class:`~viewadapt.evaluation.options.EvalOptions`), and when."""

    after_each_stage: bool = True  # score the test split after every stage, not only the last
    zero_shot: bool = True  # score the test split before training, with the untrained (pretrained) features
    view_leakage: bool = True  # a fresh probe's view accuracy on C_valid after each stage, and on the test split scored
    rank_lists: int = 10  # probes drawn as rank-list images by `viewadapt evaluate`


@dataclass
class DiscriminatorConfig:
    """The view discriminator Dd of an adversarial stage (c) term (loss.adaptation): its network and how
    it trains, all in this section (configs that spell them model.dd_hidden, model.dd_input and
    train.dd_lr / dd_steps / dd_warmup still load)."""

    hidden: int = 256  # Dd's hidden width
    # What Dd looks at: the embedding, or the feature before the neck's batch norm (the pooled backbone
    # feature with a BNNeck), which per-view batch norms cannot normalise the views' difference out of
    input: str = "embedding"
    lr: float = 1e-3  # Dd's learning rate (Adam)
    steps: int = 1  # Dd's steps per mapping step in stage (c)
    # steps of Dd alone (Eq. 1, the mappings fixed) on stage (c)'s batches before its first mapping
    # update: Dd starts the game knowing the views instead of at chance
    warmup: int = 0


# Keys that moved, old -> new: a config written before the move reads as it did
_MOVED = {("model", "dd_hidden"): ("dd", "hidden"), ("model", "dd_input"): ("dd", "input"),
          ("train", "dd_lr"): ("dd", "lr"), ("train", "dd_steps"): ("dd", "steps"),
          ("train", "dd_warmup"): ("dd", "warmup")}


@dataclass
class Config:
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    dd: DiscriminatorConfig = field(default_factory=DiscriminatorConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    output_dir: str = "runs"  # where run folders are made
    name: str = ""  # the run folder's name (empty: the date and time it started)

    def stage(self, name: str) -> StageConfig:
        return getattr(self.train, name)

    @property
    def num_views(self) -> int:
        return self.data.num_views

    def extra_backbones(self) -> list[str]:
        """Backbones of views 2..V-1."""
        return self.model.extra_backbones or [self.model.gallery_backbone] * (self.num_views - 2)

    def to_dict(self) -> dict:
        return asdict(self)

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)

    def method(self) -> str:
        """Which method this config trains, in a line: the recommended one, the paper's, or neither."""
        level, t, loss = self.model.view_asymmetry, self.train, self.loss
        if level.statistics_only and not t.adaptation.enabled and t.self_training.enabled:
            return "the recommended method (viewadapt train's defaults): camera statistics, stages a+b, self-training"
        paper = (loss.metric == "ds" and loss.adaptive and loss.adaptation == "confusion" and t.init.enabled
                 and t.similarity.enabled and t.adaptation.enabled and not t.self_training.enabled)
        if level.separate_networks and paper:
            return "the paper's method (-c paper): asymmetric Ms / Mt, Eq. 5, stages a+b+c"
        stages = "+".join(s for s, n in zip("abcs", STAGES) if self.stage(n).enabled)
        return (f"neither the recommended method (the defaults) nor the paper's (-c paper): model.asymmetry={level}, "
                f"stages {stages} (s: self-training)")


def _coerce(value: Any, kind: Any, where: str) -> Any:
    origin = typing.get_origin(kind)
    if dataclasses.is_dataclass(kind):
        if not isinstance(value, dict):
            raise ConfigError(f"config {where}: expected a mapping of settings, got {value!r}")
        return _build(kind, value, where)
    if origin is list:
        (item,) = typing.get_args(kind)
        if not isinstance(value, list):
            raise ConfigError(f"config {where}: expected a list, got {value!r}")
        return [_coerce(v, item, f"{where}[{i}]") for i, v in enumerate(value)]
    if kind is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"config {where}: expected true or false, got {value!r}")
        return value
    if kind is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"config {where}: expected an integer, got {value!r}")
        return value
    if kind is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"config {where}: expected a number, got {value!r}")
        if not math.isfinite(value):  # .inf and .nan pass every range check and break training later
            raise ConfigError(f"config {where}: expected a finite number, got {value!r}")
        return float(value)
    if kind is str:
        if not isinstance(value, str):
            raise ConfigError(f"config {where}: expected text, got {value!r}")
        return value
    raise TypeError(f"unsupported config type {kind} at {where}")


def _build(cls: type, values: dict, where: str = "") -> Any:
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    unknown = set(values) - set(names)
    if unknown:
        key = sorted(unknown)[0]
        raise ConfigError(f"unknown config key '{where}{key}': valid keys here are {', '.join(names)}")
    base = cls()
    kwargs = {}
    for name in names:
        if name in values:
            current = getattr(base, name)
            if dataclasses.is_dataclass(current):
                if values[name] is not None and not isinstance(values[name], dict):
                    raise ConfigError(f"config {where}{name} is a section, not a value: set its keys, e.g. "
                                      f"{where}{name}.{dataclasses.fields(current)[0].name}=...")
                # A partial section keeps the section's own defaults (a stage's monitor, say).
                merged = {**asdict(current), **(values[name] or {})}
                kwargs[name] = _coerce(merged, hints[name], f"{where}{name}.")
            else:
                kwargs[name] = _coerce(values[name], hints[name], f"{where}{name}")
    return cls(**kwargs)


def _moved_keys(tree: dict) -> dict:
    """``tree`` with keys that moved (:data:`_MOVED`) at their new place; a new key set too wins."""
    for (section, key), (new_section, new_key) in _MOVED.items():
        old = tree.get(section)
        if isinstance(old, dict) and key in old:
            value = old.pop(key)
            moved = tree.setdefault(new_section, {})
            if isinstance(moved, dict):
                moved.setdefault(new_key, value)
    return tree


def config_from_dict(tree: dict) -> Config:
    """A config from a dict such as a checkpoint stores; keys added since it was written take their
    defaults, and keys that moved are read at their new place."""
    return _build(Config, _moved_keys(copy.deepcopy(tree)))


def _set_path(tree: dict, dotted: str, value: Any) -> None:
    keys = dotted.split(".")
    node = tree
    for key in keys[:-1]:
        node = node.setdefault(key, {})
        if not isinstance(node, dict):
            raise ConfigError(f"config override '{dotted}': '{key}' is a value, not a section")
    node[keys[-1]] = value


def packaged_configs() -> dict[str, Path]:
    """The configs that ship with viewadapt (one per dataset, the demo), by name."""
    from importlib import resources

    folder = Path(str(resources.files("viewadapt") / "configs"))
    return {p.stem: p for p in sorted(folder.glob("*.yaml"))}


def resolve_config_path(path: str | Path) -> Path:
    """A YAML file, or the name of a packaged config (``-c market1501``)."""
    if Path(path).is_file():
        return Path(path)
    if Path(path).is_dir():
        raise ConfigError(f"config file {path} is a folder: give the path of a YAML file")
    named = packaged_configs()
    if str(path) in named:
        return named[str(path)]
    raise ConfigError(f"config file {path} does not exist: give the path of a YAML file or one of the "
                      f"packaged configs: {', '.join(named)}")


def load_config(path: str | Path | None = None, overrides: list[str] | None = None) -> Config:
    """Defaults <- YAML file <- ``key.path=value`` overrides (values parsed as YAML), then validated."""
    tree: dict = {}
    if path is not None:
        path = resolve_config_path(path)
        try:
            tree = load_yaml(path.read_text(encoding="utf-8-sig")) or {}
        except yaml.YAMLError as exc:
            raise ConfigError(f"config file {path} is not valid YAML: {str(exc).splitlines()[0]}") from None
        except (UnicodeDecodeError, OSError) as exc:
            reason = "not UTF-8 text" if isinstance(exc, UnicodeDecodeError) else exc.strerror
            raise ConfigError(f"config file {path} cannot be read ({reason}): give a YAML text file") from None
        if not isinstance(tree, dict):
            raise ConfigError(f"config file {path} must hold a mapping of settings at the top level")
    for item in overrides or []:
        if "=" not in item:
            raise ConfigError(f"config override '{item}' must look like key.path=value (e.g. train.seed=1)")
        key, raw = item.split("=", 1)
        try:
            value = load_yaml(raw) if raw.strip() else ""
        except yaml.YAMLError as exc:
            raise ConfigError(f"config override '{item}': the value is not valid YAML ({str(exc).splitlines()[0]}); "
                              "quote it or fix its brackets, e.g. key=[1,2] or key='text'") from None
        _set_path(tree, key.strip(), value)
    model = tree.get("model")
    if isinstance(model, dict) and model.get("shared") is True and "asymmetry" not in model:
        # model.shared=true spells asymmetry none; the mappings read it so, and a run resolves as it always
        # has (shared, over the level the default was when shared was the only switch)
        model["asymmetry"] = "full"
    cfg = _build(Config, _moved_keys(tree))
    validate(cfg)
    return cfg


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise ConfigError(message)


def _check_asymmetry(m: ModelConfig) -> None:
    try:
        level = Asymmetry.parse(m.asymmetry)
    except ValueError:
        raise ConfigError(f"model.asymmetry '{m.asymmetry}' is not one of: {', '.join(ASYMMETRIES)} "
                          "(e.g. partial:3)") from None
    _check(not m.shared or level.separate_networks or level.one_network,
           f"model.shared=true is model.asymmetry=none, and asymmetry is {m.asymmetry}: drop one of the two")
    if level.k:  # a backbone's stages are known once it is laid out: on the meta device, no weights exist
        with torch.device("meta"):
            stages = len(build_backbone(m.probe_backbone, pretrained=False).stage_names())
        _check(level.k <= stages, f"model.asymmetry={m.asymmetry}: {m.probe_backbone} has {stages} stages, "
                                  f"so K must be 1 to {stages}")


def validate(cfg: Config) -> None:
    """Range and choice checks; each failure names the key and what it accepts. Names are checked by
    the registry that holds them, the evaluation options by their own class, a matcher's own rules
    by the matcher."""
    d, m, t = cfg.data, cfg.model, cfg.train
    _check(cfg.name in ("", Path(cfg.name).name) and cfg.name not in (".", ".."),
           f"name '{cfg.name}' must be a plain folder name (no / or ..): it names the run's folder inside output_dir")
    DATASETS.check(d.dataset, "data.dataset")
    source = DATASETS[d.dataset]
    _check(d.protocol in source.protocols,
           f"data.protocol '{d.protocol}' is not available for {d.dataset}: choose one of {', '.join(source.protocols)}")
    _check(d.trial >= 0, "data.trial must be >= 0")
    _check(d.variant in source.variants + ("",),
           f"data.variant '{d.variant}' is not one of: {', '.join(source.variants) or '(none for ' + d.dataset + ')'}")
    _check(d.height >= 32 and d.width >= 16, "data.height must be >= 32 and data.width >= 16")
    _check(d.num_train >= 2 and d.num_valid >= 2, "data.num_train and data.num_valid must be >= 2")
    _check(d.num_test == -1 or d.num_test >= 2, "data.num_test must be >= 2, or -1 for every identity left")
    _check(d.num_workers >= 0, "data.num_workers must be >= 0")
    _check(d.train_subset == -1 or d.train_subset >= 2,
           "data.train_subset must be >= 2 (identities of C_train to train on) or -1 (all of them)")
    _check(d.labeled_pairs in (-1, 0) or d.labeled_pairs >= cfg.train.batch_p,
           f"data.labeled_pairs={d.labeled_pairs} is below train.batch_p={cfg.train.batch_p}, the identities an SP "
           "batch pairs across the cameras: raise it, lower train.batch_p, or set it to 0 (a gallery camera "
           "without labels: SP batches from the probe camera) or -1 (all labelled)")
    d.augment.check("data.augment")
    d.synthetic.check("data.synthetic")
    _check(not d.synthetic.strangers or source.generated,
           f"data.synthetic.strangers: only the synthetic set draws strangers, and data.dataset is {d.dataset}: "
           "give a folder of your camera's unlabelled crops as data.unlabeled_root")
    groups = d.camera_groups
    _check(not groups or (len(groups) >= 2 and all(groups)),
           "data.camera_groups must list at least two non-empty groups of camera names")
    flat = [c for g in groups for c in g]
    _check(len(flat) == len(set(flat)), "data.camera_groups: a camera may belong to one group only")
    _check(not d.has_unlabeled or cfg.num_views == 2 or not t.adaptation.enabled,
           f"data.labeled_pairs with {cfg.num_views} views hides the last view's labels (data.unlabeled_root "
           "adds unlabelled images to it), and stage (c)'s view term compares two views: set "
           "train.adaptation.enabled=false, or data.camera_groups to two groups")
    _check(not d.unlabeled_root or t.self_training.enabled or t.adaptation.enabled,
           "data.unlabeled_root: only self-training and stage (c)'s view term learn from unlabelled images, and "
           "both are off: set train.self_training.enabled=true")
    for key in ("probe_backbone", "gallery_backbone"):
        BACKBONES.check(getattr(m, key), f"model.{key}")
    _check(not m.extra_backbones or len(m.extra_backbones) == cfg.num_views - 2,
           f"model.extra_backbones must name {cfg.num_views - 2} backbones (views 2..{cfg.num_views - 1}) or none")
    for name in m.extra_backbones:
        BACKBONES.check(name, "model.extra_backbones")
    _check(m.neck in NECKS, f"model.neck '{m.neck}' is not one of: {', '.join(NECKS)}")
    _check_asymmetry(m)
    _check(m.embedding_dim >= 2, "model.embedding_dim must be >= 2")
    _check(len(m.ds_hidden) >= 1 and min(m.ds_hidden) >= 1, "model.ds_hidden must list positive layer widths")
    dd = cfg.dd
    _check(dd.hidden >= 1, "dd.hidden must be >= 1")
    _check(dd.input in DD_INPUTS, f"dd.input '{dd.input}' is not one of: {', '.join(DD_INPUTS)}")
    _check(dd.lr > 0 and dd.steps >= 1, "dd.lr must be > 0 and dd.steps >= 1")
    _check(dd.warmup >= 0, "dd.warmup must be >= 0 (steps of Dd alone before stage (c); 0: none)")
    _check(len(m.regressor_hidden) >= 1 and min(m.regressor_hidden) >= 1,
           "model.regressor_hidden must list positive layer widths")
    loss = cfg.loss
    _check(loss.margin > 0 and loss.gamma >= 0, "loss.margin must be > 0 and loss.gamma >= 0")
    _check(loss.lambda_sim >= 0, "loss.lambda_sim must be >= 0")
    _check(loss.fewshot_scale > 0, "loss.fewshot_scale must be > 0")
    _check(0 <= loss.label_smoothing < 1, "loss.label_smoothing must be in [0, 1)")
    _check(loss.triplet >= 0 and loss.triplet_margin > 0, "loss.triplet must be >= 0 and loss.triplet_margin > 0")
    _check(loss.triplet == 0 or t.init_sampler == "pk",
           "loss.triplet needs batches with several images of each identity, and random batches mostly hold one: "
           "set train.init_sampler=pk (or loss.triplet=0)")
    DOMAIN_TERMS.check(loss.adaptation, "loss.adaptation")
    MATCHERS.check(loss.metric, "loss.metric")
    matcher = MATCHERS[loss.metric]
    _check(not matcher.needs_one_network or m.view_asymmetry.one_network,
           f"loss.metric={loss.metric} learns on one network's embeddings: set model.asymmetry=none")
    _check(matcher.trains_mappings or (t.similarity.enabled and not t.adaptation.enabled),
           f"loss.metric={loss.metric} trains on fixed embeddings, in stage (b) only: set "
           "train.similarity.enabled=true and train.adaptation.enabled=false")
    reranker = RERANKERS.get(cfg.eval.rerank)  # an unknown name is told by the eval options' own check
    _check(matcher.scores_pairs or not (reranker and reranker.needs_pair_scorer),
           f"eval.rerank={cfg.eval.rerank} needs a trained Ds, and loss.metric={loss.metric} trains none: use "
           "eval.rerank=none or k_reciprocal")
    for name in STAGES:
        st = cfg.stage(name)
        _check(st.epochs >= 1, f"train.{name}.epochs must be >= 1")
        _check(st.optimizer in OPTIMIZERS,
               f"train.{name}.optimizer '{st.optimizer}' is not one of: {', '.join(OPTIMIZERS)}")
        _check(st.lr > 0 and st.weight_decay >= 0, f"train.{name}.lr must be > 0 and weight_decay >= 0")
        _check(st.lr_step >= 1 and 0 < st.lr_decay <= 1, f"train.{name}.lr_step must be >= 1, lr_decay in (0, 1]")
        _check(st.schedule in SCHEDULES, f"train.{name}.schedule '{st.schedule}' is not one of: {', '.join(SCHEDULES)}")
        _check(0 <= st.warmup < st.epochs, f"train.{name}.warmup must be >= 0 and below train.{name}.epochs "
                                           f"({st.warmup} and {st.epochs}): set train.{name}.warmup lower")
        _check(st.patience >= 1, f"train.{name}.patience must be >= 1")
        _check(st.monitor in MONITORS, f"train.{name}.monitor '{st.monitor}' is not one of: {', '.join(MONITORS)}")
        _check(st.keep in KEEPS, f"train.{name}.keep '{st.keep}' is not one of: {', '.join(KEEPS)}")
    st = t.self_training
    _check(st.k >= 1 and 0 < st.start <= 1,
           "train.self_training.k must be >= 1 and train.self_training.start in (0, 1]")
    _check(not st.enabled or not d.has_unlabeled or MATCHERS[loss.metric].trains_mappings,
           f"train.self_training trains the mappings, and loss.metric={loss.metric} keeps them fixed: "
           "use loss.metric=ds")
    _check(t.init.monitor == "val_rank1", "train.init.monitor must be val_rank1: stage (a) has no Ds to give a loss")
    _check(any(cfg.stage(n).enabled for n in STAGES), "every stage is disabled: enable at least one of train.*")
    _check(t.batch_p >= 2 and t.batch_s >= 2, "train.batch_p and train.batch_s must be >= 2")
    _check(t.init_batch_size >= 2, "train.init_batch_size must be >= 2")
    _check(t.init_sampler in SAMPLERS, f"train.init_sampler '{t.init_sampler}' is not one of: {', '.join(SAMPLERS)}")
    _check(t.sp_epoch in SP_EPOCHS, f"train.sp_epoch '{t.sp_epoch}' is not one of: {', '.join(SP_EPOCHS)}")
    _check(t.init_classifier in CLASSIFIERS,
           f"train.init_classifier '{t.init_classifier}' is not one of: {', '.join(CLASSIFIERS)}")
    _check(t.device in ("auto", "cpu") or t.device.startswith("cuda"), "train.device must be auto, cpu or cuda[:N]")
    _check(t.amp in AMP_MODES, f"train.amp '{t.amp}' is not one of: {', '.join(AMP_MODES)}")
    _check(not t.tensorboard or importlib.util.find_spec("tensorboard") is not None,
           "train.tensorboard=true needs the tensorboard package: pip install \"viewadapt[tensorboard]\" "
           "(or set train.tensorboard=false)")
    cfg.eval.check("eval")
    _check(cfg.eval.rank_lists >= 0, "eval.rank_lists must be >= 0")
