"""`progress_ssl.png`: one panel per semi-supervised term, beside nnU-Net's own progress.png."""
import math
from typing import Dict, List, Sequence

import matplotlib

matplotlib.use("agg")
import matplotlib.pyplot as plt  # noqa: E402


def plot_ssl_progress(logging: Dict[str, List[float]], keys: Sequence[str], output_file: str) -> None:
    keys = [k for k in keys if k in logging]
    if not keys:
        return
    n_cols = min(3, len(keys))
    n_rows = math.ceil(len(keys) / n_cols)
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(6 * n_cols, 3.5 * n_rows), squeeze=False)
    for ax, key in zip(axes.flat, keys):
        values = logging[key]
        ax.plot(range(len(values)), values, marker="." if len(values) < 50 else None)
        ax.set_title(key)
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(keys):]:
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(output_file, dpi=80)
    plt.close(fig)
