"""Figures: CMC curves of several methods on one axes (the paper's Fig. 5), training curves, rank lists."""

from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

# Figures are built with matplotlib's object API and written to files: no pyplot, so no global backend
# to choose and no display needed on servers and CI.
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from PIL import Image, ImageDraw, ImageOps

from viewadapt.data.images import load_image
from viewadapt.errors import DataError
from viewadapt.files import atomic_write

GREEN, RED, GREY = (40, 170, 70), (215, 50, 40), (120, 120, 120)


def plot_cmc(curves: Mapping[str, Sequence[float]], path: Path, title: str = "", max_rank: int = 20) -> Path:
    """CMC curves (fractions, index 0 = rank 1) as percentages against rank 1..max_rank."""
    return _save(cmc_figure(curves, title, max_rank), path, 120)


def cmc_figure(curves: Mapping[str, Sequence[float]], title: str = "", max_rank: int = 20) -> Figure:
    """The figure :func:`plot_cmc` saves."""
    # the legend goes below the axes, never over a curve (CMC curves can lie anywhere in the axes)
    fig = Figure(figsize=(6.5, 4 + 0.22 * len(curves)), layout="constrained")
    ax = fig.subplots()
    for label, cmc in curves.items():
        n = min(max_rank, len(cmc))
        ax.plot(range(1, n + 1), [100 * c for c in cmc[:n]], marker="o", markersize=3,
                label=f"{label} (R1 {100 * cmc[0]:.1f})")
    ax.set(xlabel="rank", ylabel="matching rate (%)", title=title, xlim=(1, max_rank))
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(alpha=0.3)
    fig.legend(fontsize=8, loc="outside lower center", ncols=1, frameon=False)
    return fig


def plot_sweep(series: Mapping[str, tuple[Sequence[float], Sequence[Sequence[float]]]], path: Path, x_label: str,
               y_label: str) -> Path:
    """Mean +- std (over seeds) of a metric along a swept setting, e.g. rank-1 against gamma (Fig. 7):
    one curve per series, ``{label: (xs, values per x over seeds)}``; a single unnamed series has no legend."""
    import statistics

    fig = Figure(figsize=(5, 3.6 + (0.22 * len(series) if any(series) else 0)), layout="constrained")
    ax = fig.subplots()
    for label, (xs, ys) in series.items():
        means = [100 * statistics.fmean(y) for y in ys]
        stds = [100 * statistics.stdev(y) if len(y) > 1 else 0.0 for y in ys]
        ax.errorbar(xs, means, yerr=stds, marker="o", capsize=3, label=label or None)
    if any(series):  # below the axes, over no curve
        fig.legend(fontsize=8, loc="outside lower center", frameon=False)
    ax.set(xlabel=x_label, ylabel=f"{y_label} (%)")
    ax.grid(alpha=0.3)
    return _save(fig, path, 120)


def plot_training(history: Sequence[Mapping], path: Path) -> Path:
    """Loss and validation rank-1 per epoch, stages one after another on a common epoch axis."""
    stages = list(dict.fromkeys(h["stage"] for h in history))
    fig = Figure(figsize=(10, 3.8 + 0.2 * len(stages)), layout="constrained")
    loss_ax, val_ax = fig.subplots(1, 2)
    x = 0
    for stage in stages:
        rows = [h for h in history if h["stage"] == stage]
        xs = list(range(x + 1, x + len(rows) + 1))
        (line,) = loss_ax.plot(xs, [h["loss"] for h in rows], marker="o", markersize=3, label=f"{stage}: loss")
        if any("val_loss" in h for h in rows):
            loss_ax.plot(xs, [h.get("val_loss", float("nan")) for h in rows], linestyle="--", color=line.get_color(),
                         label=f"{stage}: val loss")
        if any("val_rank1" in h for h in rows):  # eval.epoch_validation=deciding leaves some stages out
            val_ax.plot(xs, [100 * h.get("val_rank1", float("nan")) for h in rows], marker="o", markersize=3,
                        label=stage)
        x += len(rows)
    loss_ax.set(xlabel="epoch (all stages)", ylabel="loss", title="training loss")
    val_ax.set(xlabel="epoch (all stages)", ylabel="rank-1 (%)", title="validation rank-1 (C_valid)")
    for ax in (loss_ax, val_ax):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
    # one legend below both axes: the stages' losses (solid) and validation losses (dashed), over no curve
    fig.legend(*loss_ax.get_legend_handles_labels(), fontsize=7, loc="outside lower center", ncols=2,
               frameon=False)
    return _save(fig, path, 110)


def _save(fig: Figure, path: Path, dpi: int) -> Path:
    """Written as every file of a run is (:mod:`viewadapt.files`): a crash never leaves half a figure, and a
    read-only folder is one line. The temporary name's suffix is not the format's: it is given."""
    path = Path(path)
    return atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=dpi, format=path.suffix.lstrip(".") or "png"))


def image_format(path: Path) -> str | None:
    """The format Pillow writes for ``path``'s suffix (``PNG`` for ``ranks.png``), or None."""
    return Image.registered_extensions().get(Path(path).suffix.lower())


def _tile(path: str, height: int, width: int, colour: tuple[int, int, int], caption: str) -> Image.Image:
    try:
        img = load_image(path).resize((width, height))
    except DataError:
        img = Image.new("RGB", (width, height), (235, 235, 235))  # a missing file still gets its slot
    img = ImageOps.expand(img, border=4, fill=colour)
    tile = Image.new("RGB", (img.width, img.height + 14), "white")
    tile.paste(img, (0, 0))
    ImageDraw.Draw(tile).text((2, img.height + 1), caption, fill=(0, 0, 0))
    return tile


def draw_rank_list(entry: Mapping, path: Path, height: int = 128, width: int = 64) -> Path:
    """Probe (grey border) then its top-k gallery items, green where the identity matches, red otherwise
    (grey where ``match`` is None: nothing to say)."""
    tiles = [_tile(entry["query"]["path"], height, width, GREY, "probe")]
    for rank, g in enumerate(entry["gallery"], start=1):
        colour = GREY if g["match"] is None else GREEN if g["match"] else RED
        tiles.append(_tile(g["path"], height, width, colour, f"{rank}: {g['score']:.2f}"))
    gap = 6
    canvas = Image.new("RGB", (sum(t.width for t in tiles) + gap * len(tiles) + 16, tiles[0].height + 8), "white")
    x = 4
    for n, t in enumerate(tiles):
        canvas.paste(t, (x, 4))
        x += t.width + gap + (8 if n == 0 else 0)
    return atomic_write(path, lambda tmp: canvas.save(tmp, format=image_format(path)))
