"""One self-contained HTML page per run: config, metrics, CMC and training curves, rank lists.

Everything is read from the run folder (``config.yaml``, ``metrics.json``, ``eval/*.json``), figures
are redrawn into ``report/`` and embedded as data URIs, so the page can be mailed or archived alone.
"""

from __future__ import annotations

import base64
import html
from pathlib import Path

from viewadapt.builders import run_image_size
from viewadapt.errors import ViewAdaptError
from viewadapt.files import make_folder, read_json, write_text
from viewadapt.reports.figures import draw_rank_list, plot_cmc, plot_training
from viewadapt.runs.folder import CONFIG_FILE, ENVIRONMENT_FILE, METRICS_FILE, ZERO_SHOT

STAGE_TITLES = {"init": "stage (a) identity init", "similarity": "stage (b) similarity",
                "adaptation": "stage (c) view adaptation"}
STYLE = """body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}
th:first-child,td:first-child{text-align:left}pre{background:#f6f6f6;padding:1em;overflow:auto;font-size:12px}
img{max-width:100%}.rl{margin:6px 0}h2{border-bottom:1px solid #ddd;padding-bottom:4px}"""


def _data_uri(path: Path) -> str:
    kind = "png" if path.suffix == ".png" else "jpeg"
    return f"data:image/{kind};base64,{base64.b64encode(path.read_bytes()).decode()}"


def _metrics_row(label: str, m: dict) -> str:
    cells = [f"{100 * m[k]:.1f}" if m.get(k) == m.get(k) and k in m else "-"  # NaN (faiss mINP) shows as -
             for k in ("rank1", "rank5", "rank10", "rank20", "mAP", "mINP")]
    where = f"{m.get('split', '')} {m.get('protocol', '')}"
    if m.get("rerank", "none") != "none":
        where += f", rerank {m['rerank']}"
    if "topk" in m:
        where += f", faiss top-{m['topk']} (mAP = AP@{m['topk']})"
    return (f"<tr><td>{html.escape(label)}</td>" + "".join(f"<td>{c}</td>" for c in cells)
            + f"<td>{m.get('num_queries', '')}</td><td>{html.escape(where.strip())}</td></tr>")


def _leakage(result: dict) -> str:
    """Where measured: how well a fresh probe told the views apart (0.5 = not at all, 2 views), on C_valid
    after the stage and on the test embeddings scored."""
    where = [f"{100 * r['view_leakage']:.0f}% on {name}" for r, name in ((result, "C_valid"),
                                                                       (result.get("test", {}), "C_test"))
             if "view_leakage" in r]
    return f"; view leakage {', '.join(where)}" if where else ""


def _table(rows: list[str]) -> str:
    head = "".join(f"<th>{h}</th>" for h in ("", "rank-1", "rank-5", "rank-10", "rank-20", "mAP", "mINP",
                                               "queries", "split / protocol"))
    return f"<table><tr>{head}</tr>{''.join(rows)}</table>"


def load_evaluations(run: Path) -> dict[str, dict]:
    """The results ``viewadapt evaluate`` wrote, by name (``test_all_gallery`` ...)."""
    return {p.stem: read_json(p, "run viewadapt evaluate again") for p in sorted((run / "eval").glob("*.json"))
            if not p.stem.endswith("_ranklists")}


def build_report(run_dir: str | Path) -> Path:
    """Write ``<run>/report.html`` (and its figures under ``<run>/report/``); return its path.

    Rank-list tiles are drawn at the image size the run trained at (its ``config.yaml``).
    """
    run = Path(run_dir)
    if not (run / CONFIG_FILE).is_file():
        raise ViewAdaptError(f"{run} is not a run folder (no config.yaml): give a folder `viewadapt train` wrote")
    height, width = run_image_size(run)
    out = make_folder(run / "report")
    metrics = read_json(run / METRICS_FILE, "it is written at the end of training; resume the run") \
        if (run / METRICS_FILE).is_file() else {}
    evaluations = load_evaluations(run)
    parts = [f"<h1>viewadapt run {html.escape(run.name)}</h1>"]
    if metrics and not metrics.get("finished"):
        parts.append("<p><b>Training has not finished</b>: the figures show the epochs done so far.</p>")

    rows, curves = [], {}
    if metrics.get(ZERO_SHOT):
        floor = metrics[ZERO_SHOT]["test"]
        rows.append(_metrics_row("zero-shot floor: the untrained networks' pooled features, cosine distance"
                                 + _leakage(metrics[ZERO_SHOT]), floor))
        curves["zero-shot"] = floor["cmc"]
    for stage, result in metrics.get("stages", {}).items():
        if "test" in result:
            kept = result.get("kept_epoch", result.get("best_epoch"))  # runs before `keep` kept their best epoch
            best = f"; best validation {result['best_epoch']}" if "best_epoch" in result else ""  # validated
            label = f"after {STAGE_TITLES.get(stage, stage)} (epoch {kept}{best})" + _leakage(result)
            rows.append(_metrics_row(label, result["test"]))
            curves[f"after {stage}"] = result["test"]["cmc"]
    for name, result in evaluations.items():
        rows.append(_metrics_row(f"viewadapt evaluate: {name}", result))
        curves[name] = result["cmc"]
    if rows:
        parts += ["<h2>Results</h2>", _table(rows)]
    if curves:
        plot_cmc(curves, out / "cmc.png", title="CMC")
        parts.append(f'<img alt="CMC curves" src="{_data_uri(out / "cmc.png")}">')
    if metrics.get("history"):
        plot_training(metrics["history"], out / "training.png")
        parts += ["<h2>Training</h2>", f'<img alt="training curves" src="{_data_uri(out / "training.png")}">',
                  f"<p>training time {metrics.get('train_time_s', 0) / 60:.1f} min</p>"]
    for lists in sorted((run / "eval").glob("*_ranklists.json")):
        entries = read_json(lists, "run viewadapt evaluate again")
        parts.append(f"<h2>Rank lists: {html.escape(lists.stem.removesuffix('_ranklists'))}</h2>"
                     "<p>probe (grey), then the gallery by rank: green = same person, red = someone else; "
                     "the number is the distance (or re-scored value).</p>")
        folder = make_folder(out / lists.stem)
        for n, entry in enumerate(entries):
            img = draw_rank_list(entry, folder / f"{n:03d}.jpg", height, width)
            parts.append(f'<div class="rl"><img alt="rank list {n}" src="{_data_uri(img)}"></div>')
    parts += ["<h2>Config</h2>", f"<pre>{html.escape((run / CONFIG_FILE).read_text())}</pre>"]
    if (run / ENVIRONMENT_FILE).is_file():
        parts += ["<h2>Environment</h2>", f"<pre>{html.escape((run / ENVIRONMENT_FILE).read_text())}</pre>"]
    page = (f"<!doctype html><html><head><meta charset='utf-8'><title>viewadapt {html.escape(run.name)}</title>"
            f"<style>{STYLE}</style></head><body>{''.join(parts)}</body></html>")
    return write_text(run / "report.html", page)
