"""Published numbers from one source. Every figure README.md, docs/findings.md and docs/guide.md quote from
runs is written as a marker that names where it comes from, and filled in from the committed run records
by the rebuild that writes docs/results.md (``bash docs/make_results.sh``; a test fails on drift)::

    <!--n cameras few_labels stats_self rank1-->54.7 ± 1.2<!--/n-->

The spec is ``[CONFIG:]EXPERIMENT SETTING ROW QUANTITY``: the config the experiment ran on (default
experiments-pretrained), the experiment and its setting (``-`` for an experiment's single setting), the row
by its key (``floor`` for the untrained features' row), and what to print:

- ``rank1``, ``mAP``, ``rank5``, ``rank20``, ``view_leakage``: mean ± std over the seeds (%, one decimal);
  ``rank1.mean``: the mean alone; ``rank1.min``, ``rank1.max``: the lowest and highest seed's;
- ``rank1.diff``: the paired difference from the experiment's baseline row, mean ± std; ``rank1.seeds``: its
  per-seed values (+8, +9, +11); ``rank1.diffmean``: its mean; ``rank1.range``: its lowest and highest
  ("+18 to +30"). ``rank1.diff:ROW`` (and the others) pair with another row instead;
- ``seeds``: how many seeds are recorded; ``paper:DATASET``: the paper's own figure for the row (its tables,
  as the experiment's registry holds them);
- self-training's pseudo-labels (``pseudo_labelled``, ``pseudo_precision``, ``purity``, in %; ``new_people``,
  a count): the last epoch's, mean ± std over the seeds; ``.range``: the lowest and highest of every epoch
  and seed.
"""

from __future__ import annotations

import re
import statistics
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from viewadapt.config import PAPER_METHOD
from viewadapt.errors import ViewAdaptError
from viewadapt.experiments.records import PSEUDO_LABEL_STATS
from viewadapt.experiments.registry import EXPERIMENTS
from viewadapt.experiments.runner import run_setting
from viewadapt.files import write_text

REPO = Path(__file__).resolve().parents[3]
RECORDS = REPO / "docs" / "results" / "records"
DEFAULT_CONFIG = "experiments-pretrained"
SEEDS = 3
MARKER = re.compile(r"<!--n ([^>]*?)-->(.*?)<!--/n-->", re.S)
METRICS = ("rank1", "rank5", "rank20", "mAP", "view_leakage")


@dataclass
class _Rows:
    """One setting of one experiment, from the records: each row's runs by key, the floor's, the baseline."""

    runs: dict[str, list[dict]]
    baseline: str


class Numbers:
    """Figures from the committed records, each (config, experiment, setting) read once."""

    def __init__(self, records: Path = RECORDS) -> None:
        self.records = records
        self._cache: dict[tuple[str, str, str], _Rows] = {}
        self._tmp = tempfile.TemporaryDirectory(prefix="viewadapt-numbers-")

    def _rows(self, config: str, experiment: str, setting: str) -> _Rows:
        key = (config, experiment, setting)
        if key not in self._cache:
            exp = EXPERIMENTS[experiment]
            chosen = next((s for s in exp.settings if s.name == ("" if setting == "-" else setting)), None)
            if chosen is None:
                raise ViewAdaptError(f"experiment {experiment} has no setting {setting}")
            results, floors, _ = run_setting(exp, chosen, config, list(PAPER_METHOD), SEEDS, Path(self._tmp.name),
                                             True, self.records, report_only=True)
            runs = {m.key: r for m, r in results.values()}
            runs["floor"] = next(iter(floors.values()), [])
            self._cache[key] = _Rows(runs, exp.baseline)
        return self._cache[key]

    def value(self, spec: str) -> str:
        """The figure a marker's spec names (see the module's docstring)."""
        parts = spec.split()
        if len(parts) != 4:
            raise ViewAdaptError(f"number '{spec}': give [CONFIG:]EXPERIMENT SETTING ROW QUANTITY")
        where, setting, row, quantity = parts
        config, _, experiment = where.rpartition(":")
        rows = self._rows(config or DEFAULT_CONFIG, experiment, setting)
        if quantity.startswith("paper:"):
            return _paper(experiment, row, quantity.split(":", 1)[1], spec)
        if row not in rows.runs:
            raise ViewAdaptError(f"number '{spec}': no row {row} (rows: {', '.join(rows.runs)})")
        runs = rows.runs[row]
        if not runs:
            return "not recorded"
        if quantity == "seeds":
            return str(len(runs))
        if quantity.startswith("paper:"):  # the paper's own number for the row, from the experiment's registry
            return _paper(experiment, row, quantity.split(":", 1)[1], spec)
        name, _, rest = quantity.partition(".")
        kind, _, other = rest.partition(":")
        if name in PSEUDO_LABEL_STATS:
            return _pseudo_labels(runs, name, kind, spec)
        if name not in METRICS:
            raise ViewAdaptError(f"number '{spec}': no quantity {name} (quantities: {', '.join(METRICS)})")
        values = [100 * r[name] for r in runs if r.get(name) is not None]
        if kind in ("", "mean", "min", "max"):
            if kind == "min" or kind == "max":
                return f"{(min if kind == 'min' else max)(values):.1f}"
            return _mean_std(values, kind == "")
        base = rows.runs.get(other or rows.baseline)
        if base is None:
            raise ViewAdaptError(f"number '{spec}': no row {other or rows.baseline} to pair with")
        by_seed = {b["seed"]: 100 * b[name] for b in base}
        diffs = [100 * r[name] - by_seed[r["seed"]] for r in runs if r["seed"] in by_seed]
        if kind == "diff":
            return _mean_std(diffs, True, signed=True)
        if kind == "diffmean":
            return f"{statistics.fmean(diffs):+.1f}".replace("-", "−")
        if kind == "seeds":
            return ", ".join(_whole(d) for d in diffs)
        if kind == "range":
            return f"{_whole(min(diffs))} to {_whole(max(diffs))}"
        raise ViewAdaptError(f"number '{spec}': no quantity {quantity}")


def _pseudo_labels(runs: list[dict], name: str, kind: str, spec: str) -> str:
    """A pseudo-label statistic of a self-training row's records (see the module's docstring)."""
    scale = 1 if name == "new_people" else 100
    epochs = [[scale * e[name] for e in r.get("pseudo_labels") or [] if name in e] for r in runs]
    epochs = [e for e in epochs if e]
    if not epochs:
        return "not recorded"
    if kind == "range":
        every = [v for e in epochs for v in e]
        return f"{min(every):.0f} to {max(every):.0f}"
    if kind:
        raise ViewAdaptError(f"number '{spec}': a pseudo-label statistic takes no .{kind}")
    return _mean_std([e[-1] for e in epochs], True)


def _paper(experiment: str, row: str, dataset: str, spec: str) -> str:
    method = next((m for m in EXPERIMENTS[experiment].methods if m.key == row), None)
    if method is None or dataset not in method.paper:
        raise ViewAdaptError(f"number '{spec}': the paper gives no {dataset} figure for {experiment}'s {row}")
    return f"{method.paper[dataset]:.1f}"


def _whole(d: float) -> str:
    """A per-seed difference in whole points, signed, with a true minus; 0 unsigned."""
    return "0" if round(d) == 0 else f"{d:+.0f}".replace("-", "−")


def _mean_std(values: list[float], spread: bool, signed: bool = False) -> str:
    mean = f"{statistics.fmean(values):+.1f}" if signed else f"{statistics.fmean(values):.1f}"
    if signed:
        mean = mean.replace("-", "−")
    return f"{mean} ± {statistics.stdev(values):.1f}" if spread and len(values) > 1 else mean


def fill(text: str, numbers: Numbers) -> str:
    """``text`` with every marker's figure filled in from the records."""
    return MARKER.sub(lambda m: f"<!--n {m[1]}-->{numbers.value(m[1])}<!--/n-->", text)


PUBLISHED = ("README.md", "docs/findings.md", "docs/guide.md")


def main(argv: list[str] | None = None) -> int:
    """Fill in the figures of the published pages (or the files given) from the records, in place."""
    numbers = Numbers()
    for name in argv or PUBLISHED:
        path = REPO / name if not Path(name).is_absolute() else Path(name)
        text = path.read_text()
        filled = fill(text, numbers)
        if filled != text:
            write_text(path, filled)
            print(f"updated: {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
