"""From a config's model, loss and dd sections to the method's parts."""

from __future__ import annotations

import torch

from viewadapt.config import Config
from viewadapt.models import ViewMappings
from viewadapt.objectives import DOMAIN_TERMS, MATCHERS, DiscriminatorOptions, MatcherOptions, Method


def build_method(cfg: Config) -> Method:
    """The view mappings, stage (b)'s matcher (``loss.metric``) and stage (c)'s domain term
    (``loss.adaptation``), built in this order (the order the random initialisation is drawn in)."""
    m = cfg.model
    mappings = ViewMappings.build(m.probe_backbone, m.gallery_backbone, m.embedding_dim, m.pretrained,
                                  m.allow_download, m.normalize, cfg.extra_backbones(), m.neck, m.view_asymmetry)
    if cfg.train.channels_last:  # 4-D weights only; their activations follow (every step and embedding)
        mappings.to(memory_format=torch.channels_last)
    dim = mappings.embedding_dim
    loss = cfg.loss
    matcher = MatcherOptions(m.ds_hidden, loss.margin, loss.gamma, loss.adaptive, loss.detach_weights,
                             loss.fewshot_scale, m.regressor_hidden)
    dd = cfg.dd
    discriminator = DiscriminatorOptions(dd.hidden, dd.input, dd.lr, dd.steps, dd.warmup)
    return Method(mappings, MATCHERS[loss.metric].create(dim, matcher),
                  DOMAIN_TERMS[loss.adaptation].create(dim, cfg.num_views, discriminator))
