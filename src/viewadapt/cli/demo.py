"""``viewadapt demo``: the recommended method against the paper's and the plain baselines on the synthetic
benchmark, one table.

Three runs on the same split and seed, each scored only where a row needs it: the Siamese run's stage
(a) result *is* the plain softmax-ID baseline (one network trained with an identity classifier, the
usual re-ID recipe) and its first act is to score its untrained network (the zero-shot floor every
trained row must clear); the paper's run (asymmetric Ms/Mt, stages a+b+c) and the recommended one
(camera statistics, stages a+b, self-training where a camera has unlabelled images) are scored once,
at the end. The view-leakage probe, a diagnostic no row shows, is left out.
"""

from __future__ import annotations

import html
import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import torch

from viewadapt.builders import create_trainer, ensure_generated, zero_shot_label
from viewadapt.config import PAPER_METHOD, RECOMMENDED_METHOD, load_config, packaged_configs
from viewadapt.files import write_text
from viewadapt.reports import build_report, plot_cmc
from viewadapt.reports.html import STYLE
from viewadapt.runs.folder import ZERO_SHOT

FINAL = "final"
RECOMMENDED = "recommended"
# run name -> its overrides, after the demo config and the user's own; the longest first
RUNS = {
    "paper": [*PAPER_METHOD, "eval.zero_shot=false", "eval.after_each_stage=false"],
    "siamese": [*PAPER_METHOD, "model.shared=true", "train.adaptation.enabled=false", "eval.after_each_stage=true"],
    RECOMMENDED: [*RECOMMENDED_METHOD, "eval.zero_shot=false", "eval.after_each_stage=false"],
}
ROWS = [  # label, run, what of it
    ("{siamese}", "siamese", ZERO_SHOT),
    ("Softmax ID (stage a only, one network)", "siamese", "init"),
    ("Siamese shared weights (Eq. 5, stages a+b)", "siamese", "similarity"),
    ("the paper's Ours* (asymmetric Ms/Mt, Eq. 5, view adaptation; -c paper)", "paper", FINAL),
    ("**recommended**: camera statistics, stages a+b (+ self-training on unlabelled images; the default)",
     RECOMMENDED, FINAL),
]


def _result(results: dict[str, dict], run: str, stage: str) -> dict:
    """A row's test results: the run's zero-shot floor, one stage's, or the run's final ones."""
    if stage == ZERO_SHOT:
        return results[run][ZERO_SHOT]["test"]
    return results[run]["test"] if stage == FINAL else results[run]["stages"][stage]["test"]


def format_table(results: dict[str, dict], protocol: str, floors: dict[str, str]) -> str:
    """The table's rows; ``floors`` names each run's zero-shot features."""
    lines = [f"| method ({protocol}) | rank-1 | rank-5 | rank-20 | mAP |", "|---|---:|---:|---:|---:|"]
    for label, run, stage in ROWS:
        label = label.format(**floors)
        m = _result(results, run, stage)
        lines.append(f"| {label} | {100 * m['rank1']:.1f} | {100 * m['rank5']:.1f} | "
                     f"{100 * m['rank20']:.1f} | {100 * m['mAP']:.1f} |")
    return "\n".join(lines)


def _train(cfg_path: str, overrides: list[str], threads: int) -> dict:
    """One run, in a worker process of its own: its results."""
    torch.set_num_threads(threads)
    cfg = load_config(cfg_path, overrides)
    with create_trainer(cfg, verbose=False) as trainer:
        return trainer.fit()


def _train_all(cfg_path: str, overrides: dict[str, list[str]], quiet: bool) -> dict[str, dict]:
    """Every run, two at a time with the cores split between them: on a 2-core CPU one thread per run
    does 1.6 times the work of two threads on one run (the demo's batches are too small for two)."""
    cpus = os.cpu_count() or 1
    workers = min(2, cpus, len(overrides))
    threads = max(1, cpus // workers)
    results, started = {}, time.time()
    # spawn: a worker must not inherit the parent's threads (nor, on a GPU, its CUDA state)
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = {pool.submit(_train, cfg_path, extra, threads): run for run, extra in overrides.items()}
        for future in as_completed(futures):
            run = futures[future]
            results[run] = future.result()
            if not quiet:
                print(f"== {run} trained ({(time.time() - started) / 60:.1f} min): test rank-1 "
                      f"{100 * results[run]['test']['rank1']:.1f}", flush=True)
    return results


def run_demo(config: str | None = None, overrides: list[str] | None = None, quiet: bool = False) -> str:
    """Train the three runs, print and return the comparison table (also written to
    ``<output_dir>/demo.md``)."""
    start = time.time()
    cfg_path = str(config or packaged_configs()["demo"])
    runs, floors = {}, {}
    for run, extra in RUNS.items():  # the paper's run first: the longest starts first
        runs[run] = list(overrides or []) + extra + ["eval.view_leakage=false", f"name={run}"]
        cfg = load_config(cfg_path, runs[run])
        floors[run] = zero_shot_label(cfg)
        if not quiet:
            print(f"== {run}: {cfg.method()}")
    ensure_generated(cfg.data)  # once, before the workers read it
    results = _train_all(cfg_path, runs, quiet)
    wall = time.time() - start
    s = cfg.data.synthetic
    table = format_table(results, cfg.eval.protocol, floors)
    header = (f"Synthetic two-camera benchmark: {s.num_identities} identities, {s.images_per_view} image(s) per "
              f"view, view shift {s.view_shift}; C_train {cfg.data.num_train}, C_valid {cfg.data.num_valid}, "
              f"C_test the rest; {cfg.eval.trials} single-shot trials; one seed. Wall time {wall / 60:.1f} min.")
    out = Path(cfg.output_dir) / "demo.md"
    write_text(out, header + "\n\n" + table + "\n")
    curves = {label.format(**floors).split(" (")[0].replace("**", ""): _result(results, run, stage)["cmc"]
              for label, run, stage in ROWS}
    plot = plot_cmc(curves, Path(cfg.output_dir) / "demo_cmc.png", title=f"CMC, synthetic ({cfg.eval.protocol})")
    page = demo_page(Path(cfg.output_dir), header, table, {run: build_report(Path(cfg.output_dir) / run)
                                                           for run in runs}, plot)
    print("\n" + header + "\n\n" + table + f"\n\nwritten: {out}, {plot}, {page} (open it in a browser)")
    return table


def demo_page(folder: Path, header: str, table: str, reports: dict[str, Path], plot: Path) -> Path:
    """``index.html``: the demo's table and curves, and a link to each run's own report."""
    rows = [line.strip("|").split("|") for line in table.splitlines() if not line.startswith("|---")]
    cells = "".join("<tr>" + "".join(f"<{'th' if i == 0 else 'td'}>{html.escape(c.strip().replace('**', ''))}"
                                     f"</{'th' if i == 0 else 'td'}>" for c in row) + "</tr>"
                    for i, row in enumerate(rows))
    links = "".join(f'<li><a href="{html.escape(p.relative_to(folder).as_posix())}">{html.escape(run)}</a>: '
                    f"{html.escape(_what(run))}</li>" for run, p in reports.items())
    text = (f"<!doctype html><html><head><meta charset='utf-8'><title>viewadapt demo</title><style>{STYLE}</style>"
            f"</head><body><h1>viewadapt demo</h1><p>{html.escape(header)}</p><table>{cells}</table>"
            f'<img alt="CMC curves" src="{html.escape(plot.name)}"><h2>Each run\'s report</h2><ul>{links}</ul>'
            "</body></html>")
    return write_text(folder / "index.html", text)


def _what(run: str) -> str:
    return {"paper": "the paper's method (-c paper)", "siamese": "the shared network: the floor, softmax ID "
            "(stage a) and Siamese (stages a+b)", RECOMMENDED: "the recommended method (the defaults)"}.get(run, run)
