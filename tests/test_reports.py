"""Figures, rank-list images, the HTML report, and `viewadapt evaluate` / `viewadapt report`."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from PIL import Image

from conftest import tiny_overrides
from viewadapt.cli.main import main
from viewadapt.reports import draw_rank_list, plot_cmc, plot_training
from viewadapt.reports.figures import GREEN, RED


def test_rank_list_borders_say_right_and_wrong(tmp_path, tiny_synthetic):
    imgs = sorted(str(p) for p in tiny_synthetic.rglob("*.jpg"))[:3]
    entry = {"query": {"path": imgs[0]}, "gallery": [
        {"path": imgs[1], "score": 0.5, "match": True}, {"path": imgs[2], "score": 0.7, "match": False},
        {"path": str(tmp_path / "gone.jpg"), "score": 0.9, "match": False}]}
    img = np.asarray(Image.open(draw_rank_list(entry, tmp_path / "rl.png", 64, 32)).convert("RGB")).astype(int)
    tile = 32 + 8 + 6  # tile width with its border, and the gap
    first, second = 4 + tile + 8, 4 + 2 * tile + 8
    assert np.abs(img[6, first + 1] - GREEN).max() < 10 and np.abs(img[6, second + 1] - RED).max() < 10
    assert img.shape[1] == 4 * tile + 16  # the missing file still gets its slot


def test_plots_write_pngs(tmp_path):
    plot_cmc({"Ours*": np.linspace(0.5, 1, 20), "Siamese": np.linspace(0.4, 1, 20)}, tmp_path / "cmc.png")
    history = [{"stage": "init", "loss": 3.0, "val_rank1": 0.2}, {"stage": "similarity", "loss": 1.0,
                                                                  "val_loss": 1.2, "val_rank1": 0.5}]
    plot_training(history, tmp_path / "train.png")
    for name in ("cmc.png", "train.png"):
        with Image.open(tmp_path / name) as img:
            assert img.format == "PNG" and img.size[0] > 300


@pytest.fixture(scope="module")
def trained_run(tiny_synthetic, tmp_path_factory):
    out = tmp_path_factory.mktemp("runs")
    args = tiny_overrides(tiny_synthetic, out) + ["train.adaptation.epochs=1", "name=rep", "eval.rank_lists=3"]
    assert main(["train", "--quiet", *args]) == 0
    return out / "rep"


def test_evaluate_writes_results_rank_lists_and_a_self_contained_report(trained_run, capsys):
    assert main(["evaluate", str(trained_run), "--protocol", "all_gallery"]) == 0
    result = json.loads((trained_run / "eval" / "test_all_gallery.json").read_text())
    assert result["protocol"] == "all_gallery" and result["rerank"] == "none" and len(result["cmc"]) == 50
    lists = json.loads((trained_run / "eval" / "test_all_gallery_ranklists.json").read_text())
    assert len(lists) == 3 and all(1 <= len(e["gallery"]) <= 10 for e in lists)
    for e in lists:
        scores = [g["score"] for g in e["gallery"]]
        assert scores == sorted(scores)
        assert not any(g["pid"] == e["query"]["pid"] and g["camid"] == e["query"]["camid"] for g in e["gallery"])
    page = (trained_run / "report.html").read_text()
    assert page.count("data:image/png;base64,") == 2 and page.count("data:image/jpeg;base64,") == 3
    assert "Rank lists: test_all_gallery" in page and "after stage (c) view adaptation" in page
    assert "src=\"report/" not in page and "http" not in page.split("<style>")[0]  # nothing linked from outside


def test_evaluate_with_ds_and_k_reciprocal_rerank(trained_run, capsys):
    assert main(["evaluate", str(trained_run), "--protocol", "all_gallery", "--rerank", "ds"]) == 0
    assert main(["evaluate", str(trained_run), "--protocol", "all_gallery", "--rerank", "k_reciprocal",
                 "--ap", "trapezoid"]) == 0
    ds = json.loads((trained_run / "eval" / "test_all_gallery_ds.json").read_text())
    kr = json.loads((trained_run / "eval" / "test_all_gallery_k_reciprocal_trapezoid.json").read_text())
    assert ds["rerank"] == "ds" and kr["rerank"] == "k_reciprocal" and kr["ap"] == "trapezoid"
    assert "rerank ds" in capsys.readouterr().out


def test_report_rebuilds_from_the_folder(trained_run, tmp_path):
    (trained_run / "report.html").unlink(missing_ok=True)
    assert main(["report", str(trained_run)]) == 0
    assert "<h2>Training</h2>" in (trained_run / "report.html").read_text()
    assert main(["report", str(tmp_path)]) == 2


def test_evaluate_with_faiss_top_k(trained_run, capsys):
    pytest.importorskip("faiss")
    assert main(["evaluate", str(trained_run), "--protocol", "all_gallery", "--search", "faiss", "--topk", "5"]) == 0
    result = json.loads((trained_run / "eval" / "test_all_gallery_faiss5.json").read_text())
    assert result["topk"] == 5 and result["search"] == "faiss" and len(result["cmc"]) == 5
    assert "faiss top-5 (mAP = AP@5)" in (trained_run / "report.html").read_text()
    assert main(["evaluate", str(trained_run), "--search", "faiss", "--protocol", "single_shot"]) == 2


def test_the_cmc_legend_sits_below_the_axes_and_hides_no_curve():
    """However many curves and wherever they lie, the legend is drawn outside the axes."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from viewadapt.reports.figures import cmc_figure

    curves = {f"a method with a long name {i}": [0.01 * i + 0.05 * r for r in range(20)] for i in range(7)}
    fig = cmc_figure(curves, "CMC")
    FigureCanvasAgg(fig).draw()
    (ax,) = fig.axes
    legend = fig.legends[0].get_window_extent()
    assert ax.get_legend() is None and not legend.overlaps(ax.get_window_extent())


def _browser() -> str | None:
    import shutil

    return next((b for b in ("chromium", "chromium-browser", "google-chrome") if shutil.which(b)), None)


@pytest.mark.skipif(_browser() is None, reason="no Chromium installed (Debian: apt-get install chromium)")
def test_the_report_renders_in_a_real_browser(trained_run, tmp_path):
    """report.html as a user's browser shows it: headless Chromium draws the page (its tables, the CMC and
    training figures, the rank lists) into a screenshot that is a page, not a blank or an error."""
    import subprocess

    import numpy as np
    from PIL import Image

    from viewadapt.reports import build_report

    run = shutil.copytree(trained_run, tmp_path / "run")
    page = build_report(run)
    shot = tmp_path / "report.png"
    profile = tmp_path / "profile"
    res = subprocess.run([_browser(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                          "--no-first-run", "--disable-background-networking", "--disable-component-update",
                          "--disable-sync", f"--user-data-dir={profile}", "--hide-scrollbars",
                          "--window-size=1100,1600", f"--screenshot={shot}", page.as_uri()],
                         capture_output=True, text=True, timeout=120)
    assert shot.is_file(), res.stderr[-2000:]
    pixels = np.asarray(Image.open(shot).convert("L"))
    assert pixels.shape == (1600, 1100)
    dark = (pixels < 128).mean()  # text, axes and curves on a white page
    assert 0.005 < dark < 0.5, dark
    # the figures are drawn: some rows of the page carry colour (curves), not only black text
    rgb = np.asarray(Image.open(shot).convert("RGB")).astype(int)
    assert (np.abs(rgb[..., 0] - rgb[..., 2]) > 60).mean() > 0.0005
