"""``viewadapt datasets``: what is supported and found under a data root; ``datasets info NAME``: counts."""

from __future__ import annotations

from pathlib import Path

from viewadapt.builders import load_dataset, split_dataset, split_request
from viewadapt.config import DataConfig
from viewadapt.data.datasets import BENCHMARKS, DATASETS
from viewadapt.data.images import find_unreadable
from viewadapt.data.splits import SPLIT_PROTOCOLS
from viewadapt.data.summary import dataset_counts, split_counts
from viewadapt.data.synthetic import read_spec
from viewadapt.errors import DataError


def use_generated_spec(cfg: DataConfig) -> None:
    """Describe the synthetic set already on disk instead of regenerating it with default settings."""
    found = read_spec(cfg.root)
    if found is not None:
        cfg.synthetic, (cfg.height, cfg.width) = found


def list_datasets(root: str) -> str:
    lines = [f"data root: {root}", ""]
    rows = [("name", "dataset", "protocols", "on disk")]
    for name, src in DATASETS.items():
        if name in BENCHMARKS:
            where = src.locate(Path(root))
            status = f"found: {where}" if where else f"missing: expected {src.layout.replace('<root>', root)}"
        else:
            status = src.layout
        rows.append((name, src.title, ", ".join(src.protocols), status))
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r[:3], widths)) + "  " + r[3] for r in rows]
    lines += ["", "counts and splits: viewadapt datasets info NAME --data-root ROOT"]
    return "\n".join(lines)


def _split_table(title: str, counts: dict) -> list[str]:
    head = f"  {'part':<6}{'ids':>7}{'images':>8}{'probe':>8}{'gallery':>9}{'cameras':>9}{'distractors':>13}"
    rows = [title, head]
    for name, c in counts.items():
        rows.append(f"  {name:<6}{c['identities']:>7}{c['images']:>8}{c['probe_images']:>8}{c['gallery_images']:>9}"
                    f"{c['cameras']:>9}{c['distractor_images']:>13}")
    return rows


def dataset_info(cfg: DataConfig, protocols: list[str], verify: bool = False) -> str:
    src = DATASETS[cfg.dataset]
    ds = load_dataset(cfg)
    c = dataset_counts(ds)
    where = src.locate(Path(cfg.root)) or cfg.root
    lines = [f"{src.title} ({cfg.dataset}{', ' + cfg.variant if cfg.variant else ''}): {where}",
             f"  images {c['images']}  identities {c['identities']}  distractor images {c['distractor_images']}  "
             f"cameras {c['cameras']}",
             "  images per camera: " + ", ".join(f"{k} {v}" for k, v in c["images_per_camera"].items()),
             "  identities seen by N cameras: " + ", ".join(f"{k}: {v}" for k, v in c["identities_by_cameras"].items())]
    if "parts" in c:
        lines.append("  official parts: " + ", ".join(f"{p} {v['images']} images / {v['identities']} ids"
                                                      for p, v in c["parts"].items()))
    if c["classic_test_sets"]:
        lines.append(f"  classic test sets: {c['classic_test_sets']}")
    for protocol in protocols:
        lines.append("")
        title = f"protocol {SPLIT_PROTOCOLS[protocol].title(split_request(cfg))}:"
        try:
            split = split_dataset(cfg, ds, protocol)
        except DataError as exc:
            lines += [title, f"  not available: {exc}"]
            continue
        lines += _split_table(title, split_counts(split))
    if verify:
        bad = find_unreadable([r.path for r in ds.records], progress=True)
        lines += ["", f"verified {len(ds.records)} images: {len(bad)} unreadable"] + [f"  {b}" for b in bad]
    return "\n".join(lines)
