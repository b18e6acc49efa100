"""The monitor's PNG: one slice of an unlabeled case through PSCM's pseudo-label pipeline."""
import matplotlib

matplotlib.use("agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def _slice(volume: np.ndarray, index: int) -> np.ndarray:
    return volume[index] if volume.ndim == 3 else volume


def save_pseudo_label_figure(path, image, raw, corrected, mask, truth, case, epoch) -> None:
    # the slice where the truth (else the pseudo-label) has most foreground
    reference = truth if truth is not None and truth.any() else corrected
    index = int(np.argmax(reference.reshape(reference.shape[0], -1).sum(1))) if reference.ndim == 3 else 0
    panels = [("image", image, "gray"), ("teacher pseudo-label", raw, "viridis"),
              ("PSC-corrected", corrected, "viridis")]
    if mask is not None:
        panels.append(("BOM mask", mask, "gray"))
    if truth is not None:
        panels.append(("hidden truth (monitor only)", truth, "viridis"))
    fig, axes = plt.subplots(1, len(panels), figsize=(3.2 * len(panels), 3.4))
    n_classes = max(int(raw.max()), int(corrected.max()), int(truth.max()) if truth is not None else 0, 1)
    for ax, (title, volume, cmap) in zip(axes, panels):
        kwargs = {"vmin": 0, "vmax": n_classes} if cmap == "viridis" else {}
        ax.imshow(_slice(volume, index), cmap=cmap, interpolation="nearest", **kwargs)
        ax.set_title(title, fontsize=9)
        ax.axis("off")
    fig.suptitle(f"{case}, epoch {epoch}", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
