"""Pictures for a human reader of QC and "label these next": the image slice with the most mask foreground and the
mask's outline per class on it (matplotlib, headless)."""
from typing import List, Sequence, Tuple

import numpy as np

Panel = Tuple[np.ndarray, np.ndarray, str]  # (image (c, *spatial), mask (*spatial), title)


def display_slice(image: np.ndarray, mask: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """(2D image of the first channel, 2D mask): the axial slice (axis 0) with the most foreground of a 3D case
    (the middle slice if there is none); a 2D case as it is."""
    image, mask = np.asarray(image), np.asarray(mask)
    if mask.ndim == 2:
        return image[0].astype(np.float32), mask
    counts = (mask > 0).reshape(mask.shape[0], -1).sum(1)
    z = int(counts.argmax()) if counts.max() > 0 else mask.shape[0] // 2
    return image[0, z].astype(np.float32), mask[z]


def save_panels(panels: Sequence[Panel], path: str, columns: int = 5) -> None:
    """One figure with a panel per (image, mask, title); written to ``path`` (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not panels:
        raise ValueError("no panels to draw")
    columns = max(1, min(columns, len(panels)))
    rows = int(np.ceil(len(panels) / columns))
    fig, axes = plt.subplots(rows, columns, figsize=(3.2 * columns, 3.4 * rows), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for ax, (image, mask, title) in zip(axes.ravel(), panels):
        slice_image, slice_mask = display_slice(image, mask)
        ax.imshow(slice_image, cmap="gray")
        labels: List[int] = [int(v) for v in np.unique(slice_mask) if v > 0]
        for i, label in enumerate(labels):
            ax.contour(slice_mask == label, levels=[0.5], colors=[plt.cm.tab10(i % 10)], linewidths=1.0)
        ax.set_title(title, fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
