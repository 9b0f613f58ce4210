"""Networks of the method: backbones, view mappings (Ms, Mt), discriminators (Ds, Dd)."""

from viewadapt.models.backbones import BACKBONES, build_backbone
from viewadapt.models.discriminators import SimilarityDiscriminator, ViewDiscriminator
from viewadapt.models.mapping import ViewMapping, ViewMappings

__all__ = [
    "BACKBONES",
    "build_backbone",
    "SimilarityDiscriminator",
    "ViewDiscriminator",
    "ViewMapping",
    "ViewMappings",
]
