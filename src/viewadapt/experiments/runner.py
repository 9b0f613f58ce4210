"""Run a named experiment: every method over several seeds, each run cached in its own folder, so an
interrupted experiment continues where it stopped; then a Markdown table of mean +- std and plots.

Runs are keyed by their resolved config, so two experiments that train the same setting (the
method's defaults are a row of most of them) share its runs, and a changed config trains anew.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from viewadapt.builders import create_trainer, evaluate_run, resume_trainer, zero_shot_label
from viewadapt.config import PAPER_METHOD, Config, load_config
from viewadapt.data import DATASETS, set_name
from viewadapt.errors import ConfigError, ViewAdaptError
from viewadapt.experiments.backfill import add_test_leakage
from viewadapt.experiments.records import (find_record, make_record, pseudo_labels, run_key, settings_tree,
                                          write_record)
from viewadapt.evaluation.protocols import mean_over_pairs
from viewadapt.experiments.registry import EXPERIMENTS, Experiment, Row, Setting
from viewadapt.files import make_folder, read_json, write_text
from viewadapt.reports.figures import plot_cmc, plot_sweep
from viewadapt.runs import CONFIG_FILE, METRICS_FILE
from viewadapt.runs.folder import run_finished, write_json
from viewadapt.runs.lock import RunLock

# The table's columns: result key, heading.
COLUMNS = (("rank1", "rank-1"), ("rank5", "rank-5"), ("rank20", "rank-20"), ("mAP", "mAP"))
# A fresh probe's view accuracy on the test embeddings scored (the floor's: untrained features).
LEAKAGE = ("view_leakage", "view leakage (C_test)")


def own_synthetic_root(cfg: Config) -> None:
    """Give a synthetic set a folder of its own beside ``data.root`` (``<root>-<size>-<digest>``):
    experiments running side by side, or a run resumed after another setting's, then never regenerate
    the images another run reads. Beside, not inside: the folder loader would take a set inside the
    root for one of its cameras."""
    d = cfg.data
    if DATASETS[d.dataset].generated:
        d.root = f"{str(d.root).rstrip('/')}-{set_name(d.synthetic, d.height, d.width)}"


def _earlier_run(cfg: Config, run: Path) -> Path | None:
    """A run of the same settings cached under another key: one written before a config key existed
    has a config.yaml without it, and reads with the key at its default (as a checkpoint resumes)."""
    wanted = settings_tree(cfg)
    for candidate in sorted(run.parent.parent.glob(f"*/{run.name}/{CONFIG_FILE}")):
        try:
            if settings_tree(load_config(candidate)) == wanted:
                return candidate.parent
        except ViewAdaptError:  # a config this version cannot read is no match
            continue
    return None


def method_overrides(method: Row, probe: str, gallery: str, generated: bool = False) -> list[str]:
    return [o.format(probe=probe, gallery=gallery) for o in method.overrides_for(generated)]


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
        return read_json(run / METRICS_FILE, "delete the run folder to train it again")
    if (run / CONFIG_FILE).is_file():  # left half done (or live in another process: the lock says so)
        with resume_trainer(run, verbose=not quiet) as trainer:
            return trainer.fit()
    if run.exists():
        raise ViewAdaptError(f"{run} is in the way of an experiment run but is no run folder (no {CONFIG_FILE}): "
                             "move it elsewhere, or give the experiment another --out")
    cfg.output_dir, cfg.name = str(run.parent), run.name
    with create_trainer(cfg, verbose=not quiet) as trainer:
        return trainer.fit()


def _cell(values: list[float | None]) -> str:
    if not values or any(v is None for v in values):
        return "-"
    mean = 100 * statistics.fmean(values)
    return f"{mean:.1f} ± {100 * statistics.stdev(values):.1f}" if len(values) > 1 else f"{mean:.1f}"


def _row(label: str, runs: list[dict], paper: str | None, columns: tuple = COLUMNS, diff: str | None = None) -> str:
    """A table row: the metrics' cells, then the paired difference and the paper's number where the table
    has those columns (None: it has not), in the header's order."""
    cells = [_cell([r.get(k) for r in runs]) for k, _ in columns]
    cells += [str(c) for c in (diff, paper) if c is not None]
    return f"| {label} | " + " | ".join(cells) + " |"


def scored_run(cfg: Config, runs: Path, records: Path, quiet: bool,
               report_only: bool = False) -> tuple[dict, dict | None, dict] | None:
    """One (method, seed) of an experiment: (its test metrics with its run folder, its zero-shot floor's,
    its record), from its record in ``records`` where there is one, else trained (or taken from the run
    cache ``runs/<key>/seed<N>``) and recorded; None when ``report_only`` and there is no record.
    Test-time camera statistics (``eval.camera_statistics``) score the weights of the same run as the
    row without them: one training, two rows."""
    test_time = cfg.eval.camera_statistics
    cfg.eval.camera_statistics = False
    run = runs / run_key(cfg) / f"seed{cfg.train.seed}"
    path, record = find_record(records, cfg)
    changed = False
    if record is None or (test_time and "camera_statistics" not in record["evaluations"]):
        if report_only:
            return None
        if record is None or not run_finished(run):  # a record's run may be gone: scoring needs its weights
            metrics = run_method(cfg, run, quiet)
            if cfg.eval.view_leakage:  # a run cached before the trainer probed the test split
                metrics = add_test_leakage(run)
            record = {**make_record(cfg, metrics, run), "evaluations": (record or {}).get("evaluations", {})}
        if test_time and "camera_statistics" not in record["evaluations"]:
            record["evaluations"]["camera_statistics"] = evaluate_run(run, "test", {"camera_statistics": True})[0]
        changed = True
    if "pseudo_labels" not in record and (run / METRICS_FILE).is_file():  # recorded before records kept them
        record["pseudo_labels"] = pseudo_labels(read_json(run / METRICS_FILE))
        changed = True
    if changed:
        write_record(path, record)
    test = record["evaluations"]["camera_statistics"] if test_time else record["test"]
    return ({**test, "run": str(run), "seed": cfg.train.seed, "pseudo_labels": record.get("pseudo_labels")},
            record["zero_shot"], record)


def _pseudo_label_lines(results: dict) -> list[str]:
    """What self-training's pseudo-labels did in each row that self-trains, at its last epoch, mean over
    the seeds whose records keep it (where the crops' identities are known: the benchmark's own)."""
    said = []
    for method, runs in results.values():
        last = [r["pseudo_labels"][-1] for r in runs if r.get("pseudo_labels")]
        if not last:
            continue

        def mean(key: str, scale: float = 100) -> float | None:
            values = [e[key] for e in last if key in e]
            return scale * statistics.fmean(values) if values else None

        parts = [f"{mean('pseudo_labelled'):.0f}% of the unlabelled crops taken"]
        if (right := mean("pseudo_precision")) is not None:
            parts.append(f"{right:.0f}% of those named after a labelled person right")
        if (new := mean("new_people", 1)) is not None:
            parts.append(f"{new:.0f} new people" + (f" ({purity:.0f}% pure)" if (purity := mean("purity")) is not None
                                                    else ""))
        if (strangers := mean("strangers_labelled")) is not None:
            parts.append(f"{strangers:.0f}% of the strangers taken")
        said.append(f"`{method.key}` {', '.join(parts)} ({len(last)} of {len(runs)} seeds)")
    if not said:
        return []
    return ["", "Pseudo-labels at self-training's last epoch, mean over seeds: " + "; ".join(said) + "."]


def _view_pairs(result: dict, pairs: tuple[str, ...]) -> dict:
    """A many-view result scored on ``pairs`` of views only: the mean of those pairs' metrics and CMC."""
    if "pairs" not in result:
        raise ConfigError(f"this setting scores the view pairs {', '.join(pairs)}, and its runs have two views "
                          "only: give data.camera_groups with the new camera last")
    return {**{k: v for k, v in result.items() if k != "pairs"},
            **mean_over_pairs([result["pairs"][p] for p in pairs])}


@dataclass
class Countdown:
    """Which run of how many an experiment call is at, and the time it has left at the pace of its runs so
    far (a cached or recorded run takes a moment, so the estimate is only as good as the mix ahead)."""

    total: int
    done: int = 0
    started: float = field(default_factory=time.time)

    def line(self) -> str:
        if not self.done:
            return f"run 1 of {self.total}"
        left = (time.time() - self.started) / self.done * (self.total - self.done)
        return f"run {self.done + 1} of {self.total}, about {left / 60:.0f} min left"


def _rows_in(exp: Experiment, setting: Setting, generated: bool = True) -> list[Row]:
    """The rows that run in ``setting`` on this kind of data (``generated``: the synthetic set)."""
    return [m for m in exp.methods if (not m.only or setting.name in m.only)
            and (m.data == "any" or (m.data == "synthetic") == generated)]


def run_setting(exp: Experiment, setting: Setting, config: str | Path | None, overrides: list[str], seeds: int,
                out: Path, quiet: bool, records: Path | None = None, report_only: bool = False,
                countdown: Countdown | None = None,
                ) -> tuple[dict[str, tuple[Row, list[dict]]], dict[str, list[dict]], list[dict]]:
    """Every method of ``exp`` that runs in ``setting``, over the seeds: ({label: (method, its runs' test
    results)}, {zero-shot label: its results over the seeds}, the runs' records). Records go to (and
    are read from) ``records``, by default ``out/records``; ``countdown`` counts the runs."""
    base = load_config(config, overrides)  # a regime alone may not be a valid config: its methods make it one
    generated = DATASETS[base.data.dataset].generated
    regime = list(setting.overrides_for(generated))
    probe, gallery = base.model.probe_backbone, base.model.gallery_backbone
    results: dict[str, tuple[Row, list[dict]]] = {}
    floors: dict[str, dict[int, dict]] = {}
    used: list[dict] = []
    countdown = countdown or Countdown(len(_rows_in(exp, setting, generated)) * seeds)
    for method in _rows_in(exp, setting, generated):
        label = method.label.format(probe=probe, gallery=gallery)
        extra = regime + method_overrides(method, probe, gallery, generated)
        runs = []
        for seed in range(seeds):
            if not quiet:
                print(f"== {countdown.line()}: {setting.name + ': ' if setting.name else ''}{label}, seed {seed}")
            cfg = load_config(config, overrides + extra + [f"train.seed={seed}"])
            own_synthetic_root(cfg)
            scored = scored_run(cfg, out / "runs", records or out / "records", quiet, report_only)
            countdown.done += 1
            if scored is None:  # not recorded yet: the table says how many seeds its row has
                continue
            test, floor, record = scored
            if setting.pairs:
                test, floor = _view_pairs(test, setting.pairs), floor and _view_pairs(floor, setting.pairs)
            used.append(record)
            runs.append(test)
            if floor:
                floors.setdefault(zero_shot_label(cfg), {}).setdefault(seed, {**floor, "run": test["run"], "seed": seed})
        results[label] = (method, runs)
    return results, {label: [by_seed[s] for s in sorted(by_seed)] for label, by_seed in floors.items()}, used


def _chosen_methods(exp: Experiment, chosen: list[int | str] | None) -> Experiment:
    """``exp`` with only the ``chosen`` methods, by key or by position (1-based, as `viewadapt experiment
    list` numbers them), in that order: a grid trimmed where one seed already shows the trend."""
    if not chosen:
        return exp
    keys = {m.key: m for m in exp.methods if m.key}
    picked, wrong = [], []
    for c in chosen:
        if str(c).isdigit() and 1 <= int(c) <= len(exp.methods):
            picked.append(exp.methods[int(c) - 1])
        elif str(c) in keys:
            picked.append(keys[str(c)])
        else:
            wrong.append(str(c))
    if wrong:
        names = f"keys {', '.join(keys)} or " if keys else ""
        raise ConfigError(f"experiment '{exp.name}' has methods {names}1 to {len(exp.methods)} (viewadapt experiment "
                          f"list), not {', '.join(wrong)}")
    return replace(exp, methods=tuple(picked))


def _chosen_settings(exp: Experiment, names: list[str] | None, generated: bool = True,
                     num_views: int = 2) -> tuple[Setting, ...]:
    """The named settings, or every one that applies to the dataset (``generated``: the synthetic set;
    ``num_views``: the camera views a real one's config gives)."""
    if not names:
        return tuple(s for s in exp.settings if s.applies(generated, num_views))
    known = {s.name: s for s in exp.settings}
    unknown = [n for n in names if n not in known]
    if unknown:
        choice = ", ".join(n for n in known if n) or "none: it has a single unnamed setting"
        raise ConfigError(f"experiment '{exp.name}' has no setting {', '.join(unknown)}; its settings: {choice}")
    wrong = [known[n] for n in names if not known[n].applies(generated, num_views)]
    if wrong and wrong[0].applies(generated, wrong[0].views):
        raise ConfigError(f"experiment '{exp.name}': setting {wrong[0].name} needs {wrong[0].views} camera views "
                          f"and the config gives {num_views}: set data.camera_groups, the new camera last")
    if wrong:
        where = "the synthetic benchmark" if wrong[0].data == "synthetic" else "real datasets"
        raise ConfigError(f"experiment '{exp.name}': setting {wrong[0].name} runs on {where} only; leave it out of "
                          "--settings")
    return tuple(known[n] for n in names)


def _resolved(overrides: tuple[str, ...]) -> list[str]:
    """Overrides as they take effect: a key set twice shows its last value, where it was first set."""
    return list({o.split("=", 1)[0]: o for o in overrides}.values())


def _paired(runs: list[dict], baseline: list[dict]) -> str:
    """Rank-1 minus the baseline's, seed by seed (points): mean ± std (each seed's difference), over the
    seeds both have."""
    base = {b["seed"]: b["rank1"] for b in baseline}
    diffs = [100 * (r["rank1"] - base[r["seed"]]) for r in runs if r["seed"] in base]
    if not diffs:
        return "-"
    spread = f" ± {statistics.stdev(diffs):.1f}" if len(diffs) > 1 else ""
    return f"{statistics.fmean(diffs):+.1f}{spread} ({', '.join(f'{d:+.0f}' for d in diffs)})"


def _machine(used: list[dict]) -> str:
    """Where the first of the runs was trained, from its record."""
    if not used:
        return ""
    e = used[0]["environment"]
    cpu = f" ({e['cpu']})" if e.get("cpu") else ""  # records from before it was kept lack it
    return (f"Runs trained with viewadapt {e.get('viewadapt')} on {e.get('platform')}{cpu}, torch {e.get('torch')}, "
            f"threads {e.get('cpu_threads')}{', GPU ' + e['cuda'] if e.get('cuda') else ''}.")


def _table(exp: Experiment, results: dict[str, tuple[Row, list[dict]]], floors: dict[str, list[dict]], seeds: int,
           published: str | None) -> list[str]:
    """A setting's table: the floor, then each row's mean ± std over its seeds, its paired difference from the
    baseline where the experiment names one, and the paper's number where ``published`` names its dataset."""
    measured = any(r.get(LEAKAGE[0]) is not None for _, runs in results.values() for r in runs)
    columns = COLUMNS + ((LEAKAGE,) if measured else ())
    baseline = next((label for label, (m, _) in results.items() if exp.baseline and m.key == exp.baseline), None)
    extra = [f"rank-1 − {exp.baseline}, paired by seed"] if baseline else []
    has_paper = published is not None
    header = "| method | " + " | ".join([h for _, h in columns] + extra) + (" | paper rank-1 |" if has_paper else " |")
    lines = [header, "|---" * (len(columns) + len(extra) + 1 + has_paper) + "|"]
    for label, runs in floors.items():
        lines.append(_row(label, runs, "-" if has_paper else None, columns, "-" if baseline else None))
    for label, (method, runs) in results.items():
        shown = f"{label} (`{method.key}`)" if method.key else label
        if len(runs) < seeds:  # a table rebuilt from records before every seed was trained
            shown += f" ({len(runs)} of {seeds} seeds)"
        diff = None if not baseline else "-" if label == baseline else _paired(runs, results[baseline][1])
        lines.append(_row(shown, runs, method.paper.get(published, "-") if has_paper else None, columns, diff))
    return lines


def _figures(exp: Experiment, title: str, results: dict[str, tuple[Row, list[dict]]], floors: dict[str, list[dict]],
             folder: Path, suffix: str, dataset: str) -> list[str]:
    """A setting's CMC curves (and a sweep's curve over its axis), drawn beside results.md; the lines that
    show them."""
    curves = {label: [statistics.fmean(c) for c in zip(*(r["cmc"] for r in runs))]
              for label, runs in {**floors, **{k: v for k, (_, v) in results.items()}}.items() if runs}
    plot_cmc(curves, folder / f"cmc{suffix}.png", title=f"{title}: CMC ({dataset}, mean over seeds)")
    lines = ["", f"![CMC](cmc{suffix}.png)"]
    if exp.x_label:
        series: dict[str, tuple[list[float], list[list[float]]]] = {}
        for method, runs in results.values():
            if not runs:  # not recorded yet: no point on its curve
                continue
            xs, ys = series.setdefault(method.series, ([], []))
            xs.append(method.x)
            ys.append([r["rank1"] for r in runs])
        plot_sweep(series, folder / f"sweep{suffix}.png", exp.x_label, "rank-1")
        lines += ["", f"![sweep](sweep{suffix}.png)"]
    return lines


def run_experiment(name: str, config: str | Path | None = None, overrides: list[str] | None = None, seeds: int = 3,
                   out: str | Path = "experiments", quiet: bool = True, settings: list[str] | None = None,
                   methods: list[int | str] | None = None, records: str | Path | None = None,
                   report_only: bool = False) -> Path:
    """Train every method of experiment ``name`` in each of its settings (or the named ones) with
    train.seed 0..seeds-1, recording each run in ``records`` (default ``out/records``); write
    ``results.md``: per setting, a table of mean +- std over the seeds that starts with the zero-shot
    floor of the networks the methods start from, and, where the experiment names a baseline, each
    row's paired per-seed rank-1 difference from it. ``report_only`` builds the tables from the records
    alone, training nothing; the file then depends on the records only."""
    exp: Experiment = _chosen_methods(EXPERIMENTS[name], methods)
    given = list(overrides or [])
    config = config or "paper"
    # every row starts from the paper's method (the defaults follow the measurements instead): the keys go
    # between the config file and the user's own overrides
    overrides = [*PAPER_METHOD, *given]
    base = load_config(config, overrides)
    generated = DATASETS[base.data.dataset].generated
    chosen = _chosen_settings(exp, settings, generated, base.num_views)
    if exp.synthetic_only and not generated:
        raise ConfigError(f"experiment '{name}' varies the synthetic benchmark: run it with data.dataset=synthetic "
                          f"(e.g. -c experiments-small), not {base.data.dataset}")
    if seeds < 1:
        raise ConfigError(f"an experiment needs at least one seed, not {seeds}")
    folder = Path(out) / name
    make_folder(folder, parents=True)
    records = Path(records) if records else Path(out) / "records"
    start = time.time()
    dataset = base.data.dataset
    published = DATASETS[dataset].published_as or dataset  # whose numbers in the paper compare with ours
    has_paper = any(published in m.paper for m in exp.methods)
    lines = [f"# {exp.title}", "",
             f"Dataset {dataset}, seeds 0-{seeds - 1} (train.seed), mean ± std over seeds. "
             f"Config: {config} {' '.join(given)}".rstrip()]
    everything: dict[str, dict] = {}
    envs: list[dict] = []
    countdown = Countdown(sum(len(_rows_in(exp, setting, generated)) for setting in chosen) * seeds)
    for setting in chosen:
        results, floors, used = run_setting(exp, setting, config, overrides, seeds, Path(out), quiet, records,
                                            report_only, countdown)
        envs += used
        # a run scored twice (with and without test-time camera statistics) trained once
        train_s = sum({(r["key"], r["seed"]): r["train_time_s"] for r in used}.values())
        measured_runs = [runs[0] for _, runs in results.values() if runs]
        if not measured_runs:
            chosen_setting = f" --settings {setting.name}" if setting.name else ""
            command = f"`viewadapt experiment {name} -c {config}{chosen_setting} --seeds {seeds}`"
            head = [f"## {setting.title_for(generated)}", ""] if setting.name else []
            lines += ["", *head, f"No run of this {'setting' if setting.name else 'experiment'} is recorded yet: "
                      f"{command} measures it."]
            continue
        first = measured_runs[0]
        suffix = f"_{setting.name}" if setting.name else ""
        head = [f"## {setting.title_for(generated)}", ""] if setting.name else []
        lines += ["", *head,
                  f"Split {first['split']}, protocol {first['protocol']}"
                  + (f"; setting: {' '.join(_resolved(setting.overrides_for(generated)))}"
                     if setting.overrides_for(generated) else "") + ". "
                  f"Training time of the {sum(len(runs) for _, runs in results.values())} runs: {train_s / 60:.1f} "
                  "min (a row scored with test-time camera statistics shares its run with the row without).", ""]
        lines += _table(exp, results, floors, seeds, published if has_paper else None)
        lines += _pseudo_label_lines(results)
        lines += _figures(exp, f"{name}{': ' + setting.name if setting.name else ''}", results, floors, folder,
                          suffix, dataset)
        everything[setting.name] = {"results": {k: v for k, (_, v) in results.items()}, "zero_shot": floors}
    if machine := _machine(envs):
        lines.insert(3, machine)
    path = folder / "results.md"
    write_text(path, "\n".join(lines) + "\n")
    write_json(folder / "results.json", {"experiment": name, "dataset": dataset, "seeds": seeds,
                                         "settings": everything})
    if not quiet:
        print(f"wall time of this call: {(time.time() - start) / 60:.1f} min")
    return path
