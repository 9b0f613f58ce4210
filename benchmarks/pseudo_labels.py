"""Pseudo-labelling at scale: time and peak memory of the ``cluster`` rule (k-reciprocal Jaccard graph and
DBSCAN, :mod:`viewadapt.training.clustering`) and of the ``mutual`` rule, on synthetic embeddings.

    python benchmarks/pseudo_labels.py [--sizes 10000 100000] [--dim 256] [--people-per 8]

Each size runs in a process of its own, so its peak resident memory is its own (``ru_maxrss``). The
embeddings are people drawn as Gaussian clusters (``--people-per`` crops each, a sixth of them labelled)
with a tenth of the crops noise; the line gives the clusters found and their purity, so a fast answer that
is wrong shows as wrong.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

import numpy as np


def _embeddings(n: int, dim: int, per: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    people = int(0.9 * n) // per
    centres = rng.normal(size=(people, dim)).astype(np.float32)
    x = np.repeat(centres, per, axis=0) + 0.5 * rng.normal(size=(people * per, dim)).astype(np.float32)
    truth = np.repeat(np.arange(people), per)
    noise = rng.normal(size=(n - len(x), dim)).astype(np.float32) * 1.5
    return np.concatenate([x, noise]), np.concatenate([truth, np.full(len(noise), -1)])


def one(n: int, dim: int, per: int) -> dict:
    """Run both rules on ``n`` crops in this process; what they took and how long."""
    from viewadapt.config import SelfTrainingConfig
    from viewadapt.training.pseudo_labels import LEFT_OUT, PSEUDO_LABELS, Embedded

    x, truth = _embeddings(n, dim, per)
    people = truth.max() + 1
    labelled_people = set(range(0, people, 6))
    is_lab = np.isin(truth, list(labelled_people))
    views = np.arange(n) % 2
    data = Embedded(x[is_lab], truth[is_lab], views[is_lab], x[~is_lab], views[~is_lab])
    out = {"crops": n, "dim": dim}
    for rule in ("cluster", "mutual"):
        start = time.perf_counter()
        got = PSEUDO_LABELS[rule].assign(data, SelfTrainingConfig(epochs=5), 4)
        out[f"{rule}_s"] = time.perf_counter() - start
        taken = got != LEFT_OUT
        out[f"{rule}_taken"] = float(taken.mean())
        true = truth[~is_lab][taken]
        ids = got[taken]
        pure = sum(np.bincount(true[ids == c] + 1).max() for c in np.unique(ids))
        out[f"{rule}_purity"] = float(pure / max(1, len(ids)))
        out[f"{rule}_identities"] = int(len(np.unique(ids)))
    out["peak_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--dim", type=int, default=256)
    parser.add_argument("--people-per", type=int, default=8)
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)  # a size measured in this process
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one(args.one, args.dim, args.people_per)))
        return
    print("| crops | cluster: time (s) | taken | purity | identities | mutual: time (s) | taken | purity "
          "| peak memory (MiB) |\n|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for n in args.sizes:
        res = subprocess.run([sys.executable, __file__, "--one", str(n), "--dim", str(args.dim), "--people-per",
                              str(args.people_per)], capture_output=True, text=True, check=True)
        r = json.loads(res.stdout.strip().splitlines()[-1])
        print(f"| {n} | {r['cluster_s']:.1f} | {r['cluster_taken']:.2f} | {r['cluster_purity']:.2f} | "
              f"{r['cluster_identities']} | {r['mutual_s']:.1f} | {r['mutual_taken']:.2f} | {r['mutual_purity']:.2f} "
              f"| {r['peak_mib']:.0f} |")


if __name__ == "__main__":
    main()
