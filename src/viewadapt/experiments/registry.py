"""The paper's comparisons as named experiments: which methods, as config overrides, and the paper's
own numbers (rank-1, %, METHOD.md section 6) where the dataset matches.

Overrides may name ``{probe}`` and ``{gallery}``: the backbones of the config the experiment runs on.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from viewadapt.registry import Registry


@dataclass(frozen=True)
class Method:
    label: str
    overrides: tuple[str, ...] = ()
    paper: dict[str, float] = field(default_factory=dict)  # dataset -> rank-1 (%)
    x: float | None = None  # position on a sweep's axis
    series: str = ""  # the sweep's curve the method belongs to, when it draws several


@dataclass(frozen=True)
class Experiment:
    name: str
    title: str
    methods: tuple[Method, ...]
    x_label: str = ""  # set for sweeps: the table is also drawn as a curve
    synthetic_only: bool = False  # it varies the synthetic benchmark itself


GAMMAS = (0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 4.0)
VIEW_SHIFTS = (0.0, 0.5, 1.0, 2.0)
# The few-shot learners embed both views with one network and match by cosine (unit embeddings).
FEWSHOT = ("model.shared=true", "model.normalize=true")

EXPERIMENTS: Registry[Experiment] = Registry("experiment")
for _experiment in (
    Experiment("table2", "Eq. 2 against Eq. 5: uniform against adaptive weighting (Ours vs Ours*)", (
        Method("Ours (Eq. 2)", ("loss.adaptive=false",),
               {"viper": 51.3, "cuhk03": 86.6, "market1501": 87.2, "dukemtmc": 47.2}),
        Method("Ours* (Eq. 5/6)", (), {"viper": 55.9, "cuhk03": 88.9, "market1501": 89.1, "dukemtmc": 80.1}),
    )),
    Experiment("table6", "Backbone pairs: asymmetric, swapped, identical, shared (Table VI)", (
        Method("asymmetric ({probe} / {gallery})", (), {"viper": 51.3, "cuhk03": 86.6}),
        Method("swapped ({gallery} / {probe})",
               ("model.probe_backbone={gallery}", "model.gallery_backbone={probe}"), {"viper": 49.7, "cuhk03": 83.9}),
        Method("identical ({gallery} twice, no sharing)", ("model.probe_backbone={gallery}",),
               {"viper": 51.3, "cuhk03": 86.4}),
        Method("Siamese ({probe}, shared weights)", ("model.shared=true",)),
    )),
    Experiment("table7", "View adaptation against its baselines, same budget (Table VII)", (
        Method("Ours* (Eq. 3 view confusion)", (), {"viper": 55.9, "cuhk03": 88.9, "market1501": 89.1}),
        Method("No adaptation (stage c, Eq. 5 only)", ("loss.adaptation=none",)),
        Method("DAN (multi-kernel MMD)", ("loss.adaptation=mmd",), {"viper": 39.6, "cuhk03": 71.0, "market1501": 53.8}),
        Method("ADDA (inverted labels)", ("loss.adaptation=adda",),
               {"viper": 39.4, "cuhk03": 73.1, "market1501": 56.4}),
    )),
    Experiment("fig6", "Few-shot learners: matching networks and model regression (Fig. 6)", (
        Method("Ours* (view adaptation)"),
        Method("Ours* on one shared network ({probe})", ("model.shared=true",)),
        Method("Matching networks ({probe}, cosine attention)",
               FEWSHOT + ("loss.metric=matching", "loss.adaptation=none")),
        Method("Model regression ({probe}, regressed one-shot classifiers)",
               FEWSHOT + ("loss.metric=regression", "train.adaptation.enabled=false")),
    )),
    Experiment("ablation", "What each part of the method adds: stages and loss terms", (
        Method("Ours* (stages a, b, c; Eq. 3 + Eq. 5 in c)"),
        Method("without stage (c) (stages a, b)", ("train.adaptation.enabled=false",)),
        Method("stage (c) without Eq. 3 (Eq. 5 only)", ("loss.adaptation=none",)),
        Method("stage (c) without Eq. 5 (lambda_sim = 0, literal Algorithm 1)", ("loss.lambda_sim=0",)),
        Method("without stage (a) (no identity init)", ("train.init.enabled=false",)),
    )),
    Experiment("viewshift", "Strength of the synthetic benchmark's view shift: adaptation against none", tuple(
        Method(f"{name}, view shift {v}", (f"data.synthetic.view_shift={v}", *extra), x=v, series=name)
        for name, extra in (("Ours*", ()), ("No adaptation", ("loss.adaptation=none",)))
        for v in VIEW_SHIFTS), x_label="view shift (data.synthetic.view_shift)", synthetic_only=True),
    Experiment("fig7", "Weight gamma of the contrastive term (Fig. 7: the paper peaks at 2.5)", tuple(
        Method(f"gamma = {g}", (f"loss.gamma={g}",), x=g) for g in GAMMAS), x_label="gamma"),
):
    EXPERIMENTS.register(_experiment.name)(_experiment)
