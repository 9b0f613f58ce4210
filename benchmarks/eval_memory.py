"""Evaluate a large random gallery block by block and print time and peak memory.

    python benchmarks/eval_memory.py [--queries 20000] [--gallery 200000] [--dim 128]

The whole distance matrix would take queries x gallery x 4 bytes (16 GB at the defaults); the
blocked evaluator holds one block of ``viewadapt.evaluation.distances.BLOCK_BYTES`` at a time.
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np

from viewadapt.evaluation.distances import evaluate_features


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=20000)
    parser.add_argument("--gallery", type=int, default=200000)
    parser.add_argument("--dim", type=int, default=128)
    parser.add_argument("--ids", type=int, default=20000, help="identities in the gallery")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    g_pids = rng.integers(0, args.ids, args.gallery)
    q_pids = rng.integers(0, args.ids, args.queries)
    # Features = identity centre + noise, so that the ranking is neither perfect nor random.
    centres = rng.normal(size=(args.ids, args.dim)).astype(np.float32)
    qf = centres[q_pids] + 1.5 * rng.normal(size=(args.queries, args.dim)).astype(np.float32)
    gf = centres[g_pids] + 1.5 * rng.normal(size=(args.gallery, args.dim)).astype(np.float32)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    start = time.perf_counter()
    r = evaluate_features(qf, gf, q_pids, g_pids, rng.integers(0, 6, args.queries), rng.integers(0, 6, args.gallery))
    wall = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    dense = args.queries * args.gallery * 4 / 2**30
    print(f"{args.queries} x {args.gallery} ({args.dim}-d features): {wall:.1f} s, rank-1 {r['cmc'][0]:.3f}, "
          f"mAP {r['mAP']:.3f}; peak RSS {peak:.2f} GiB (inputs loaded: {before:.2f} GiB), "
          f"dense matrix would be {dense:.1f} GiB")


if __name__ == "__main__":
    main()
