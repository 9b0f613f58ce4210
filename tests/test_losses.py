"""Each loss against a value worked by hand, plus the properties the method relies on."""

import math

import pytest
import torch

from viewadapt.losses import (
    adaptive_similarity_loss,
    adaptive_weights,
    pair_distances,
    pair_masks,
    similarity_loss,
    view_confusion_loss,
    view_discriminator_loss,
)

LN3 = math.log(3.0)


def test_eq1_view_discriminator_hand_value():
    # probe logits (0, 0): Dd(e_s) = 1/2 -> -log(1/2) = 0.693147
    # gallery logits (0, ln 3): 1 - Dd(e_t) = 3/4 -> -log(3/4) = 0.287682
    probe = torch.tensor([[0.0, 0.0]])
    gallery = torch.tensor([[0.0, LN3]])
    assert view_discriminator_loss([probe, gallery]).item() == pytest.approx(0.693147 + 0.287682, abs=1e-5)


def test_eq1_matches_printed_two_view_form():
    torch.manual_seed(0)
    probe, gallery = torch.randn(5, 2), torch.randn(7, 2)
    dd_s = probe.softmax(1)[:, 0]
    dd_t = gallery.softmax(1)[:, 0]
    printed = -dd_s.log().mean() - (1 - dd_t).log().mean()
    assert view_discriminator_loss([probe, gallery]).item() == pytest.approx(printed.item(), rel=1e-5)


def test_eq3_view_confusion_hand_value():
    # logits (0, ln 3): log-softmax = (log 1/4, log 3/4); -(1/2)(-1.386294 - 0.287682) = 0.836988 per view
    logits = torch.tensor([[0.0, LN3]])
    assert view_confusion_loss([logits, logits]).item() == pytest.approx(2 * 0.836988, abs=1e-5)


@pytest.mark.parametrize("views", [2, 3])
def test_eq3_minimal_at_uniform_output(views):
    uniform = [torch.zeros(4, views) for _ in range(views)]
    minimum = view_confusion_loss(uniform).item()
    assert minimum == pytest.approx(views * math.log(views), abs=1e-6)  # log V per view
    torch.manual_seed(views)
    for _ in range(20):
        other = [torch.randn(4, views) for _ in range(views)]
        assert view_confusion_loss(other).item() > minimum


def test_eq2_similarity_hand_value():
    logits = torch.tensor([0.0, LN3, 0.0])
    dist = torch.tensor([0.5, 1.5, 3.0])
    same = torch.tensor([True, False, False])
    # BCE: log 2 (y=1, p=1/2), log 4 (y=0, p=3/4), log 2 (y=0, p=1/2) -> mean 0.924196
    # contrastive: 0.5^2, (2-1.5)^2, max(0, 2-3)^2 = 0.25, 0.25, 0 -> mean 0.166667, times 2.5
    expected = (math.log(2) + math.log(4) + math.log(2)) / 3 + 2.5 * 0.5 / 3
    assert expected == pytest.approx(1.340863, abs=1e-6)
    assert similarity_loss(logits, dist, same, margin=2.0, gamma=2.5).item() == pytest.approx(expected, abs=1e-5)


def test_pair_distances_are_euclidean():
    a = torch.tensor([[0.0, 0.0], [1.0, 1.0]])
    b = torch.tensor([[3.0, 4.0]])
    assert pair_distances(a, b).squeeze(1).tolist() == pytest.approx([5.0, math.sqrt(13)], abs=1e-5)


def test_eq6_weights_hand_value():
    dist = torch.tensor([[1.0, 2.0, 0.5, 3.0]])
    pos = torch.tensor([[True, True, False, False]])
    w_p, w_n = adaptive_weights(dist, pos, ~pos)
    # soft-max over positives: e^1, e^2 normalised; soft-min over negatives: e^-0.5, e^-3 normalised
    assert w_p.tolist()[0] == pytest.approx([0.268941, 0.731059, 0, 0], abs=1e-5)
    assert w_n.tolist()[0] == pytest.approx([0, 0, 0.924142, 0.075858], abs=1e-5)


def test_eq6_weights_sum_to_one_per_anchor_and_favour_hard_pairs():
    torch.manual_seed(1)
    dist = torch.rand(6, 10) * 3
    pids_a, pids_c = torch.tensor([0, 1, 2, 0, 1, 2]), torch.arange(10) % 3
    pos, neg = pair_masks(pids_a, pids_c)
    w_p, w_n = adaptive_weights(dist, pos, neg)
    assert torch.allclose(w_p.sum(1), torch.ones(6)) and torch.allclose(w_n.sum(1), torch.ones(6))
    assert (w_p[~pos] == 0).all() and (w_n[~neg] == 0).all()
    for i in range(6):  # the farthest positive and the closest negative weigh most
        assert w_p[i].argmax() == torch.where(pos[i], dist[i], -1.0).argmax()
        assert w_n[i].argmax() == torch.where(neg[i], dist[i], 99.0).argmin()


def test_eq5_adaptive_hand_value():
    dist = torch.tensor([[1.0, 2.0, 0.5, 3.0]])
    pos = torch.tensor([[True, True, False, False]])
    logits = torch.zeros(1, 4)
    # BCE = log 2; d_p = 0.268941*1 + 0.731059*2 = 1.731059; d_n = 0.924142*0.5 + 0.075858*3 = 0.689645
    # 0.693147 + 2.5 * (1.731059^2 + (2 - 0.689645)^2) = 12.477129
    loss = adaptive_similarity_loss(logits, dist, pos, ~pos, margin=2.0, gamma=2.5)
    assert loss.item() == pytest.approx(12.477129, abs=1e-4)


def test_anchor_is_never_its_own_positive():
    pids = torch.tensor([0, 0, 1, 1])
    pos, neg = pair_masks(pids, pids, same_items=True)
    assert not pos.diagonal().any() and not neg.diagonal().any()
    assert pos.tolist() == [[False, True, False, False], [True, False, False, False],
                            [False, False, False, True], [False, False, True, False]]
    # Self-pairs at distance 0 must not pull the weighted positive distance down.
    emb = torch.tensor([[0.0], [1.0], [5.0], [7.0]])
    dist = pair_distances(emb, emb)
    loss = adaptive_similarity_loss(torch.zeros(4, 4), dist, pos, neg, margin=2.0, gamma=1.0)
    # positives: 1, 1, 2, 2 -> mean of squares 2.5; nearest negatives 4 and 4, 4 and 6 are past the margin
    assert loss.item() == pytest.approx(math.log(2) + 2.5, abs=1e-3)


def test_detached_weights_change_only_the_gradient():
    dist = torch.tensor([[1.0, 2.0, 0.5, 3.0]], requires_grad=True)
    pos = torch.tensor([[True, True, False, False]])
    logits = torch.zeros(1, 4)
    a = adaptive_similarity_loss(logits, dist, pos, ~pos, detach_weights=False)
    (g_live,) = torch.autograd.grad(a, dist)
    b = adaptive_similarity_loss(logits, dist, pos, ~pos, detach_weights=True)
    (g_fixed,) = torch.autograd.grad(b, dist)
    assert a.item() == pytest.approx(b.item())
    # With constant weights, d/dd_p gamma (sum w d)^2 = gamma * 2 * d_pos * w_p.
    assert g_fixed[0, :2].tolist() == pytest.approx([2.5 * 2 * 1.731059 * 0.268941, 2.5 * 2 * 1.731059 * 0.731059],
                                                    abs=1e-4)
    assert not torch.allclose(g_live, g_fixed)


def test_mk_mmd_hand_value_and_properties():
    from viewadapt.losses import mk_mmd

    # one point each at 0 and 1: k = exp(-d^2 / b0), b0 = mean off-diagonal d^2 = 1 -> 2 - 2/e
    x, y = torch.tensor([[0.0]]), torch.tensor([[1.0]])
    assert mk_mmd(x, y, scales=(1.0,)).item() == pytest.approx(2 - 2 / math.e, abs=1e-6)
    assert mk_mmd(x, y, scales=(1.0,), bandwidth=2.0).item() == pytest.approx(2 - 2 * math.exp(-0.5), abs=1e-6)
    torch.manual_seed(0)
    a = torch.randn(40, 4)
    assert abs(mk_mmd(a, a.clone()).item()) < 1e-6
    near, far = mk_mmd(a, torch.randn(40, 4) + 0.5), mk_mmd(a, torch.randn(40, 4) + 3.0)
    assert 0 < near.item() < far.item()


def test_coral_hand_value_and_properties():
    from viewadapt.losses import coral

    # covariances [[2, 0], [0, 0]] and [[0, 0], [0, 2]]: ||diff||_F^2 = 8, over 4 d^2 = 16
    x, y = torch.tensor([[0.0, 0.0], [2.0, 0.0]]), torch.tensor([[0.0, 0.0], [0.0, 2.0]])
    assert coral(x, y).item() == pytest.approx(0.5)
    torch.manual_seed(0)
    a = torch.randn(50, 4)
    assert coral(a, a + 3.0).item() == pytest.approx(0.0, abs=1e-6)  # a shift alone leaves covariances equal
    assert coral(a, 3.0 * a).item() > coral(a, 1.5 * a).item() > 0


def test_reverse_gradient_is_the_identity_forward_and_negates_the_gradient_backward():
    from viewadapt.losses import reverse_gradient

    x = torch.tensor([1.0, -2.0, 3.0], requires_grad=True)
    y = reverse_gradient(x, 0.5)
    assert torch.equal(y, x)
    (y * torch.tensor([1.0, 2.0, 3.0])).sum().backward()
    assert torch.equal(x.grad, torch.tensor([-0.5, -1.0, -1.5]))


def test_adda_loss_labels_gallery_embeddings_as_the_probe_view():
    from viewadapt.losses import adda_mapping_loss

    # logits (ln 3, 0): p(probe) = 3/4 -> -log(3/4) = 0.287682
    assert adda_mapping_loss(torch.tensor([[LN3, 0.0]])).item() == pytest.approx(0.287682, abs=1e-5)
    assert adda_mapping_loss(torch.tensor([[0.0, 0.0, LN3]]), probe_view=2).item() == pytest.approx(
        -math.log(3 / 5), abs=1e-5)


def test_matching_loss_hand_value_sums_attention_over_a_class():
    from viewadapt.losses import matching_loss

    query = torch.tensor([[2.0, 0.0], [0.0, 1.0]])
    support = torch.tensor([[1.0, 0.0], [0.0, 3.0], [-1.0, 0.0]])
    # cosines of the first query 1, 0, -1; its class 0 holds supports 1 and 3.
    # The second query's identity (2) has no support image: it is left out.
    loss = matching_loss(query, support, torch.tensor([0, 2]), torch.tensor([0, 1, 0]), scale=1.0)
    e = math.e
    assert loss.item() == pytest.approx(-math.log((e + 1 / e) / (e + 1 + 1 / e)), abs=1e-6)
    sharper = matching_loss(query, support, torch.tensor([0, 2]), torch.tensor([0, 1, 0]), scale=10.0)
    assert sharper.item() < loss.item()  # the support of its own class is the nearest: more confident
    assert matching_loss(query, support, torch.tensor([5, 6]), torch.tensor([0, 1, 0])).item() == 0.0


def test_model_regression_loss_hand_value():
    from viewadapt.losses import class_prototypes, model_regression_loss

    emb = torch.tensor([[3.0, 4.0], [0.0, 2.0], [1.0, 0.0]])
    labels = torch.tensor([7, 7, 2])
    protos, classes = class_prototypes(emb, labels)
    assert classes.tolist() == [2, 7]
    assert protos[1].tolist() == pytest.approx([0.6 / math.sqrt(3.6), 1.8 / math.sqrt(3.6)])
    regressed = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    loss = model_regression_loss(regressed, torch.tensor([7, 2]), emb, labels)
    expected = ((1 - 0.6 / math.sqrt(3.6)) ** 2 + 3.24 / 3.6 + 2.0) / 2
    assert loss.item() == pytest.approx(expected, abs=1e-6)
    with pytest.raises(ValueError, match="large-sample"):
        model_regression_loss(regressed, torch.tensor([7, 9]), emb, labels)
