"""How a split is scored: the settings every evaluation takes (also the ``eval`` config section's)."""

from __future__ import annotations

from dataclasses import dataclass

from viewadapt.errors import ConfigError
from viewadapt.evaluation.distances import DISTANCES
from viewadapt.evaluation.faiss_search import INDEXES
from viewadapt.evaluation.protocols import PROTOCOLS
from viewadapt.evaluation.rank import AP_DEFINITIONS
from viewadapt.evaluation.rescoring import RERANKERS

SEARCHES = ("dense", "faiss")


@dataclass
class EvalOptions:
    protocol: str = "single_shot"  # how probes and galleries are formed (single_shot: one gallery image per person)
    trials: int = 10  # single-shot galleries drawn, results averaged
    max_rank: int = 50  # the CMC curve's length
    batch_size: int = 128  # images embedded at once
    # cosine (the ranking of L2-normalised Euclidean distance), or euclidean
    distance: str = "cosine"
    ap: str = "step"  # or "trapezoid": the official Market-1501 MATLAB code's mAP
    rerank: str = "none"  # re-scoring of each probe's gallery before ranking
    rerank_topk: int = 20  # rerank=ds: how many of each probe's first matches Ds re-orders
    k1: int = 20  # k-reciprocal re-ranking's k1
    k2: int = 6  # k-reciprocal re-ranking's k2 (query expansion)
    kr_lambda: float = 0.3  # k-reciprocal re-ranking: weight of the original distance against the Jaccard one
    # "faiss": top-k search (all_gallery only): CMC to rank k, AP@k (pip install viewadapt[faiss])
    search: str = "dense"
    faiss_k: int = 100  # search=faiss: each probe's top k
    faiss_index: str = "flat"  # or "ivf" (approximate)
    # Test-time camera statistics: each view's batch norms re-estimated from that view's own images of
    # the split being scored (no labels read) before embedding it, as AdaBN and CBN do at test time
    camera_statistics: bool = False

    def check(self, key: str = "eval") -> None:
        """Every choice and range, each failure a :class:`ConfigError` naming ``key.field`` and what it accepts."""
        for name, choices in (("protocol", PROTOCOLS), ("distance", DISTANCES), ("ap", AP_DEFINITIONS),
                              ("rerank", RERANKERS), ("search", SEARCHES), ("faiss_index", INDEXES)):
            value = getattr(self, name)
            if value not in choices:
                raise ConfigError(f"{key}.{name} '{value}' is not one of: {', '.join(choices)}")
        for ok, message in (
            (self.trials >= 1 and self.max_rank >= 1, "trials and max_rank must be >= 1"),
            (self.batch_size >= 1, "batch_size must be >= 1"),
            (self.rerank_topk >= 1 and self.k1 >= 1 and self.k2 >= 1, "rerank_topk, k1 and k2 must be >= 1"),
            (0 <= self.kr_lambda <= 1, "kr_lambda must be in [0, 1]"),
            (self.faiss_k >= 1, "faiss_k must be >= 1"),
            (self.search == "dense" or (self.protocol == "all_gallery" and self.rerank == "none"),
             "search=faiss works with protocol=all_gallery and rerank=none only"),
        ):
            if not ok:
                raise ConfigError(f"{key}: {message}")
