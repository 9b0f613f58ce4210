"""Every published figure from one source: README.md, docs/findings.md and docs/guide.md quote runs only
through markers that the records fill in (viewadapt.experiments.publish), so a figure can neither be
typed by hand nor drift from the tables of docs/results.md."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from viewadapt.experiments.publish import MARKER, PUBLISHED, Numbers, fill

REPO = Path(__file__).parent.parent
# What a page may show that no record gives: a command's printed output kept as it printed (the demo's
# table, a benchmark's), between these marks.
TRANSCRIPT = re.compile(r"<!--transcript [^>]*-->.*?<!--/transcript-->", re.S)
# Figures that are settings or names, not results: equation, figure and table numbers, versions, sizes.
NOT_A_RESULT = re.compile(r"±\s+std|(Eq|Fig|Table|Tables|Figs|Python|torch|YAML|version|v|gamma|Lite|lite)\.? ?\d+(\.\d+)*"
                          r"|\d+(\.\d+)+ ?(x|GiB|GB|MB|s|min|ms)\b|\d+\.\d+\.\d+|\d+ x \d+")


@pytest.fixture(scope="module")
def numbers() -> Numbers:
    return Numbers(REPO / "docs" / "results" / "records")


@pytest.mark.parametrize("name", PUBLISHED)
def test_every_figure_of_a_page_is_its_records(name, numbers):
    text = (REPO / name).read_text()
    assert fill(text, numbers) == text, f"{name} differs from its records: bash docs/make_results.sh fills it in"


def hand_typed(text: str) -> list[str]:
    """Result-like figures outside markers and transcripts: a ± spread, a decimal, a signed difference or a
    count of points."""
    bare = TRANSCRIPT.sub("", MARKER.sub("", text))
    bare = NOT_A_RESULT.sub("", bare)
    found = re.findall(r".{0,30}(?:±|\b\d+\.\d\b|[+−]\d+\b|\b\d+ points?\b).{0,10}", bare)
    return found


@pytest.mark.parametrize("name", PUBLISHED)
def test_no_figure_from_a_run_is_typed_by_hand(name):
    found = hand_typed((REPO / name).read_text())
    assert not found, f"{name}: {found[:5]}"


def test_the_check_finds_a_typed_figure():
    assert hand_typed("camera statistics 54.7 ± 1.2 (+8, +9, +11), 9 points ahead") != []
    assert hand_typed("Eq. 5 at 96 x 48, torch 2.4, <!--n cameras few_labels stats_self rank1-->54.7<!--/n-->") == []
    assert hand_typed("<!--transcript viewadapt demo-->| a | 21.3 |<!--/transcript-->") == []


def test_pseudo_label_figures_are_the_last_epoch_over_seeds_and_the_range_over_every_epoch():
    from viewadapt.experiments.publish import _pseudo_labels
    from viewadapt.experiments.records import pseudo_labels

    history = [{"stage": "similarity", "loss": 1.0},
               {"stage": "self_training", "pseudo_labelled": 0.10, "pseudo_precision": 0.12, "loss": 2.0},
               {"stage": "self_training", "pseudo_labelled": 0.30, "pseudo_precision": 0.20, "new_people": 7.0}]
    first = pseudo_labels({"history": history})
    assert first == [{"pseudo_labelled": 0.10, "pseudo_precision": 0.12},
                     {"pseudo_labelled": 0.30, "pseudo_precision": 0.20, "new_people": 7.0}]
    second = [{"pseudo_precision": 0.05}, {"pseudo_precision": 0.10}]
    runs = [{"pseudo_labels": first}, {"pseudo_labels": second}, {"pseudo_labels": []}]  # a run without the stage
    assert _pseudo_labels(runs, "pseudo_precision", "", "spec") == "15.0 ± 7.1"  # last epochs: 20 and 10
    assert _pseudo_labels(runs, "pseudo_precision", "range", "spec") == "5 to 20"
    assert _pseudo_labels(runs, "new_people", "", "spec") == "7.0"  # a count, one seed has it
    assert _pseudo_labels(runs, "purity", "", "spec") == "not recorded"


def test_a_table_says_what_each_self_training_rows_pseudo_labels_did():
    from viewadapt.experiments.registry import Row
    from viewadapt.experiments.runner import _pseudo_label_lines

    cluster = Row("clusters", key="stats_cluster")
    runs = [{"pseudo_labels": [{"pseudo_labelled": 0.2}, {"pseudo_labelled": 0.5, "new_people": 10.0, "purity": 0.8}]},
            {"pseudo_labels": [{"pseudo_labelled": 0.3, "new_people": 20.0, "purity": 0.9}]}, {}]
    lines = _pseudo_label_lines({"a": (Row("plain", key="siamese"), [{}, {}]), "b": (cluster, runs)})
    assert lines == ["", "Pseudo-labels at self-training's last epoch, mean over seeds: `stats_cluster` 40% of the "
                         "unlabelled crops taken, 15 new people (85% pure) (2 of 3 seeds)."]
    assert _pseudo_label_lines({"a": (Row("plain", key="siamese"), [{}])}) == []
