"""Pictures of module 07: learning curves per strategy, reliability diagrams, errors per distortion."""
from __future__ import annotations

import numpy as np

from dlcourse.plots import new_figure

from .calibration import reliability_curve


def plot_learning_curves(curves: dict, full_accuracy: float | None = None, title: str = "Accuracy against labels"):
    """Test accuracy against labels: curves maps a name to (n_labels (R,), accuracy (S, R)) over S seeds.

    Each name gets its median line and its min-max band; full_accuracy, when given, is drawn with its 95 % mark.
    Returns the Figure.
    """
    figure = new_figure(figsize=(6.5, 3.8), layout="constrained")
    ax = figure.subplots()
    for name, (n_labels, accuracy) in curves.items():
        accuracy = np.atleast_2d(accuracy)
        (line,) = ax.plot(n_labels, np.median(accuracy, axis=0), "-", label=name)
        if len(accuracy) > 1:
            ax.fill_between(n_labels, accuracy.min(axis=0), accuracy.max(axis=0), color=line.get_color(), alpha=0.15)
    if full_accuracy is not None:
        ax.axhline(full_accuracy, color="black", lw=1, label=f"all labels ({full_accuracy:.1%})")
        ax.axhline(0.95 * full_accuracy, color="black", lw=1, ls=":", label="95 % of that")
    ax.set(xlabel="labels", ylabel="test accuracy", title=title)
    ax.legend(fontsize=8)
    return figure


def plot_reliability(named_probs: dict, y, n_bins: int = 10):
    """Reliability diagrams side by side: named_probs maps a name to probs (N, K) for labels y (N,); a Figure."""
    figure = new_figure(figsize=(3.4 * len(named_probs), 3.4), layout="constrained")
    axes = np.atleast_1d(figure.subplots(1, len(named_probs)))
    for ax, (name, probs) in zip(axes, named_probs.items()):
        confidence, accuracy, count = reliability_curve(probs, y, n_bins)
        edges = np.linspace(1.0 / np.shape(probs)[1], 1.0, n_bins + 1)
        filled = count > 0
        ax.bar(edges[:-1][filled], accuracy[filled], width=np.diff(edges)[filled], align="edge",
               edgecolor="black", alpha=0.7, label="accuracy")
        ax.plot([edges[0], 1], [edges[0], 1], "k--", lw=1, label="perfect calibration")
        ax.plot(confidence[filled], accuracy[filled], "o", color="tab:red", ms=4, label="bin mean confidence")
        ax.set(xlabel="confidence", ylabel="accuracy", title=name, xlim=(edges[0], 1), ylim=(0, 1.02))
    axes[0].legend(fontsize=7, loc="upper left")
    return figure


def plot_errors_per_distortion(error_rates: dict, counts: dict, title: str = "Test errors per distortion"):
    """Bars of the error rate per distortion name (error_rates: name -> rate, counts: name -> images); a Figure."""
    figure = new_figure(figsize=(6.5, 3), layout="constrained")
    ax = figure.subplots()
    names = list(error_rates)
    bars = ax.bar(names, [error_rates[n] for n in names], color="tab:red", alpha=0.8)
    for bar, name in zip(bars, names):
        ax.annotate(f"n={counts[name]}", (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                    ha="center", va="bottom", fontsize=7)
    ax.set(ylabel="error rate", title=title)
    ax.tick_params(axis="x", rotation=30, labelsize=8)
    return figure
