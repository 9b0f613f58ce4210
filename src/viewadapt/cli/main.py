"""``viewadapt`` command: demo, train, evaluate, report, extract, calibrate, match, export, experiment, datasets."""

from __future__ import annotations

import argparse
import json
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from viewadapt import __version__
from viewadapt.errors import ViewAdaptError, user_message
from viewadapt.cli.signals import Stop, stop_on_signals
from viewadapt.files import check_outputs, write_text

if TYPE_CHECKING:
    from viewadapt.training import Trainer


def _config_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", "-c", help="YAML config file (defaults apply to anything it leaves out)")
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE",
                   help="config overrides, e.g. train.similarity.epochs=5 model.shared=true")


def _cmd_train(args: argparse.Namespace) -> int:
    from viewadapt.config import load_config
    from viewadapt.reports import build_report
    from viewadapt.builders import create_trainer, resume_trainer
    from viewadapt.runs import resolve_device
    from viewadapt.training.distributed import setup, teardown

    if args.resume and (args.config or args.overrides):
        raise ViewAdaptError("--resume continues a run with its own config.yaml: drop --config and overrides")
    cfg = None if args.resume else load_config(args.config, args.overrides)
    if cfg is not None:
        resolve_device(cfg.train.device)  # a missing GPU is told before anything starts
    d, device = setup(cfg.train.device if cfg else "auto")  # under torchrun: join the job
    try:
        verbose = not args.quiet and d.is_main
        if args.resume:
            trainer = resume_trainer(args.resume, verbose=verbose, d=d, device=device)
        else:
            trainer = create_trainer(cfg, verbose=verbose, d=d, device=device)
        with trainer:
            metrics = _fit(trainer, args.stop)
            if metrics is None:
                return args.stop.exit_code
            if d.is_main:
                test = metrics["test"]
                _print_metrics(test, f"test ({test['split']}, {test['protocol']})")
                report = build_report(trainer.run_dir)
                print(f"run folder: {trainer.run_dir} (report: {report.name})")
        return 0
    finally:
        teardown()


def _fit(trainer: Trainer, stop: Stop) -> dict | None:
    """Train; None when a signal stopped it. However training ends early, the last checkpoint stays, and
    the command that continues the run is printed and written to the run's ``train.log``."""
    from viewadapt.runs.folder import FILE_ONLY

    resume = f"viewadapt train --resume {trainer.run_dir}"
    file_only = {FILE_ONLY: True}
    try:
        return trainer.fit()
    except KeyboardInterrupt:
        pass
    except ViewAdaptError as exc:
        if stop.signal is None:
            from viewadapt.training.step import Diverged

            # resuming a diverged run would diverge again at the same rate: its message says what to do
            message = user_message(exc) if isinstance(exc, Diverged) else f"{user_message(exc)}; then continue with: {resume}"
            trainer.log.error(f"error: {message}", extra=file_only)
            raise ViewAdaptError(message) from None
    except Exception as exc:
        if stop.signal is None:  # our fault, not the user's: the traceback goes to the log, not away
            trainer.log.exception(f"failed ({type(exc).__name__}); once the cause is fixed, continue with: {resume}",
                                  extra=file_only)
            print(f"viewadapt: training failed; the log is in {trainer.run_dir / 'train.log'}; continue with: "
                  f"{resume}", file=sys.stderr)
            raise
    # Stopped by a signal, which may have killed the data loader's workers before it reached this process.
    name = signal.Signals(stop.signal or signal.SIGINT).name
    trainer.log.info(f"stopped by {name}; continue with: {resume}", extra=file_only)
    print(f"interrupted ({name}); continue with: {resume}", file=sys.stderr)
    return None


def _print_metrics(m: dict, title: str) -> None:
    ranks = "  ".join(f"rank-{k} {100 * m[f'rank{k}']:.1f}" for k in (1, 5, 10, 20) if f"rank{k}" in m)
    print(f"{title}: {ranks}  mAP {100 * m['mAP']:.1f}")


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from viewadapt.reports import build_report
    from viewadapt.builders import evaluate_run

    options = {key: value for key, value in (
        ("protocol", args.protocol), ("rerank", args.rerank), ("ap", args.ap), ("search", args.search),
        ("faiss_k", args.topk), ("trials", args.trials), ("camera_statistics", args.camera_statistics))
        if value is not None}
    result, path = evaluate_run(args.run, args.subset, options)
    report = build_report(args.run)
    rerank = f", rerank {result['rerank']}" if result["rerank"] != "none" else ""
    _print_metrics(result, f"{args.subset} ({result['split']}, {result['protocol']}, {result['trials']} trials, "
                           f"{result['num_queries']} queries{rerank})")
    print(f"written: {path}, {report}")
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    from viewadapt.reports import build_report

    print(f"written: {build_report(args.run)}")
    return 0


def _cmd_extract(args: argparse.Namespace) -> int:
    from viewadapt.inference import ReIDModel

    out = _output(args.out, "--out")
    check_outputs({"--out": out}, reads=[args.images], runs=[args.run])
    model = ReIDModel.from_run(args.run, args.device)
    features = model.extract(args.images, _view(args.view), args.batch_size, camera=args.camera)
    features.save(out)
    source = f"camera {args.camera} (calibrated, view {features.view})" if args.camera else f"view {args.view}"
    print(f"{len(features.paths)} images, {source}, {features.features.shape[1]}-d features: {out}")
    return 0


def _cmd_calibrate(args: argparse.Namespace) -> int:
    from viewadapt.inference import ReIDModel

    model = ReIDModel.from_run(args.run, args.device)
    stats = model.calibrate(args.images, args.camera, _view(args.view), args.batch_size)
    print(f"camera {stats.name}: batch-norm statistics of {stats.images} images on view {stats.view}'s weights "
          f"written to {args.run}/cameras/{stats.name}.safetensors; use it with --camera {stats.name}")
    return 0


def _output(path: str | None, option: str) -> Path | None:
    """A file the command will write: its folder must exist, checked before any work is done."""
    if path is None:
        return None
    if Path(path).is_dir():
        raise ViewAdaptError(f"{option} {path} is a folder: give a file name inside it")
    if not Path(path).parent.is_dir():
        raise ViewAdaptError(f"{option} {path}: the folder {Path(path).parent} does not exist; create it first")
    return Path(path)


def _positive(text: str) -> int:
    """An argparse type: a whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {value}")
    return value


def _view(text: str) -> int | str:
    return int(text) if text.isdigit() else text


def _cmd_match(args: argparse.Namespace) -> int:
    from viewadapt.inference import ReIDModel
    from viewadapt.reports import draw_rank_list
    from viewadapt.reports.figures import image_format

    json_out, image_out = _output(args.json, "--json"), _output(args.image, "--image")
    if image_out is not None and image_format(image_out) is None:
        raise ViewAdaptError(f"--image {image_out}: its suffix names no image format; use .png or .jpg")
    check_outputs({"--json": json_out, "--image": image_out}, reads=[*args.probes, args.gallery], runs=[args.run])
    if json_out is not None and image_out is not None and json_out.resolve() == image_out.resolve():
        raise ViewAdaptError(f"--json and --image are the same file {json_out}: give two names")
    model = ReIDModel.from_run(args.run, args.device)
    results = model.match(args.probes, args.gallery, args.k, _view(args.probe_view), _view(args.gallery_view),
                          use_faiss=args.faiss, probe_camera=args.probe_camera, gallery_camera=args.gallery_camera)
    for probe, matches in results.items():
        print(f"probe {probe}")
        print(f"  {'rank':>4}  {'distance':>8}  {'same person (Ds)':>16}  path")
        for m in matches:
            same = "-" if m.same_person is None else f"{m.same_person:.3f}"
            print(f"  {m.rank:>4}  {m.distance:>8.4f}  {same:>16}  {m.path}")
    if json_out:
        write_text(json_out, json.dumps({p: [vars(m) for m in ms] for p, ms in results.items()}, indent=1))
    if image_out:
        for n, (probe, matches) in enumerate(results.items()):
            entry = {"query": {"path": probe}, "gallery": [
                {"path": m.path, "score": m.distance, "match": None if m.same_person is None else m.same_person >= 0.5}
                for m in matches]}
            path = image_out if len(results) == 1 else image_out.with_stem(f"{image_out.stem}_{n}")
            draw_rank_list(entry, path, model.cfg.data.height, model.cfg.data.width)
            legend = "green: Ds says same person" if model.pair_scorer is not None else "grey: this run has no Ds"
            print(f"written: {path} ({legend})")
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    from viewadapt.inference import export_onnx

    for path in export_onnx(args.run, args.out, force=args.force, cameras=args.camera or ()):
        print(f"written: {path}")
    return 0


def _cmd_experiment(args: argparse.Namespace) -> int:
    from viewadapt.config import packaged_configs
    from viewadapt.experiments import EXPERIMENTS, run_experiment

    if args.name == "list":
        for name, exp in EXPERIMENTS.items():
            print(f"{name}: {exp.title}")
            print("".join(f"  {i}. {m.key + ': ' if m.key else ''}{m.label}\n" for i, m in enumerate(exp.methods, 1)),
                  end="")
            if exp.settings[0].name:
                print("  settings: " + ", ".join(s.name for s in exp.settings))
        return 0
    config, overrides = args.config, list(args.overrides)
    if args.dataset:
        # A dataset's packaged config carries the paper's settings for it; with -c, only the dataset changes.
        if config is None and args.dataset in packaged_configs():
            config = args.dataset
        else:
            overrides.insert(0, f"data.dataset={args.dataset}")
    if args.data_root:
        overrides.insert(0, f"data.root={args.data_root}")
    try:
        path = run_experiment(args.name, config, overrides, args.seeds, args.out, quiet=args.quiet,
                              settings=args.settings, methods=args.methods, records=args.records,
                              report_only=args.report_only)
    except KeyboardInterrupt:
        print("interrupted; finished runs are kept: the same command continues where this one stopped",
              file=sys.stderr)
        return args.stop.exit_code
    print(path.read_text())
    print(f"written: {path}")
    return 0


def _cmd_datasets(args: argparse.Namespace) -> int:
    from viewadapt.cli.datasets import dataset_info, list_datasets, use_generated_spec
    from viewadapt.config import DataConfig, load_config, packaged_configs
    from viewadapt.data.datasets import DATASETS

    if args.action is None:
        print(list_datasets(args.data_root or "data"))
        return 0
    source = DATASETS[args.name]
    if args.data_root is None and source.own_root:
        raise ViewAdaptError(f"give the {'index file' if source.root_is_file else 'folder'} with --data-root")
    if args.variant and args.variant not in source.variants:
        raise ViewAdaptError(f"{args.name} has no variant '{args.variant}': "
                             f"choose one of {', '.join(source.variants) or '(none)'}")
    # the split `train` makes: the sizes of the dataset's packaged config (-c NAME), else the defaults
    base = load_config(args.name).data if args.name in packaged_configs() else DataConfig()
    given = {"num_train": args.num_train, "num_valid": args.num_valid, "num_test": args.num_test}
    sizes = {k: getattr(base, k) if v is None else v for k, v in given.items()}
    cfg = DataConfig(dataset=args.name, root=args.data_root or source.default_root, variant=args.variant or "",
                     trial=args.trial, split_seed=args.seed, **sizes)
    if source.generated:
        use_generated_spec(cfg)
    protocols = [args.protocol] if args.protocol else [p for p in source.protocols if p != "custom"] or ["custom"]
    bad = [p for p in protocols if p not in source.protocols]
    if bad:
        raise ViewAdaptError(f"{args.name} has no protocol '{bad[0]}': choose one of {', '.join(source.protocols)}")
    print(dataset_info(cfg, protocols, verify=args.verify))
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from viewadapt.cli.demo import run_demo

    run_demo(args.config, args.overrides, quiet=args.quiet)
    return 0


class _Parser(argparse.ArgumentParser):
    """Usage mistakes in one line, like every other mistake (the full usage is one --help away)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _training_commands(sub: argparse._SubParsersAction) -> None:
    """The parsers of demo and train: what trains runs."""
    p = sub.add_parser("demo", help="train and compare the recommended method, the paper's and the plain baselines "
                                    "on the synthetic benchmark")
    _config_args(p)
    p.add_argument("--quiet", "-q", action="store_true", help="only print the final table")
    p.set_defaults(func=_cmd_demo)

    p = sub.add_parser(
        "train", help="train a model and write a run folder",
        description="Without -c: the recommended method (every weight shared, each camera normalised by batch-norm "
                    "statistics of its own, stages a+b, self-training on a camera's unlabelled images). "
                    "-c paper: the paper's method (asymmetric Ms / Mt, Eq. 5, stages a+b+c of Algorithm 1). "
                    "Every key: docs/config.md.")
    _config_args(p)
    p.add_argument("--resume", metavar="RUN_DIR", help="continue an interrupted run from its last checkpoint")
    p.add_argument("--quiet", "-q", action="store_true", help="log to the run folder only")
    p.set_defaults(func=_cmd_train)



def _run_commands(sub: argparse._SubParsersAction) -> None:
    """The parsers of evaluate and report: what scores and shows a finished run."""
    p = sub.add_parser("evaluate", help="score a trained run: probes through Ms, gallery through Mt")
    p.add_argument("run", help="run folder written by `viewadapt train`")
    p.add_argument("--subset", choices=("test", "valid"), default="test")
    # Option values are checked by the config's own rules, which list the valid ones.
    p.add_argument("--protocol", help="evaluation protocol (eval.protocol; default: the run's)")
    p.add_argument("--trials", type=_positive, help="single-shot repetitions (default: the run's eval.trials)")
    p.add_argument("--rerank", help="re-score before ranking (eval.rerank): Ds on each probe's top-k, "
                                    "k-reciprocal, or none; default: the run's")
    p.add_argument("--ap", help="mAP definition (eval.ap; trapezoid: Market's MATLAB code)")
    p.add_argument("--search", help="eval.search; faiss: each probe's top-k only (huge galleries; CMC to rank k, "
                                    "AP@k); default: the run's")
    p.add_argument("--topk", type=_positive, help="k of --search faiss (default eval.faiss_k)")
    p.add_argument("--camera-statistics", action="store_true", default=None,
                   help="re-estimate each view's batch-norm statistics from its own images of the subset "
                        "before embedding it (eval.camera_statistics; AdaBN / CBN at test time)")
    p.set_defaults(func=_cmd_evaluate)

    p = sub.add_parser("report", help="rebuild a run's self-contained HTML report from its folder")
    p.add_argument("run", help="run folder written by `viewadapt train`")
    p.set_defaults(func=_cmd_report)



def _inference_commands(sub: argparse._SubParsersAction) -> None:
    """The parsers of extract, calibrate, match and export: what uses a trained run on new crops."""
    p = sub.add_parser("extract", help="embed a folder of crops of one camera view into a features file")
    p.add_argument("run", help="run folder written by `viewadapt train`")
    p.add_argument("images", help="folder of crops (searched recursively) or one image")
    p.add_argument("--view", default="gallery", help="probe (Ms) or gallery (Mt), or 0/1 (default: gallery)")
    p.add_argument("--out", required=True, help="features file to write (.safetensors)")
    p.add_argument("--batch-size", type=_positive, default=64)
    p.add_argument("--camera", help="a camera calibrated with `viewadapt calibrate`: its own statistics "
                                    "(and the view it was calibrated on) instead of --view")
    p.add_argument("--device", help="cpu, cuda, cuda:1 (default: the run's train.device)")
    p.set_defaults(func=_cmd_extract)

    p = sub.add_parser("calibrate", help="re-estimate a camera's batch-norm statistics from its unlabelled images "
                                         "(a new camera too), stored beside the run")
    p.add_argument("run", help="run folder written by `viewadapt train`")
    p.add_argument("images", help="folder of the camera's crops (searched recursively); no labels needed")
    p.add_argument("--camera", required=True, help="the camera's name, used by extract --camera and "
                                                   "match --probe-camera / --gallery-camera")
    p.add_argument("--view", default="gallery", help="whose weights the camera uses: probe or gallery, "
                                                     "or 0/1 (default: gallery)")
    p.add_argument("--batch-size", type=_positive, default=64, help="images per batch of statistics (>= 2)")
    p.add_argument("--device", help="cpu, cuda, cuda:1 (default: the run's train.device)")
    p.set_defaults(func=_cmd_calibrate)

    p = sub.add_parser("match", help="rank a gallery for probe image(s): distances and Ds same-person probability")
    p.add_argument("run", help="run folder written by `viewadapt train`")
    p.add_argument("probes", nargs="+", help="probe image(s) or a folder of them")
    p.add_argument("--gallery", required=True, help="gallery folder, or a features file from `viewadapt extract`")
    p.add_argument("--k", type=_positive, default=10, help="gallery items to list per probe")
    p.add_argument("--probe-view", default="probe")
    p.add_argument("--gallery-view", default="gallery")
    p.add_argument("--probe-camera", help="embed the probes with this calibrated camera's statistics")
    p.add_argument("--gallery-camera", help="embed a gallery folder with this calibrated camera's statistics")
    p.add_argument("--faiss", action="store_true", help="search with a faiss index (large galleries)")
    p.add_argument("--image", help="also draw the rank list into this image file")
    p.add_argument("--json", help="also write the ranked lists as JSON")
    p.add_argument("--device")
    p.set_defaults(func=_cmd_match)

    p = sub.add_parser("export", help="write each view mapping as ONNX (dynamic batch, the run's image size)")
    p.add_argument("run", help="run folder written by `viewadapt train`")
    p.add_argument("--out", required=True, help="folder for probe.onnx, gallery.onnx (shared.onnx) and onnx.json: "
                                                "new, empty, or an earlier export")
    p.add_argument("--camera", action="append", metavar="NAME",
                   help="also camera_NAME.onnx for a camera calibrated with `viewadapt calibrate` (repeatable)")
    p.add_argument("--force", action="store_true",
                   help="write into a folder that holds other files (only the export's own files are replaced)")
    p.set_defaults(func=_cmd_export)



def _experiment_commands(sub: argparse._SubParsersAction) -> None:
    """The parsers of experiment and datasets: the paper's comparisons, and what data is found."""
    p = sub.add_parser("experiment", help="run one of the paper's comparisons over seeds: table of mean +- std")
    p.add_argument("name", help="an experiment's name, or list (to see them)")
    _config_args(p)
    p.add_argument("--dataset", help="a dataset's name as `viewadapt datasets` lists it (a benchmark's packaged config "
                                     "unless -c)")
    p.add_argument("--data-root", help="folder holding the datasets (data.root)")
    p.add_argument("--seeds", type=_positive, default=3, help="train.seed 0..N-1 per method (default 3)")
    p.add_argument("--out", default="experiments", help="folder of the runs and results (reused when re-run)")
    p.add_argument("--settings", nargs="+", metavar="SETTING",
                   help="only these of the experiment's settings (e.g. recipes: few_shot viper_like multi_shot)")
    p.add_argument("--methods", nargs="+", metavar="KEY",
                   help="only these of the experiment's methods, by key or number (`viewadapt experiment list`)")
    p.add_argument("--records", metavar="DIR",
                   help="folder of the run records the tables are built from (default OUT/records); "
                        "docs/results/records holds the published ones")
    p.add_argument("--report-only", action="store_true",
                   help="build the tables from the records alone, training nothing")
    p.add_argument("--quiet", "-q", action="store_true")
    p.set_defaults(func=_cmd_experiment)

    p = sub.add_parser("datasets", help="list the supported datasets and what is found under the data root")
    p.add_argument("--data-root", help="folder holding viper/, cuhk03/, market1501/, dukemtmc-reid/ (default: data)")
    actions = p.add_subparsers(dest="action")
    info = actions.add_parser("info", help="identities, images, cameras and images per view, per split")
    info.add_argument("name", help="dataset name, as `viewadapt datasets` lists it")
    info.add_argument("--data-root", default=argparse.SUPPRESS,
                      help="data root; for folder/csv the folder or index file itself")
    info.add_argument("--protocol", help="split to count (default: every protocol the dataset has besides custom)")
    info.add_argument("--variant", help="CUHK03: labeled (default) or detected")
    info.add_argument("--trial", type=int, default=0, help="which repeated split (VIPeR standard 0-9, CUHK03 paper 0-19)")
    info.add_argument("--seed", type=int, default=0, help="split seed (data.split_seed)")
    # the sizes default to the split `train` makes: the dataset's packaged config's, else the defaults
    info.add_argument("--num-train", type=int, help="custom protocol: training identities (default: data.num_train)")
    info.add_argument("--num-valid", type=int, help="validation identities, custom and standard "
                                                    "(default: data.num_valid)")
    info.add_argument("--num-test", type=int, help="custom protocol: test identities, -1: the rest "
                                                   "(default: data.num_test)")
    info.add_argument("--verify", action="store_true", help="also decode every image and list unreadable ones")
    p.set_defaults(func=_cmd_datasets)



def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="viewadapt", description=__doc__)
    parser.add_argument("--version", action="version", version=f"viewadapt {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    _training_commands(sub)
    _run_commands(sub)
    _inference_commands(sub)
    _experiment_commands(sub)
    return parser


def _tolerant_output() -> None:
    """A file name that is not valid UTF-8 (a folder copied from an old system) is printed with escapes
    instead of ending the command on a strict UTF-8 terminal or pipe."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.reconfigure(errors="backslashreplace")
        except (AttributeError, ValueError, OSError):  # a stream that cannot be reconfigured is left as it is
            pass


def _os_message(exc: OSError) -> str:
    """What the system refused, on which path, in a line: a name too long, a read-only folder, a full disk."""
    where = f" {exc.filename}" if exc.filename else ""
    return (f"cannot use{where}: {exc.strerror or exc}; check the path (each name at most 255 bytes) and that "
            "its folder is there and writable")


def main(argv: list[str] | None = None) -> int:
    _tolerant_output()
    args = build_parser().parse_args(argv)
    with stop_on_signals() as stop:
        args.stop = stop
        try:
            return args.func(args)
        except ViewAdaptError as exc:
            print(f"viewadapt: error: {user_message(exc)}", file=sys.stderr)
            return 2
        except OSError as exc:  # what the system refused that no check before it foresaw: a line, not a traceback
            print(f"viewadapt: error: {_os_message(exc)}", file=sys.stderr)
            return 2
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            return stop.exit_code


if __name__ == "__main__":
    sys.exit(main())
