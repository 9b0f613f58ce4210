"""Run a named experiment: every method over several seeds, each run cached in its own folder, so an
interrupted experiment continues where it stopped; then a Markdown table of mean +- std and plots.

Runs are keyed by their resolved config, so two experiments that train the same setting (the
method's defaults are a row of most of them) share its runs, and a changed config trains anew.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import statistics
import time
from pathlib import Path

from viewadapt.config import Config, load_config
from viewadapt.errors import ConfigError
from viewadapt.experiments.registry import EXPERIMENTS, Experiment, Method
from viewadapt.reports.figures import plot_cmc, plot_sweep
from viewadapt.runs import CHECKPOINT_FILE, METRICS_FILE
from viewadapt.runs.folder import environment, write_json
from viewadapt.training import Trainer

# The table's columns: result key, heading.
COLUMNS = (("rank1", "rank-1"), ("rank5", "rank-5"), ("rank20", "rank-20"), ("mAP", "mAP"))


def run_key(cfg: Config) -> str:
    """What a run's results depend on: its resolved config, less where it is written and its seed."""
    tree = cfg.to_dict()
    for key in ("output_dir", "name"):
        tree.pop(key)
    tree["train"].pop("seed")
    return hashlib.sha1(json.dumps(tree, sort_keys=True).encode()).hexdigest()[:12]


def method_overrides(method: Method, probe: str, gallery: str) -> list[str]:
    return [o.format(probe=probe, gallery=gallery) for o in method.overrides]


def run_method(cfg: Config, run: Path, quiet: bool) -> dict:
    """One run of ``cfg`` in folder ``run``, reusing what a previous call finished or left half done."""
    metrics_file = run / METRICS_FILE
    if metrics_file.is_file():
        metrics = json.loads(metrics_file.read_text())
        if metrics.get("finished"):
            return metrics
    if (run / CHECKPOINT_FILE).is_file():
        return Trainer.resume(run, verbose=not quiet).fit()
    shutil.rmtree(run, ignore_errors=True)  # died before its first checkpoint: nothing to keep
    cfg.output_dir, cfg.name = str(run.parent), run.name
    return Trainer.create(cfg, verbose=not quiet).fit()


def _cell(values: list[float]) -> str:
    mean = 100 * statistics.fmean(values)
    return f"{mean:.1f} ± {100 * statistics.stdev(values):.1f}" if len(values) > 1 else f"{mean:.1f}"


def run_experiment(name: str, config: str | Path | None = None, overrides: list[str] | None = None, seeds: int = 3,
                   out: str | Path = "experiments", quiet: bool = True) -> Path:
    """Train every method of experiment ``name`` with train.seed 0..seeds-1; write ``results.md``."""
    exp: Experiment = EXPERIMENTS[name]
    overrides = list(overrides or [])
    base = load_config(config, overrides)
    if exp.synthetic_only and base.data.dataset != "synthetic":
        raise ConfigError(f"experiment '{name}' varies the synthetic benchmark: run it with data.dataset=synthetic "
                          f"(e.g. -c experiments-small), not {base.data.dataset}")
    folder = Path(out) / name
    folder.mkdir(parents=True, exist_ok=True)
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
            cfg = load_config(config, overrides + extra + [f"train.seed={seed}"])
            run = Path(out) / "runs" / run_key(cfg) / f"seed{seed}"
            metrics = run_method(cfg, run, quiet)
            train_s += metrics["train_time_s"]
            runs.append({**metrics["test"], "run": str(run)})
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
    header = "| method | " + " | ".join(h for _, h in COLUMNS) + (" | paper rank-1 |" if has_paper else " |")
    lines += [header, "|---" * (len(COLUMNS) + 1 + has_paper) + "|"]
    for method, (label, runs) in zip(exp.methods, results.items()):
        row = f"| {label} | " + " | ".join(_cell([r[k] for r in runs]) for k, _ in COLUMNS)
        if has_paper:
            row += f" | {method.paper.get(dataset, '-')}"
        lines.append(row + " |")
    curves = {label: [statistics.fmean(c) for c in zip(*(r["cmc"] for r in runs))] for label, runs in results.items()}
    plot_cmc(curves, folder / "cmc.png", title=f"{name}: CMC ({dataset}, mean over seeds)")
    lines += ["", "![CMC](cmc.png)"]
    if exp.x_label:
        series: dict[str, tuple[list[float], list[list[float]]]] = {}
        for method, runs in zip(exp.methods, results.values()):
            xs, ys = series.setdefault(method.series, ([], []))
            xs.append(method.x)
            ys.append([r["rank1"] for r in runs])
        plot_sweep(series, folder / "sweep.png", exp.x_label, "rank-1")
        lines += ["", "![sweep](sweep.png)"]
    path = folder / "results.md"
    path.write_text("\n".join(lines) + "\n")
    write_json(folder / "results.json", {"experiment": name, "dataset": dataset, "seeds": seeds,
                                         "wall_s": wall, "results": results})
    return path
