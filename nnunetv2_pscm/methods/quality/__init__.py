"""QG-SSL (arXiv 2606.01753): a segmentation-quality predictor (image + mask -> predicted Dice per class) and the
data that trains it; see `corruptions`, `targets` and `network` for what the paper confirms and what we reconstruct."""
