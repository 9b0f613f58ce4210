"""People nobody labelled: the sparse k-reciprocal Jaccard graph and DBSCAN over it (against hand-worked
cases and a brute-force reference), the cluster rule (labelled people keep their identity, new people get
new ones, one camera's cluster and noise are left out), unlabelled crops from every camera, and the
new-people regime trained end to end."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from scipy import sparse

from viewadapt.config import ClusterConfig, SelfTrainingConfig, load_config
from viewadapt.errors import DataError
from viewadapt.training.clustering import NOISE, dbscan, jaccard_graph, nearest, reciprocal_weights, unit
from viewadapt.training.pseudo_labels import LEFT_OUT, PSEUDO_LABELS, Embedded


def test_dbscan_on_a_hand_worked_graph():
    """Nodes 0-1-2 within eps of each other (cores with min_samples 3), node 3 within eps of 2 only (a
    border: it joins 2's cluster), node 4 alone (noise), nodes 5-6-7 a second cluster; 2-5 too far."""
    edges = {(0, 1): 0.1, (1, 2): 0.2, (0, 2): 0.3, (2, 3): 0.4, (2, 5): 0.9, (5, 6): 0.1, (6, 7): 0.1, (5, 7): 0.2,
             (3, 4): 0.95}
    rows, cols, vals = zip(*[(i, j, d) for (i, j), d in edges.items()] + [(j, i, d) for (i, j), d in edges.items()])
    graph = sparse.csr_matrix((vals, (rows, cols)), shape=(8, 8))
    labels = dbscan(graph, eps=0.5, min_samples=3)
    assert labels[0] == labels[1] == labels[2] == labels[3] != NOISE
    assert labels[5] == labels[6] == labels[7] != NOISE and labels[5] != labels[0]
    assert labels[4] == NOISE
    assert list(dbscan(graph, eps=0.5, min_samples=5)) == [NOISE] * 8  # nobody has 5 neighbours


def _dense_jaccard(x: np.ndarray, k1: int, k2: int) -> np.ndarray:
    """Zhong et al.'s k-reciprocal Jaccard distance by brute force over every pair (tiny data only)."""
    u = unit(x)
    nn, _ = nearest(u, k1 + 1)
    v = reciprocal_weights(u, nn, k1, k2).toarray()
    n = len(x)
    d = np.ones((n, n))
    for i in range(n):
        for j in range(n):
            m = np.minimum(v[i], v[j]).sum()
            d[i, j] = 1 - m / (2 - m)
    return d


def test_the_sparse_jaccard_graph_is_the_brute_force_distance_on_its_stored_pairs():
    rng = np.random.default_rng(0)
    x = np.concatenate([c + 0.3 * rng.normal(size=(6, 16)) for c in rng.normal(size=(5, 16))])
    graph = jaccard_graph(x, k1=6, k2=3).tocoo()
    dense = _dense_jaccard(x, 6, 3)
    assert graph.nnz > len(x) * 3 and (graph.row != graph.col).all()
    assert np.allclose(graph.data, dense[graph.row, graph.col], atol=1e-5)
    assert np.allclose(graph.toarray(), graph.toarray().T)  # stored both ways, the same distance


def test_clusters_find_the_people_of_well_separated_groups():
    rng = np.random.default_rng(1)
    centres = rng.normal(size=(20, 32))
    x = np.concatenate([c + 0.3 * rng.normal(size=(6, 32)) for c in centres])
    labels = dbscan(jaccard_graph(x, k1=10, k2=4), eps=0.6, min_samples=3)
    truth = np.repeat(np.arange(20), 6)
    found = [set(truth[labels == c]) for c in set(labels) - {NOISE}]
    assert len(found) == 20 and all(len(f) == 1 for f in found)


def _groups(rng: np.random.Generator, centres: np.ndarray, per: int, views: tuple[int, ...]) -> tuple:
    x = np.concatenate([c + 0.2 * rng.normal(size=(per, c.shape[0])) for c in centres])
    v = np.tile(np.resize(views, per), len(centres))
    return x, v


def test_the_cluster_rule_keeps_labelled_people_names_new_ones_and_leaves_one_camera_out():
    """Two labelled people (ids 7, 9) with unlabelled crops of theirs; two new people seen by both cameras;
    one new person that one camera alone saw; and scattered crops no cluster takes."""
    rng = np.random.default_rng(2)
    centres = rng.normal(size=(5, 32)) * 3
    lab_x, lab_v = _groups(rng, centres[:2], 4, (0, 1))
    pids = np.repeat([7, 9], 4)
    same_x, same_v = _groups(rng, centres[:2], 4, (0, 1))
    new_x, new_v = _groups(rng, centres[2:4], 8, (0, 1))
    lone_x, lone_v = _groups(rng, centres[4:], 8, (1,))
    noise = rng.normal(size=(4, 32)) * 10  # far from everyone and from each other
    unl = np.concatenate([same_x, new_x, lone_x, noise])
    views = np.concatenate([same_v, new_v, lone_v, np.zeros(4, int)])
    settings = SelfTrainingConfig()
    settings.cluster.k1, settings.cluster.k2, settings.cluster.min_samples, settings.cluster.eps = 5, 2, 3, 0.6
    got = PSEUDO_LABELS["cluster"].assign(Embedded(lab_x, pids, lab_v, unl, views), settings, 0)
    assert list(got[:4]) == [7] * 4 and list(got[4:8]) == [9] * 4
    new = got[8:24]
    assert len(set(new[:8])) == 1 and len(set(new[8:])) == 1 and new[0] != new[8] and min(new) > 9
    assert list(got[24:32]) == [LEFT_OUT] * 8  # one camera alone: no cross-camera identity
    assert list(got[32:]) == [LEFT_OUT] * 4
    settings.cluster.cameras = False
    alone = PSEUDO_LABELS["cluster"].assign(Embedded(lab_x, pids, lab_v, unl, views), settings, 0)
    assert len(set(alone[24:32])) == 1 and alone[24] not in (LEFT_OUT, 7, 9)


def test_the_neighbourhood_scales_to_a_persons_images_in_every_camera_unless_given():
    from viewadapt.training.pseudo_labels import EVERY_CAMERA, LABELLED, neighbourhood

    assert ClusterConfig().k1 == EVERY_CAMERA
    pids = np.array([1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3])  # 4, 6 and 5 images: median 5
    both = np.array([0, 0, 1, 1, 0, 0, 0, 1, 1, 1, 0, 0, 0, 1, 1])  # each person labelled in both cameras
    for rule in (EVERY_CAMERA, LABELLED):  # the two agree where everyone is labelled in every camera
        assert neighbourhood(rule, 0, pids, both, 2) == (5, 2) and neighbourhood(rule, 3, pids, both, 2) == (5, 3)
    assert neighbourhood(30, 6, pids, both, 2) == (30, 6)
    # labelled in camera 0 alone (a new camera without labels): each person's 4, 6 and 5 images are one
    # camera's worth, so over two cameras 8, 12 and 10: median 10; over three, 15. LABELLED stays at 5
    one = np.zeros(len(pids), int)
    assert neighbourhood(EVERY_CAMERA, 0, pids, one, 2) == (10, 5)
    assert neighbourhood(EVERY_CAMERA, 0, pids, one, 3) == (15, 7)
    assert neighbourhood(LABELLED, 0, pids, one, 2) == (5, 2)
    # person 1 in both cameras (4), 2 and 3 in one (12, 10): median 10
    assert neighbourhood(EVERY_CAMERA, 0, pids, np.where(pids == 1, both, 0), 2) == (10, 5)
    for rule in (EVERY_CAMERA, LABELLED):
        assert neighbourhood(rule, 0, np.array([4, 5, 6]), np.zeros(3, int), 1) == (2, 1)  # never below a pair
        assert neighbourhood(rule, 0, np.array([], int), np.array([], int), 2) == (2, 1)  # nobody labelled


def test_the_defaults_find_people_of_a_few_images_where_spcls_settings_merge_them():
    """40 people of 4 images each over two cameras, 8 of them labelled: the defaults (k1 from the labelled
    people's images) name most of the others in pure clusters; SpCL's (k1 30, eps 0.6, min_samples 4, made
    for 17+ images a person) let each reciprocal set span several people and merge them."""
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(40, 32))
    x, v = _groups(rng, centres, 4, (0, 1))
    x = x + 0.25 * rng.normal(size=x.shape)
    people = np.repeat(np.arange(40), 4)
    lab, unl = people < 8, people >= 8
    data = Embedded(x[lab], people[lab], v[lab], x[unl], v[unl])

    def found(**cluster) -> tuple[int, float]:
        settings = SelfTrainingConfig()
        for key, value in cluster.items():
            setattr(settings.cluster, key, value)
        got = PSEUDO_LABELS["cluster"].assign(data, settings, 0)
        truth = people[unl]
        named = [truth[got == c] for c in np.unique(got[got >= 8])]  # new people: ids after the labelled 0-7
        pure = sum(np.bincount(t).max() for t in named) / max(1, sum(len(t) for t in named))
        return len(named), pure

    clusters, purity = found()
    assert clusters >= 24 and purity >= 0.9  # of the 32 unlabelled people
    spcl_clusters, spcl_purity = found(k1=30, k2=6, eps=0.6, min_samples=4)
    assert spcl_clusters < clusters and spcl_purity < purity


def test_labeled_people_hides_every_image_of_the_others_in_every_camera(tiny_config):
    from viewadapt.builders import create_trainer

    trainer = create_trainer(tiny_config("data.labeled_people=4", "model.asymmetry=stats",
                                         "train.adaptation.enabled=false", "name=people"), verbose=False)
    labelled = {r.pid for r in trainer.train_set.records}
    unlabelled = trainer.stages[-1].ctx.unlabeled_set.records
    assert len(labelled) == 4 and {r.view for r in trainer.train_set.records} == {0, 1}
    assert {r.view for r in unlabelled} == {0, 1} and not labelled & {r.pid for r in unlabelled}
    assert len({r.pid for r in unlabelled}) == 4  # C_train's other four people, in both cameras
    trainer.close()
    with pytest.raises(Exception, match="data.labeled_people and data.labeled_pairs both hide labels"):
        load_config(None, ["data.labeled_people=16", "data.labeled_pairs=16"])


@pytest.fixture(scope="module")
def forty_people(tmp_path_factory):
    """Enough people for the regime's 34 labelled ones beside unlabelled ones (C_train 40)."""
    from viewadapt.data.synthetic import SyntheticSpec, generate

    return generate(tmp_path_factory.mktemp("forty"), SyntheticSpec(num_identities=50, images_per_view=2, seed=5),
                    64, 32)


@pytest.mark.parametrize("rule", ["mutual", "cluster"])
def test_the_new_people_regime_trains_with_either_rule(rule, forty_people, tmp_path):
    from conftest import tiny_overrides
    from viewadapt.experiments.runner import run_experiment

    fast = tiny_overrides(forty_people, tmp_path / "unused") + [
        "data.dataset=folder", "data.num_train=40", "data.num_valid=4", "data.num_test=6", "train.init.epochs=1",
        "train.similarity.epochs=1", "train.self_training.epochs=1", "train.self_training.cluster.k1=4",
        "train.self_training.cluster.min_samples=2"]
    key = "stats_self" if rule == "mutual" else "stats_cluster"
    path = run_experiment("new_people", None, fast, seeds=1, out=tmp_path / "exp", methods=["siamese", key])
    table = path.read_text()
    assert f"(`{key}`)" in table and "setting: data.labeled_people=34" in table


def test_unlabelled_crops_from_every_camera_take_their_cameras_views(tiny_synthetic, tmp_path):
    """A folder per camera: each camera's crops join its own view; a folder named after no camera, next to
    camera folders, is refused; loose crops keep meaning the gallery camera."""
    from viewadapt.builders import prepare_split

    data = tmp_path / "cams"
    for cam in ("cam_a", "cam_b"):
        shutil.copytree(tiny_synthetic / cam, data / cam)
    crops = tmp_path / "week"
    for cam in ("cam_a", "cam_b"):
        (crops / cam).mkdir(parents=True)
        for i, img in enumerate(sorted((tiny_synthetic / cam).rglob("*.jpg"))[:3]):
            shutil.copy(img, crops / cam / f"{i}.jpg")
    cfg = load_config(None, ["data.dataset=folder", f"data.root={data}", f"data.unlabeled_root={crops}",
                             "data.num_train=8", "data.num_valid=4", "data.num_test=4", "data.height=64",
                             "data.width=32"])
    _, split = prepare_split(cfg.data)
    assert sorted((r.view, r.path.split("/")[-2]) for r in split.unlabeled) == [(0, "cam_a")] * 3 + [(1, "cam_b")] * 3
    (crops / "garage").mkdir()
    with pytest.raises(DataError, match="garage is no camera of .*give a new camera a view of its own"):
        prepare_split(cfg.data)
    shutil.rmtree(crops / "garage")
    loose = tmp_path / "loose"
    shutil.copytree(crops / "cam_a", loose / "2026-12-01")
    _, split = prepare_split(load_config(None, [*(f"{k}" for k in (
        "data.dataset=folder", f"data.root={data}", f"data.unlabeled_root={loose}", "data.num_train=8",
        "data.num_valid=4", "data.num_test=4"))]).data)
    assert {r.view for r in split.unlabeled} == {1} and len(split.unlabeled) == 3


def test_a_new_camera_with_only_unlabelled_crops_gets_a_view_of_its_own(tiny_synthetic, tmp_path):
    from viewadapt.builders import create_trainer

    data = tmp_path / "cams"
    for cam in ("cam_a", "cam_b"):
        shutil.copytree(tiny_synthetic / cam, data / cam)
    crops = tmp_path / "week" / "garage"
    crops.mkdir(parents=True)
    for i, img in enumerate(sorted((tiny_synthetic / "cam_b").rglob("*.jpg"))[:6]):
        shutil.copy(img, crops / f"{i}.jpg")
    from conftest import tiny_overrides

    cfg = load_config(None, tiny_overrides(tiny_synthetic, tmp_path / "runs") + [
        "data.dataset=folder", f"data.root={data}", f"data.unlabeled_root={tmp_path / 'week'}",
        "data.camera_groups=[[cam_a],[cam_b],[garage]]", "model.asymmetry=stats", "train.adaptation.enabled=false",
        "train.self_training.enabled=true",
        "train.self_training.epochs=1", "name=garage"])
    trainer = create_trainer(cfg, verbose=False)
    unlabelled = trainer.stages[-1].ctx.unlabeled_set.records
    assert {r.view for r in unlabelled} == {2} and len(unlabelled) == 6
    assert trainer.method.mappings.num_views == 3
    trainer.close()


def test_source_to_target_trains_on_one_set_and_scores_on_the_others_labelled_crops(tiny_synthetic, tmp_path,
                                                                                    capsys):
    """data.test_root: the source's split gives C_train and C_valid, the target's labelled crops are C_test
    (first camera the probe view), its unlabelled crops feed self-training; evaluate scores the target."""
    import json

    from conftest import tiny_overrides
    from viewadapt.cli.main import main
    from viewadapt.data.synthetic import SyntheticSpec, generate

    target = generate(tmp_path / "target", SyntheticSpec(num_identities=10, images_per_view=2, seed=9), 64, 32)
    labelled = tmp_path / "target_labelled"
    for cam in ("cam_a", "cam_b"):
        shutil.copytree(target / cam, labelled / cam)
    args = tiny_overrides(tiny_synthetic, tmp_path / "runs") + [
        "data.dataset=folder", f"data.test_root={labelled}", f"data.unlabeled_root={target / 'cam_b'}",
        "model.asymmetry=stats", "train.adaptation.enabled=false", "train.self_training.enabled=true",
        "train.self_training.epochs=1", "train.init.epochs=1", "train.similarity.epochs=1", "name=transfer"]
    assert main(["train", "--quiet", *args]) == 0
    run = tmp_path / "runs" / "transfer"
    split = json.loads((run / "split.json").read_text())
    assert {r["pid"] for r in split["test"]} == set(range(10)) and len(split["test"]) == 40
    assert all(str(labelled) in r["path"] for r in split["test"])
    assert main(["evaluate", str(run)]) == 0
    result = json.loads((run / "eval" / "test_single_shot.json").read_text())
    assert "-> target_labelled" in result["split"] and result["num_queries"] == 20
    capsys.readouterr()


def test_the_centroid_loss_and_its_momentum_update_against_hand_worked_values():
    import math

    import torch

    from viewadapt.losses import centroid_loss, momentum_update

    centroids = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    emb = torch.tensor([[2.0, 0.0]])  # normalised: (1, 0); similarities 1 and 0
    loss = centroid_loss(emb, torch.tensor([0]), centroids, temperature=0.5)
    assert loss.item() == pytest.approx(-math.log(math.exp(2) / (math.exp(2) + math.exp(0))))
    moved = momentum_update(centroids, torch.tensor([[0.0, 3.0]]), torch.tensor([0]), momentum=0.5)
    assert torch.allclose(moved[0], torch.tensor([1.0, 1.0]) / math.sqrt(2)) and torch.equal(moved[1], centroids[1])


def test_self_training_with_the_memory_loss_trains_and_resumes_exactly(forty_people, tmp_path):
    from conftest import tiny_overrides
    from viewadapt.builders import create_trainer, resume_trainer

    args = tiny_overrides(forty_people, tmp_path / "runs") + [
        "data.dataset=folder", "data.num_train=40", "data.num_valid=4", "data.num_test=6", "data.labeled_people=20",
        "model.asymmetry=stats", "train.adaptation.enabled=false", "train.self_training.enabled=true",
        "train.self_training.rule=cluster", "train.self_training.cluster.k1=4",
        "train.self_training.cluster.min_samples=2", "train.self_training.loss=memory",
        "train.self_training.monitor=val_rank1", "train.self_training.epochs=2", "train.init.epochs=1",
        "train.similarity.epochs=1"]
    straight = create_trainer(load_config(None, args + ["name=straight"]), verbose=False)
    done = straight.fit()
    straight.close()
    steps = [h for h in done["history"] if h["stage"] == "self_training"]
    assert done["finished"] and len(steps) == 2 and all(h["loss"] > 0 for h in steps)
    cut = create_trainer(load_config(None, args + ["name=cut"]), verbose=False)
    cut.fit(max_epochs=3)  # into self-training, after its first epoch
    cut.close()
    resumed = resume_trainer(cut.run_dir, verbose=False)
    again = resumed.fit()
    resumed.close()
    assert [h["loss"] for h in again["history"]] == [h["loss"] for h in done["history"]]
    with pytest.raises(Exception, match="set train.self_training.monitor=val_rank1"):
        load_config(None, ["train.self_training.loss=memory"])
