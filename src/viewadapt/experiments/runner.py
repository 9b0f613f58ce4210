"""Run a named experiment: every method over several seeds, each run cached in its own folder, so an
interrupted experiment continues where it stopped; then a Markdown table of mean +- std and plots.

Runs are keyed by their resolved config, so two experiments that train the same setting (the
method's defaults are a row of most of them) share its runs, and a changed config trains anew.
"""

from __future__ import annotations

import hashlib
import json
import os
import statistics
import time
from dataclasses import replace
from pathlib import Path

from viewadapt.config import Config, load_config
from viewadapt.data import set_name
from viewadapt.errors import ConfigError, ViewAdaptError
from viewadapt.experiments.leakage import add_test_leakage
from viewadapt.experiments.registry import EXPERIMENTS, Experiment, Method, Setting
from viewadapt.files import make_folder, write_text
from viewadapt.reports.figures import plot_cmc, plot_sweep
from viewadapt.runs import CONFIG_FILE, METRICS_FILE
from viewadapt.runs.folder import ZERO_SHOT, environment, run_finished, write_json
from viewadapt.runs.lock import RunLock
from viewadapt.training import Trainer
from viewadapt.training.hooks import zero_shot_label

# The table's columns: result key, heading.
COLUMNS = (("rank1", "rank-1"), ("rank5", "rank-5"), ("rank20", "rank-20"), ("mAP", "mAP"))
# A fresh probe's view accuracy on the test embeddings scored (the floor's: untrained features).
LEAKAGE = ("view_leakage", "view leakage (C_test)")


def _settings(cfg: Config) -> dict:
    """A run's resolved config less where it is written, and, for the synthetic set, where its images
    are (its spec and size determine them)."""
    tree = cfg.to_dict()
    for key in ("output_dir", "name"):
        tree.pop(key)
    if tree["data"]["dataset"] == "synthetic":
        tree["data"].pop("root")
    return tree


def own_synthetic_root(cfg: Config) -> None:
    """Give a synthetic set a folder of its own beside ``data.root`` (``<root>-<size>-<digest>``):
    experiments running side by side, or a run resumed after another setting's, then never regenerate
    the images another run reads. Beside, not inside: the folder loader would take a set inside the
    root for one of its cameras."""
    d = cfg.data
    if d.dataset == "synthetic":
        d.root = f"{str(d.root).rstrip('/')}-{set_name(d.synthetic, d.height, d.width)}"


def run_key(cfg: Config) -> str:
    """What a run's results depend on: its resolved config, less where it is written and its seed."""
    tree = _settings(cfg)
    tree["train"].pop("seed")
    return hashlib.sha1(json.dumps(tree, sort_keys=True).encode()).hexdigest()[:12]


def _earlier_run(cfg: Config, run: Path) -> Path | None:
    """A run of the same settings cached under another key: one written before a config key existed
    has a config.yaml without it, and reads with the key at its default (as a checkpoint resumes)."""
    wanted = _settings(cfg)
    for candidate in sorted(run.parent.parent.glob(f"*/{run.name}/{CONFIG_FILE}")):
        try:
            if _settings(load_config(candidate)) == wanted:
                return candidate.parent
        except ViewAdaptError:  # a config this version cannot read is no match
            continue
    return None


def method_overrides(method: Method, probe: str, gallery: str) -> list[str]:
    return [o.format(probe=probe, gallery=gallery) for o in method.overrides]


def run_method(cfg: Config, run: Path, quiet: bool) -> dict:
    """One run of ``cfg`` in folder ``run``, reusing what a previous call finished or left half done
    (there, or under an earlier key: the run folder then moves to ``run``)."""
    if not run.exists() and (earlier := _earlier_run(cfg, run)) is not None:
        run.parent.mkdir(parents=True, exist_ok=True)
        with RunLock.acquire(earlier):  # never move a run another process is training
            earlier.rename(run)
        if not any(earlier.parent.iterdir()):  # its last seed moved: the key folder this cache made is empty
            earlier.parent.rmdir()
    if run_finished(run):
        return json.loads((run / METRICS_FILE).read_text())
    if (run / CONFIG_FILE).is_file():  # left half done (or live in another process: the lock says so)
        with Trainer.resume(run, verbose=not quiet) as trainer:
            return trainer.fit()
    if run.exists():
        raise ViewAdaptError(f"{run} is in the way of an experiment run but is no run folder (no {CONFIG_FILE}): "
                             "move it elsewhere, or give the experiment another --out")
    cfg.output_dir, cfg.name = str(run.parent), run.name
    with Trainer.create(cfg, verbose=not quiet) as trainer:
        return trainer.fit()


def _cell(values: list[float | None]) -> str:
    if any(v is None for v in values):
        return "-"
    mean = 100 * statistics.fmean(values)
    return f"{mean:.1f} ± {100 * statistics.stdev(values):.1f}" if len(values) > 1 else f"{mean:.1f}"


def _row(label: str, runs: list[dict], paper: str | None, columns: tuple = COLUMNS) -> str:
    row = f"| {label} | " + " | ".join(_cell([r.get(k) for r in runs]) for k, _ in columns)
    return row + (f" | {paper}" if paper is not None else "") + " |"


def run_setting(exp: Experiment, setting: Setting, config: str | Path | None, overrides: list[str], seeds: int,
                out: Path, quiet: bool) -> tuple[dict[str, list[dict]], dict[str, list[dict]], float]:
    """Every method of ``exp`` over the seeds in one setting: ({label: runs' test results}, {zero-shot
    label: its results over the seeds}, training seconds)."""
    base = load_config(config, overrides + list(setting.overrides))
    probe, gallery = base.model.probe_backbone, base.model.gallery_backbone
    results: dict[str, list[dict]] = {}
    floors: dict[str, list[dict]] = {}
    train_s = 0.0
    for method in exp.methods:
        label = method.label.format(probe=probe, gallery=gallery)
        extra = list(setting.overrides) + method_overrides(method, probe, gallery)
        runs = []
        for seed in range(seeds):
            if not quiet:
                print(f"== {setting.name + ': ' if setting.name else ''}{label}, seed {seed}")
            cfg = load_config(config, overrides + extra + [f"train.seed={seed}"])
            own_synthetic_root(cfg)
            run = out / "runs" / run_key(cfg) / f"seed{seed}"
            metrics = run_method(cfg, run, quiet)
            if cfg.eval.view_leakage:  # a run cached before the trainer probed the test split
                metrics = add_test_leakage(run)
            train_s += metrics["train_time_s"]
            runs.append({**metrics["test"], "run": str(run)})
            floor = metrics.get(ZERO_SHOT)
            if floor and len(floors.setdefault(zero_shot_label(cfg), [])) <= seed:
                floors[zero_shot_label(cfg)].append({**floor["test"], "run": str(run)})
        results[label] = runs
    return results, floors, train_s


def _chosen_methods(exp: Experiment, positions: list[int] | None) -> Experiment:
    """``exp`` with only the methods at ``positions`` (1-based, as `viewadapt experiment list` numbers
    them), in that order: a grid trimmed where one seed already shows the trend."""
    if not positions:
        return exp
    wrong = [str(p) for p in positions if not 1 <= p <= len(exp.methods)]
    if wrong:
        raise ConfigError(f"experiment '{exp.name}' has methods 1 to {len(exp.methods)} (viewadapt experiment list), "
                          f"not {', '.join(wrong)}")
    return replace(exp, methods=tuple(exp.methods[p - 1] for p in positions))


def _chosen_settings(exp: Experiment, names: list[str] | None) -> tuple[Setting, ...]:
    if not names:
        return exp.settings
    known = {s.name: s for s in exp.settings}
    unknown = [n for n in names if n not in known]
    if unknown:
        choice = ", ".join(n for n in known if n) or "none: it has a single unnamed setting"
        raise ConfigError(f"experiment '{exp.name}' has no setting {', '.join(unknown)}; its settings: {choice}")
    return tuple(known[n] for n in names)


def run_experiment(name: str, config: str | Path | None = None, overrides: list[str] | None = None, seeds: int = 3,
                   out: str | Path = "experiments", quiet: bool = True, settings: list[str] | None = None,
                   methods: list[int] | None = None) -> Path:
    """Train every method of experiment ``name`` in each of its settings (or the named ones) with
    train.seed 0..seeds-1; write ``results.md``: per setting, a table of mean +- std over the seeds that
    starts with the zero-shot floor of the networks the methods start from."""
    exp: Experiment = _chosen_methods(EXPERIMENTS[name], methods)
    chosen = _chosen_settings(exp, settings)
    overrides = list(overrides or [])
    base = load_config(config, overrides)
    if exp.synthetic_only and base.data.dataset != "synthetic":
        raise ConfigError(f"experiment '{name}' varies the synthetic benchmark: run it with data.dataset=synthetic "
                          f"(e.g. -c experiments-small), not {base.data.dataset}")
    if seeds < 1:
        raise ConfigError(f"an experiment needs at least one seed, not {seeds}")
    folder = Path(out) / name
    make_folder(folder, parents=True)
    start = time.time()
    env = environment()
    dataset = base.data.dataset
    has_paper = any(dataset in m.paper for m in exp.methods)
    lines = [f"# {exp.title}", "",
             f"Dataset {dataset}, seeds 0-{seeds - 1} (train.seed), mean ± std over seeds. "
             f"Config: {config or 'defaults'} {' '.join(overrides)}".rstrip(),
             f"Machine: {env.get('platform', '')}, {os.cpu_count()} CPU cores, torch {env.get('torch', '?')}, "
             f"device {base.train.device}."]
    everything: dict[str, dict] = {}
    for setting in chosen:
        setting_start = time.time()
        results, floors, train_s = run_setting(exp, setting, config, overrides, seeds, Path(out), quiet)
        first = next(iter(results.values()))[0]
        suffix = f"_{setting.name}" if setting.name else ""
        head = [f"## {setting.title or setting.name}", ""] if setting.name else []
        lines += ["", *head,
                  f"Split {first['split']}, protocol {first['protocol']}"
                  + (f"; setting: {' '.join(setting.overrides)}" if setting.overrides else "") + ". "
                  f"Training time of the {sum(map(len, results.values()))} runs: {train_s / 60:.1f} min; "
                  f"this call: {(time.time() - setting_start) / 60:.1f} min (finished runs are reused).", ""]
        measured = any(r.get(LEAKAGE[0]) is not None for runs in results.values() for r in runs)
        columns = COLUMNS + ((LEAKAGE,) if measured else ())
        header = "| method | " + " | ".join(h for _, h in columns) + (" | paper rank-1 |" if has_paper else " |")
        lines += [header, "|---" * (len(columns) + 1 + has_paper) + "|"]
        lines += [_row(label, runs, "-" if has_paper else None, columns) for label, runs in floors.items()]
        for method, (label, runs) in zip(exp.methods, results.items()):
            lines.append(_row(label, runs, method.paper.get(dataset, "-") if has_paper else None, columns))
        curves = {label: [statistics.fmean(c) for c in zip(*(r["cmc"] for r in runs))]
                  for label, runs in {**floors, **results}.items()}
        plot_cmc(curves, folder / f"cmc{suffix}.png",
                 title=f"{name}{': ' + setting.name if setting.name else ''}: CMC ({dataset}, mean over seeds)")
        lines += ["", f"![CMC](cmc{suffix}.png)"]
        if exp.x_label:
            series: dict[str, tuple[list[float], list[list[float]]]] = {}
            for method, runs in zip(exp.methods, results.values()):
                xs, ys = series.setdefault(method.series, ([], []))
                xs.append(method.x)
                ys.append([r["rank1"] for r in runs])
            plot_sweep(series, folder / f"sweep{suffix}.png", exp.x_label, "rank-1")
            lines += ["", f"![sweep](sweep{suffix}.png)"]
        everything[setting.name] = {"results": results, "zero_shot": floors}
    wall = time.time() - start
    lines.insert(4, f"Wall time of this call: {wall / 60:.1f} min.")
    path = folder / "results.md"
    write_text(path, "\n".join(lines) + "\n")
    write_json(folder / "results.json", {"experiment": name, "dataset": dataset, "seeds": seeds, "wall_s": wall,
                                         "settings": everything})
    return path
