"""The objectives as modules: registries by name, what each owns and stores, what each adds to matching."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from viewadapt.errors import ConfigError
from viewadapt.models import ModelRegressor, ViewMappings
from viewadapt.objectives import (
    DOMAIN_TERMS,
    MATCHERS,
    DomainTerm,
    Method,
    ModelRegression,
    NoAdaptation,
    SimilarityMatcher,
    ViewConfusion,
)
from viewadapt.objectives.domain import ViewDiscriminatorTerm


def test_model_regressor_starts_as_the_identity_and_follows_the_probe_view_only():
    torch.manual_seed(0)
    w = torch.randn(5, 8)
    assert torch.allclose(ModelRegressor(8, (16,))(w), F.normalize(w, dim=1))
    method = Method(ViewMappings.build("vggm_small", "vggm_small", 8, pretrained=False, normalize=True, asymmetry="none"),
                    ModelRegression(8, [16]), NoAdaptation())
    regressor = method.matcher.regressor
    torch.nn.init.normal_(regressor.net[-1].weight)
    mappings = method.embedder().eval()
    images = torch.rand(3, 3, 64, 32)
    plain = method.mappings.probe(images)
    assert torch.allclose(mappings(images, 1), plain)  # gallery: the shared network alone
    assert torch.allclose(mappings(images, 0), regressor(plain))  # probe: its regressed classifier
    assert not torch.allclose(mappings(images, 0), plain)
    # The regressor's weights are stored once, under their own name.
    stored = [f"{k}.{n}" for k, m in method.stored().items() for n in m.state_dict()]
    assert sum(k.startswith("regressor.") for k in stored) == 4
    assert not method.embedder().one_network and not any(k.startswith("mappings.regressor") for k in stored)


def test_each_objective_stores_what_it_owns_under_the_names_of_a_weights_file():
    mappings = ViewMappings.build("vggm_small", "dnet_small", 8, pretrained=False)
    method = Method(mappings, SimilarityMatcher(8, (16, 16)), ViewConfusion(8, 2, 8))
    assert list(method.stored()) == ["mappings", "ds", "dd"]
    assert method.matcher.pair_scorer() is method.matcher.ds and method.domain.adversarial
    assert list(Method(mappings, MATCHERS["matching"](), DOMAIN_TERMS["mmd"]()).stored()) == ["mappings"]


def test_registries_name_the_valid_entries():
    assert {"ds", "matching", "regression"} <= set(MATCHERS)  # the paper's and Fig. 6's
    assert {"confusion", "mmd", "adda", "none"} <= set(DOMAIN_TERMS)  # Eq. 3, Table VII's, the ablation
    with pytest.raises(ConfigError, match=f"unknown domain term 'dan': choose one of {', '.join(DOMAIN_TERMS)}$"):
        DOMAIN_TERMS["dan"]
    with pytest.raises(ConfigError, match=f"loss.metric 'triplet' is unknown: choose one of {', '.join(MATCHERS)}$"):
        MATCHERS.check("triplet", "loss.metric")


def test_dann_hands_dd_the_gradient_of_eq1_and_the_embeddings_its_opposite():
    from viewadapt.losses import view_discriminator_loss
    from viewadapt.objectives.batch import ViewBatch

    torch.manual_seed(0)
    term = DOMAIN_TERMS["dann"](4, 2, 8)
    e_s, e_t = torch.randn(6, 4, requires_grad=True), torch.randn(6, 4, requires_grad=True)
    term.mapping_loss(ViewBatch(e_s, e_t, torch.zeros(6), torch.zeros(6))).backward()
    plain_s, plain_t = e_s.detach().requires_grad_(), e_t.detach().requires_grad_()
    dd = [p.grad.clone() for p in term.dd.parameters()]
    term.zero_grad()
    view_discriminator_loss([term.dd(plain_s), term.dd(plain_t)], (0, 1)).backward()
    assert all(torch.allclose(a, p.grad) for a, p in zip(dd, term.dd.parameters()))  # Dd: Eq. 1 as it is
    assert torch.allclose(e_s.grad, -plain_s.grad) and torch.allclose(e_t.grad, -plain_t.grad)  # reversed


def test_embedded_batches_carry_the_feature_before_the_neck_batch_norm_beside_the_embedding():
    from viewadapt.objectives import embed_views

    torch.manual_seed(0)
    images, pids, views = torch.rand(4, 3, 64, 32), torch.tensor([0, 0, 1, 1]), torch.tensor([0, 1, 0, 1])
    for asymmetry in ("none", "full"):
        mappings = ViewMappings.build("vggm_small", "vggm_small", 8, pretrained=False, normalize=True, neck="bnneck",
                                      asymmetry=asymmetry).eval()
        batch = embed_views(mappings, images, pids, views)
        for view, (f, e) in enumerate(((batch.f_s, batch.e_s), (batch.f_t, batch.e_t))):
            feat, emb = mappings.mapping(view).forward_train(images[views == view])
            assert torch.allclose(f, feat) and torch.allclose(e, emb)
        assert not torch.allclose(batch.f_s, batch.e_s)  # batch norm and L2 normalisation come after
        assert batch.fixed_probe_side().f_s.requires_grad is False and batch.float().f_t.dtype == torch.float32


@pytest.mark.parametrize("name", [n for n, term in DOMAIN_TERMS.items() if issubclass(term, ViewDiscriminatorTerm)])
def test_a_view_discriminator_on_the_feature_sees_and_moves_the_feature_not_the_embedding(name):
    from viewadapt.objectives.batch import ViewBatch

    torch.manual_seed(0)
    term = DOMAIN_TERMS[name](4, 2, 8, on="feature")
    e_s, e_t, f_s, f_t = (torch.randn(6, 4, requires_grad=True) for _ in range(4))
    batch = ViewBatch(e_s, e_t, torch.zeros(6), torch.zeros(6), f_s=f_s, f_t=f_t)
    term.mapping_loss(term.mapping_batch(batch)).backward()
    assert e_s.grad is None and e_t.grad is None
    assert f_t.grad is not None and f_t.grad.abs().sum() > 0
    probe_fixed = type(term).mapping_batch is not DomainTerm.mapping_batch  # ADDA's: its probe side as constants
    assert (f_s.grad is None) == probe_fixed
    if term.adversarial:  # Dd's own update (Eq. 1) learns the views from the features too
        on_embedding = DOMAIN_TERMS[name](4, 2, 8)
        on_embedding.dd.load_state_dict(term.dd.state_dict())
        features_as_embeddings = ViewBatch(f_s, f_t, torch.zeros(6), torch.zeros(6))
        loss = term.discriminator_loss(batch)[0]
        assert torch.allclose(loss, on_embedding.discriminator_loss(features_as_embeddings)[0])
        assert not torch.allclose(loss, on_embedding.discriminator_loss(batch)[0])
    with pytest.raises(ValueError, match="without the features"):
        term.mapping_loss(ViewBatch(e_s, e_t, torch.zeros(6), torch.zeros(6)))
    with pytest.raises(ValueError, match="choose one of embedding, feature"):
        DOMAIN_TERMS[name](4, 2, 8, on="pooled")


def test_unlabelled_images_count_in_the_view_term_and_never_in_the_matchers_loss():
    from viewadapt.objectives import adaptation_objective
    from viewadapt.objectives.batch import ViewBatch

    torch.manual_seed(0)
    matcher, term = SimilarityMatcher(4, (8, 8)), ViewConfusion(4, 2, 8)
    e_s, e_t, extra = torch.randn(4, 4), torch.randn(4, 4), torch.randn(3, 4)
    pids = torch.tensor([0, 0, 1, 1])
    labelled = ViewBatch(e_s, e_t, pids, pids)
    joined = ViewBatch(e_s, torch.cat([e_t, extra]), pids, torch.cat([pids, torch.full((3,), -1)]))
    assert labelled.labeled() is labelled
    assert torch.equal(joined.labeled().e_t, e_t) and joined.labeled().pid_t.tolist() == [0, 0, 1, 1]
    total_l, term_l, sim_l = adaptation_objective(labelled, term, matcher, lambda_sim=1.0)
    total_j, term_j, sim_j = adaptation_objective(joined, term, matcher, lambda_sim=1.0)
    assert torch.equal(sim_j, sim_l)  # Eq. 5 on the labelled pairs only
    assert not torch.allclose(term_j, term_l)  # Eq. 3 over every gallery image, unlabelled ones too
    logits = term.dd(torch.cat([e_t, extra]))
    assert torch.allclose(term_j - term_l, -F.log_softmax(logits, 1).mean() + F.log_softmax(term.dd(e_t), 1).mean(),
                          atol=1e-6)
    assert term.discriminator_loss(joined)[0] != term.discriminator_loss(labelled)[0]
