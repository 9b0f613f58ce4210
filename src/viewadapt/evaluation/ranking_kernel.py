"""Where each true match ranks, per query, without sorting the gallery.

A query's CMC, AP and INP depend only on the 0-based positions of its true matches in the ranked
gallery. The position of a match at distance ``t`` is the number of kept gallery items before it:
those closer than ``t``, plus those at exactly ``t`` earlier in gallery order (the order a stable
sort gives), minus the removed same-camera items among them. Counting ``x < t`` over a row is one
vectorised pass, so a query with ``m`` matches costs ``m`` passes over a row that sits in cache,
instead of an ``O(G log G)`` sort. Queries with many matches fall back to one stable sort of the row.
"""

from __future__ import annotations

import numba as nb
import numpy as np
import torch

# Above this many matches one stable sort of the row is cheaper than a pass per match.
SORT_ABOVE = 48


@nb.njit(cache=True)
def _before(row: np.ndarray, t: float, j: int) -> int:
    """Items of ``row`` before item ``j`` (value ``t``) in a stable ascending sort."""
    lt = 0
    eq = 0
    for g in range(row.shape[0]):
        x = row[g]
        lt += x < t
        eq += x == t
    if eq > 1:  # ties: only those earlier in gallery order come first
        for g in range(j):
            lt += row[g] == t
    return lt


@nb.njit(cache=True)
def _ranks_by_sort(row: np.ndarray, same: np.ndarray, g_cams: np.ndarray, qc: int, m: int) -> np.ndarray:
    is_match = np.zeros(row.shape[0], np.bool_)
    is_junk = np.zeros(row.shape[0], np.bool_)
    for g in same:
        if g_cams[g] == qc:
            is_junk[g] = True
        else:
            is_match[g] = True
    ranks = np.empty(m, np.int64)
    pos = 0
    k = 0
    for g in np.argsort(row, kind="mergesort"):
        if is_junk[g]:
            continue
        if is_match[g]:
            ranks[k] = pos
            k += 1
        pos += 1
    return ranks


@nb.njit(parallel=True, cache=True)
def match_ranks(d, q_pids, q_cams, g_cams, by_pid, starts, pid_keys, first, ap, ap_trapezoid, inp, num_matches):
    """Fill per-query results for the rows of ``d``.

    ``by_pid``/``starts``/``pid_keys`` index the gallery grouped by identity: the items of identity
    ``pid_keys[p]`` are ``by_pid[starts[p]:starts[p + 1]]``. A query's matches are its identity's
    items from other cameras; same-identity same-camera items are removed from its ranking.
    Outputs: ``first`` rank (0-based), step AP, trapezoid AP (the Market MATLAB code's), INP and
    the number of matches (0: the query is skipped, its other outputs untouched).
    """
    for i in nb.prange(d.shape[0]):
        row = d[i]
        qc = q_cams[i]
        p = np.searchsorted(pid_keys, q_pids[i])
        if p >= pid_keys.shape[0] or pid_keys[p] != q_pids[i]:
            num_matches[i] = 0
            continue
        same = by_pid[starts[p]:starts[p + 1]]
        m = 0
        for g in same:
            m += g_cams[g] != qc
        num_matches[i] = m
        if m == 0:
            continue
        if m > SORT_ABOVE:
            ranks = _ranks_by_sort(row, same, g_cams, qc, m)
        else:
            ranks = np.empty(m, np.int64)
            k = 0
            for g in same:
                if g_cams[g] == qc:
                    continue
                t = row[g]
                r = _before(row, t, g)
                for h in same:
                    if g_cams[h] == qc and (row[h] < t or (row[h] == t and h < g)):
                        r -= 1
                ranks[k] = r
                k += 1
            ranks.sort()
        first[i] = ranks[0]
        step = 0.0
        trapezoid = 0.0
        for k in range(m):
            r = ranks[k]
            precision = (k + 1) / (r + 1)
            step += precision
            # Market's evaluation.m: recall steps by 1/m, times the mean of the precision before and at r
            trapezoid += 0.5 * ((1.0 if r == 0 else k / r) + precision)
        ap[i] = step / m
        ap_trapezoid[i] = trapezoid / m
        inp[i] = m / (ranks[m - 1] + 1)


def match_ranks_in_torch_threads(*args: np.ndarray) -> None:
    """:func:`match_ranks` on at most the threads torch is set to use, leaving that setting as it was.

    numba's OpenMP layer sets the process's OpenMP thread count, which torch's CPU kernels share, to its
    own (every core by default): a run held to one thread (``OMP_NUM_THREADS=1`` or
    ``torch.set_num_threads``, to train runs side by side) trained on every core after its first
    evaluation, and two such runs on a 2-core machine slowed each other six- to tenfold.
    """
    threads = torch.get_num_threads()
    nb.set_num_threads(min(threads, nb.config.NUMBA_NUM_THREADS))
    try:
        match_ranks(*args)
    finally:
        torch.set_num_threads(threads)
