"""The paper's comparisons as named experiments: which methods, as config overrides, and the paper's
own numbers (rank-1, %, from its Tables II-VII) where the dataset matches.

Overrides may name ``{probe}`` and ``{gallery}``: the backbones of the config the experiment runs on.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from viewadapt.registry import Registry


@dataclass(frozen=True)
class Row:
    """A row of an experiment's table: a method, or a variant of one, as config overrides."""

    label: str
    overrides: tuple[str, ...] = ()
    paper: dict[str, float] = field(default_factory=dict)  # dataset -> rank-1 (%)
    x: float | None = None  # position on a sweep's axis
    series: str = ""  # the sweep's curve the method belongs to, when it draws several
    key: str = ""  # a stable name for --methods, records and docs (positions change as methods are added)
    only: tuple[str, ...] = ()  # the settings it runs in (empty: all), where it means nothing in the others
    # overrides it adds on the synthetic benchmark only: a budget matched to the benchmark's settings, which
    # a real dataset's config sets itself
    synthetic: tuple[str, ...] = ()
    data: str = "any"  # where it runs: any dataset, the synthetic benchmark only, or real datasets only

    def overrides_for(self, generated: bool) -> tuple[str, ...]:
        return self.overrides + (self.synthetic if generated else ())


@dataclass(frozen=True)
class Setting:
    """Where an experiment's methods are compared: overrides every method runs with (a regime), and
    those it adds on the synthetic benchmark (its size and the budget that fits it; a real dataset's
    come from the user's config)."""

    name: str = ""
    overrides: tuple[str, ...] = ()
    title: str = ""
    synthetic: tuple[str, ...] = ()
    # With more than two views: the (probe -> gallery) view pairs the table scores, e.g. ("0->2", "1->2")
    # for a new camera 2 (empty: the mean over every pair, as the run scored itself)
    pairs: tuple[str, ...] = ()
    # where it applies: on any dataset, on the synthetic benchmark only (it varies the benchmark), or on
    # real datasets only (a regime the synthetic tables leave out); and the camera views a real dataset
    # needs for it (the synthetic set draws the cameras a setting asks for)
    data: str = "any"
    views: int = 2
    # its title on the synthetic benchmark, whose sizes the setting fixes (a real dataset's are its config's)
    synthetic_title: str = ""

    def title_for(self, generated: bool) -> str:
        return (self.synthetic_title if generated and self.synthetic_title else self.title) or self.name

    def applies(self, generated: bool, num_views: int = 2) -> bool:
        return (self.data == "any" or (self.data == "synthetic") == generated) and (generated or num_views >= self.views)

    def overrides_for(self, generated: bool) -> tuple[str, ...]:
        """Its overrides on a dataset, and, where viewadapt draws the images itself, the benchmark's."""
        return self.overrides + (self.synthetic if generated else ())


@dataclass(frozen=True)
class Experiment:
    name: str
    title: str
    methods: tuple[Row, ...]
    x_label: str = ""  # set for sweeps: the table is also drawn as a curve
    synthetic_only: bool = False  # it varies the synthetic benchmark itself
    settings: tuple[Setting, ...] = (Setting(),)  # one table each
    baseline: str = ""  # a method's key: every row also shows its rank-1 difference from it, seed by seed


# Training recipes, as the overrides that pin every part of them (the budget, lr and epochs, is the
# config's). The paper's: no augmentation, a random linear neck, plain softmax, the step schedule,
# Euclidean distance. The strong one (after Luo et al.'s bag of tricks): flips, crops and random
# erasing, the pooled feature with a BNNeck, L2-normalised, label smoothing, warm-up and cosine decay,
# cosine distance; bot adds the batch-hard triplet on PK batches.
PAPER_RECIPE = ("data.augment.preset=paper", "model.neck=linear", "model.normalize=false", "loss.label_smoothing=0",
                "loss.triplet=0", "train.init_sampler=random", "train.init.schedule=step", "train.init.warmup=0",
                "eval.distance=euclidean")
STRONG_RECIPE = ("data.augment.preset=reid", "model.neck=bnneck", "model.normalize=true", "loss.label_smoothing=0.1",
                 "loss.triplet=0", "train.init_sampler=random", "train.init.schedule=cosine", "train.init.warmup=5",
                 "eval.distance=cosine")
BOT_RECIPE = (*STRONG_RECIPE[:4], "loss.triplet=1", "train.init_sampler=pk", *STRONG_RECIPE[6:])
SOFTMAX_ONLY = ("model.shared=true", "train.similarity.enabled=false", "train.adaptation.enabled=false")
# The recipe issue's regimes on the synthetic benchmark, 100 test identities each. Stage (a) gets a few
# hundred optimiser steps in each (batches of 32: the fewer training images, the more epochs); the
# paper's step schedule divides the rate by 10 after 40% of them. Stages (b) and (c) show every identity
# P x S images an epoch, so the 200-identity regimes get fewer of those epochs.
REGIMES = (
    Setting("few_shot", ("data.num_train=50", "data.num_valid=20", "data.num_test=100",
                         "data.synthetic.num_identities=170", "data.synthetic.images_per_view=1",
                         "train.init.epochs=100", "train.init.lr_step=40"),
            "Few-shot: 50 training identities, one image per camera"),
    Setting("viper_like", ("data.num_train=200", "data.num_valid=30", "data.num_test=100",
                           "data.synthetic.num_identities=330", "data.synthetic.images_per_view=1",
                           "train.init.epochs=30", "train.init.lr_step=12", "train.similarity.epochs=2",
                           "train.adaptation.epochs=1"),
            "VIPeR-like: 200 training identities, one image per camera"),
    Setting("multi_shot", ("data.num_train=200", "data.num_valid=30", "data.num_test=100",
                           "data.synthetic.num_identities=330", "data.synthetic.images_per_view=4",
                           "train.init.epochs=12", "train.init.lr_step=5", "train.similarity.epochs=2",
                           "train.adaptation.epochs=1"),
            "Multi-shot: 200 training identities, four images per camera"),
)
# Kinds of camera difference, each alone in the few-shot regime (the regime's own set has colour, blur,
# half resolution and flips together).
_ONLY = {"colour": 0, "blur": 0, "resolution": 0, "flip": 0}
SHIFTS = tuple(
    Setting(f"few_shot_{name}",
            REGIMES[0].overrides + tuple(f"data.synthetic.{k}={v}" for k, v in {**_ONLY, **on}.items()),
            f"Few-shot, {title}")
    for name, on, title in (
        ("colour", {"colour": 1}, "colour only: colour response, white balance, exposure, noise, scale"),
        ("viewpoint", {"viewpoint": 1, "resolution": 1},
         "viewpoint and resolution: the second camera sees people from behind or the side, at half resolution"),
        ("infrared", {"infrared": 1}, "infrared-like: the second camera sees grey reflectance, not colour"),
    ))
# Where identity labels cannot take the camera out by themselves: a gallery camera labelled for a few
# identities only (VIPeR-like otherwise, the same stage (b) and (c) steps: an SP epoch is one batch per
# identity labelled in both views, 20 here against 200), its other images there for the view term alone.
FEW_LABELS = (
    Setting("unlabeled_gallery", REGIMES[1].overrides + ("data.labeled_pairs=20", "train.similarity.epochs=20",
                                                         "train.adaptation.epochs=10"),
            "VIPeR-like, gallery camera mostly unlabelled: 200 training identities, 20 of them labelled in "
            "both cameras, the other 180 in the probe camera only (their gallery images unlabelled)"),
)
# The cameras a user has: every one labelled; one with few labels; one with none (a camera added to a
# network). The last is VIPeR-like with two images per identity in each camera, so that the labelled
# camera alone gives stage (b) its pairs; the new camera's images are all unlabelled.
CAMERA_REGIMES = (
    Setting("both_labelled", (), "Every camera labelled", REGIMES[0].overrides,
            synthetic_title="Every camera labelled: few-shot, 50 training identities, one image per camera"),
    Setting("few_labels", ("data.labeled_pairs=20",),
            "One camera with few labels: 20 of the training identities labelled in the gallery camera, the "
            "others in the probe camera only",
            tuple(o for o in FEW_LABELS[0].overrides if not o.startswith("data.labeled_pairs")),
            synthetic_title="One camera with few labels: 200 training identities, 20 of them labelled in the "
            "gallery camera"),
    Setting("new_camera", ("data.labeled_pairs=0",),
            "A new camera without labels: the training identities labelled in the probe camera only, the "
            "gallery camera's images all unlabelled",
            REGIMES[1].overrides + ("data.synthetic.images_per_view=2",),
            synthetic_title="A new camera without labels: 200 training identities labelled in the probe camera "
            "(two images each), the gallery camera's images all unlabelled"),
    # Two labelled cameras and a third added without labels, probes of either labelled camera matched
    # against the new one (on one's own cameras: give data.camera_groups, the new camera last).
    Setting("new_camera_3", ("data.labeled_pairs=0",),
            "A third camera without labels: the training identities labelled in two cameras, the third "
            "camera's images all unlabelled; probes of cameras 1 and 2 against camera 3's gallery",
            REGIMES[1].overrides + ("data.synthetic.num_cameras=3", "data.camera_groups=[[cam_a],[cam_b],[cam_c]]"),
            pairs=("0->2", "1->2"), views=3,
            synthetic_title="A third camera without labels: 200 training identities labelled in two cameras, the "
            "third camera's images all unlabelled; probes of cameras 1 and 2 against camera 3's gallery"),
    # On real crops, a second few-labels point: where the labelled pairs start to suffice
    Setting("few_labels_50", ("data.labeled_pairs=50",),
            "One camera with a few more labels: 50 of the training identities labelled in the gallery camera",
            data="real"),
)
UNLABELLED = ("few_labels", "few_labels_50", "new_camera", "new_camera_3")
# The new camera of CAMERA_REGIMES as a real one is: beside the 200 people labelled in the other camera
# it sees as many whom nobody labelled, and its unlabelled crops hold both. The reciprocal check of
# self-training should leave the strangers out; a stranger it takes is trained as someone else.
STRANGER_SETTINGS = (
    Setting("new_camera_strangers", ("data.labeled_pairs=0", "data.synthetic.strangers=200"),
            "A new camera without labels that also sees 200 people labelled nowhere: its 800 unlabelled "
            "crops, half of them of strangers", CAMERA_REGIMES[2].synthetic),
    # a camera in a busy place: most of whom it sees were never labelled anywhere
    Setting("new_camera_mostly_strangers", ("data.labeled_pairs=0", "data.synthetic.strangers=600"),
            "A new camera without labels that also sees 600 people labelled nowhere: its 1600 unlabelled "
            "crops, three in four of them of strangers", CAMERA_REGIMES[2].synthetic),
)
WITHOUT_STRANGERS = ("data.synthetic.strangers=0",)
STAGES_AB = ("train.adaptation.enabled=false",)
SELF_TRAINING = ("train.self_training.enabled=true", "train.self_training.epochs=5")
CLUSTERS = ("train.self_training.rule=cluster",)
MEMORY = ("train.self_training.loss=memory", "train.self_training.monitor=val_rank1")
# k1 as the old default computed it on a camera without labels: a labelled person's images, there one
# camera's worth (2 on the synthetic set), so its crops' reciprocal sets stayed in it
K1_ONE_CAMERA = ("train.self_training.cluster.k1=2",)
# the cluster rule's settings in SpCL and Cluster Contrast (Market, 17+ images a person), before the defaults
# were scaled to people of a handful of images
SPCL = ("train.self_training.cluster.k1=30", "train.self_training.cluster.k2=6", "train.self_training.cluster.eps=0.6",
        "train.self_training.cluster.min_samples=4")
# People a network's cameras see that nobody labelled: of 200 training people seen by both cameras, a
# sixth keep their labels, the others have none in any camera (on the synthetic set VIPeR-like with two
# images per camera, as the new-camera regime).
NEW_PEOPLE = (
    Setting("new_people", ("data.labeled_people=34",),
            "New people: 34 of the training people labelled (in both cameras), the others labelled nowhere",
            REGIMES[1].overrides + ("data.synthetic.images_per_view=2",),
            synthetic_title="New people: 200 training people seen by both cameras, 34 of them (a sixth) "
            "labelled, the other 166 labelled nowhere"),
)
GAMMAS = (0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 4.0)
VIEW_SHIFTS = (0.0, 0.5, 1.0, 2.0)
# The plain baseline every paper table carries beside the zero-shot floor: one shared network trained on
# identities and pairs, no view term.
SIAMESE = Row("Siamese ({probe} shared, stages a+b)", ("model.shared=true", "train.adaptation.enabled=false"),
              key="siamese")
# The few-shot learners embed both views with one network and match by cosine (unit embeddings).
FEWSHOT = ("model.shared=true", "model.normalize=true")

EXPERIMENTS: Registry[Experiment] = Registry("experiment")
for _experiment in (
    Experiment("table2", "Eq. 2 against Eq. 5: uniform against adaptive weighting (Ours vs Ours*)", (
        Row("Ours (Eq. 2)", ("loss.adaptive=false",),
            {"viper": 51.3, "cuhk03": 86.6, "market1501": 87.2, "dukemtmc": 47.2}, key="ours_eq2"),
        Row("Ours* (Eq. 5/6)", (), {"viper": 55.9, "cuhk03": 88.9, "market1501": 89.1, "dukemtmc": 80.1}, key="ours"),
        SIAMESE,
    ), baseline="siamese"),
    Experiment("table6", "Backbone pairs: asymmetric, swapped, identical, shared (Table VI)", (
        Row("asymmetric ({probe} / {gallery})", (), {"viper": 51.3, "cuhk03": 86.6}, key="ours"),
        Row("swapped ({gallery} / {probe})",
            ("model.probe_backbone={gallery}", "model.gallery_backbone={probe}"), {"viper": 49.7, "cuhk03": 83.9},
            key="swapped"),
        Row("identical ({gallery} twice, no sharing)", ("model.probe_backbone={gallery}",),
            {"viper": 51.3, "cuhk03": 86.4}, key="identical"),
        Row("shared ({probe}, shared weights, stages a+b+c)", ("model.shared=true",), key="shared"),
        SIAMESE,
    ), baseline="siamese"),
    Experiment("table7", "View adaptation against its baselines, same budget (Table VII)", (
        Row("Ours* (Eq. 3 view confusion)", (), {"viper": 55.9, "cuhk03": 88.9, "market1501": 89.1}, key="ours"),
        Row("No adaptation (stage c, Eq. 5 only)", ("loss.adaptation=none",), key="no_adaptation"),
        Row("DAN (multi-kernel MMD)", ("loss.adaptation=mmd",), {"viper": 39.6, "cuhk03": 71.0, "market1501": 53.8},
            key="dan"),
        Row("ADDA (inverted labels)", ("loss.adaptation=adda",),
            {"viper": 39.4, "cuhk03": 73.1, "market1501": 56.4}, key="adda"),
        Row("Softmax ID ({probe}, stage a only, one network)", SOFTMAX_ONLY, key="softmax"),
        SIAMESE,
    ), baseline="siamese"),
    Experiment("fig6", "Few-shot learners: matching networks and model regression (Fig. 6)", (
        Row("Ours* (view adaptation)", key="ours"),
        Row("Ours* on one shared network ({probe})", ("model.shared=true",), key="shared"),
        Row("Matching networks ({probe}, cosine attention)",
            FEWSHOT + ("loss.metric=matching", "loss.adaptation=none"), key="matching"),
        Row("Model regression ({probe}, regressed one-shot classifiers)",
            FEWSHOT + ("loss.metric=regression", "train.adaptation.enabled=false"), key="regression"),
        SIAMESE,
    ), baseline="siamese"),
    Experiment("ablation", "What each part of the method adds: stages and loss terms", (
        Row("Ours* (stages a, b, c; Eq. 3 + Eq. 5 in c)", key="ours"),
        Row("without stage (c) (stages a, b)", ("train.adaptation.enabled=false",), key="no_stage_c"),
        Row("stage (c) without Eq. 3 (Eq. 5 only)", ("loss.adaptation=none",), key="no_eq3"),
        Row("stage (c) without Eq. 5 (lambda_sim = 0, literal Algorithm 1)", ("loss.lambda_sim=0",), key="no_eq5"),
        Row("without stage (a) (no identity init)", ("train.init.enabled=false",), key="no_stage_a"),
    )),
    Experiment("viewshift", "Strength of the synthetic benchmark's view shift: adaptation against none", tuple(
        Row(f"{name}, view shift {v}", (f"data.synthetic.view_shift={v}", *extra), x=v, series=name, key=f"{key}_{v}")
        for name, key, extra in (("Ours*", "ours", ()), ("No adaptation", "no_adaptation", ("loss.adaptation=none",)))
        for v in VIEW_SHIFTS), x_label="view shift (data.synthetic.view_shift)", synthetic_only=True),
    # A sweep draws every row on its axis, so its paired differences are against the paper's own gamma
    Experiment("fig7", "Weight gamma of the contrastive term (Fig. 7: the paper peaks at 2.5)", tuple(
        Row(f"gamma = {g}", (f"loss.gamma={g}",), x=g, key=f"gamma_{g}") for g in GAMMAS), x_label="gamma",
        baseline="gamma_2.5"),
    Experiment("recipes", "Training recipes against the zero-shot floor, in three data regimes", (
        Row("softmax ID ({probe}), paper recipe", SOFTMAX_ONLY + PAPER_RECIPE, key="softmax_paper"),
        Row("softmax ID ({probe}), strong recipe", SOFTMAX_ONLY + STRONG_RECIPE, key="softmax_strong"),
        Row("bot: softmax + triplet ({probe}), strong recipe", SOFTMAX_ONLY + BOT_RECIPE, key="bot"),
        Row("Siamese ({probe} shared, stages a+b)", ("model.shared=true", "train.adaptation.enabled=false"),
            key="siamese"),
        Row("Ours* (asymmetric {probe} / {gallery}, stages a+b+c)", key="ours"),
    ), synthetic_only=True, settings=REGIMES, baseline="siamese"),
    Experiment("asymmetry", "How much of the network each view owns, with and without view adaptation", (
        Row("none: Siamese ({probe} shared, stages a+b)", ("model.shared=true", "train.adaptation.enabled=false"),
            key="siamese"),
        Row("bn: view-specific batch norms ({probe}), stages a+b",
            ("model.asymmetry=bn", "train.adaptation.enabled=false"), key="bn"),
        Row("bn: view-specific batch norms ({probe}), stages a+b+c", ("model.asymmetry=bn",), key="bn_c"),
        Row("partial:3: the first 3 of {probe}'s stages per view, stages a+b+c", ("model.asymmetry=partial:3",),
            key="partial3_c"),
        Row("full: {probe} / {gallery}, stages a+b", ("train.adaptation.enabled=false",), key="full"),
        Row("full: {probe} / {gallery}, stages a+b+c (Ours*)", key="ours"),
        Row("full: {probe} / {gallery}, stages a+b+c, DANN gradient reversal", ("loss.adaptation=dann",),
            key="ours_dann"),
        Row("full: {probe} / {gallery}, one stage (a) classifier for both, stages a+b+c",
            ("train.init_classifier=shared",), key="ours_one_classifier"),
        # Stage (c) without its view term: what the view term adds at the same budget.
        Row("bn: view-specific batch norms ({probe}), stages a+b+c without the view term (Eq. 5 only)",
            ("model.asymmetry=bn", "loss.adaptation=none"), key="bn_c_none"),
        Row("full: {probe} / {gallery}, stages a+b+c without the view term (Eq. 5 only)",
            ("loss.adaptation=none",), key="full_c_none"),
        # The Siamese row at the budget of the a+b+c rows: whether a lead over Siamese is stage (c)'s
        # extra similarity training rather than the asymmetry.
        Row("none: Siamese ({probe} shared), stages a+b+c without the view term (Eq. 5 only)",
            ("model.shared=true", "loss.adaptation=none"), key="siamese_c_none"),
        # Dd where per-view batch norms cannot hide the views' difference from it: before the BNNeck.
        Row("bn: view-specific batch norms ({probe}), stages a+b+c, Dd on the pooled backbone feature",
            ("model.asymmetry=bn", "dd.input=feature"), key="bn_c_feature"),
        Row("full: {probe} / {gallery}, stages a+b+c, Dd on the pooled backbone feature",
            ("dd.input=feature",), key="full_c_feature"),
        # Dd stays at chance through stage (c) (accuracy 0.51) while a fresh probe still finds the views:
        # an adversary that never learns pushes nothing. This one trains 5 steps per mapping step at 10x.
        Row("bn: view-specific batch norms ({probe}), stages a+b+c, Dd on the pooled backbone feature, "
            "5 Dd steps per mapping step at 10x its learning rate",
            ("model.asymmetry=bn", "dd.input=feature", "dd.steps=5", "dd.lr=0.01"), key="bn_c_feature_dd5"),
        # Dd at chance from stage (c)'s first epoch on may be one the mappings fool from the start. Here
        # it first learns the views alone (300 steps, the mappings fixed), so the game starts against
        # a discriminator that tells them apart.
        Row("bn: view-specific batch norms ({probe}), stages a+b+c, Dd warmed up (300 steps alone)",
            ("model.asymmetry=bn", "dd.warmup=300"), key="bn_c_dd_warmup"),
        # A view term with no adversary to outrun: DAN's multi-kernel MMD between the views' embeddings.
        Row("bn: view-specific batch norms ({probe}), stages a+b+c, DAN's MMD as the view term",
            ("model.asymmetry=bn", "loss.adaptation=mmd"), key="bn_c_mmd"),
        # The other adversarial form of Table VII: ADDA's inverted labels, the probe mapping fixed.
        Row("bn: view-specific batch norms ({probe}), stages a+b+c, ADDA's inverted labels as the view term",
            ("model.asymmetry=bn", "loss.adaptation=adda"), key="bn_c_adda"),
        Row("none: Siamese ({probe} shared), stages a+b+c (Eq. 3 + Eq. 5)", ("model.shared=true",), key="siamese_c"),
        # The view terms without an alternating adversary, on the shared network.
        Row("none: Siamese ({probe} shared), stages a+b+c, DAN's MMD as the view term",
            ("model.shared=true", "loss.adaptation=mmd"), key="siamese_c_mmd"),
        Row("none: Siamese ({probe} shared), stages a+b+c, DANN gradient reversal",
            ("model.shared=true", "loss.adaptation=dann"), key="siamese_c_dann"),
        # Stage (c) at its default rate moves the shared network too little for Eq. 3 to take the camera
        # out (Dd still finds it); the same stage at 10x the rate, with its same-budget control.
        Row("none: Siamese ({probe} shared), stages a+b+c (Eq. 3 + Eq. 5), stage (c) at 10x the learning rate",
            ("model.shared=true", "train.adaptation.lr=0.001"), key="siamese_c_lr10"),
        Row("none: Siamese ({probe} shared), stages a+b+c without the view term, stage (c) at 10x the learning "
            "rate", ("model.shared=true", "loss.adaptation=none", "train.adaptation.lr=0.001"),
            key="siamese_c_none_lr10"),
        # Camera-based batch normalisation: bn's per-view statistics without its per-view affine weights,
        # and the test-time re-estimation of each camera's statistics (on the shared network: AdaBN).
        Row("stats: camera statistics ({probe}, every weight shared), stages a+b",
            ("model.asymmetry=stats", "train.adaptation.enabled=false"), key="stats"),
        Row("none: Siamese ({probe} shared, stages a+b), test-time camera statistics",
            ("model.shared=true", "train.adaptation.enabled=false", "eval.camera_statistics=true"),
            key="siamese_camstats"),
        Row("stats: camera statistics ({probe}, every weight shared), stages a+b, test-time camera statistics",
            ("model.asymmetry=stats", "train.adaptation.enabled=false", "eval.camera_statistics=true"),
            key="stats_camstats"),
    ), synthetic_only=True, settings=REGIMES + SHIFTS + FEW_LABELS, baseline="siamese"),
    Experiment("recipe_ablation", "What each part of the strong recipe adds to softmax ID", (
        Row("strong recipe", SOFTMAX_ONLY + STRONG_RECIPE, key="strong"),
        Row("without augmentation", SOFTMAX_ONLY + STRONG_RECIPE + ("data.augment.preset=paper",),
            key="no_augmentation"),
        Row("random linear neck instead of the BNNeck", SOFTMAX_ONLY + STRONG_RECIPE + ("model.neck=linear",),
            key="linear_neck"),
        Row("BNNeck feature not L2-normalised (cosine distance)",
            SOFTMAX_ONLY + STRONG_RECIPE + ("model.normalize=false",), key="not_normalised"),
        Row("not L2-normalised, Euclidean distance",
            SOFTMAX_ONLY + STRONG_RECIPE + ("model.normalize=false", "eval.distance=euclidean"), key="euclidean"),
        Row("without label smoothing", SOFTMAX_ONLY + STRONG_RECIPE + ("loss.label_smoothing=0",),
            key="no_label_smoothing"),
        Row("step schedule, no warm-up", SOFTMAX_ONLY + STRONG_RECIPE + ("train.init.schedule=step",
                                                                          "train.init.warmup=0"), key="step_schedule"),
        Row("PK batches (8 identities x 4 images), no triplet", SOFTMAX_ONLY + STRONG_RECIPE
            + ("train.init_sampler=pk",), key="pk_batches"),
        Row("with the batch-hard triplet (bot)", SOFTMAX_ONLY + BOT_RECIPE, key="bot"),
    ), synthetic_only=True, settings=REGIMES[:1], baseline="strong"),
    Experiment("cameras", "Which configuration for which cameras: every camera labelled, one with few labels, "
               "one with none", (
                   Row("Siamese ({probe} shared, stages a+b)", ("model.shared=true", *STAGES_AB), key="siamese"),
                   Row("Siamese, test-time camera statistics (AdaBN)",
                       ("model.shared=true", *STAGES_AB, "eval.camera_statistics=true"), key="siamese_camstats"),
                   Row("bn: view-specific batch norms, stages a+b", ("model.asymmetry=bn", *STAGES_AB), key="bn"),
                   Row("stats: camera statistics (CBN), stages a+b", ("model.asymmetry=stats", *STAGES_AB),
                       key="stats"),
                   Row("stats, test-time camera statistics (CBN calibrated)",
                       ("model.asymmetry=stats", *STAGES_AB, "eval.camera_statistics=true"), key="stats_camstats"),
                   Row("stats + self-training on the unlabelled camera",
                       ("model.asymmetry=stats", *STAGES_AB, *SELF_TRAINING), key="stats_self", only=UNLABELLED),
                   # The open-set rule (clusters, crops no cluster takes left out) where every unlabelled crop
                   # is of a labelled person: on real crops the closed-set rule labelled them wrong nine times
                   # in ten; on the synthetic set it was right 95 times in 100, and clusters must not lose there.
                   # Both regimes the default rule serves, so the tables can choose it
                   Row("stats + self-training by clusters on the unlabelled camera",
                       ("model.asymmetry=stats", *STAGES_AB, *SELF_TRAINING, *CLUSTERS), key="stats_cluster",
                       only=("few_labels", "new_camera")),
                   # The loss that copes with strangers and names new people: does it also beat mutual
                   # neighbours and calibration on a real new camera, where both self-training rules lose?
                   Row("stats + clusters, the centroid memory's loss (InfoNCE) instead of Eq. 5",
                       ("model.asymmetry=stats", *STAGES_AB, *SELF_TRAINING, *CLUSTERS, *MEMORY),
                       key="stats_cluster_memory", only=("new_camera",), data="real"),
                   # The old default k1 (a person's labelled images, here one camera's worth): what it cost
                   Row("stats + self-training by clusters, k1 a person's images in one camera (2)",
                       ("model.asymmetry=stats", *STAGES_AB, *SELF_TRAINING, *CLUSTERS, *K1_ONE_CAMERA),
                       key="stats_cluster_k2", only=("new_camera",), data="synthetic"),
                   # The paper's method is for two cameras: its view term compares a pair of views.
                   Row("the paper's Ours* ({probe} / {gallery}, stages a+b+c)", (), key="ours",
                       only=("both_labelled", "few_labels", "few_labels_50", "new_camera")),
                   # The same network and steps with every gallery label: what the missing labels cost.
                   Row("upper bound: Siamese with every camera labelled",
                       ("model.shared=true", *STAGES_AB, "data.labeled_pairs=-1"), key="all_labels", only=UNLABELLED,
                       synthetic=("train.similarity.epochs=2",)),
               ), settings=CAMERA_REGIMES, baseline="siamese"),
    Experiment("strangers", "Self-training on a new camera whose unlabelled crops include people labelled nowhere", (
        # No unlabelled image reaches stages a+b of a shared network: its runs are the new_camera regime's.
        Row("Siamese ({probe} shared, stages a+b; no unlabelled image reaches them: the new camera's runs)",
            ("model.shared=true", *STAGES_AB, *WITHOUT_STRANGERS), key="siamese"),
        # Its training sees no unlabelled crop, so one number of strangers measures it.
        Row("stats, test-time camera statistics (CBN calibrated)",
            ("model.asymmetry=stats", *STAGES_AB, "eval.camera_statistics=true"), key="stats_camstats",
            only=(STRANGER_SETTINGS[0].name,)),
        Row("stats + self-training, the new camera without strangers (the cameras table's row)",
            ("model.asymmetry=stats", *STAGES_AB, *SELF_TRAINING, *WITHOUT_STRANGERS), key="stats_self_no_strangers"),
        Row("stats + self-training on the crops with the strangers'",
            ("model.asymmetry=stats", *STAGES_AB, *SELF_TRAINING), key="stats_self"),
        Row("stats + self-training by clusters on the crops with the strangers' (new people named or left out)",
            ("model.asymmetry=stats", *STAGES_AB, *SELF_TRAINING, *CLUSTERS), key="stats_cluster"),
        Row("the same, k1 a person's images in one camera (2, the old default)",
            ("model.asymmetry=stats", *STAGES_AB, *SELF_TRAINING, *CLUSTERS, *K1_ONE_CAMERA), key="stats_cluster_k2",
            only=(STRANGER_SETTINGS[1].name,)),
        # The loss that lifted clusters on new people: does a stronger objective outweigh the strangers'
        # crops that clusters name after labelled people?
        Row("stats + clusters on the crops with the strangers', the centroid memory's loss (InfoNCE) instead of "
            "Eq. 5", ("model.asymmetry=stats", *STAGES_AB, *SELF_TRAINING, *CLUSTERS, *MEMORY),
            key="stats_cluster_memory", only=(STRANGER_SETTINGS[1].name,)),
        # what the strangers cost that rule itself: the same run on the new camera without them
        Row("the same, the new camera without strangers",
            ("model.asymmetry=stats", *STAGES_AB, *SELF_TRAINING, *CLUSTERS, *MEMORY, *WITHOUT_STRANGERS),
            key="stats_cluster_memory_no_strangers", only=(STRANGER_SETTINGS[1].name,)),
    ), synthetic_only=True, settings=STRANGER_SETTINGS, baseline="siamese"),
    Experiment("new_people", "People nobody labelled, seen by every camera: self-training that names new people", (
        Row("Siamese ({probe} shared, stages a+b): the labelled people only (direct transfer)",
            ("model.shared=true", *STAGES_AB), key="siamese"),
        Row("Siamese, test-time camera statistics (calibrate)",
            ("model.shared=true", *STAGES_AB, "eval.camera_statistics=true"), key="siamese_camstats"),
        Row("stats: camera statistics (CBN), stages a+b: the labelled people only",
            ("model.asymmetry=stats", *STAGES_AB), key="stats"),
        Row("stats + self-training by mutual neighbours (labelled people only: a closed set)",
            ("model.asymmetry=stats", *STAGES_AB, *SELF_TRAINING), key="stats_self"),
        Row("stats + self-training by clusters (new people named, crops no cluster takes left out)",
            ("model.asymmetry=stats", *STAGES_AB, *SELF_TRAINING, *CLUSTERS), key="stats_cluster"),
        Row("stats + self-training by clusters, the centroid memory's loss (InfoNCE) instead of Eq. 5",
            ("model.asymmetry=stats", *STAGES_AB, *SELF_TRAINING, *CLUSTERS, *MEMORY), key="stats_cluster_memory"),
        Row("stats + self-training by clusters with SpCL's settings (k1 30, eps 0.6, min_samples 4: made for 17+ "
            "images a person)", ("model.asymmetry=stats", *STAGES_AB, *SELF_TRAINING, *CLUSTERS, *SPCL),
            key="stats_cluster_spcl"),
        Row("stats + clusters with SpCL's settings, the centroid memory's loss",
            ("model.asymmetry=stats", *STAGES_AB, *SELF_TRAINING, *CLUSTERS, *MEMORY, *SPCL),
            key="stats_cluster_memory_spcl"),
        Row("upper bound: Siamese with every training person labelled",
            ("model.shared=true", *STAGES_AB, "data.labeled_people=-1"), key="all_labels"),
    ), settings=NEW_PEOPLE, baseline="siamese"),
):
    EXPERIMENTS.register(_experiment.name)(_experiment)
