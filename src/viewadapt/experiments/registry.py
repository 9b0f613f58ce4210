"""The paper's comparisons as named experiments: which methods, as config overrides, and the paper's
own numbers (rank-1, %, METHOD.md section 6) where the dataset matches.

Overrides may name ``{probe}`` and ``{gallery}``: the backbones of the config the experiment runs on.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Method:
    label: str
    overrides: tuple[str, ...] = ()
    paper: dict[str, float] = field(default_factory=dict)  # dataset -> rank-1 (%)
    x: float | None = None  # position on a sweep's axis


@dataclass(frozen=True)
class Experiment:
    name: str
    title: str
    methods: tuple[Method, ...]
    x_label: str = ""  # set for sweeps: the table is also drawn as a curve


GAMMAS = (0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 4.0)

EXPERIMENTS = {e.name: e for e in (
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
    Experiment("fig7", "Weight gamma of the contrastive term (Fig. 7: the paper peaks at 2.5)", tuple(
        Method(f"gamma = {g}", (f"loss.gamma={g}",), x=g) for g in GAMMAS), x_label="gamma"),
)}
