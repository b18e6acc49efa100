"""The demo's two pictures: a results bar chart and an overlay of predictions on one validation case."""
from typing import Dict, List, Sequence

import matplotlib

matplotlib.use("agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

COLORS = {"truth": "#2ca02c", "prediction": "#d62728"}


def results_bar_chart(rows: Sequence[dict], path: str, title: str) -> None:
    """rows: {"method", "dice_mean", "dice_std", "hd95_mean", "hd95_std"} (HD95 in mm; NaN when undefined)."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    names = [r["method"] for r in rows]
    x = np.arange(len(rows))
    for ax, key, label in ((axes[0], "dice", "Dice (higher is better)"), (axes[1], "hd95", "HD95 in mm (lower is better)")):
        means = [r[f"{key}_mean"] for r in rows]
        stds = [r[f"{key}_std"] for r in rows]
        bars = ax.bar(x, means, yerr=stds, capsize=4, color=["#7f7f7f", "#1f77b4", "#ff7f0e", "#bcbd22"][:len(rows)])
        for bar, value in zip(bars, means):
            ax.text(bar.get_x() + bar.get_width() / 2, bar.get_height(), f"{value:.3f}" if key == "dice" else
                    f"{value:.1f}", ha="center", va="bottom", fontsize=9)
        ax.set_xticks(x)
        ax.set_xticklabels(names, rotation=15, ha="right", fontsize=9)
        ax.set_title(label)
        ax.grid(axis="y", alpha=0.3)
    axes[0].set_ylim(0, 1)
    fig.suptitle(title)
    fig.tight_layout(rect=(0, 0, 1, 0.93))
    fig.savefig(path, dpi=100)
    plt.close(fig)


def overlay_figure(image: np.ndarray, truth: np.ndarray, predictions: Dict[str, np.ndarray],
                   dice: Dict[str, float], path: str, case: str) -> None:
    """One axial slice (the one with most truth foreground) of a 3D case: the image with the truth (green) and
    each method's prediction (red) as contours."""
    index = int(np.argmax(truth.reshape(truth.shape[0], -1).sum(1)))
    panels: List = list(predictions.items())
    fig, axes = plt.subplots(1, len(panels), figsize=(3.6 * len(panels), 3.9))
    axes = np.atleast_1d(axes)
    for ax, (name, prediction) in zip(axes, panels):
        ax.imshow(image[index], cmap="gray", interpolation="nearest")
        for mask, color in ((truth[index] > 0, COLORS["truth"]), (prediction[index] > 0, COLORS["prediction"])):
            if mask.any():
                ax.contour(mask.astype(float), levels=[0.5], colors=[color], linewidths=1.5)
        ax.set_title(f"{name}\nDice {dice[name]:.3f}", fontsize=9)
        ax.axis("off")
    fig.suptitle(f"validation case {case}, slice {index}: truth (green), prediction (red)", fontsize=10)
    fig.tight_layout(rect=(0, 0, 1, 0.92))
    fig.savefig(path, dpi=100)
    plt.close(fig)
