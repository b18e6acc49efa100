"""Folder evaluation on tiny .nii.gz folders: the API (`evaluate_folders`) and the CLI (via subprocess)."""
import csv
import json
import math
import os
import subprocess
import sys

import numpy as np
import pytest
import SimpleITK as sitk

from nnunetv2_pscm.evaluation import EvaluationInputError, compute_case_metrics, evaluate_folders
from nnunetv2_pscm.evaluation.evaluate_folder import POSTPROCESSING_LCC, POSTPROCESSING_NONE
from nnunetv2_pscm.evaluation.summary import read_tidy_csv, tidy_rows_from_summary

# SimpleITK spacing is (x, y, z); nnU-Net (and our metrics) see arrays as (z, y, x) with the spacing reversed
SITK_SPACING = (0.8, 0.9, 2.5)
ARRAY_SPACING = (2.5, 0.9, 0.8)
SHAPE = (6, 12, 10)
DATASET_JSON = {"labels": {"background": 0, "organ": 1, "tumour": 2}, "file_ending": ".nii.gz", "numTraining": 3}


def write_seg(path, array, spacing=SITK_SPACING):
    image = sitk.GetImageFromArray(np.asarray(array, dtype=np.uint8))
    image.SetSpacing(spacing)
    sitk.WriteImage(image, str(path))


def make_cases():
    """Three cases: an imperfect prediction, a missed class 2 (one mask empty), class 2 absent (both empty)."""
    ref_a = np.zeros(SHAPE, np.uint8)
    ref_a[1:5, 2:8, 2:7] = 1
    ref_a[2:4, 8:11, 5:9] = 2
    pred_a = np.zeros(SHAPE, np.uint8)
    pred_a[1:5, 3:9, 2:6] = 1
    pred_a[2:5, 8:11, 6:9] = 2
    pred_b = ref_a.copy()
    pred_b[pred_b == 2] = 0
    ref_c = np.zeros(SHAPE, np.uint8)
    ref_c[0:3, 0:5, 0:5] = 1
    pred_c = ref_c.copy()
    pred_c[5, 11, 9] = 1  # a stray voxel in the far corner: --lcc removes it
    return {"case_a": (ref_a, pred_a), "case_b": (ref_a, pred_b), "case_c": (ref_c, pred_c)}


@pytest.fixture()
def folders(tmp_path):
    ref_dir, pred_dir = tmp_path / "ref", tmp_path / "pred"
    ref_dir.mkdir()
    pred_dir.mkdir()
    for case, (ref, pred) in make_cases().items():
        write_seg(ref_dir / f"{case}.nii.gz", ref)
        write_seg(pred_dir / f"{case}.nii.gz", pred)
    (pred_dir / "notes.txt").write_text("files without the file ending are not cases")
    dataset_json_file = tmp_path / "dataset.json"
    dataset_json_file.write_text(json.dumps(DATASET_JSON))
    return ref_dir, pred_dir, dataset_json_file


# ----------------------------------------------------------------------------- API
def test_summary_matches_array_metrics_and_policy(folders, tmp_path):
    ref_dir, pred_dir, _ = folders
    summary = evaluate_folders(ref_dir, pred_dir, DATASET_JSON, output_json=tmp_path / "out" / "s.json")
    assert summary["postprocessing"] == POSTPROCESSING_NONE and summary["num_cases"] == 3
    assert [c["name"] for c in summary["classes"]] == ["organ", "tumour"]
    for case_entry in summary["per_case"]:
        ref, pred = make_cases()[case_entry["case"]]
        assert case_entry["spacing"] == pytest.approx(ARRAY_SPACING)
        expected = compute_case_metrics(pred, ref, [1, 2], ARRAY_SPACING, class_names=["organ", "tumour"])
        for row in expected:
            got = case_entry["metrics"][row["class"]][row["mode"]]
            for metric in ("dice", "jaccard", "hd95", "asd", "assd"):
                if math.isnan(row[metric]):
                    assert math.isnan(got[metric])
                else:
                    assert got[metric] == pytest.approx(row[metric], rel=1e-6)

    tumour_mm = summary["mean"]["tumour"]["mm"]
    assert tumour_mm["hd95"]["n_undefined"] == 1 and tumour_mm["hd95"]["n"] == 3  # case_b missed the tumour
    assert tumour_mm["dice"]["n_undefined"] == 0
    assert summary["mean"]["tumour"]["empty_counts"] == {"both_empty": 1, "only_pred_empty": 1, "only_ref_empty": 0}
    per_case_dice = [c["metrics"]["tumour"]["mm"]["dice"] for c in summary["per_case"]]
    assert per_case_dice[1:] == [0.0, 1.0]  # case_b: one mask empty; case_c: both empty
    assert tumour_mm["dice"]["mean"] == pytest.approx(np.mean(per_case_dice))
    foreground = summary["foreground_mean"]["voxel"]["asd"]["mean"]
    class_means = [summary["mean"][c]["voxel"]["asd"]["mean"] for c in ("organ", "tumour")]
    assert foreground == pytest.approx(np.mean(class_means))

    written = json.loads((tmp_path / "out" / "s.json").read_text())  # strict JSON: NaN became null
    case_b = next(c for c in written["per_case"] if c["case"] == "case_b")
    assert case_b["metrics"]["tumour"]["voxel"]["hd95"] is None
    assert case_b["metrics"]["tumour"]["voxel"]["pred_empty"] is True


def test_csv_is_tidy_with_empty_fields_for_undefined(folders, tmp_path):
    ref_dir, pred_dir, _ = folders
    csv_file = tmp_path / "metrics.csv"
    evaluate_folders(ref_dir, pred_dir, DATASET_JSON, output_csv=csv_file)
    with open(csv_file, newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0].keys()) == ["case", "class", "mode", "dice", "jaccard", "hd95", "asd", "assd"]
    assert len(rows) == 3 * 2 * 2
    missed = next(r for r in rows if r["case"] == "case_b" and r["class"] == "tumour" and r["mode"] == "mm")
    assert missed["dice"] == "0.0" and missed["hd95"] == "" and missed["asd"] == "" and missed["assd"] == ""
    both_empty = next(r for r in rows if r["case"] == "case_c" and r["class"] == "tumour" and r["mode"] == "voxel")
    assert float(both_empty["dice"]) == 1.0 and float(both_empty["hd95"]) == 0.0


def test_lcc_is_applied_and_reported(folders):
    ref_dir, pred_dir, _ = folders
    plain = evaluate_folders(ref_dir, pred_dir, DATASET_JSON, modes=("voxel",))
    cleaned = evaluate_folders(ref_dir, pred_dir, DATASET_JSON, modes=("voxel",), lcc=True)
    assert cleaned["postprocessing"] == POSTPROCESSING_LCC == "largest_connected_component_per_class"
    organ = lambda s: next(c for c in s["per_case"] if c["case"] == "case_c")["metrics"]["organ"]["voxel"]  # noqa: E731
    assert organ(plain)["asd"] > 0 and organ(cleaned)["asd"] == 0.0 and organ(cleaned)["dice"] == 1.0


def test_region_based_dataset(folders):
    ref_dir, pred_dir, _ = folders
    regions_json = {
        "labels": {"background": 0, "whole": [1, 2], "core": [2]},
        "regions_class_order": [1, 2],
        "file_ending": ".nii.gz",
    }
    summary = evaluate_folders(ref_dir, pred_dir, regions_json, modes=("voxel",))
    assert summary["region_based"] is True
    case_b = next(c for c in summary["per_case"] if c["case"] == "case_b")
    ref, pred = make_cases()["case_b"]
    whole = compute_case_metrics(pred, ref, [(1, 2)], modes=("voxel",))[0]
    assert case_b["metrics"]["whole"]["voxel"]["dice"] == pytest.approx(whole["dice"])
    assert math.isnan(case_b["metrics"]["core"]["voxel"]["hd95"])


def test_2d_images_are_evaluated_with_2d_surfaces(tmp_path):
    ref_dir, pred_dir = tmp_path / "ref", tmp_path / "pred"
    ref_dir.mkdir()
    pred_dir.mkdir()
    ref = np.zeros((9, 11), np.uint8)
    ref[2:6, 3:8] = 1
    pred = np.roll(ref, 1, axis=1)
    write_seg(ref_dir / "slice.nii.gz", ref, spacing=(0.5, 2.0))
    write_seg(pred_dir / "slice.nii.gz", pred, spacing=(0.5, 2.0))
    summary = evaluate_folders(ref_dir, pred_dir, {**DATASET_JSON, "labels": {"background": 0, "fg": 1}})
    case = summary["per_case"][0]
    assert case["shape"] == [9, 11] and case["spacing"] == pytest.approx([2.0, 0.5])
    expected = compute_case_metrics(pred, ref, [1], spacing=(2.0, 0.5), class_names=["fg"])
    assert case["metrics"]["fg"]["mm"]["asd"] == pytest.approx(expected[1]["asd"])
    assert case["metrics"]["fg"]["voxel"]["hd95"] == pytest.approx(expected[0]["hd95"])


def test_missing_and_extra_cases_are_errors_naming_them(folders):
    ref_dir, pred_dir, _ = folders
    os.remove(pred_dir / "case_b.nii.gz")
    with pytest.raises(EvaluationInputError, match="case_b"):
        evaluate_folders(ref_dir, pred_dir, DATASET_JSON)
    only_predicted = evaluate_folders(ref_dir, pred_dir, DATASET_JSON, cases_from_pred=True, modes=("voxel",))
    assert [c["case"] for c in only_predicted["per_case"]] == ["case_a", "case_c"]
    write_seg(pred_dir / "case_x.nii.gz", np.zeros(SHAPE))
    with pytest.raises(EvaluationInputError, match="case_x"):
        evaluate_folders(ref_dir, pred_dir, DATASET_JSON, cases_from_pred=True)
    chosen = evaluate_folders(ref_dir, pred_dir, DATASET_JSON, case_ids=["case_c"], modes=("voxel",))
    assert chosen["num_cases"] == 1


def test_shape_spacing_and_label_errors_name_case_and_file(folders):
    ref_dir, pred_dir, _ = folders
    ref_a, pred_a = make_cases()["case_a"]
    write_seg(pred_dir / "case_a.nii.gz", pred_a, spacing=(0.8, 0.9, 3.0))
    with pytest.raises(EvaluationInputError, match=r"case_a: spacing mismatch.*case_a\.nii\.gz"):
        evaluate_folders(ref_dir, pred_dir, DATASET_JSON)
    write_seg(pred_dir / "case_a.nii.gz", pred_a[:, :-1])
    with pytest.raises(EvaluationInputError, match=r"case_a: shape mismatch"):
        evaluate_folders(ref_dir, pred_dir, DATASET_JSON)
    bad_labels = pred_a.copy()
    bad_labels[0, 0, 0] = 7
    write_seg(pred_dir / "case_a.nii.gz", bad_labels)
    with pytest.raises(EvaluationInputError, match=r"case_a: prediction .*case_a\.nii\.gz contains label values \[7\]"):
        evaluate_folders(ref_dir, pred_dir, DATASET_JSON)
    fractional = sitk.GetImageFromArray(pred_a.astype(np.float32) * 0.5)  # e.g. a probability map by mistake
    fractional.SetSpacing(SITK_SPACING)
    sitk.WriteImage(fractional, str(pred_dir / "case_a.nii.gz"))
    with pytest.raises(EvaluationInputError, match=r"case_a: non-integer label values \[0\.5"):
        evaluate_folders(ref_dir, pred_dir, DATASET_JSON)
    (pred_dir / "case_a.nii.gz").write_bytes(b"not an image")
    with pytest.raises(EvaluationInputError, match=r"case_a: cannot read prediction"):
        evaluate_folders(ref_dir, pred_dir, DATASET_JSON)


def test_csv_and_summary_round_trip(folders, tmp_path):
    ref_dir, pred_dir, _ = folders
    summary = evaluate_folders(ref_dir, pred_dir, DATASET_JSON, output_csv=tmp_path / "m.csv")
    from_summary = tidy_rows_from_summary(summary)
    from_csv = read_tidy_csv(tmp_path / "m.csv")
    assert len(from_summary) == len(from_csv) == 12
    for a, b in zip(from_summary, from_csv):
        assert (a["case"], a["class"], a["mode"]) == (b["case"], b["class"], b["mode"])
        for metric in ("dice", "jaccard", "hd95", "asd", "assd"):
            assert (math.isnan(a[metric]) and math.isnan(b[metric])) or a[metric] == b[metric]


# ----------------------------------------------------------------------------- CLI
def run_cli(*args, env=None):
    return subprocess.run(
        [sys.executable, "-m", "nnunetv2_pscm.cli.evaluate", *map(str, args)],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=120,
    )


def test_cli_end_to_end_parallel_with_csv_and_lcc(folders, tmp_path):
    ref_dir, pred_dir, dataset_json_file = folders
    out_json, out_csv = tmp_path / "summary.json", tmp_path / "metrics.csv"
    common = ["-ref", ref_dir, "-pred", pred_dir, "-djfile", dataset_json_file, "-o", out_json, "--csv", out_csv]
    result = run_cli(*common, "--lcc", "-np", "2")
    assert result.returncode == 0, result.stderr
    assert "foreground mean [voxel]" in result.stdout and "foreground mean [mm]" in result.stdout
    summary = json.loads(out_json.read_text())
    assert summary["postprocessing"] == "largest_connected_component_per_class"
    assert summary["modes"] == ["voxel", "mm"] and summary["num_cases"] == 3
    serial = evaluate_folders(ref_dir, pred_dir, DATASET_JSON, lcc=True)
    assert summary["foreground_mean"]["mm"]["hd95"]["mean"] == pytest.approx(
        serial["foreground_mean"]["mm"]["hd95"]["mean"]
    )
    assert len(out_csv.read_text().strip().splitlines()) == 1 + 3 * 2 * 2

    refused = run_cli(*common, "--mode", "voxel")
    assert refused.returncode != 0 and "--overwrite" in refused.stderr
    voxel_only = run_cli(*common, "--mode", "voxel", "--overwrite")
    assert voxel_only.returncode == 0, voxel_only.stderr
    assert json.loads(out_json.read_text())["modes"] == ["voxel"]


def test_cli_spacing_mismatch_is_a_clear_error(folders, tmp_path):
    ref_dir, pred_dir, dataset_json_file = folders
    write_seg(pred_dir / "case_c.nii.gz", make_cases()["case_c"][1], spacing=(0.8, 0.9, 5.0))
    result = run_cli("-ref", ref_dir, "-pred", pred_dir, "-djfile", dataset_json_file, "-o", tmp_path / "s.json")
    assert result.returncode != 0
    assert "case_c: spacing mismatch" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "s.json").exists()


def test_cli_missing_case_with_dataset_id(folders, tmp_path):
    ref_dir, pred_dir, _ = folders
    raw = tmp_path / "nnUNet_raw"
    (raw / "Dataset987_Tiny").mkdir(parents=True)
    (raw / "Dataset987_Tiny" / "dataset.json").write_text(json.dumps(DATASET_JSON))
    os.remove(pred_dir / "case_a.nii.gz")
    env = {"nnUNet_raw": str(raw), "nnUNet_preprocessed": str(tmp_path / "pre"), "nnUNet_results": str(tmp_path)}
    result = run_cli("-ref", ref_dir, "-pred", pred_dir, "-d", "987", env=env)
    assert result.returncode != 0
    assert "without a prediction" in result.stderr and "case_a" in result.stderr
    ok = run_cli("-ref", ref_dir, "-pred", pred_dir, "-d", "987", "--cases_from_pred", "--mode", "voxel", env=env)
    assert ok.returncode == 0, ok.stderr
    assert json.loads((pred_dir / "summary_pscm.json").read_text())["num_cases"] == 2
