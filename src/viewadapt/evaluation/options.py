"""How a split is scored: the settings every evaluation takes (also the ``eval`` config section's)."""

from __future__ import annotations

from dataclasses import dataclass

from viewadapt.declare import check_declared, setting
from viewadapt.errors import ConfigError
from viewadapt.evaluation.distances import DISTANCES
from viewadapt.evaluation.faiss_search import INDEXES
from viewadapt.evaluation.protocols import PROTOCOLS
from viewadapt.evaluation.rank import AP_DEFINITIONS
from viewadapt.evaluation.rescoring import RERANKERS

SEARCHES = ("dense", "faiss")


@dataclass
class EvalOptions:
    protocol: str = setting("single_shot", choices=PROTOCOLS)  # how probes and galleries are formed (single_shot: one gallery image per person)
    trials: int = setting(10, low=1)  # single-shot galleries drawn, results averaged
    max_rank: int = setting(50, low=1)  # the CMC curve's length
    batch_size: int = setting(128, low=1)  # images embedded at once
    # cosine (the ranking of L2-normalised Euclidean distance), or euclidean
    distance: str = setting("cosine", choices=DISTANCES)
    ap: str = setting("step", choices=AP_DEFINITIONS)  # or "trapezoid": the official Market-1501 MATLAB code's mAP
    rerank: str = setting("none", choices=RERANKERS)  # re-scoring of each probe's gallery before ranking
    rerank_topk: int = setting(20, low=1)  # rerank=ds: how many of each probe's first matches Ds re-orders
    k1: int = setting(20, low=1)  # k-reciprocal re-ranking's k1
    k2: int = setting(6, low=1)  # k-reciprocal re-ranking's k2 (query expansion)
    kr_lambda: float = setting(0.3, low=0, high=1)  # k-reciprocal re-ranking: weight of the original distance against the Jaccard one
    # "faiss": top-k search (all_gallery only): CMC to rank k, AP@k (pip install viewadapt[faiss])
    search: str = setting("dense", choices=SEARCHES)
    faiss_k: int = setting(100, low=1)  # search=faiss: each probe's top k
    faiss_index: str = setting("flat", choices=INDEXES)  # or "ivf" (approximate)
    # Test-time camera statistics: each view's batch norms re-estimated from that view's own images of
    # the split being scored (no labels read) before embedding it, as AdaBN and CBN do at test time
    camera_statistics: bool = False

    def check(self, key: str = "eval") -> None:
        """Every choice and range (the fields' declarations), and what relates them; each failure a
        :class:`ConfigError` naming ``key.field`` and what it accepts."""
        check_declared(self, f"{key}.")
        if not (self.search == "dense" or (self.protocol == "all_gallery" and self.rerank == "none")):
            raise ConfigError(f"{key}: search=faiss works with protocol=all_gallery and rerank=none only")
