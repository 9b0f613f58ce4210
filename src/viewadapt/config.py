"""One typed configuration for a run: dataclasses, loadable from YAML, overridable as ``key.path=value``.

Every key is declared once, where it is defined (:func:`viewadapt.declare.setting`): its choices, its
range, whether it changes a run's results, the version it appeared in. Validation, the run key and
docs/config.md read those declarations; :func:`validate` adds the checks that relate several keys, each a
small named function of :data:`RULES`. Old spellings of keys: :mod:`viewadapt.config_migrations`.
"""

from __future__ import annotations

import copy
import dataclasses
import importlib.util
import math
import typing
from dataclasses import asdict, dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any, Callable

import torch
import yaml

from viewadapt.config_migrations import migrate
from viewadapt.data.augment import AugmentOptions
from viewadapt.data.datasets import DATASETS
from viewadapt.data.synthetic import SyntheticSpec
from viewadapt.declare import check_declared, setting
from viewadapt.errors import ConfigError
from viewadapt.evaluation.options import EvalOptions
from viewadapt.evaluation.rescoring import RERANKERS
from viewadapt.models.asymmetry import ASYMMETRIES, Asymmetry
from viewadapt.models.backbones import BACKBONES, build_backbone
from viewadapt.models.mapping import NECKS
from viewadapt.objectives import DD_INPUTS, DOMAIN_TERMS, MATCHERS
from viewadapt.training.pseudo_labels import PSEUDO_LABELS
from viewadapt.yamlio import load_yaml

STAGES = ("init", "similarity", "adaptation", "self_training")
# The two methods a user picks between, as the keys that make them (every other key: data, recipe, budget).
# The recommended one is the defaults (`viewadapt train`): every weight shared, each camera with batch-norm
# statistics of its own, stages (a) and (b), self-training where a camera has unlabelled images; the
# paper's (`-c paper`, and every row of the paper's experiments): asymmetric Ms / Mt, stages (a)-(c).
RECOMMENDED_METHOD = ("model.asymmetry=stats", "train.adaptation.enabled=false", "train.self_training.enabled=true")
PAPER_METHOD = ("model.asymmetry=full", "train.adaptation.enabled=true", "train.self_training.enabled=false")


class Monitor(str, Enum):
    VAL_LOSS = "val_loss"
    VAL_RANK1 = "val_rank1"


class Optimizer(str, Enum):
    ADAM = "adam"
    SGD = "sgd"


class Schedule(str, Enum):
    STEP = "step"
    COSINE = "cosine"


class Amp(str, Enum):
    NONE = "none"
    BF16 = "bf16"
    FP16 = "fp16"


class InitSampler(str, Enum):
    RANDOM = "random"
    PK = "pk"


class SpEpoch(str, Enum):
    IDENTITIES = "identities"
    IMAGES = "images"


class Keep(str, Enum):
    BEST = "best"
    LAST = "last"


class EpochValidation(str, Enum):
    EVERY = "every"
    DECIDING = "deciding"


class SelfTrainingLoss(str, Enum):
    MATCHER = "matcher"
    MEMORY = "memory"


class Classifier(str, Enum):
    SEPARATE = "separate"
    SHARED = "shared"


def _asymmetry(value: str, key: str) -> None:
    try:
        Asymmetry.parse(value)
    except ValueError:
        raise ConfigError(f"{key} '{value}' is not one of: {', '.join(ASYMMETRIES)} (e.g. partial:3)") from None


def _device(value: str, key: str) -> None:
    if not (value in ("auto", "cpu") or value.startswith("cuda")):
        raise ConfigError(f"{key} must be auto, cpu or cuda[:N], not '{value}'")


def _folder_name(value: str, key: str) -> None:
    if value not in ("", Path(value).name) or value in (".", ".."):
        raise ConfigError(f"{key} '{value}' must be a plain folder name (no / or ..): it names the run's folder "
                          "inside output_dir")


@dataclass
class DataConfig:
    # the embedded synthetic set (generated under root), a standard dataset (root: the folder holding
    # them), folder (root/<camera>/<id>/*.jpg: one's own cameras) or csv (root: the index file)
    dataset: str = setting("synthetic", choices=DATASETS)
    root: str = "data/synthetic"  # where the dataset is (see data.dataset)
    protocol: str = "custom"  # identity split: custom (num_* below), paper (Table I) or standard
    trial: int = setting(0, low=0)  # which of a protocol's repeated splits (VIPeR standard: 0-9, CUHK03 paper: 0-19)
    variant: str = ""  # CUHK03: labeled (default) or detected
    # One view per camera group, e.g. [[c1, c2], [c3], [c4, c5, c6]] (camera names as `datasets info`
    # lists them): V = len(camera_groups) mappings, a V-way Dd. Empty: the paper's two views, a probe
    # and a gallery camera per identity.
    camera_groups: list[list[str]] = field(default_factory=list)
    synthetic: SyntheticSpec = field(default_factory=SyntheticSpec)  # the embedded benchmark
    height: int = setting(256, low=32)  # every image is resized to height x width pixels
    width: int = setting(128, low=16)  # (see data.height)
    augment: AugmentOptions = field(default_factory=AugmentOptions)  # training images only
    num_train: int = setting(200, low=2)  # protocol custom: identities in C_train, C_valid, C_test; -1 for C_test takes the rest
    num_valid: int = setting(30, low=2)  # C_valid's identities (protocol custom): validation picks epochs and stops stages
    num_test: int = setting(-1, low=2, also=(-1,))  # C_test's identities (protocol custom); -1: every identity left
    split_seed: int = 0  # the draw of the identity split (and of the identities data.labeled_pairs keeps)
    # Train on this many of C_train's identities (a seeded draw; -1: all of them), C_valid and C_test as the
    # protocol drew them: a budget that cannot afford a large set's every training image
    train_subset: int = setting(-1, low=2, also=(-1,), since="2026-12-07")
    # A gallery camera with few labels: only this many C_train identities keep their labels in the
    # gallery view (with camera groups: the last view); the others are labelled in the other views only,
    # and their gallery-view images are seen, unlabelled, by stage (c)'s view term and self-training
    # alone (-1: every identity labelled everywhere; 0: a gallery camera without labels, with two views
    # SP batches then pair images within the probe camera)
    labeled_pairs: int = setting(-1, low=-1)
    # New people: only this many C_train identities keep their labels; every image of the others, in every
    # camera, is unlabelled (people a network's cameras see that nobody labelled; -1: every identity
    # labelled). Self-training's cluster rule can name them; the mutual rule only labelled people
    labeled_people: int = setting(-1, low=-1, since="2026-12-07")
    # A folder of the gallery camera's crops (with camera groups: the last view's) that carry no identity,
    # searched recursively: self-training pseudo-labels them and stage (c)'s view term sees them, beside
    # the camera's labelled images and any data.labeled_pairs hides; empty: none
    unlabeled_root: str = setting("", since="2026-12-03")
    # Another set's labelled crops to test on (<test_root>/<camera>/<identity>/<image>, its first camera the
    # probe view): every identity of it is C_test, and the dataset's own split gives C_train and C_valid
    # alone (source -> target: train on one labelled set, adapt with the target's unlabelled crops in
    # data.unlabeled_root, score on the target's labelled ones); empty: the dataset's own C_test
    test_root: str = setting("", since="2026-12-07")
    num_workers: int = setting(0, low=0)  # data-loading processes (0: load in the training process)
    # Decode the training and validation images once, before the first epoch, and keep them in memory
    # (uint8 at their own size: about 25 MB per 1,000 Market-1501 crops) instead of reading every file
    # every epoch; false for a training set larger than the memory
    cache_images: bool = setting(True, results=False)

    @property
    def num_views(self) -> int:
        """V: one view per camera group, else the paper's two."""
        return len(self.camera_groups) or 2

    @property
    def has_unlabeled(self) -> bool:
        """Whether the last view has unlabelled training images: labels hidden, a folder of crops, or the
        synthetic set's strangers."""
        return (self.labeled_pairs != -1 or self.labeled_people != -1 or bool(self.unlabeled_root)
                or self.synthetic.strangers > 0)


@dataclass
class ModelConfig:
    probe_backbone: str = setting("efficientnet_lite0", choices=BACKBONES)  # Ms
    gallery_backbone: str = setting("efficientnet_lite1", choices=BACKBONES)  # Mt; ignored when shared
    extra_backbones: list[str] = field(default_factory=list)  # views 2..V-1 (default: gallery_backbone)
    shared: bool = False  # Siamese baseline: one network for both views (asymmetry none)
    # What each view has of its own: full (a network each, the paper's; two backbones), partial:K (the
    # probe backbone's first K stages, the rest shared), bn (its batch norms only), stats (its batch
    # norms' running statistics only: camera-based batch normalisation, every weight shared: the
    # recommended default), none (Siamese)
    asymmetry: str = setting("stats", choices=ASYMMETRIES, parse=_asymmetry)
    pretrained: bool = True  # start from ImageNet weights (shipped for EfficientNet-Lite0/1/2), else random ones
    allow_download: bool = False  # torchvision weights only: fetch into torch's hub cache when missing
    # bnneck: the pooled feature itself, batch-normalised (embedding_dim is then the backbone's width);
    # linear: pooled feature -> random linear layer to embedding_dim (the paper's reading)
    neck: str = setting("bnneck", choices=NECKS)
    embedding_dim: int = setting(256, low=2)  # the embedding's width with neck=linear
    normalize: bool = True  # L2-normalised embeddings (what the classifier of stage (a) and Eq. 2/5 see)
    ds_hidden: list[int] = field(default_factory=lambda: [1024, 2048])  # the similarity discriminator's layers
    regressor_hidden: list[int] = field(default_factory=lambda: [512])  # loss.metric=regression's T

    @property
    def view_asymmetry(self) -> Asymmetry:
        """``asymmetry`` and ``shared`` as the one value they spell (validation has parsed it once)."""
        return Asymmetry.parse(self.asymmetry, self.shared)


@dataclass
class LossConfig:
    margin: float = setting(2.0, low=0, low_open=True)  # the contrastive term's margin m (Eq. 2): negatives are pushed this far apart
    gamma: float = setting(2.5, low=0)  # the contrastive term's weight (Eq. 2, 5; Fig. 7's sweep)
    adaptive: bool = True  # Eq. 5/6 ("Ours*") instead of Eq. 2 ("Ours")
    detach_weights: bool = False  # Eq. 6's pair weights as constants (no gradient through them)
    lambda_sim: float = setting(1.0, low=0)  # weight of the similarity loss in stage (c); 0 = literal Algorithm 1
    # stage (c)'s domain term: the method's Eq. 3, a baseline's, or none (stage (c) as more similarity
    # training: the ablation with the method's budget)
    adaptation: str = setting("confusion", choices=DOMAIN_TERMS)
    # what stage (b) learns to match with: the method's Ds (Eq. 2/5), or a few-shot baseline of Fig. 6
    metric: str = setting("ds", choices=MATCHERS)
    fewshot_scale: float = setting(10.0, low=0, low_open=True)  # inverse temperature of the few-shot learners' cosine softmax
    label_smoothing: float = setting(0.1, low=0, high=1, high_open=True)  # stage (a): label smoothing of the identity softmax
    triplet: float = setting(0.0, low=0)  # stage (a): weight of the batch-hard triplet loss (needs train.init_sampler=pk)
    triplet_margin: float = setting(0.3, low=0, low_open=True)  # stage (a): the triplet loss's margin


@dataclass
class StageConfig:
    """One stage of training (Algorithm 1's steps, and self-training): its optimiser, schedule, and
    when it stops."""

    enabled: bool = True  # train this stage
    epochs: int = setting(10, low=1)  # at most this many epochs (early stopping may end it sooner)
    optimizer: str = setting("adam", choices=Optimizer)  # "adam" or "sgd" (momentum 0.9)
    lr: float = setting(1e-3, low=0, low_open=True)  # the learning rate the schedule starts from
    schedule: str = setting("step", choices=Schedule)  # step: lr times lr_decay every lr_step epochs; cosine: cosine decay to 0
    lr_step: int = setting(10, low=1)  # the step schedule's period in epochs
    lr_decay: float = setting(0.1, low=0, high=1, low_open=True)  # the step schedule's factor
    warmup: int = setting(0, low=0)  # epochs of linear warm-up before the schedule
    weight_decay: float = setting(5e-4, low=0)  # L2 weight decay
    patience: int = setting(3, low=1)  # early stopping: epochs without a better validation value
    monitor: str = setting("val_loss", choices=Monitor)  # what validation watches: val_loss (the stage's own objective) or val_rank1
    keep: str = setting("best", choices=Keep)  # the stage ends with its best validation epoch, or its last (a small C_valid is noisy)


@dataclass
class ClusterConfig:
    """The ``cluster`` pseudo-label rule: DBSCAN over k-reciprocal Jaccard distances of the labelled and
    unlabelled training images together (:mod:`viewadapt.training.clustering`). The defaults suit people
    with a handful of images each: SpCL's (eps 0.6, k1 30, min_samples 4), made for Market's 17 and more a
    person, merged the synthetic new-people regime's 166 people into 5 clusters, 63% pure; these named 88,
    92% pure (docs/findings.md). Every key of it is part of a run's key where the rule is cluster, and of no
    other run's."""

    eps: float = setting(0.45, low=0, high=1, low_open=True, high_open=True)  # the Jaccard distance within which two images are neighbours
    min_samples: int = setting(2, low=2)  # images (itself included) within eps that make an image a cluster's core
    # the neighbours each image's k-reciprocal set is drawn from; -1: as many images as a labelled person
    # has over every camera (its images over the cameras it is labelled in, times the cameras; the median,
    # at least 2), so that the set spans about one person in every camera; 0: as many as a labelled person
    # has (the default until 2026-12-07: one camera's worth where a camera has no labels, where it collapses)
    k1: int = setting(-1, low=2, also=(-1, 0))
    k2: int = setting(0, low=1, also=(0,))  # the neighbours each image's encoding is averaged over (query expansion); 0: half of k1
    cameras: bool = True  # leave out a cluster of new people that one camera alone saw (no cross-camera pair in it)


@dataclass
class SelfTrainingConfig(StageConfig):
    """The self-training stage: each epoch pseudo-labels the gallery camera's unlabelled images (C_train's
    images whose labels ``data.labeled_pairs`` hides, ``data.unlabeled_root``'s and the synthetic set's
    ``data.synthetic.strangers``) by its rule (``mutual``: cross-camera mutual nearest neighbours, an image
    taking the labelled identity it is nearest when it is among that identity's k nearest unlabelled
    images), then trains the matcher's loss (Eq. 5) on SP batches of the labelled and pseudo-labelled images
    together. Where every image is labelled (``data.labeled_pairs=-1``, no ``data.unlabeled_root``, no
    strangers) there is nothing to pseudo-label and the stage is skipped, so one config serves every camera
    network."""

    enabled: bool = True
    lr: float = setting(3e-4, low=0, low_open=True)
    rule: str = setting("mutual", choices=PSEUDO_LABELS, since="2026-12-07")  # how unlabelled images get identities
    # mutual: the reciprocal check: the image is among its identity's k nearest unlabelled images
    k: int = setting(2, low=1, when=("rule", "mutual"))
    # mutual's confidence rule: the first epoch keeps this fraction of the mutual pairs (the largest margins
    # between an image's nearest and second-nearest identity), rising linearly to all by the last epoch
    start: float = setting(0.5, low=0, high=1, low_open=True, when=("rule", "mutual"))
    # rule=cluster's settings (part of a run's key only where the rule is cluster; there, always)
    cluster: ClusterConfig = setting(default_factory=ClusterConfig, since="2026-12-07", when=("rule", "cluster"))
    # what the stage trains with: the matcher's loss on SP batches (Eq. 5 with Ds), or memory: InfoNCE over a
    # centroid per identity, labelled or a cluster, moved by momentum (Cluster Contrast's)
    loss: str = setting("matcher", choices=SelfTrainingLoss, since="2026-12-07")
    # loss=memory: the centroids' momentum
    momentum: float = setting(0.2, low=0, high=1, high_open=True, since="2026-12-07", when=("loss", "memory"))
    # loss=memory: InfoNCE's temperature
    temperature: float = setting(0.05, low=0, low_open=True, since="2026-12-07", when=("loss", "memory"))


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
    batch_p: int = setting(16, low=2)  # SP batches: P identities x S images = 128, the paper's batch
    batch_s: int = setting(8, low=2)  # SP batches: images per identity, split between the two views
    init_batch_size: int = setting(32, low=2)  # stage (a)'s random batches
    # stage (a)'s batches: random (init_batch_size images) or pk (batch_p identities x batch_s images
    # over both views, what a triplet loss needs; an epoch of about as many images as the training set)
    init_sampler: str = setting("random", choices=InitSampler)
    # stage (a)'s identity classifiers: one per network (separate, the paper's), or one that all the
    # networks share (shared: Ms and Mt learn one space of class prototypes, an aligned start for (b))
    init_classifier: str = setting("separate", choices=Classifier)
    # What an epoch of the SP-batch stages ((b), (c), self-training) is: identities (each training identity
    # leads one batch of P x S images, the paper's) or images (as many batches as show each training image
    # about once): the same number of steps whether a camera has every label or a few
    sp_epoch: str = setting("identities", choices=SpEpoch, since="2026-12-07")
    seed: int = 0  # the run's random seed: weights, batches, augmentation (a resumed run continues its draws)
    device: str = setting("auto", parse=_device)  # auto (a GPU when there is one), cpu, cuda or cuda:N
    amp: str = setting("none", choices=Amp)  # mixed precision on CUDA: bf16 or fp16 (loss-scaled); bf16 also runs on CPUs
    # the networks' convolution weights (and so their activations) stored channels-last: on a CPU a run
    # trains 1.4 (256 x 128) to 1.6 (96 x 48) times as fast as in the contiguous layout earlier versions
    # used, whose results it reproduces to float rounding, not bit for bit (benchmarks/run_cost.py --layouts)
    channels_last: bool = setting(True, results=False, since="2026-12-07")
    # TensorBoard scalars in the run's tensorboard/ folder (every epoch's losses, learning rate, validation
    # rank-1 / mAP, Dd accuracy; each stage's view leakage and test scores): `tensorboard --logdir runs`.
    # Needs `pip install "viewadapt[tensorboard]"`
    tensorboard: bool = setting(False, results=False)


@dataclass
class EvalConfig(EvalOptions):
    """How runs are scored (:class:`~viewadapt.evaluation.options.EvalOptions`), and when."""

    after_each_stage: bool = True  # score the test split after every stage, not only the last
    zero_shot: bool = True  # score the test split before training, with the untrained (pretrained) features
    view_leakage: bool = True  # a fresh probe's view accuracy on C_valid after each stage, and on the test split scored
    rank_lists: int = setting(10, low=0)  # probes drawn as rank-list images by `viewadapt evaluate`
    # C_valid after every epoch (every: the report's validation curves) or only in the stages where it decides
    # something (deciding: early stopping that can fire within the stage's epochs, or keep=best over more
    # than one epoch); a stage it decides nothing in ends with the same weights either way, sooner
    epoch_validation: str = setting("every", choices=EpochValidation, results=False, since="2026-12-07")


@dataclass
class DiscriminatorConfig:
    """The view discriminator Dd of an adversarial stage (c) term (loss.adaptation): its network and how
    it trains, all in this section (configs that spell them model.dd_hidden, model.dd_input and
    train.dd_lr / dd_steps / dd_warmup still load)."""

    hidden: int = setting(256, low=1)  # Dd's hidden width
    # What Dd looks at: the embedding, or the feature before the neck's batch norm (the pooled backbone
    # feature with a BNNeck), which per-view batch norms cannot normalise the views' difference out of
    input: str = setting("embedding", choices=DD_INPUTS)
    lr: float = setting(1e-3, low=0, low_open=True)  # Dd's learning rate (Adam)
    steps: int = setting(1, low=1)  # Dd's steps per mapping step in stage (c)
    # steps of Dd alone (Eq. 1, the mappings fixed) on stage (c)'s batches before its first mapping
    # update: Dd starts the game knowing the views instead of at chance
    warmup: int = setting(0, low=0)


@dataclass
class Config:
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    dd: DiscriminatorConfig = field(default_factory=DiscriminatorConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    output_dir: str = setting("runs", results=False)  # where run folders are made
    name: str = setting("", results=False, parse=_folder_name)  # the run folder's name (empty: the date and time it started)

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


def config_from_dict(tree: dict) -> Config:
    """A config from a dict such as a checkpoint stores; keys added since it was written take their
    defaults, and keys that moved are read at their new place."""
    return _build(Config, migrate(copy.deepcopy(tree), user=False))


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
    cfg = _build(Config, migrate(tree))
    validate(cfg)
    return cfg


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise ConfigError(message)


# ---- checks that relate several keys: each a small named function, run in order by validate() ----------

def _protocol_and_variant(cfg: Config) -> None:
    d, source = cfg.data, DATASETS[cfg.data.dataset]
    _check(d.protocol in source.protocols,
           f"data.protocol '{d.protocol}' is not available for {d.dataset}: choose one of {', '.join(source.protocols)}")
    _check(d.variant in source.variants + ("",),
           f"data.variant '{d.variant}' is not one of: {', '.join(source.variants) or '(none for ' + d.dataset + ')'}")


def _labeled_pairs(cfg: Config) -> None:
    d = cfg.data
    _check(d.labeled_people == -1 or d.labeled_people >= cfg.train.batch_p,
           f"data.labeled_people={d.labeled_people} is below train.batch_p={cfg.train.batch_p}, the identities an "
           "SP batch holds: raise it or lower train.batch_p")
    _check(d.labeled_people == -1 or d.labeled_pairs == -1,
           "data.labeled_people and data.labeled_pairs both hide labels: give one of them (-1 the other)")
    _check(d.labeled_pairs in (-1, 0) or d.labeled_pairs >= cfg.train.batch_p,
           f"data.labeled_pairs={d.labeled_pairs} is below train.batch_p={cfg.train.batch_p}, the identities an SP "
           "batch pairs across the cameras: raise it, lower train.batch_p, or set it to 0 (a gallery camera "
           "without labels: SP batches from the probe camera) or -1 (all labelled)")


def _strangers(cfg: Config) -> None:
    d = cfg.data
    _check(not d.synthetic.strangers or DATASETS[d.dataset].generated,
           f"data.synthetic.strangers: only the synthetic set draws strangers, and data.dataset is {d.dataset}: "
           "give a folder of your camera's unlabelled crops as data.unlabeled_root")


def _camera_groups(cfg: Config) -> None:
    groups = cfg.data.camera_groups
    _check(not groups or (len(groups) >= 2 and all(groups)),
           "data.camera_groups must list at least two non-empty groups of camera names")
    flat = [c for g in groups for c in g]
    _check(len(flat) == len(set(flat)), "data.camera_groups: a camera may belong to one group only")


def _unlabeled_images(cfg: Config) -> None:
    d, t = cfg.data, cfg.train
    _check(not d.has_unlabeled or cfg.num_views == 2 or not t.adaptation.enabled,
           f"data.labeled_pairs with {cfg.num_views} views hides the last view's labels (data.unlabeled_root "
           "adds unlabelled images to it), and stage (c)'s view term compares two views: set "
           "train.adaptation.enabled=false, or data.camera_groups to two groups")
    _check(not d.unlabeled_root or t.self_training.enabled or t.adaptation.enabled,
           "data.unlabeled_root: only self-training and stage (c)'s view term learn from unlabelled images, and "
           "both are off: set train.self_training.enabled=true")


def _backbones(cfg: Config) -> None:
    m = cfg.model
    _check(not m.extra_backbones or len(m.extra_backbones) == cfg.num_views - 2,
           f"model.extra_backbones must name {cfg.num_views - 2} backbones (views 2..{cfg.num_views - 1}) or none")
    for name in m.extra_backbones:
        BACKBONES.check(name, "model.extra_backbones")
    for key in ("ds_hidden", "regressor_hidden"):
        _check(len(getattr(m, key)) >= 1 and min(getattr(m, key)) >= 1, f"model.{key} must list positive layer widths")


def _asymmetry_fits(cfg: Config) -> None:
    m = cfg.model
    level = Asymmetry.parse(m.asymmetry)
    _check(not m.shared or level.separate_networks or level.one_network,
           f"model.shared=true is model.asymmetry=none, and asymmetry is {m.asymmetry}: drop one of the two")
    if level.k:  # a backbone's stages are known once it is laid out: on the meta device, no weights exist
        with torch.device("meta"):
            stages = len(build_backbone(m.probe_backbone, pretrained=False).stage_names())
        _check(level.k <= stages, f"model.asymmetry={m.asymmetry}: {m.probe_backbone} has {stages} stages, "
                                  f"so K must be 1 to {stages}")


def _matcher(cfg: Config) -> None:
    m, t, loss = cfg.model, cfg.train, cfg.loss
    matcher = MATCHERS[loss.metric]
    _check(not matcher.needs_one_network or m.view_asymmetry.one_network,
           f"loss.metric={loss.metric} learns on one network's embeddings: set model.asymmetry=none")
    _check(matcher.trains_mappings or (t.similarity.enabled and not t.adaptation.enabled),
           f"loss.metric={loss.metric} trains on fixed embeddings, in stage (b) only: set "
           "train.similarity.enabled=true and train.adaptation.enabled=false")
    _check(not t.self_training.enabled or not cfg.data.has_unlabeled or matcher.trains_mappings,
           f"train.self_training trains the mappings, and loss.metric={loss.metric} keeps them fixed: "
           "use loss.metric=ds")
    reranker = RERANKERS.get(cfg.eval.rerank)  # an unknown name is told by the declaration's own check
    _check(matcher.scores_pairs or not (reranker and reranker.needs_pair_scorer),
           f"eval.rerank={cfg.eval.rerank} needs a trained Ds, and loss.metric={loss.metric} trains none: use "
           "eval.rerank=none or k_reciprocal")


def _memory(cfg: Config) -> None:
    st = cfg.train.self_training
    _check(st.loss != "memory" or st.monitor == "val_rank1",
           "train.self_training.loss=memory trains no matcher, so the stage has no validation loss to watch: set "
           "train.self_training.monitor=val_rank1")


def _triplet(cfg: Config) -> None:
    _check(cfg.loss.triplet == 0 or cfg.train.init_sampler == "pk",
           "loss.triplet needs batches with several images of each identity, and random batches mostly hold one: "
           "set train.init_sampler=pk (or loss.triplet=0)")


def _stages(cfg: Config) -> None:
    for name in STAGES:
        st = cfg.stage(name)
        _check(st.warmup < st.epochs, f"train.{name}.warmup must be >= 0 and below train.{name}.epochs "
                                      f"({st.warmup} and {st.epochs}): set train.{name}.warmup lower")
    _check(cfg.train.init.monitor == "val_rank1", "train.init.monitor must be val_rank1: stage (a) has no Ds to give a loss")
    _check(any(cfg.stage(n).enabled for n in STAGES), "every stage is disabled: enable at least one of train.*")


def _tensorboard(cfg: Config) -> None:
    _check(not cfg.train.tensorboard or importlib.util.find_spec("tensorboard") is not None,
           "train.tensorboard=true needs the tensorboard package: pip install \"viewadapt[tensorboard]\" "
           "(or set train.tensorboard=false)")


def _eval(cfg: Config) -> None:
    e = cfg.eval
    _check(e.search == "dense" or (e.protocol == "all_gallery" and e.rerank == "none"),
           "eval: search=faiss works with protocol=all_gallery and rerank=none only")


RULES: tuple[Callable[[Config], None], ...] = (
    _protocol_and_variant, _labeled_pairs, _strangers, _camera_groups, _unlabeled_images, _backbones,
    _asymmetry_fits, _matcher, _memory, _triplet, _stages, _tensorboard, _eval)


def validate(cfg: Config) -> None:
    """Every key against its declaration (choices, range), then the checks that relate several keys
    (:data:`RULES`); each failure names the key and what it accepts."""
    check_declared(cfg)
    for rule in RULES:
        rule(cfg)
