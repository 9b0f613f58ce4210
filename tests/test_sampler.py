"""SP batch sampler: every identity leads one batch, P identities x S images, both views present."""

from collections import Counter

import pytest

from viewadapt.data.sampler import SPBatchSampler
from viewadapt.errors import ConfigError


def _data(n_ids=10, per_view=3):
    pids, views = [], []
    for pid in range(n_ids):
        for view in (0, 1):
            pids += [pid] * per_view
            views += [view] * per_view
    return pids, views


@pytest.mark.parametrize("per_view", [1, 3])
def test_batches_follow_the_sp_scheme(per_view):
    pids, views = _data(10, per_view)
    sampler = SPBatchSampler(pids, views, p=4, s=4, seed=0)
    batches = list(sampler)
    assert len(batches) == len(sampler) == 10
    leaders = [pids[b[0]] for b in batches]
    assert sorted(leaders) == list(range(10))  # every identity leads exactly one batch
    for batch in batches:
        ids = Counter(pids[i] for i in batch)
        assert len(ids) == 4 and set(ids.values()) == {4}
        for pid in ids:
            vs = Counter(views[i] for i in batch if pids[i] == pid)
            assert vs[0] == 2 and vs[1] == 2  # both views: each probe anchor has a cross-view positive
        if per_view >= 2:
            assert len(set(batch)) == len(batch)  # without replacement when a view has enough images


def test_order_depends_only_on_seed_and_epoch():
    pids, views = _data()
    a, b = SPBatchSampler(pids, views, 3, 2, seed=5), SPBatchSampler(pids, views, 3, 2, seed=5)
    assert list(a) == list(b)
    a.set_epoch(1)
    assert list(a) != list(b)
    b.set_epoch(1)
    assert list(a) == list(b)


def test_identities_seen_in_one_view_only_are_left_out():
    pids, views = _data(5, 2)
    pids += [99, 99]
    views += [0, 0]
    sampler = SPBatchSampler(pids, views, 2, 2, seed=0)
    assert 99 not in sampler.ids and len(sampler) == 5


def test_bad_sizes_name_the_setting():
    pids, views = _data(3)
    with pytest.raises(ConfigError, match="train.batch_p"):
        SPBatchSampler(pids, views, p=4, s=2, seed=0)
    with pytest.raises(ConfigError, match="P >= 2"):
        SPBatchSampler(pids, views, p=1, s=2, seed=0)
