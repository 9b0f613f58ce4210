"""``viewadapt`` command: demo, train, evaluate."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from viewadapt import __version__
from viewadapt.errors import ViewAdaptError


def _config_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", "-c", help="YAML config file (defaults apply to anything it leaves out)")
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE",
                   help="config overrides, e.g. train.similarity.epochs=5 model.shared=true")


def _cmd_train(args: argparse.Namespace) -> int:
    from viewadapt.config import load_config
    from viewadapt.training import Trainer

    if args.resume:
        if args.config or args.overrides:
            raise ViewAdaptError("--resume continues a run with its own config.yaml: drop --config and overrides")
        trainer = Trainer.resume(args.resume, verbose=not args.quiet)
    else:
        trainer = Trainer.create(load_config(args.config, args.overrides), verbose=not args.quiet)
    try:
        metrics = trainer.fit()
    except KeyboardInterrupt:
        print(f"interrupted; continue with: viewadapt train --resume {trainer.run_dir}", file=sys.stderr)
        return 130
    _print_metrics(metrics["test"], f"test ({metrics['test']['protocol']})")
    print(f"run folder: {trainer.run_dir}")
    return 0


def _print_metrics(m: dict, title: str) -> None:
    print(f"{title}: rank-1 {100 * m['rank1']:.1f}  rank-5 {100 * m['rank5']:.1f}  "
          f"rank-10 {100 * m['rank10']:.1f}  rank-20 {100 * m.get('rank20', float('nan')):.1f}  "
          f"mAP {100 * m['mAP']:.1f}")


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from viewadapt.evaluation.scoring import score_records
    from viewadapt.training import load_trained
    from viewadapt.training.trainer import resolve_device

    cfg, split, mappings, _, _ = load_trained(args.run)
    device = resolve_device(cfg.train.device)
    protocol = args.protocol or cfg.eval.protocol
    result = score_records(mappings.to(device), split.subset(args.subset), cfg, device, protocol, args.trials)
    out = Path(args.run) / f"eval_{args.subset}_{protocol}.json"
    out.write_text(json.dumps(result, indent=1))
    _print_metrics(result, f"{args.subset} ({protocol}, {result['trials']} trials, {result['num_queries']} queries)")
    print(f"written: {out}")
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from viewadapt.cli.demo import run_demo

    run_demo(args.config, args.overrides, quiet=args.quiet)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="viewadapt", description=__doc__)
    parser.add_argument("--version", action="version", version=f"viewadapt {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("demo", help="train and compare the method and its baselines on the synthetic benchmark")
    _config_args(p)
    p.add_argument("--quiet", "-q", action="store_true", help="only print the final table")
    p.set_defaults(func=_cmd_demo)

    p = sub.add_parser("train", help="train the method (Algorithm 1) and write a run folder")
    _config_args(p)
    p.add_argument("--resume", metavar="RUN_DIR", help="continue an interrupted run from its last checkpoint")
    p.add_argument("--quiet", "-q", action="store_true", help="log to the run folder only")
    p.set_defaults(func=_cmd_train)

    p = sub.add_parser("evaluate", help="score a trained run: probes through Ms, gallery through Mt")
    p.add_argument("run", help="run folder written by `viewadapt train`")
    p.add_argument("--subset", choices=("test", "valid"), default="test")
    p.add_argument("--protocol", choices=("single_shot", "all_gallery"))
    p.add_argument("--trials", type=int, help="single-shot repetitions (default: the run's eval.trials)")
    p.set_defaults(func=_cmd_evaluate)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except ViewAdaptError as exc:
        print(f"viewadapt: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
