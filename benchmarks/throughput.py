"""Training and extraction throughput, side by side in one run (images per second).

    python benchmarks/throughput.py [-c CONFIG] [KEY=VALUE ...] [--batches 8] [--workers 2]

On the same SP batches it times:
  1. data loading alone (the DataLoader with ``--workers`` processes),
  2. each backbone's bare forward + backward (Ms and Mt, each on the whole batch), and the pair of them as
     the method runs them (Ms on the batch's probe-view images, Mt on its gallery-view ones),
  3. one stage (c) step of the method (Dd step, then Eq. 3 + Eq. 5 through Ms, Mt, Ds) on preloaded batches,
     and what its objectives cost above the networks: Dd's step and the mappings' loss (Eq. 3 + Eq. 5
     through Dd and Ds) with the embeddings computed once,
  4. the same step fed by the DataLoader (end to end; images decoded once beforehand unless
     ``data.cache_images=false``, as training does): when it is much slower than 3, loading is the
     bottleneck; raise ``data.num_workers``,
  5. extraction (eval mode, no gradients) of the test split, preloaded and end to end.
On CUDA it also samples GPU utilisation during 4 (needs pynvml). The default config is the demo's, with
the paper's method (asymmetric Ms / Mt, stage (c)) over it: the step measured is the paper's.
"""

from __future__ import annotations

import argparse
import threading
import time
from dataclasses import dataclass
from typing import Any

import torch
from torch.utils.data import DataLoader

from viewadapt.builders import build_method, prepare_split
from viewadapt.builders.data import decoded_images
from viewadapt.builders.trainer import run_setup
from viewadapt.config import PAPER_METHOD, load_config, packaged_configs
from viewadapt.data.augment import eval_transform, train_transform
from viewadapt.data.images import ViewImages
from viewadapt.data.sampler import SPBatchSampler
from viewadapt.evaluation.features import extract_embeddings
from viewadapt.objectives import ViewBatch, adaptation_objective, embed_views
from viewadapt.runs import resolve_device
from viewadapt.training.distributed import Dist
from viewadapt.training.stages import StageContext, ViewAdaptation
from viewadapt.training.step import Stepper


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def rate(fn, images: int, device: torch.device) -> float:
    sync(device)
    start = time.perf_counter()
    fn()
    sync(device)
    return images / (time.perf_counter() - start)


class Utilisation:
    """Mean GPU utilisation sampled every 0.1 s while the block runs (CUDA with pynvml only)."""

    def __init__(self, device: torch.device) -> None:
        self.device, self.samples, self.stop = device, [], threading.Event()

    def __enter__(self) -> "Utilisation":
        def poll() -> None:
            while not self.stop.wait(0.1):
                try:
                    self.samples.append(torch.cuda.utilization(self.device))
                except Exception:  # no pynvml or no NVML: report n/a
                    return
        if self.device.type == "cuda":
            self.thread = threading.Thread(target=poll, daemon=True)
            self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()

    def __str__(self) -> str:
        return f"{sum(self.samples) / len(self.samples):.0f}%" if self.samples else "n/a"


@dataclass
class Bench:
    """What the measurements share: the config, the device, the method and its stage (c), the batches."""

    cfg: Any
    device: torch.device
    method: Any
    stage: ViewAdaptation
    loader: DataLoader
    n: int  # batches measured
    batch_images: int
    test: list
    workers: int

    @property
    def total(self) -> int:
        return self.n * self.batch_images

    def take(self) -> list:
        out = []
        for i, b in enumerate(self.loader):
            if i == self.n:
                break
            out.append(b)
        return out


def _bench(args: argparse.Namespace) -> Bench:
    cfg = load_config(args.config, [*PAPER_METHOD, *args.overrides])
    device = resolve_device(cfg.train.device)
    _, split = prepare_split(cfg.data)
    method = build_method(cfg).to(device)
    decoded = decoded_images(cfg.data, split)
    train_set = ViewImages(split.train, train_transform(cfg.data.height, cfg.data.width, cfg.data.augment), decoded)
    valid_set = ViewImages(split.valid, eval_transform(cfg.data.height, cfg.data.width), decoded)
    stage = ViewAdaptation(StageContext(run_setup(cfg), method, train_set, valid_set, device,
                                        Stepper(cfg.train.amp, device), Dist()))
    stage.start()
    sampler = SPBatchSampler([r.pid for r in split.train], [r.view for r in split.train], cfg.train.batch_p,
                             cfg.train.batch_s, seed=0)
    loader = DataLoader(train_set, batch_sampler=sampler, num_workers=args.workers, pin_memory=device.type == "cuda")
    return Bench(cfg, device, method, stage, loader, min(args.batches, len(sampler)),
                 cfg.train.batch_p * cfg.train.batch_s, split.test, args.workers)


def _network_rates(b: Bench, on_device: list) -> dict[str, float]:
    """Each backbone's bare forward + backward on whole batches, and the pair as the method runs them."""
    mappings = b.method.mappings

    def bare(net: torch.nn.Module) -> None:
        for x, _, _ in on_device:
            net.zero_grad(set_to_none=True)
            net(x).sum().backward()

    def bare_pair() -> None:  # each view's images through its own network, as the method's step runs them
        for x, _, v in on_device:
            mappings.zero_grad(set_to_none=True)
            probe = v == v.min()
            (mappings.probe(x[probe]).sum() + mappings.gallery(x[~probe]).sum()).backward()

    nets = {"Ms " + b.cfg.model.probe_backbone: mappings.probe, "Mt " + b.cfg.model.gallery_backbone: mappings.gallery}
    for net in nets.values():
        bare(net)  # warm-up (cudnn autotune, allocator)
    rates = {name: rate(lambda net=net: bare(net), b.total, b.device) for name, net in nets.items()}
    return {**rates, "pair": rate(bare_pair, b.total, b.device)}


def _step_rates(b: Bench, on_device: list) -> dict[str, Any]:
    """The step's objectives alone, the optimiser step alone, the whole step preloaded and fed by the loader,
    and extraction of the test split."""
    method, stage = b.method, b.stage

    def objectives() -> None:  # the step less the networks: Dd's update and the losses on fixed embeddings
        for x, y, v in embedded:
            batch = ViewBatch(x[0].requires_grad_(), x[1].requires_grad_(), y[0], y[1], v[0], v[1])
            method.domain.train_discriminator(batch, stage._dd_step)
            adaptation_objective(batch, method.domain, method.matcher, b.cfg.loss.lambda_sim)[0].backward()

    with torch.no_grad():
        embedded = []
        for x, y, v in on_device:
            e = embed_views(method.mappings, x, y, v)
            embedded.append(((e.e_s.detach(), e.e_t.detach()), (e.pid_s, e.pid_t), (e.view_s, e.view_t)))
    objectives()
    out: dict[str, Any] = {"objectives": rate(objectives, b.total, b.device)}
    out["optimizer"] = rate(lambda: [stage.optimizers["mappings"].step() for _ in on_device], b.total, b.device)
    stage.train_epoch(on_device[:1], "bench")
    out["computed"] = rate(lambda: stage.train_epoch(on_device, "bench"), b.total, b.device)
    with Utilisation(b.device) as util:
        out["fed"] = rate(lambda: stage.train_epoch(b.take(), "bench"), b.total, b.device)
    out["util"] = util
    d = b.cfg.data
    extract = lambda workers: extract_embeddings(method.mappings, b.test, d.height, d.width,  # noqa: E731
                                                 b.cfg.eval.batch_size, b.device, workers)
    extract(0)
    out["extraction"] = {w: rate(lambda w=w: extract(w), len(b.test), b.device) for w in (0, b.workers)}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-c", "--config", default=str(packaged_configs()["demo"]))
    parser.add_argument("overrides", nargs="*")
    parser.add_argument("--batches", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    b = _bench(args)
    b.take()  # start the workers once, as a long run would have them running
    batches: list = []
    loading = rate(lambda: batches.extend(b.take()), b.total, b.device)
    on_device = [(x.to(b.device), y.to(b.device), v.to(b.device)) for x, y, v in batches]
    nets = _network_rates(b, on_device)
    pair_rate = nets.pop("pair")
    steps = _step_rates(b, on_device)
    computed, fed = steps["computed"], steps["fed"]
    d = b.cfg.data
    print(f"device {b.device}, {torch.get_num_threads()} threads, batch {b.batch_images} images "
          f"({d.height}x{d.width}), {b.n} batches, DataLoader workers {args.workers}\n")
    print("| what | images/s |")
    print("|---|---:|")
    print(f"| data loading alone | {loading:.0f} |")
    for name, r in nets.items():
        print(f"| bare forward+backward, {name} (whole batch) | {r:.0f} |")
    print(f"| bare forward+backward, Ms on the probe-view images and Mt on the gallery-view ones | {pair_rate:.0f} |")
    print(f"| the step's objectives alone (Dd's step, Eq. 3 + Eq. 5 on fixed embeddings) | {steps['objectives']:.0f} |")
    print(f"| the mappings' optimiser step alone (Adam over Ms, Mt and Ds) | {steps['optimizer']:.0f} |")
    print(f"| method, stage (c) step, preloaded batches | {computed:.0f} |")
    print(f"| method, stage (c) step, fed by the DataLoader | {fed:.0f} (GPU utilisation {steps['util']}) |")
    for w, r in steps["extraction"].items():
        print(f"| extraction, eval mode, {w} loader workers | {r:.0f} |")
    print(f"\nloading / compute ratio: {loading / computed:.1f}x (above 1: loading keeps up); "
          f"end to end reaches {100 * fed / computed:.0f}% of the compute-only rate; the stage (c) step takes "
          f"{100 * (pair_rate / computed - 1):.0f}% longer than its networks' bare forward + backward, of which "
          f"the objectives {100 * pair_rate / steps['objectives']:.0f} points and the optimiser step "
          f"{100 * pair_rate / steps['optimizer']:.0f}")


if __name__ == "__main__":
    main()
