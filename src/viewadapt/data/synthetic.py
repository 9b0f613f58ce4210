"""A synthetic two-camera pedestrian benchmark, drawn by code so the default needs no download.

Identities differ as people do in re-ID data: height and build, skin and hair, upper and lower
clothing colours and textures, sleeve and trouser cuts, shoes and bags. Each image of an identity
jitters pose (stride, arm swing), position and crop. Each camera has its own imaging chain and
background, and the *view shift* between cameras is scaled by ``view_shift`` times a knob per kind of
difference that real cameras show:

- ``colour``: colour response and white balance, illumination and gamma, sensor noise, and the
  person's scale and aspect in the frame;
- ``blur``: optical blur;
- ``resolution``: every camera but the first sees at a lower resolution (down- then up-sampled),
  down to half at strength 1;
- ``flip``: every second camera sees people walking the other way (its images mirrored), with a
  probability equal to the strength (capped at 1);
- ``viewpoint``: every camera but the first sees people from another side, with a probability equal to
  the strength (capped at 1): every second camera mostly from behind (hair instead of a face, no print
  on the shirt, a backpack over the back), the others from the side (narrower, one arm, half a face);
- ``occlusion``: in every camera but the first, up to half the images (at strength 1) have the person
  partly hidden, by something in front of the legs or beside the body;
- ``clutter``: every camera's background gets fixed objects of its own (signs, doors, windows), more
  of them the higher the strength;
- ``infrared``: every second camera turns towards an infrared-like one: grey levels from a reflectance
  response of its own instead of colour (fully grey at strength 1). Off (0) in the default set.

With ``view_shift = 0`` the cameras differ in background only. Every knob added after colour and blur
draws from a random stream of its own, so with those knobs at 0 the images are those of the set before
they existed.

Images are written as ``<root>/<camera>/<identity>/<file>.jpg`` and read back with the same folder
loader a custom dataset uses. ``strangers`` adds people whom only the last camera sees and nobody
labelled, as a real camera sees passers-by: their crops go to ``<root>/strangers/`` (no identity
folders), drawn from random streams of their own so that every other image stays as it was.
"""

from __future__ import annotations

import colorsys
import hashlib
import json
from contextlib import suppress
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

from viewadapt.declare import check_declared, setting
from viewadapt.errors import DataError
from viewadapt.files import write_text

CAMERA_NAMES = tuple(f"cam_{c}" for c in "abcdefghijklmnopqrstuvwxyz")
STRANGERS = "strangers"  # the folder of the strangers' crops, beside the camera folders
_SKIN = np.array([[255, 224, 196], [234, 192, 160], [198, 152, 112], [160, 110, 75], [110, 72, 48]]) / 255
_HAIR = np.array([[20, 16, 12], [70, 45, 25], [120, 85, 50], [200, 170, 110], [150, 150, 150]]) / 255


@dataclass
class SyntheticSpec:
    """What the benchmark holds; with the image size, everything that determines the generated files
    (equal specs and sizes give identical files). It is also the ``data.synthetic`` config section."""

    num_identities: int = setting(300, low=6)  # people in the set
    images_per_view: int = setting(2, low=1)  # images of each person in each camera
    view_shift: float = setting(1.0, low=0)  # how different the cameras are: scales every kind of difference below
    seed: int = 0  # the draw of people, cameras and scenes
    num_cameras: int = setting(2, low=2, high=len(CAMERA_NAMES))  # cameras cam_a, cam_b, ...: the first is the reference, each other differs from it
    colour: float = setting(1.0, low=0)  # camera difference: colour response, white balance, exposure, noise
    blur: float = setting(1.0, low=0)  # camera difference: defocus blur
    resolution: float = setting(1.0, low=0)  # camera difference: half resolution
    flip: float = setting(1.0, low=0)  # camera difference: mirrored images
    viewpoint: float = setting(0.0, low=0)  # camera difference: people seen from behind or the side
    occlusion: float = setting(0.0, low=0)  # camera difference: objects in front of people
    clutter: float = setting(0.0, low=0)  # camera difference: busy backgrounds
    infrared: float = setting(0.0, low=0)  # camera difference: grey reflectance instead of colour
    # People seen by the last camera alone and labelled nowhere, images_per_view crops each: they join
    # that camera's unlabelled training images (self-training and stage (c)'s view term see them)
    strangers: int = setting(0, low=0, since="2026-12-07")

    def check(self, key: str = "data.synthetic") -> None:
        """Each bad value a :class:`ConfigError` naming ``key.field``."""
        check_declared(self, f"{key}.")


# What sets written before a knob existed were made with: they must not pass for a set with it on.
_BEFORE_KNOBS = {"colour": 1.0, "blur": 1.0, "resolution": 0.0, "flip": 0.0, "viewpoint": 0.0, "occlusion": 0.0,
                 "clutter": 0.0, "infrared": 0.0}
KNOBS = tuple(_BEFORE_KNOBS)
_MAX_CLUTTER = 8  # background objects per camera at clutter strength 1


def _colour(rng: np.random.Generator) -> np.ndarray:
    """A clothing colour: mostly muted, sometimes saturated, sometimes near black/white/grey."""
    kind = rng.random()
    if kind < 0.25:
        v = rng.choice([0.12, 0.5, 0.9]) + rng.uniform(-0.08, 0.08)
        return np.full(3, np.clip(v, 0, 1))
    h, s, v = rng.random(), rng.uniform(0.35, 0.95), rng.uniform(0.3, 0.95)
    return np.array(colorsys.hsv_to_rgb(h, s, v))


def _identity(rng: np.random.Generator) -> dict:
    return {
        "height": rng.uniform(0.80, 0.95),
        "build": rng.uniform(0.8, 1.25),
        "legs": rng.uniform(0.45, 0.52),
        "skin": _SKIN[rng.integers(len(_SKIN))],
        "hair": _HAIR[rng.integers(len(_HAIR))],
        "long_hair": rng.random() < 0.35,
        "upper": _colour(rng),
        "upper2": _colour(rng),
        "upper_tex": rng.choice(["solid", "solid", "hstripe", "vstripe", "check", "logo"]),
        "stripe": rng.uniform(3.0, 7.0),
        "long_sleeve": rng.random() < 0.6,
        "lower": _colour(rng),
        "lower_kind": rng.choice(["trousers", "trousers", "shorts", "skirt"]),
        "lower_tex": rng.choice(["solid", "solid", "solid", "hstripe"]),
        "shoes": _colour(rng) * 0.6,
        "bag": rng.choice(["none", "none", "backpack", "handbag", "shoulder"]),
        "bag_colour": _colour(rng),
        "bag_side": rng.choice([-1, 1]),
    }


def _camera(rng: np.random.Generator, extra: np.random.Generator, views: np.random.Generator, spec: SyntheticSpec,
            index: int) -> dict:
    """Camera ``index``'s imaging chain and scene; all strengths 0 give the neutral camera. ``extra`` is
    the stream of resolution and flips, ``views`` that of the later knobs; each camera takes the same
    draws from ``views`` whatever the strengths, so turning one knob leaves the others' draws alone."""
    u = lambda a, knob: rng.uniform(-a, a) * spec.view_shift * knob  # noqa: E731
    c = spec.colour
    cam = {
        "mix": np.eye(3) + np.array([[u(0.15, c) for _ in range(3)] for _ in range(3)]),
        "gain": 1.0 + np.array([u(0.25, c), u(0.1, c), u(0.25, c)]),
        "bright": 1.0 + u(0.35, c),
        "gamma": 1.0 + u(0.35, c),
        "blur": abs(u(1.2, spec.blur)),
        "noise": abs(u(0.05, c)),
        "scale": 1.0 + u(0.12, c),
        "aspect": 1.0 + u(0.15, c),
        "bg": _colour(rng) * 0.7 + 0.15,
        "bg2": _colour(rng) * 0.7 + 0.15,
        "horizon": rng.uniform(0.55, 0.8),
    }
    lower = extra.uniform(0.5, 1.0) if index > 0 else 0.0
    cam["resolution"] = 1.0 / (1.0 + lower * spec.view_shift * spec.resolution)
    cam["flip"] = min(1.0, spec.view_shift * spec.flip) if index % 2 else 0.0
    other = min(1.0, spec.view_shift * spec.viewpoint) if index > 0 else 0.0
    cam["facing"] = ("back" if index % 2 else "side", other)
    cam["occlusion"] = min(1.0, spec.view_shift * spec.occlusion) / 2 if index > 0 else 0.0
    objects = []
    for _ in range(_MAX_CLUTTER):  # top, bottom, left, right (fractions of the image), colour
        top, left = views.uniform(0.0, 0.85), views.uniform(-0.1, 0.9)
        objects.append((top, top + views.uniform(0.05, 0.3), left, left + views.uniform(0.1, 0.4), _colour(views)))
    cam["clutter"] = objects[: round(min(1.0, spec.view_shift * spec.clutter) * _MAX_CLUTTER)]
    cam["infrared"] = min(1.0, spec.view_shift * spec.infrared) if index % 2 else 0.0
    cam["reflectance"] = views.dirichlet([2.0, 2.0, 2.0])  # the infrared camera's grey level of each colour
    return cam


def _scene(views: np.random.Generator, cam: dict) -> dict:
    """What one image of camera ``cam`` shows beyond the person: the side they are seen from and what
    hides part of them (None: nothing). The same draws whatever the strengths."""
    kind, other = cam["facing"]
    turn, side_instead = views.random(), views.random()
    facing = "front"
    if turn < other:
        facing = "side" if kind == "side" or side_instead < 1 / 3 else "back"
    hidden, where, size, colour = views.random(), views.random(), views.uniform(0.2, 0.4), _colour(views)
    occluder = None
    if hidden < cam["occlusion"]:
        occluder = ("bottom" if where < 0.5 else "left" if where < 0.75 else "right", size, colour * 0.8)
    return {"facing": facing, "occluder": occluder}


def _texture(kind: str, a: np.ndarray, b: np.ndarray, yy: np.ndarray, xx: np.ndarray, period: float) -> np.ndarray:
    if kind == "hstripe":
        on = np.sin(yy * 2 * np.pi / period) > 0
    elif kind == "vstripe":
        on = np.sin(xx * 2 * np.pi / period) > 0
    elif kind == "check":
        on = ((yy // period).astype(int) + (xx // period).astype(int)) % 2 == 0
    else:
        on = np.zeros_like(yy, dtype=bool)
    return np.where(on[..., None], b, a)


def _paint(img: np.ndarray, mask: np.ndarray, colour: np.ndarray) -> None:
    img[mask] = colour if colour.ndim == 1 else colour[mask]


def render_person(ident: dict, cam: dict, rng: np.random.Generator, h: int, w: int, facing: str = "front") -> np.ndarray:
    """Draw one image (h x w x 3 floats in [0, 1]) of ``ident`` seen by camera ``cam`` from the
    ``facing`` side: front, back or side."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    # Background: a wall and a floor in the camera's colours, with a little per-image texture, and the
    # camera's fixed objects.
    img = np.where((yy < cam["horizon"] * h)[..., None], cam["bg"], cam["bg2"]).astype(np.float64)
    img += rng.normal(0, 0.03, (1, w, 3)) + 0.04 * np.sin(xx / rng.uniform(3, 9))[..., None]
    for y0, y1, x0, x1, colour in cam.get("clutter", ()):
        _paint(img, (yy >= y0 * h) & (yy < y1 * h) & (xx >= x0 * w) & (xx < x1 * w), colour)

    scale = ident["height"] * cam["scale"] * rng.uniform(0.95, 1.05)
    ph = h * scale
    cx = w / 2 + rng.uniform(-3, 3)
    top = (h - ph) / 2 + rng.uniform(-3, 3)
    bw = w * 0.30 * ident["build"] * cam["aspect"] * (0.62 if facing == "side" else 1.0)  # shoulder width
    ahead = ident["bag_side"]  # seen from the side, the way they walk: fixed per identity
    head_r = ph * 0.065
    neck = top + 2 * head_r
    waist = top + ph * (1 - ident["legs"])
    foot = top + ph
    knee = (waist + foot) / 2
    stride = rng.uniform(-0.35, 0.35) * bw  # walking phase
    swing = rng.uniform(-0.25, 0.25) * bw
    upper = _texture(ident["upper_tex"], ident["upper"], ident["upper2"], yy - top, xx, ident["stripe"])
    if ident["upper_tex"] == "logo" and facing == "front":  # a print on the front only
        logo = (np.abs(xx - cx) < bw * 0.18) & (np.abs(yy - (neck + waist) / 2) < bw * 0.15)
        upper = np.where(logo[..., None], ident["upper2"], upper)
    lower = _texture(ident["lower_tex"], ident["lower"], ident["lower"] * 0.6, yy, xx, 4.0)

    if ident["bag"] == "backpack" and facing != "back":  # drawn first: it shows beside the torso, behind the arm
        bx = cx + (ident["bag_side"] * bw * 0.45 if facing == "front" else -ahead * bw * 0.75)
        _paint(img, (np.abs(xx - bx) < bw * 0.3) & (yy > neck + 2) & (yy < waist - 2), ident["bag_colour"])
    # Legs: two columns whose feet spread with the stride.
    for side in (-1, 1):
        t = np.clip((yy - waist) / max(foot - waist, 1), 0, 1)
        lx = cx + side * bw * 0.2 + side * stride * t
        leg = (np.abs(xx - lx) < bw * 0.16) & (yy >= waist) & (yy < foot - 2)
        if ident["lower_kind"] == "trousers":
            _paint(img, leg, lower)
        else:
            _paint(img, leg & (yy >= knee - 2), ident["skin"])
            _paint(img, leg & (yy < knee - 2), lower)
        _paint(img, (np.abs(xx - lx) < bw * 0.2) & (yy >= foot - 3) & (yy < foot), ident["shoes"])
    if ident["lower_kind"] == "skirt":
        t = np.clip((yy - waist) / max(knee - waist, 1), 0, 1)
        _paint(img, (np.abs(xx - cx) < bw * (0.45 + 0.25 * t)) & (yy >= waist) & (yy < knee), lower)
    # Torso: shoulders narrowing to the waist.
    t = np.clip((yy - neck) / max(waist - neck, 1), 0, 1)
    _paint(img, (np.abs(xx - cx) < bw * (0.5 - 0.08 * t)) & (yy >= neck) & (yy < waist + 1), upper)
    # Arms swing opposite to the legs; short sleeves show skin below the elbow.
    if ident["bag"] == "backpack" and facing == "back":  # over the back, hiding most of the shirt
        _paint(img, (np.abs(xx - cx) < bw * 0.35) & (yy > neck + 2) & (yy < waist - 2), ident["bag_colour"])
    elbow = neck + (waist - neck) * 0.5
    for side in (0,) if facing == "side" else (-1, 1):  # from the side one arm shows, swinging ahead
        t = np.clip((yy - neck) / max(waist - neck, 1), 0, 1)
        ax = cx + side * bw * 0.6 - side * swing * t if side else cx + ahead * swing * t
        arm = (np.abs(xx - ax) < bw * 0.11) & (yy >= neck + 1) & (yy < waist + 4)
        sleeve = arm & ((yy < elbow) | ident["long_sleeve"])
        _paint(img, arm & ~sleeve, ident["skin"])
        _paint(img, sleeve, upper)
    if ident["bag"] == "handbag":
        bx = cx + ident["bag_side"] * bw * 0.75
        _paint(img, (np.abs(xx - bx) < bw * 0.2) & (yy > waist - 2) & (yy < waist + bw * 0.4), ident["bag_colour"])
    elif ident["bag"] == "shoulder":
        strap = np.abs((xx - cx) - ident["bag_side"] * (yy - neck) * 0.5) < 1.2
        _paint(img, strap & (yy >= neck) & (yy < waist), ident["bag_colour"] * 0.7)
        bx = cx + ident["bag_side"] * bw * 0.55
        _paint(img, (np.abs(xx - bx) < bw * 0.22) & (np.abs(yy - waist) < bw * 0.25), ident["bag_colour"])
    # Head and hair.
    hy = top + head_r
    face = ((xx - cx) / (head_r * 0.8)) ** 2 + ((yy - hy) / head_r) ** 2 < 1
    _paint(img, face, ident["skin"])
    hair = face & (yy < hy - head_r * 0.35)
    if facing == "back":
        hair = face
    elif facing == "side":
        hair |= face & ((xx - cx) * ahead < 0)
    if ident["long_hair"]:
        hair |= (np.abs(xx - cx) < head_r * 0.9) & (yy >= hy) & (yy < neck + head_r * 1.2) & ~face
    _paint(img, hair, ident["hair"])
    return np.clip(img, 0, 1)


def occlude(img: np.ndarray, occluder: tuple | None) -> np.ndarray:
    """``img`` with ``occluder`` (where: bottom, left or right; the fraction of the image it covers; its
    colour) in front of the person: a bench or car before the legs, a pole or passer-by beside them."""
    if occluder is None:
        return img
    where, size, colour = occluder
    h, w = img.shape[:2]
    out = img.copy()
    if where == "bottom":
        out[round(h * (1 - size)):] = colour
    elif where == "left":
        out[:, : round(w * size)] = colour
    else:
        out[:, w - round(w * size):] = colour
    return out


def apply_camera(img: np.ndarray, cam: dict, rng: np.random.Generator, extra: np.random.Generator) -> Image.Image:
    """The camera's imaging chain: an infrared camera's grey reflectance, colour mixing, white balance,
    exposure, gamma, blur, resolution, noise; then the mirror image where the camera sees people walking
    the other way."""
    ir = cam.get("infrared", 0.0)
    if ir:  # a grey level per colour that is not its brightness, and no colour left after the chain
        img = (1 - ir) * img + ir * (img @ cam["reflectance"])[..., None]
    out = img @ cam["mix"].T * cam["gain"] * cam["bright"] * rng.uniform(0.9, 1.1)
    out = np.clip(out, 0, 1) ** cam["gamma"]
    if ir:
        out = (1 - ir) * out + ir * out.mean(-1, keepdims=True)
    pil = Image.fromarray((out * 255).astype(np.uint8))
    if cam["blur"] > 0.05:
        pil = pil.filter(ImageFilter.GaussianBlur(cam["blur"]))
    if cam["resolution"] < 0.99:
        low = (max(1, round(pil.width * cam["resolution"])), max(1, round(pil.height * cam["resolution"])))
        pil = pil.resize(low, Image.BILINEAR).resize((pil.width, pil.height), Image.BILINEAR)
    noisy = np.asarray(pil, dtype=np.float64) / 255 + rng.normal(0, cam["noise"] + 0.005, out.shape)
    image = Image.fromarray((np.clip(noisy, 0, 1) * 255).astype(np.uint8))
    if cam["flip"] and extra.random() < cam["flip"]:
        image = image.transpose(Image.FLIP_LEFT_RIGHT)
    return image


def read_spec(root: str | Path) -> tuple[SyntheticSpec, tuple[int, int]] | None:
    """The spec and (height, width) of the benchmark already generated under ``root``, if any."""
    stamp = Path(root) / "synthetic.json"
    if not stamp.is_file():
        return None
    try:
        values = {**_BEFORE_KNOBS, **json.loads(stamp.read_text())}
        size = (values.pop("height"), values.pop("width"))
        return SyntheticSpec(**values), size
    except (OSError, ValueError, TypeError, KeyError) as exc:  # a truncated or foreign file
        raise DataError(f"{stamp} is damaged ({type(exc).__name__}): {root} holds a synthetic set viewadapt drew; "
                        "delete that folder to draw it again, or point data.root elsewhere") from None


def set_name(spec: SyntheticSpec, height: int, width: int) -> str:
    """A folder name that differs between any two sets that differ (spec or image size)."""
    digest = hashlib.sha1(json.dumps({**asdict(spec), "size": [height, width]}, sort_keys=True).encode())
    return f"{height}x{width}-{digest.hexdigest()[:10]}"


def stranger_paths(root: str | Path, spec: SyntheticSpec) -> list[str]:
    """The crops of the set's strangers (see the module docstring), in the order they were drawn."""
    folder = Path(root) / STRANGERS
    return [str(folder / _image_name(s, CAMERA_NAMES[spec.num_cameras - 1], k))
            for s in range(spec.strangers) for k in range(spec.images_per_view)]


def _remove_set(root: Path, spec: SyntheticSpec) -> None:
    """Delete the images an earlier :func:`generate` wrote, by the names it gave them, then its folders
    where they are left empty: a file someone else put there stays, and so does its folder."""
    for path in stranger_paths(root, spec):
        Path(path).unlink(missing_ok=True)
    with suppress(OSError):
        (root / STRANGERS).rmdir()
    for cam in CAMERA_NAMES[: spec.num_cameras]:
        for pid in range(spec.num_identities):
            folder = root / cam / f"{pid:04d}"
            for k in range(spec.images_per_view):
                (folder / _image_name(pid, cam, k)).unlink(missing_ok=True)
            with suppress(OSError):
                folder.rmdir()
        with suppress(OSError):
            (root / cam).rmdir()


def _image_name(pid: int, cam: str, k: int) -> str:
    return f"{pid:04d}_{cam}_{k:02d}.jpg"


def _draw_strangers(root: Path, spec: SyntheticSpec, cam: dict, height: int, width: int) -> None:
    """The strangers' crops in camera ``cam`` (the last), each from streams no other image draws from."""
    if not spec.strangers:
        return
    (root / STRANGERS).mkdir(parents=True, exist_ok=True)
    rng, extra, views = (np.random.default_rng([spec.seed, 3, s]) for s in range(3))
    paths = iter(stranger_paths(root, spec))
    for _ in range(spec.strangers):
        ident = _identity(rng)
        for _ in range(spec.images_per_view):
            scene = _scene(views, cam)
            person = occlude(render_person(ident, cam, rng, height, width, scene["facing"]), scene["occluder"])
            apply_camera(person, cam, rng, extra).save(next(paths), quality=95)


def generate(root: str | Path, spec: SyntheticSpec, height: int = 128, width: int = 64) -> Path:
    """Write the benchmark at ``height`` x ``width`` under ``root`` unless an identical one is already
    there; return ``root``."""
    root = Path(root)
    previous = read_spec(root)
    if previous == (spec, (height, width)):
        return root
    if previous is not None:  # our own older set: its cameras and identities must not linger
        _remove_set(root, previous[0])
    rng, extra = np.random.default_rng(spec.seed), np.random.default_rng([spec.seed, 1])
    views = np.random.default_rng([spec.seed, 2])
    names = CAMERA_NAMES[: spec.num_cameras]
    cams = [_camera(rng, extra, views, spec, i) for i in range(len(names))]
    for pid in range(spec.num_identities):
        ident = _identity(rng)
        for cam_name, cam in zip(names, cams):
            folder = root / cam_name / f"{pid:04d}"
            folder.mkdir(parents=True, exist_ok=True)
            for k in range(spec.images_per_view):
                scene = _scene(views, cam)
                person = occlude(render_person(ident, cam, rng, height, width, scene["facing"]), scene["occluder"])
                img = apply_camera(person, cam, rng, extra)
                img.save(folder / _image_name(pid, cam_name, k), quality=95)
    _draw_strangers(root, spec, cams[-1], height, width)
    write_text(root / "synthetic.json", json.dumps({**asdict(spec), "height": height, "width": width}, indent=1))
    return root
