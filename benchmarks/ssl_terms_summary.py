"""Summarise the per-epoch 'SSL terms' lines of an SSL trainer's training_log_*.txt over its self-training epochs.

    python benchmarks/ssl_terms_summary.py TRAINING_LOG [KEY ...]

Prints, per key, the first, last and mean value over the epochs with phase 1 (NaN epochs left out). Used to read
the pseudo-label monitor (pl_dice_*, psc_*) from the recorded logs in benchmarks/results/.
"""
import ast
import re
import sys

import numpy as np

DEFAULT_KEYS = ("pl_confident_fraction", "pl_lcc_changed_fraction", "psc_changed_fraction", "psc_mean_weight",
                "pl_dice_raw", "pl_dice_cleaned", "pl_dice_corrected", "psc_flagged_fraction",
                "psc_flagged_error_rate", "psc_kept_error_rate")


def self_training_terms(log_path: str) -> list:
    """One dict per self-training epoch, values as floats (NaN kept)."""
    epochs = []
    with open(log_path) as f:
        for line in f:
            if "SSL terms: " not in line:
                continue
            text = re.sub(r"np\.float\d*\(([^)]*)\)", r"\1", line.split("SSL terms: ", 1)[1].strip())
            terms = ast.literal_eval(text.replace("nan", "None"))
            terms = {k: float("nan") if v is None else float(v) for k, v in terms.items()}
            if terms.get("phase") == 1.0:
                epochs.append(terms)
    return epochs


def main(argv) -> None:
    if not argv:
        sys.exit(__doc__)
    epochs = self_training_terms(argv[0])
    if not epochs:
        sys.exit(f"{argv[0]}: no self-training epoch (phase 1) in its 'SSL terms' lines")
    print(f"{argv[0]}: {len(epochs)} self-training epochs")
    for key in argv[1:] or DEFAULT_KEYS:
        values = np.array([e.get(key, np.nan) for e in epochs])
        values = values[~np.isnan(values)]
        if values.size:
            print(f"{key:26s} first {values[0]:.4f}  last {values[-1]:.4f}  mean {values.mean():.4f}")
        else:
            print(f"{key:26s} not logged")


if __name__ == "__main__":
    main(sys.argv[1:])
