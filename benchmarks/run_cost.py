"""What training a run on one's own cameras costs: for the default config (256 x 128) and ``-c cpu`` (96 x 48),
the time of one epoch per 1,000 crops of stage (a) and of stage (b), measured side by side in one process
on a few batches each, and a whole run's training time for a typical folder extrapolated from them.

    python benchmarks/run_cost.py [--people 100] [--crops 5] [--batches 6] [--configs default cpu] [--layouts]

``--layouts`` measures each config a second time with the contiguous layout (``train.channels_last=false``,
what runs used before it became the default) and prints how much faster channels-last is, the two measured
one after the other in the same process.

The folder is drawn by the synthetic generator in the folder layout (``--people`` people x 2 cameras x
``--crops`` crops each) under a temporary folder; the run trains the config's own stages and epochs (the
default: stages a+b, self-training skipped where every crop is labelled), early stopping aside.
"""

from __future__ import annotations

import argparse
import itertools
import tempfile
import time
from pathlib import Path

import torch

from viewadapt.builders import create_trainer
from viewadapt.config import load_config
from viewadapt.data.synthetic import SyntheticSpec, generate


def _pace(trainer, stage_name: str, batches: int) -> float:
    """Seconds per training image of one stage's step, over ``batches`` batches after a warm-up one."""
    stage = next(s for s in trainer.stages if s.name == stage_name)
    stage.start()

    def drawn():  # a small folder gives fewer batches an epoch than asked for: draw further epochs
        for epoch in range(batches + 1):
            data = stage.prepare_epoch(epoch)
            yield from torch.utils.data.DataLoader(data.dataset, batch_sampler=data.batches)

    taken = list(itertools.islice(drawn(), batches + 1))
    if len(taken) < 2:
        raise SystemExit(f"run_cost: stage {stage_name} draws fewer than two batches (a warm-up and one timed) "
                         f"from {len(trainer.train_set)} crops; raise --batches, --people or --crops")
    stage.train_epoch(taken[:1], "warm-up")
    start = time.perf_counter()
    stage.train_epoch(taken[1:], "timed")
    return (time.perf_counter() - start) / sum(len(b[0]) for b in taken[1:])


def measure(config: str | None, root: Path, people: int, batches: int, out: Path,
            extra: tuple[str, ...] = ()) -> dict:
    overrides = [*extra, "data.dataset=folder", f"data.root={root}", f"data.num_train={people - 20}", "data.num_valid=10",
                 "data.num_test=10", f"output_dir={out}", f"name={config or 'default'}{'-contiguous' if extra else ''}", "eval.zero_shot=false",
                 "data.num_workers=0"]
    cfg = load_config(config, overrides)
    trainer = create_trainer(cfg, verbose=False)
    try:
        per_image = {name: _pace(trainer, name, batches) for name in ("init", "similarity")
                     if any(s.name == name for s in trainer.stages)}
        images = trainer._images_per_stage()
    finally:
        trainer.close()
    total = sum(per_image.get(name, per_image["similarity"]) * n for name, n in images.items())
    return {"size": f"{cfg.data.height} x {cfg.data.width}", "per_1000": {k: 1000 * v for k, v in per_image.items()},
            "run_s": total, "crops": len(trainer.train_set)}


def _label(name: str) -> str:
    return "default (no -c)" if name == "default" else f"-c {name}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=100)
    parser.add_argument("--crops", type=int, default=5)
    parser.add_argument("--batches", type=int, default=6)
    parser.add_argument("--configs", nargs="+", default=["default", "cpu"])
    parser.add_argument("--layouts", action="store_true", help="also time the contiguous layout, side by side")
    args = parser.parse_args()
    if args.people < 22:  # 10 validation and 10 test people, and at least two to train on
        parser.error("--people must be at least 22: 20 of them are held out for validation and test")
    with tempfile.TemporaryDirectory(prefix="viewadapt-cost-") as tmp:
        root = generate(Path(tmp) / "cams", SyntheticSpec(num_identities=args.people, images_per_view=args.crops),
                        256, 128)
        def cost(name: str, *extra: str) -> dict:
            return measure(None if name == "default" else name, root, args.people, args.batches, Path(tmp) / "runs",
                           extra)

        rows = [(name, cost(name)) for name in args.configs]
        contiguous = {name: cost(name, "train.channels_last=false") for name in (args.configs if args.layouts else [])}
    print(f"{torch.get_num_threads()} threads; a folder of {args.people} people x 2 cameras x {args.crops} crops "
          f"({rows[0][1]['crops']} training crops)\n")
    print("| config | size | stage (a): s per epoch per 1,000 crops | stage (b): s per epoch per 1,000 crops "
          "| whole run (min, early stopping aside) |\n|---|---|---:|---:|---:|")
    for name, r in rows:
        per = r["per_1000"]
        print(f"| {_label(name)} | {r['size']} | {per.get('init', 0):.0f} "
              f"| {per.get('similarity', 0):.0f} | {r['run_s'] / 60:.0f} |")
    if contiguous:
        print("\n| config | channels-last against contiguous: stage (a) | stage (b) | whole run |\n|---|---:|---:|---:|")
        for name, r in rows:
            c = contiguous[name]
            ratio = {k: c["per_1000"][k] / r["per_1000"][k] for k in r["per_1000"]}
            print(f"| {_label(name)} | {ratio.get('init', 0):.2f} x "
                  f"| {ratio.get('similarity', 0):.2f} x | {c['run_s'] / r['run_s']:.2f} x |")


if __name__ == "__main__":
    main()
