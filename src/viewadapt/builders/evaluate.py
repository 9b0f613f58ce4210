"""Scoring a finished run again, under its own evaluation options with some changed: what `viewadapt
evaluate` writes, and what an experiment's test-time rows (camera statistics) read, without training."""

from __future__ import annotations

import json
from pathlib import Path

from viewadapt.builders.data import readable_data
from viewadapt.builders.trained import load_trained, read_split
from viewadapt.config import validate
from viewadapt.evaluation.options import EvalOptions
from viewadapt.evaluation.scoring import score_records
from viewadapt.files import make_folder, write_text
from viewadapt.runs.device import resolve_device

EVAL_FOLDER = "eval"


def evaluation_name(subset: str, options: dict, e: EvalOptions) -> str:
    """The file name an evaluation is stored under: the subset, the protocol and what differs from a
    plain scoring (re-ranking, AP definition, faiss search, camera statistics)."""
    return "_".join([subset, e.protocol] + ([e.rerank] if e.rerank != "none" else [])
                    + ([e.ap] if "ap" in options else []) + ([f"faiss{e.faiss_k}"] if e.search == "faiss" else [])
                    + (["camstats"] if e.camera_statistics else []))


def evaluate_run(run_dir: str | Path, subset: str = "test", options: dict | None = None) -> tuple[dict, Path]:
    """Score ``subset`` of a finished run with its ``eval`` options, ``options`` (field: value) changed;
    write ``eval/<name>.json`` (and its rank lists beside it) in the run and return (result, that path)."""
    run = load_trained(run_dir)
    cfg, options = run.cfg, options or {}
    for key, value in options.items():
        setattr(cfg.eval, key, value)
    validate(cfg)  # the options meet the config's own rules (faiss search, Ds re-ranking of a run without Ds)
    device = resolve_device(cfg.train.device)
    method, e = run.method.to(device), cfg.eval
    with readable_data(cfg.data) as base:
        split = read_split(run.folder, base)
        result = score_records(method.embedder(), split.subset(subset), e, cfg.data.height, cfg.data.width,
                               seed=cfg.train.seed, device=device, num_workers=cfg.data.num_workers,
                               pair_scorer=method.matcher.pair_scorer(), rank_lists=e.rank_lists,
                               view_leakage=e.view_leakage)
    result["split"] = run.split.label
    name = evaluation_name(subset, options, e)
    out = make_folder(Path(run_dir) / EVAL_FOLDER)
    lists = result.pop("rank_lists", [])
    write_text(out / f"{name}.json", json.dumps(result, indent=1))
    if lists:
        write_text(out / f"{name}_ranklists.json", json.dumps(lists, indent=1))
    return result, out / f"{name}.json"
