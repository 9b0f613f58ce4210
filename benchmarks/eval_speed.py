"""Time the fast evaluator against the plain reference on the same random inputs; print a table.

    python benchmarks/eval_speed.py [--sizes 500x2000 1400x5332 3368x15913] [--repeat 3]

Inputs are Market-like: uniform random float32 distances, gallery identities drawn from 751 people
plus distractors, 6 cameras. The reference (tests/reference_eval.py) sorts each query's row with a
stable argsort. Timings are the best of ``--repeat`` runs; the fast evaluator's one-off compile
(cached on disk afterwards) is reported apart. Nothing here asserts a timing.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from reference_eval import reference_rank  # noqa: E402

from viewadapt.evaluation import evaluate_rank  # noqa: E402


def problem(num_q: int, num_g: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    g_pids = rng.integers(0, 751, num_g)
    g_pids[rng.random(num_g) < 0.15] = -1
    return (rng.random((num_q, num_g), dtype=np.float32), rng.integers(0, 751, num_q), g_pids,
            rng.integers(0, 6, num_q), rng.integers(0, 6, num_g))


def best_time(fn, repeat: int):
    times, out = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return min(times), out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=["500x2000", "1400x5332", "3368x15913"])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    start = time.perf_counter()
    evaluate_rank(*problem(4, 50), max_rank=10)
    compile_s = time.perf_counter() - start
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"numpy {np.__version__}; first call (compile or load cache): {compile_s:.2f} s\n")
    print("| queries x gallery | fast (s) | reference (s) | speed-up | max abs diff CMC | abs diff mAP | abs diff mAP (trapezoid) |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for size in args.sizes:
        num_q, num_g = map(int, size.split("x"))
        inputs = problem(num_q, num_g)
        fast_s, fast = best_time(lambda: evaluate_rank(*inputs, max_rank=50), args.repeat)
        ref_s, ref = best_time(lambda: reference_rank(*inputs, max_rank=50), 1)
        trap = evaluate_rank(*inputs, max_rank=50, ap="trapezoid")
        ref_trap = reference_rank(*inputs, max_rank=50, ap="trapezoid")
        print(f"| {num_q} x {num_g} | {fast_s:.3f} | {ref_s:.2f} | {ref_s / fast_s:.0f}x | "
              f"{np.abs(fast['cmc'] - ref['cmc']).max():.1e} | {abs(fast['mAP'] - ref['mAP']):.1e} | "
              f"{abs(trap['mAP'] - ref_trap['mAP']):.1e} |")


if __name__ == "__main__":
    main()
