"""The method's trainable parts together: the view mappings, stage (b)'s matcher, stage (c)'s domain term."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from viewadapt.models import Embedder, ViewMappings
from viewadapt.objectives.domain import DomainTerm
from viewadapt.objectives.matchers import Matcher


@dataclass
class Method:
    mappings: ViewMappings
    matcher: Matcher
    domain: DomainTerm

    def stored(self) -> dict[str, nn.Module]:
        """Every module a run saves, by the name its weights are stored under: ``mappings`` and each
        objective's own modules (``ds``, ``dd``, ``regressor``)."""
        parts = {"mappings": self.mappings}
        for owner in (self.matcher, self.domain):
            for name, module in owner.named_children():
                if name in parts:
                    raise ValueError(f"two parts of the method store weights under '{name}'")
                parts[name] = module
        return parts

    def embedder(self) -> Embedder:
        """What matching runs: each view's mapping and the matcher's view heads."""
        return Embedder(self.mappings, self.matcher.view_heads())

    def to(self, device: torch.device | str) -> "Method":
        for module in (self.mappings, self.matcher, self.domain):
            module.to(device)
        return self
