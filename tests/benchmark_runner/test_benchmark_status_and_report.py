"""Run status from nnU-Net's fold folder, aggregation (mean ± std on hand-made rows) and the report files."""
import csv
import math

import pytest

from nnunetv2_pscm.benchmark_runner.runs import (CONFLICT, DONE, NEW, RESUME, REVALIDATE, ROLE_FULL, ROLE_LABELED_ONLY,
                                          ROLE_SSL_RUN, Run, format_plan, run_status, write_split_entry_marker)
from nnunetv2_pscm.benchmark_runner.report import TEST_BANNER, aggregate, format_mean_std, write_report

ENTRY = {"train": ["a"], "val": ["v1", "v2"], "unlabeled": ["b"]}


def test_status_follows_nnunet_files(tmp_path):
    fold = tmp_path / "fold_0"
    assert run_status(str(fold), ENTRY, ".nii.gz") == NEW
    fold.mkdir()
    (fold / "checkpoint_latest.pth").touch()
    assert run_status(str(fold), ENTRY, ".nii.gz") == RESUME
    (fold / "checkpoint_final.pth").touch()
    assert run_status(str(fold), ENTRY, ".nii.gz") == REVALIDATE  # no validation yet
    (fold / "validation").mkdir()
    (fold / "validation" / "summary.json").touch()
    (fold / "validation" / "v1.nii.gz").touch()
    assert run_status(str(fold), ENTRY, ".nii.gz") == REVALIDATE  # v2 missing
    (fold / "validation" / "v2.nii.gz").touch()
    assert run_status(str(fold), ENTRY, ".nii.gz") == DONE
    write_split_entry_marker(str(fold), ENTRY)
    assert run_status(str(fold), dict(ENTRY, unlabeled=["b"]), ".nii.gz") == DONE
    assert run_status(str(fold), dict(ENTRY, train=["b"], unlabeled=["a"]), ".nii.gz") == CONFLICT


def test_folder_trained_outside_a_benchmark_on_other_split_sizes_is_a_conflict(tmp_path):
    fold = tmp_path / "fold_0"
    (fold / "validation").mkdir(parents=True)
    for name in ("checkpoint_final.pth", "validation/summary.json", "validation/v1.nii.gz", "validation/v2.nii.gz"):
        (fold / name).touch()
    (fold / "training_log_2024_01_01_00_00_00.txt").write_text(
        "2024-01-01 00:00:00.000000: This split has 8 training and 2 validation cases. \n")
    assert run_status(str(fold), ENTRY, ".nii.gz") == CONFLICT  # the entry has 1 labeled training case
    assert run_status(str(fold), dict(ENTRY, train=list("abcdefgh")), ".nii.gz") == DONE


def _run(fold, trainer, role, n, seed, base_fold, fraction=None):
    return Run(fold=fold, trainer=trainer, nnunet_trainer=trainer + "_1ep2it", role=role, base_fold=base_fold,
               num_labeled=n, fraction=fraction, seed=seed)


def _row(run, dice, hd95, hd95_mm=None):
    return {"run_id": run.run_id, "fold": run.fold, "base_fold": run.base_fold, "method": run.method,
            "trainer": run.trainer, "nnunet_trainer": run.nnunet_trainer, "role": run.role, "setting": run.setting,
            "num_labeled": run.num_labeled, "fraction": run.fraction, "seed": run.seed, "num_cases": 2,
            "dice": dice, "jaccard": dice / (2 - dice), "hd95_voxel": hd95, "asd_voxel": hd95 / 4,
            "assd_voxel": hd95 / 3, "hd95_mm": hd95 if hd95_mm is None else hd95_mm, "asd_mm": 1.0, "assd_mm": 1.0}


def _rows(two_counts=True):
    rows = []
    counts = (2, 4) if two_counts else (2,)
    fold = 0
    for n in counts:
        for seed, base in ((0, 0), (1, 0), (0, 1)):
            bonus = 0.1 * (n == 4)
            rows.append(_row(_run(fold, "nnUNetTrainer", ROLE_LABELED_ONLY, n, seed, base), 0.5 + bonus + 0.1 * seed,
                             10.0))
            rows.append(_row(_run(fold, "nnUNetTrainerPSCM", ROLE_SSL_RUN, n, seed, base), 0.6 + bonus + 0.1 * base,
                             8.0, hd95_mm=float("nan") if seed == 1 else 6.0))
            fold += 1
    for base in (0, 1):
        rows.append(_row(_run(fold + base, "nnUNetTrainer", ROLE_FULL, 8, None, base), 0.9, 3.0))
    return rows


def test_aggregate_mean_std_over_folds_and_seeds():
    table = aggregate(_rows())
    assert [(e["setting"], e["method"]) for e in table] == [
        ("2", "nnUNetTrainer (labeled only)"), ("2", "nnUNetTrainerPSCM"),
        ("4", "nnUNetTrainer (labeled only)"), ("4", "nnUNetTrainerPSCM"), ("full", "nnUNetTrainer (full labels)")]
    lab_only = table[0]  # dice 0.5, 0.6, 0.5 -> mean 0.5333, sample std 0.0577
    assert lab_only["n_runs"] == 3 and lab_only["base_folds"] == [0, 1] and lab_only["seeds"] == [0, 1]
    assert lab_only["dice_mean"] == pytest.approx(1.6 / 3) and lab_only["dice_std"] == pytest.approx(0.057735, 1e-4)
    pscm4 = table[3]  # dice 0.7, 0.7, 0.8; hd95_mm 6, nan, 6 -> undefined run skipped
    assert pscm4["dice_mean"] == pytest.approx(2.2 / 3)
    assert pscm4["hd95_mm_mean"] == 6.0 and pscm4["hd95_mm_std"] == 0.0 and pscm4["hd95_mm_n"] == 2
    full = table[-1]
    assert full["n_runs"] == 2 and full["dice_std"] == 0.0 and full["num_labeled"] == 8


def test_single_run_has_no_std():
    table = aggregate([_row(_run(0, "nnUNetTrainer", ROLE_FULL, 8, None, 0), 0.9, 3.0)])
    assert math.isnan(table[0]["dice_std"]) and format_mean_std(0.9, table[0]["dice_std"], 3) == "0.900"
    assert format_mean_std(0.9, 0.01, 2) == "0.90 ± 0.01" and format_mean_std(float("nan"), 1.0, 2) == "n/a"


@pytest.mark.parametrize("two_counts", [True, False])  # line plot, and bars for a single labeled count
def test_report_files(tmp_path, two_counts):
    paths = write_report(_rows(two_counts), str(tmp_path), "Dataset901 test title", notes=["schedule: 1ep2it"])
    md = open(paths["markdown"]).read()
    assert "# Dataset901 test title" in md and "schedule: 1ep2it" in md and TEST_BANNER not in md
    assert "| 2 | nnUNetTrainer (labeled only) | 3 | 0.5333 ± 0.0577 |" in md
    assert "| all (8) | nnUNetTrainer (full labels) | 2 | 0.9000 ± 0.0000 |" in md
    rows = list(csv.DictReader(open(paths["csv"])))
    assert len(rows) == (5 if two_counts else 3)
    assert rows[0]["labeled"] == "2" and float(rows[0]["dice_mean"]) == pytest.approx(1.6 / 3)
    assert rows[0]["evaluated_on"].startswith("validation")
    assert len(list(csv.DictReader(open(paths["runs_csv"])))) == len(_rows(two_counts))
    with open(paths["plot"], "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_test_set_report_is_marked_and_separate(tmp_path):
    paths = write_report(_rows(), str(tmp_path), "title", test=True)
    assert paths["markdown"].endswith("results_test.md") and paths["plot"].endswith("label_efficiency_test.png")
    assert TEST_BANNER in open(paths["markdown"]).read()
    assert all(r["evaluated_on"] == TEST_BANNER for r in csv.DictReader(open(paths["csv"])))
    assert all(r["evaluated_on"] == TEST_BANNER for r in csv.DictReader(open(paths["runs_csv"])))


def test_plan_table_lists_every_run():
    runs = [_run(0, "nnUNetTrainer", ROLE_LABELED_ONLY, 2, 0, 0), _run(1, "nnUNetTrainer", ROLE_FULL, 8, None, 0)]
    text = format_plan(runs, [DONE, NEW])
    assert "fold" in text.splitlines()[0] and "status" in text.splitlines()[0]
    assert "nnUNetTrainer_1ep2it" in text.splitlines()[2] and text.splitlines()[2].endswith("done")
    assert text.splitlines()[3].endswith("new")


def test_train_command_per_status():
    from types import SimpleNamespace

    from nnunetv2_pscm.benchmark_runner.training import train_command

    bench = SimpleNamespace(context=SimpleNamespace(name="Dataset901_X"),
                            config=SimpleNamespace(configuration="3d_fullres", plans="P", device="cpu"))
    run = _run(3, "nnUNetTrainerPSCM", ROLE_SSL_RUN, 2, 0, 0)
    base = ["Dataset901_X", "3d_fullres", "3", "-tr", "nnUNetTrainerPSCM_1ep2it", "-p", "P", "-device", "cpu"]
    assert train_command(bench, run, NEW)[1:] == base
    assert train_command(bench, run, RESUME)[1:] == base + ["--c"]
    assert train_command(bench, run, REVALIDATE)[1:] == base + ["--val"]
    assert train_command(bench, run, NEW)[0].endswith("nnUNetv2_train")
