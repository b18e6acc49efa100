"""nnUNetv2_pscm_benchmark on the synthetic 3D dataset: a full (tiny) run through the stock CLIs, every artifact, then
a resume where one validation prediction went missing: only that run is re-validated. The dry runs and the resume
go through the Python API (as the demo calls it); the first run through the console script.

The dataset starts with a user's own one-fold cross-validation (9 training cases, 1 validation case): the benchmark
must build on it and may replace the file only because the config says `overwrite_split: true` (a backup is kept).
One validation case per run also keeps this test short: nnU-Net's validation dominates its run time."""
import csv
import json
import os
import shutil

import pytest
from conftest import console_script, copy_dataset, dataset_folder, nnunet_env, run_cli

from nnunetv2_pscm.benchmark_runner import BenchmarkError, config_from_dict, load_config, run_benchmark

SCHEDULE = "1ep3it"
VAL_CASE = "case_003"
RUN_IDS = ["fold00_nnUNetTrainer_1ep3it", "fold00_nnUNetTrainerMeanTeacher_1ep3it", "fold01_nnUNetTrainer_1ep3it"]


def _train_log_headers(output, run_id):
    with open(output / "logs" / f"{run_id}_train.log") as f:
        return [line for line in f if line.startswith("===== ") and "nnUNetv2_train" in line]


def _check_artifacts(output, split):
    index = json.load(open(output / "split_index.json"))["folds"]
    assert [e["role"] for e in index] == ["ssl", "full_label_reference"] and len(split) == 2
    assert split[0]["val"] == split[1]["val"] == [VAL_CASE] and split[0]["base_fold"] == 0
    assert len(split[0]["train"]) == 3 and len(split[0]["unlabeled"]) == 6 and len(split[1]["train"]) == 9
    for run_id in RUN_IDS:
        run_dir = output / "runs" / run_id
        summary = json.load(open(run_dir / "validation_summary.json"))
        assert sorted(c["case"] for c in summary["per_case"]) == sorted(split[0]["val"])
        assert summary["modes"] == ["voxel", "mm"] and (run_dir / "validation_per_case.csv").is_file()
        meta = json.load(open(run_dir / "metadata.json"))
        assert meta["schedule"] == {"name": SCHEDULE, "epochs": 1, "iterations_per_epoch": 3}
        assert meta["device"] == "cpu" and meta["dataset"].startswith("Dataset901_")
        assert set(meta["environment"]["versions"]) == {"torch", "nnunetv2", "nnunetv2_pscm"}
        assert "git_commit" in meta["environment"] and meta["training"]["wall_time_s"] > 0
        assert meta["training"]["attempts"][0]["command"][-2:] == ["-device", "cpu"]
        assert meta["evaluation"]["validation"]["num_cases"] == len(split[0]["val"])
    md = (output / "results.md").read_text()
    for row in ("| 3 | nnUNetTrainer (labeled only) | 1 |", "| 3 | nnUNetTrainerMeanTeacher | 1 |",
                "| all (9) | nnUNetTrainer (full labels) | 1 |"):
        assert row in md
    rows = list(csv.DictReader(open(output / "results.csv")))
    assert [r["method"] for r in rows] == ["nnUNetTrainer (labeled only)", "nnUNetTrainerMeanTeacher",
                                           "nnUNetTrainer (full labels)"]
    assert all(0 <= float(r["dice_mean"]) <= 1 for r in rows)
    assert len(list(csv.DictReader(open(output / "runs.csv")))) == 3
    assert (output / "label_efficiency.png").stat().st_size > 1000
    assert not (output / "results_test.md").exists()
    paired = (output / "paired.md").read_text()  # the one SSL run against the labeled-only run of its fold
    assert "| 3 | nnUNetTrainerMeanTeacher | s0 " in paired and f"/ {len(split[0]['val'])} | - |" in paired
    assert [r["kind"] for r in csv.DictReader(open(output / "paired.csv"))] == ["replicate", "summary"]


def test_benchmark_runs_reports_and_revalidates_only_what_is_missing(dataset_3d, tmp_path, monkeypatch, capsys):
    root = copy_dataset(dataset_3d, tmp_path / "data")
    env = nnunet_env(root)
    for key, value in env.items():
        if key.startswith("nnUNet"):
            monkeypatch.setenv(key, value)
    config_path, output = tmp_path / "bench.yaml", tmp_path / "bench_out"
    config_path.write_text(f"dataset: 901\nconfiguration: 3d_fullres\nplans: nnUNetPlans_cpu\n"
                           f"trainers: [nnUNetTrainer, nnUNetTrainerMeanTeacher]\nlabeled: [3]\nschedule: {SCHEDULE}\n"
                           f"device: cpu\noutput: bench_out\noverwrite_split: true\n")
    config = load_config(config_path)
    split_path = dataset_folder(root, "preprocessed") / "splits_final.json"
    gt_folder = dataset_folder(root, "preprocessed") / "gt_segmentations"
    cases = sorted(p.name[:-len(".nii.gz")] for p in gt_folder.iterdir())
    own_split = [{"train": [c for c in cases if c != VAL_CASE], "val": [VAL_CASE]}]
    split_path.write_text(json.dumps(own_split))

    with pytest.raises(FileNotFoundError, match="imagesTs"):  # --test without a labeled test set: before any training
        run_benchmark(config, dry_run=True, evaluate_test=True)
    capsys.readouterr()
    assert run_benchmark(config, dry_run=True) == output
    dry = capsys.readouterr().out
    assert "dry run: 3 runs, 3 to train or validate" in dry and dry.count(" new") == 3
    assert "exists and differs: will be replaced" in dry
    assert not output.exists() and json.loads(split_path.read_text()) == own_split
    # warm_start: the labeled-only run first, Mean Teacher from its checkpoint_final, then the equal-budget run
    warm = config_from_dict(dict(config.to_dict(), warm_start=True), source=config_path)
    run_benchmark(warm, dry_run=True)
    commands = [line for line in capsys.readouterr().out.splitlines() if "nnUNetv2_train " in line]
    assert [c.split(" -tr ")[1].split()[0] for c in commands] == [
        "nnUNetTrainer_1ep3it", "nnUNetTrainerMeanTeacher_1ep3it", "nnUNetTrainer_2ep3it", "nnUNetTrainer_1ep3it"]
    assert commands[1].endswith("nnUNetTrainer_1ep3it__nnUNetPlans_cpu__3d_fullres/fold_0/checkpoint_final.pth")

    first = run_cli([console_script("nnUNetv2_pscm_benchmark"), config_path], env).stdout
    assert "3 run(s) trained or validated, 0 reused" in first and f"benchmark results in {output}" in first
    split = json.load(open(split_path))
    _check_artifacts(output, split)
    (backup,) = split_path.parent.glob("splits_final.json.backup-*")
    assert json.loads(backup.read_text()) == own_split

    # a finished run lost one validation prediction: only it is re-validated, the others are reused
    (fold_dir,) = (root / "results").glob("Dataset901_*/nnUNetTrainerMeanTeacher_1ep3it__nnUNetPlans_cpu__3d_fullres/"
                                          "fold_0")
    victim = fold_dir / "validation" / (split[0]["val"][0] + ".nii.gz")
    victim.unlink()
    with pytest.raises(BenchmarkError, match="MeanTeacher.*started from scratch, but 'warm_start' is true"):
        run_benchmark(warm, dry_run=True)  # the cold run must not be reused as a warm-started one
    capsys.readouterr()
    run_benchmark(config, dry_run=True)
    dry = capsys.readouterr().out
    assert "dry run: 3 runs, 1 to train or validate" in dry and dry.count("revalidate") == 1
    assert "exists and is identical: reused" in dry
    results_before = os.path.getmtime(output / "results.md")
    evaluated_before = [os.path.getmtime(output / "runs" / r / "validation_summary.json") for r in RUN_IDS]
    run_benchmark(config, verbose=True)
    second = capsys.readouterr().out
    assert "1 run(s) trained or validated, 2 reused" in second
    assert "re-validating fold00_nnUNetTrainerMeanTeacher_1ep3it" in second
    assert victim.is_file()
    assert [len(_train_log_headers(output, r)) for r in RUN_IDS] == [1, 2, 1]
    assert _train_log_headers(output, RUN_IDS[1])[1].rstrip().endswith("--val")
    attempts = json.load(open(output / "runs" / RUN_IDS[1] / "metadata.json"))["training"]["attempts"]
    assert [a["mode"] for a in attempts] == ["new", "revalidate"]
    assert os.path.getmtime(output / "results.md") > results_before
    evaluated_after = [os.path.getmtime(output / "runs" / r / "validation_summary.json") for r in RUN_IDS]
    assert [a > b for a, b in zip(evaluated_after, evaluated_before)] == [False, True, False]  # only it re-evaluated
    _check_artifacts(output, split)

    # --test: an explicit test set is predicted with every run and reported apart, marked as never used for selection
    raw = dataset_folder(root, "raw")
    test_case = sorted(split[0]["unlabeled"])[0]  # any image works for the mechanics; a real test set is held out
    (raw / "imagesTs").mkdir()
    (raw / "labelsTs").mkdir()
    shutil.copy(raw / "imagesTr" / f"{test_case}_0000.nii.gz", raw / "imagesTs" / f"{test_case}_0000.nii.gz")
    shutil.copy(raw / "labelsTr" / f"{test_case}.nii.gz", raw / "labelsTs" / f"{test_case}.nii.gz")
    run_benchmark(config, evaluate_test=True)
    tested = capsys.readouterr().out
    assert "training: all 3 runs reused" in tested
    md_test = (output / "results_test.md").read_text()
    assert "TEST SET — not used for model selection" in md_test and "nnUNetTrainerMeanTeacher" in md_test
    assert "TEST SET" not in (output / "results.md").read_text()
    rows = list(csv.DictReader(open(output / "results_test.csv")))
    assert len(rows) == 3 and all(0 <= float(r["dice_mean"]) <= 1 for r in rows)
