"""How much of the network each view has of its own, as one value parsed once (``model.asymmetry``)."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Level(enum.Enum):
    """From the most a view owns to the least."""

    FULL = "full"  # a network each (the paper's Ms and Mt, which may be two different backbones)
    PARTIAL = "partial"  # the probe backbone's first K stages, the rest shared
    BN = "bn"  # its batch norms (running statistics and affine weights), every other weight shared
    STATS = "stats"  # its batch norms' running statistics only: camera-based batch norm, every weight shared
    NONE = "none"  # nothing: one network for every view (Siamese)


# The spellings model.asymmetry accepts (K >= 1 for partial)
ASYMMETRIES = ("full", "partial:K", "bn", "stats", "none")


@dataclass(frozen=True)
class Asymmetry:
    level: Level
    k: int = 0  # the stages each view owns, for PARTIAL

    @classmethod
    def parse(cls, text: str, shared: bool = False) -> "Asymmetry":
        """``full``, ``bn``, ``stats``, ``none``, ``partial:K``; ``shared`` (model.shared=true, the older
        spelling of ``none``) wins over a ``full`` it was written beside."""
        if shared:
            return cls(Level.NONE)
        kind, _, k = text.partition(":")
        level = next((lv for lv in Level if lv.value == kind), None)
        if level is not None and level is not Level.PARTIAL and not k:
            return cls(level)
        if level is Level.PARTIAL and k.isdigit() and int(k) >= 1:
            return cls(level, int(k))
        raise ValueError(f"unknown asymmetry '{text}': choose one of {', '.join(ASYMMETRIES)} (K >= 1)")

    def __str__(self) -> str:
        return f"{self.level.value}:{self.k}" if self.level is Level.PARTIAL else self.level.value

    @property
    def separate_networks(self) -> bool:
        """Each view has a network of its own, possibly another backbone."""
        return self.level is Level.FULL

    @property
    def one_network(self) -> bool:
        """One module serves every view (Siamese)."""
        return self.level is Level.NONE

    @property
    def one_start(self) -> bool:
        """Every view starts from the probe backbone's network (Siamese, or tied copies of it)."""
        return self.level is not Level.FULL

    @property
    def owns_batch_norms(self) -> bool:
        """What each view owns is its batch norms (with their affine weights, or their statistics only)."""
        return self.level in (Level.BN, Level.STATS)

    @property
    def statistics_only(self) -> bool:
        """The views share every weight and own only their batch norms' running statistics."""
        return self.level is Level.STATS
