"""Networks of the method: backbones, view mappings (Ms, Mt), discriminators (Ds, Dd), the model-regression
baseline's regressor T, and the embedder a trained run matches with."""

from viewadapt.models.asymmetry import ASYMMETRIES, Asymmetry, Level
from viewadapt.models.backbones import BACKBONES, build_backbone
from viewadapt.models.discriminators import SimilarityDiscriminator, ViewDiscriminator
from viewadapt.models.embedder import Embedder
from viewadapt.models.mapping import ViewMapping, ViewMappings
from viewadapt.models.regressor import ModelRegressor

__all__ = [
    "ASYMMETRIES",
    "Asymmetry",
    "Level",
    "BACKBONES",
    "build_backbone",
    "Embedder",
    "SimilarityDiscriminator",
    "ViewDiscriminator",
    "ViewMapping",
    "ViewMappings",
    "ModelRegressor",
]
