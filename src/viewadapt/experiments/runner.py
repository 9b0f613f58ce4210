"""Run a named experiment: every method over several seeds, each run cached in its own folder, so an
interrupted experiment continues where it stopped; then a Markdown table of mean +- std and plots."""

from __future__ import annotations

import json
import os
import re
import shutil
import statistics
import time
from pathlib import Path

from viewadapt.config import load_config
from viewadapt.errors import ConfigError
from viewadapt.experiments.registry import EXPERIMENTS, Experiment, Method
from viewadapt.reports.figures import plot_cmc, plot_sweep
from viewadapt.training import Trainer
from viewadapt.training.trainer import CHECKPOINT
from viewadapt.training.run_dir import environment, write_json

METRICS = (("rank1", "rank-1"), ("rank5", "rank-5"), ("rank20", "rank-20"), ("mAP", "mAP"))


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def method_overrides(method: Method, probe: str, gallery: str) -> list[str]:
    return [o.format(probe=probe, gallery=gallery) for o in method.overrides]


def run_method(config: str | None, overrides: list[str], run: Path, quiet: bool) -> dict:
    """One run, reusing what a previous call finished or left half done."""
    metrics_file = run / "metrics.json"
    if metrics_file.is_file():
        metrics = json.loads(metrics_file.read_text())
        if metrics.get("finished"):
            return metrics
    if (run / CHECKPOINT).is_file():
        return Trainer.resume(run, verbose=not quiet).fit()
    shutil.rmtree(run, ignore_errors=True)  # died before its first checkpoint: nothing to keep
    cfg = load_config(config, overrides + [f"output_dir={run.parent}", f"name={run.name}"])
    return Trainer.create(cfg, verbose=not quiet).fit()


def _cell(values: list[float]) -> str:
    mean = 100 * statistics.fmean(values)
    return f"{mean:.1f} ± {100 * statistics.stdev(values):.1f}" if len(values) > 1 else f"{mean:.1f}"


def run_experiment(name: str, config: str | None = None, overrides: list[str] | None = None, seeds: int = 3,
                   out: str | Path = "experiments", quiet: bool = True) -> Path:
    """Train every method of experiment ``name`` with train.seed 0..seeds-1; write ``results.md``."""
    if name not in EXPERIMENTS:
        raise ConfigError(f"unknown experiment '{name}': choose one of {', '.join(EXPERIMENTS)}")
    exp: Experiment = EXPERIMENTS[name]
    overrides = list(overrides or [])
    base = load_config(config, overrides)
    folder = Path(out) / name
    start = time.time()
    results: dict[str, list[dict]] = {}
    train_s = 0.0
    for method in exp.methods:
        label = method.label.format(probe=base.model.probe_backbone, gallery=base.model.gallery_backbone)
        extra = method_overrides(method, base.model.probe_backbone, base.model.gallery_backbone)
        runs = []
        for seed in range(seeds):
            if not quiet:
                print(f"== {label}, seed {seed}")
            run = folder / slug(method.label) / f"seed{seed}"
            metrics = run_method(config, overrides + extra + [f"train.seed={seed}"], run, quiet)
            train_s += metrics["train_time_s"]
            runs.append(metrics["test"])
        results[label] = runs
    wall = time.time() - start
    dataset = base.data.dataset
    env = environment()
    first = next(iter(results.values()))[0]
    lines = [f"# {exp.title}", "",
             f"Dataset {dataset} ({first['split']}, {first['protocol']}), seeds 0-{seeds - 1} "
             f"(train.seed), mean ± std over seeds. Config: {config or 'defaults'} {' '.join(overrides)}".rstrip(),
             f"Machine: {env.get('platform', '')}, {os.cpu_count()} CPU cores, torch {env.get('torch', '?')}, "
             f"device {base.train.device}. Training time of the {sum(map(len, results.values()))} runs: "
             f"{train_s / 60:.1f} min; this call: {wall / 60:.1f} min (finished runs are reused).", ""]
    has_paper = any(dataset in m.paper for m in exp.methods)
    header = "| method | " + " | ".join(h for _, h in METRICS) + (" | paper rank-1 |" if has_paper else " |")
    lines += [header, "|---" * (len(METRICS) + 1 + has_paper) + "|"]
    for method, (label, runs) in zip(exp.methods, results.items()):
        row = f"| {label} | " + " | ".join(_cell([r[k] for r in runs]) for k, _ in METRICS)
        if has_paper:
            row += f" | {method.paper.get(dataset, '-')}"
        lines.append(row + " |")
    curves = {label: [statistics.fmean(c) for c in zip(*(r["cmc"] for r in runs))] for label, runs in results.items()}
    plot_cmc(curves, folder / "cmc.png", title=f"{name}: CMC ({dataset}, mean over seeds)")
    lines += ["", "![CMC](cmc.png)"]
    if exp.x_label:
        xs = [m.x for m in exp.methods]
        ys = [[r["rank1"] for r in runs] for runs in results.values()]
        plot_sweep(xs, ys, folder / "sweep.png", exp.x_label, "rank-1")
        lines += ["", "![sweep](sweep.png)"]
    path = folder / "results.md"
    path.write_text("\n".join(lines) + "\n")
    write_json(folder / "results.json", {"experiment": name, "dataset": dataset, "seeds": seeds,
                                         "wall_s": wall, "results": results})
    return path
