"""``viewadapt demo``: the method against its baselines on the synthetic benchmark, one table.

Two runs on the same split and seed share what can be shared: the asymmetric run's stage (b)
result *is* "the same without stage (c)", the Siamese run's stage (a) result *is* the plain
softmax-ID baseline (one network trained with an identity classifier, the usual re-ID recipe), and
each run scores its untrained networks first: the zero-shot floor every trained row must clear.
"""

from __future__ import annotations

import time
from pathlib import Path

from viewadapt.config import load_config, packaged_configs
from viewadapt.files import write_text
from viewadapt.reports import plot_cmc
from viewadapt.training import Trainer
from viewadapt.runs.folder import ZERO_SHOT
from viewadapt.training.hooks import zero_shot_label

ROWS = [
    ("{siamese}", "siamese", ZERO_SHOT),
    ("{asymmetric}", "asymmetric", ZERO_SHOT),
    ("Ours* (asymmetric Ms/Mt, Eq. 5, view adaptation)", "asymmetric", "adaptation"),
    ("No adaptation (asymmetric, Eq. 5, stages a+b)", "asymmetric", "similarity"),
    ("Siamese shared weights (Eq. 5, stages a+b)", "siamese", "similarity"),
    ("Softmax ID (stage a only, one network)", "siamese", "init"),
]


def _result(results: dict[str, dict], run: str, stage: str) -> dict:
    """A row's test results: a stage's, or the run's zero-shot floor."""
    return (results[run][ZERO_SHOT] if stage == ZERO_SHOT else results[run]["stages"][stage])["test"]


def format_table(results: dict[str, dict], protocol: str, floors: dict[str, str]) -> str:
    """The table's rows; ``floors`` names each run's zero-shot features."""
    lines = [f"| method ({protocol}) | rank-1 | rank-5 | rank-20 | mAP |", "|---|---:|---:|---:|---:|"]
    for label, run, stage in ROWS:
        label = label.format(**floors)
        m = _result(results, run, stage)
        lines.append(f"| {label} | {100 * m['rank1']:.1f} | {100 * m['rank5']:.1f} | "
                     f"{100 * m['rank20']:.1f} | {100 * m['mAP']:.1f} |")
    return "\n".join(lines)


def run_demo(config: str | None = None, overrides: list[str] | None = None, quiet: bool = False) -> str:
    """Train both runs, print and return the comparison table (also written to ``<output_dir>/demo.md``)."""
    start = time.time()
    base = list(overrides or [])
    cfg_path = config or packaged_configs()["demo"]
    results, floors = {}, {}
    for run, extra in (("asymmetric", []), ("siamese", ["model.shared=true", "train.adaptation.enabled=false"])):
        cfg = load_config(cfg_path, base + extra + [f"name={run}"])
        floors[run] = zero_shot_label(cfg)
        if not quiet:
            print(f"== {run}: Ms={cfg.model.probe_backbone} "
                  f"Mt={cfg.model.probe_backbone if cfg.model.shared else cfg.model.gallery_backbone}")
        with Trainer.create(cfg, verbose=not quiet) as trainer:
            results[run] = trainer.fit()
    wall = time.time() - start
    s = cfg.data.synthetic
    table = format_table(results, cfg.eval.protocol, floors)
    header = (f"Synthetic two-camera benchmark: {s.num_identities} identities, {s.images_per_view} image(s) per "
              f"view, view shift {s.view_shift}; C_train {cfg.data.num_train}, C_valid {cfg.data.num_valid}, "
              f"C_test the rest; {cfg.eval.trials} single-shot trials. Wall time {wall / 60:.1f} min.")
    out = Path(cfg.output_dir) / "demo.md"
    write_text(out, header + "\n\n" + table + "\n")
    curves = {label.format(**floors).split(" (")[0]: _result(results, run, stage)["cmc"] for label, run, stage in ROWS}
    plot = plot_cmc(curves, Path(cfg.output_dir) / "demo_cmc.png", title=f"CMC, synthetic ({cfg.eval.protocol})")
    print("\n" + header + "\n\n" + table + f"\n\nwritten: {out}, {plot}")
    return table
