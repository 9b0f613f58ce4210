"""What a researcher looks at: CMC and training curves, rank-list images, the HTML report of a run."""

from viewadapt.reports.figures import draw_rank_list, plot_cmc, plot_sweep, plot_training
from viewadapt.reports.html import build_report

__all__ = ["build_report", "draw_rank_list", "plot_cmc", "plot_sweep", "plot_training"]
