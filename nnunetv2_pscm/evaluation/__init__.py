"""Evaluation: medpy-compatible Dice, Jaccard, HD95, ASD, ASSD per case and class, folder evaluation.

Public API (import from here):

* :func:`compute_binary_metrics` and :func:`compute_case_metrics` (arrays in, tidy rows out),
* :func:`surface_distances` (directed surface distances of two binary masks),
* :func:`evaluate_folders` (folders in, summary dict / summary.json / tidy CSV out).

Metric conventions and the empty-mask policy: :mod:`nnunetv2_pscm.evaluation.metrics`.
"""
from nnunetv2_pscm.evaluation.evaluate_folder import EvaluationInputError, evaluate_folders
from nnunetv2_pscm.evaluation.metrics import (
    MODES,
    compute_binary_metrics,
    compute_case_metrics,
    largest_connected_component,
)
from nnunetv2_pscm.evaluation.summary import tidy_rows_from_summary
from nnunetv2_pscm.evaluation.surface_distances import surface_distances

__all__ = [
    "MODES",
    "EvaluationInputError",
    "compute_binary_metrics",
    "compute_case_metrics",
    "evaluate_folders",
    "largest_connected_component",
    "surface_distances",
    "tidy_rows_from_summary",
]
