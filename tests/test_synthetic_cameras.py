"""The synthetic benchmark's camera knobs: what each one changes, and that it changes nothing else."""

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from viewadapt.config import load_config
from viewadapt.data.synthetic import (
    SyntheticSpec,
    _camera,
    generate,
    occlude,
    read_spec,
    render_person,
)
from viewadapt.errors import ConfigError

SKIN, HAIR, UPPER, LOGO, BAG = (np.array(c, float) for c in ((0.9, 0.7, 0.6), (0.1, 0.05, 0.0), (0.2, 0.3, 0.8),
                                                                (0.9, 0.9, 0.1), (0.8, 0.1, 0.1)))
PERSON = {"height": 0.9, "build": 1.0, "legs": 0.5, "skin": SKIN, "hair": HAIR, "long_hair": False,
          "upper": UPPER, "upper2": LOGO, "upper_tex": "logo", "stripe": 5.0, "long_sleeve": True,
          "lower": np.array([0.3, 0.3, 0.3]), "lower_kind": "trousers", "lower_tex": "solid",
          "shoes": np.zeros(3), "bag": "backpack", "bag_colour": BAG, "bag_side": 1}
PLAIN_CAMERA = {"horizon": 0.7, "bg": np.full(3, 0.5), "bg2": np.full(3, 0.4), "scale": 1.0, "aspect": 1.0}


def _draw(facing: str) -> np.ndarray:
    return render_person(PERSON, PLAIN_CAMERA, np.random.default_rng(0), 128, 64, facing)


def _near(pixel: np.ndarray, colour: np.ndarray) -> bool:
    return bool(np.abs(pixel - colour).max() < 0.12)  # the background's texture adds a little


def _images(root: Path, camera: str) -> list[np.ndarray]:
    return [np.asarray(Image.open(f), float) for f in sorted((root / camera).rglob("*.jpg"))]


def test_seen_from_behind_or_the_side_a_person_shows_other_parts():
    front, back, side = _draw("front"), _draw("back"), _draw("side")
    # With this seed's pose: the face, the print on the chest, a row across the shoulders.
    head, chest, torso_row = (21, 32), (48, 32), 35
    assert _near(front[head], SKIN) and _near(back[head], HAIR)
    assert _near(front[chest], LOGO) and _near(back[chest], BAG)
    width = {k: int(np.all(np.abs(img[torso_row] - UPPER) < 0.12, axis=-1).sum()) for k, img in
             (("front", front), ("side", side))}
    assert width["side"] < 0.75 * width["front"]
    assert not np.all(np.abs(side - LOGO) < 0.12, axis=-1).any()  # the print is on the front only


def test_an_occluder_covers_the_side_it_names():
    img = np.zeros((10, 8, 3))
    colour = np.array([1.0, 0.5, 0.0])
    assert occlude(img, None) is img
    bottom, left, right = (occlude(img, (where, 0.3, colour)) for where in ("bottom", "left", "right"))
    assert (bottom[7:] == colour).all() and (bottom[:7] == 0).all()
    assert (left[:, :2] == colour).all() and (left[:, 2:] == 0).all()
    assert (right[:, 6:] == colour).all() and (right[:, :6] == 0).all()
    assert (img == 0).all()  # the input is left as it was


def _camera_b(**knobs: float) -> dict:
    spec = SyntheticSpec(**knobs)
    rng, extra, views = (np.random.default_rng(s) for s in (0, 1, 2))
    _camera(rng, extra, views, spec, 0)
    return _camera(rng, extra, views, spec, 1)


def test_clutter_strength_sets_how_many_fixed_objects_a_camera_has():
    counts = {c: len(_camera_b(clutter=c)["clutter"]) for c in (0.0, 0.5, 1.0)}
    assert counts == {0.0: 0, 0.5: 4, 1.0: 8}
    half, full = _camera_b(clutter=0.5)["clutter"], _camera_b(clutter=1.0)["clutter"]
    assert all(np.allclose(np.hstack(a[:4] + (a[4],)), np.hstack(b[:4] + (b[4],))) for a, b in zip(half, full))
    # the other knobs' draws do not depend on clutter
    assert np.array_equal(_camera_b(clutter=0.0)["reflectance"], _camera_b(clutter=1.0)["reflectance"])


@pytest.mark.parametrize("knob", ["viewpoint", "occlusion", "infrared"])
def test_a_knob_of_the_second_camera_leaves_the_first_as_it_was(knob, tmp_path):
    base = SyntheticSpec(num_identities=8, images_per_view=2, seed=1, resolution=0, flip=0)
    plain = generate(tmp_path / "plain", base, 64, 32)
    turned = generate(tmp_path / knob, SyntheticSpec(**{**base.__dict__, knob: 2.0}), 64, 32)
    assert all(np.array_equal(a, b) for a, b in zip(_images(plain, "cam_a"), _images(turned, "cam_a")))
    changed = [np.abs(a - b).mean() > 2 for a, b in zip(_images(plain, "cam_b"), _images(turned, "cam_b"))]
    assert sum(changed) >= 0.4 * len(changed)  # occlusion hides at most half of them


def test_an_infrared_camera_sees_grey(tmp_path):
    root = generate(tmp_path, SyntheticSpec(num_identities=8, images_per_view=1, seed=2, colour=0, blur=0,
                                            resolution=0, flip=0, infrared=1), 64, 32)

    def colourfulness(camera: str) -> float:
        return float(np.mean([np.abs(img - img.mean(-1, keepdims=True)).mean() for img in _images(root, camera)]))

    assert colourfulness("cam_b") < 3 < 5 * 3 < colourfulness("cam_a")


def test_a_set_written_before_the_knobs_reads_with_them_off(tmp_path):
    root = generate(tmp_path, SyntheticSpec(num_identities=6, images_per_view=1), 64, 32)
    stamp = json.loads((root / "synthetic.json").read_text())
    for key in ("viewpoint", "occlusion", "clutter", "infrared"):
        del stamp[key]
    (root / "synthetic.json").write_text(json.dumps(stamp))
    spec, _ = read_spec(root)
    assert (spec.viewpoint, spec.occlusion, spec.clutter, spec.infrared) == (0, 0, 0, 0)
    assert spec == SyntheticSpec(num_identities=6, images_per_view=1)


def test_a_negative_knob_names_the_key():
    with pytest.raises(ConfigError, match=r"^data\.synthetic\.occlusion must be >= 0, not -1$"):
        load_config(None, ["data.synthetic.occlusion=-1"])
