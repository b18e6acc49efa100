"""Means where a surface distance is undefined (exactly one mask empty): the mean is over the defined cases and
is shown with its count, 'NaN (n=0 of N)' when none is defined; never a 0. Hand-made per-case rows, means by hand."""
import json
import math
import os
import subprocess
import sys

import numpy as np
import pytest
import SimpleITK as sitk

from nnunetv2_pscm.evaluation import compute_binary_metrics
from nnunetv2_pscm.evaluation.summary import (aggregate_rows, format_mean_with_count, summary_lines,
                                              write_summary_json)

NAN = float("nan")
CASES = ("c1", "c2", "c3", "c4")
# organ: HD95 2, 4, undefined (prediction empty), 6 -> mean over the 3 defined = 4.0
# tumour: missed in every case -> undefined everywhere, its mean is undefined
ORGAN_HD95 = (2.0, 4.0, NAN, 6.0)
ORGAN_DICE = (0.9, 0.8, 0.0, 0.7)


def _row(case, class_name, dice, hd95):
    undefined = math.isnan(hd95)
    return {"case": case, "class": class_name, "mode": "voxel", "dice": dice, "jaccard": dice / (2 - dice),
            "hd95": hd95, "asd": hd95 / 2, "assd": hd95 / 2, "pred_empty": undefined, "ref_empty": False}


def _rows():
    rows = [_row(c, "organ", d, h) for c, d, h in zip(CASES, ORGAN_DICE, ORGAN_HD95)]
    rows += [_row(c, "tumour", 0.0, NAN) for c in CASES]
    return rows


def _summary():
    aggregated = aggregate_rows(_rows(), ["organ", "tumour"], ["voxel"])
    return {"num_cases": len(CASES), "postprocessing": "none", "modes": ["voxel"], **aggregated}


def test_class_and_foreground_means_are_over_defined_values_with_counts():
    summary = _summary()
    organ = summary["mean"]["organ"]["voxel"]
    assert organ["hd95"] == {"mean": pytest.approx(4.0), "n_undefined": 1, "n": 4}  # (2 + 4 + 6) / 3
    assert organ["asd"]["mean"] == pytest.approx(2.0) and organ["dice"]["mean"] == pytest.approx(0.6)
    assert summary["mean"]["tumour"]["voxel"]["hd95"] == {"mean": None, "n_undefined": 4, "n": 4}
    foreground = summary["foreground_mean"]["voxel"]
    # over classes: the tumour's undefined mean is left out (not averaged as 0, which would give 2.0)
    assert foreground["hd95"]["mean"] == pytest.approx(4.0)
    assert (foreground["hd95"]["n_values"], foreground["hd95"]["n_values_undefined"]) == (8, 5)
    assert foreground["dice"]["mean"] == pytest.approx(0.3) and foreground["dice"]["n_values_undefined"] == 0


def test_printed_means_carry_their_count_and_nan_when_none_is_defined():
    lines = summary_lines(_summary())
    assert lines[0] == "4 cases, postprocessing: none"
    assert lines[1] == ("foreground mean [voxel]: dice 0.3000, jaccard 0.2529, hd95 4.0000 (n=3 of 8), "
                        "asd 2.0000 (n=3 of 8), assd 2.0000 (n=3 of 8)")
    assert lines[3].startswith("  organ [voxel]: dice 0.6000 (n=4 of 4), ") and "hd95 4.0000 (n=3 of 4)" in lines[3]
    assert lines[4].startswith("  tumour [voxel]: dice 0.0000 (n=4 of 4), ") and "hd95 NaN (n=0 of 4)" in lines[4]
    assert not any(" 0.0 " in line or "hd95 0.0000" in line for line in lines)


def test_nothing_undefined_prints_full_counts_and_no_class_lines():
    rows = [_row(c, "organ", 0.9, 3.0) for c in CASES]
    summary = {"num_cases": 4, "postprocessing": "none", "modes": ["voxel"],
               **aggregate_rows(rows, ["organ"], ["voxel"])}
    assert summary_lines(summary)[1:] == ["foreground mean [voxel]: dice 0.9000, jaccard 0.8182, hd95 3.0000 "
                                          "(n=4 of 4), asd 1.5000 (n=4 of 4), assd 1.5000 (n=4 of 4)"]


def test_format_mean_with_count():
    assert format_mean_with_count(12.3, 7, 8, digits=1) == "12.3 (n=7 of 8)"
    assert format_mean_with_count(None, 0, 8) == format_mean_with_count(NAN, 0, 8) == "NaN (n=0 of 8)"


def test_json_summary_writes_null_not_zero_and_keeps_counts(tmp_path):
    write_summary_json(_summary(), str(tmp_path / "s.json"))
    written = json.loads((tmp_path / "s.json").read_text())
    assert written["mean"]["tumour"]["voxel"]["hd95"] == {"mean": None, "n_undefined": 4, "n": 4}
    assert written["foreground_mean"]["voxel"]["hd95"]["mean"] == pytest.approx(4.0)
    assert summary_lines(written) == summary_lines(_summary())  # the JSON prints the same


def test_cli_prints_the_mean_over_defined_cases_with_the_count(tmp_path):
    ref_dir, pred_dir = tmp_path / "ref", tmp_path / "pred"
    ref_dir.mkdir()
    pred_dir.mkdir()
    ref = np.zeros((5, 7, 6), np.uint8)
    ref[1:4, 2:6, 1:5] = 1
    shifted = np.roll(ref, 1, axis=2)
    for case, pred in (("hit", shifted), ("missed", np.zeros_like(ref))):  # missed: prediction empty
        for folder, array in ((ref_dir, ref), (pred_dir, pred)):
            sitk.WriteImage(sitk.GetImageFromArray(array), str(folder / f"{case}.nii.gz"))
    (tmp_path / "dataset.json").write_text(json.dumps({"labels": {"background": 0, "organ": 1},
                                                       "file_ending": ".nii.gz"}))
    result = subprocess.run([sys.executable, "-m", "nnunetv2_pscm.cli.evaluate", "-ref", str(ref_dir), "-pred",
                             str(pred_dir), "-djfile", str(tmp_path / "dataset.json"), "--mode", "voxel"],
                            capture_output=True, text=True, env=dict(os.environ), timeout=120)
    assert result.returncode == 0, result.stderr
    hit_hd95 = compute_binary_metrics(shifted, ref)["voxel"]["hd95"]
    assert hit_hd95 > 0
    # the mean over the one defined case, not (hd95 + 0) / 2
    assert f"hd95 {hit_hd95:.4f} (n=1 of 2)" in result.stdout.splitlines()[1]
    assert f"  organ [voxel]: dice {compute_binary_metrics(shifted, ref)['voxel']['dice'] / 2:.4f} (n=2 of 2)" \
        in result.stdout
