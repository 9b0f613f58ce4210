"""Networks of the method: backbones, view mappings (Ms, Mt), discriminators (Ds, Dd), and
the model-regression baseline's regressor."""

from viewadapt.models.backbones import BACKBONES, build_backbone
from viewadapt.models.discriminators import SimilarityDiscriminator, ViewDiscriminator
from viewadapt.models.mapping import ViewMapping, ViewMappings
from viewadapt.models.regressor import ModelRegressor

__all__ = [
    "BACKBONES",
    "build_backbone",
    "SimilarityDiscriminator",
    "ViewDiscriminator",
    "ViewMapping",
    "ViewMappings",
    "ModelRegressor",
]
