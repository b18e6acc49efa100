"""warm_start: training order, the exact nnUNetv2_train commands (-pretrained_weights only for a new run, --c for an
interrupted one), the dry run, conflicts when warm_start is toggled, and --report-only. No training: the dataset is
a fake context (80 LA ids, empty folders) and nnU-Net's fold folders are made by hand."""
import json
import os
from pathlib import Path

import pytest
from test_benchmark_preset_split import IDS

import nnunetv2_pscm.benchmark_runner.session as session_module
import nnunetv2_pscm.benchmark_runner.training as training_module
from nnunetv2_pscm.benchmark_runner.config import config_from_dict
from nnunetv2_pscm.benchmark_runner.context import DatasetContext
from nnunetv2_pscm.benchmark_runner.runs import (CONFLICT, DONE, INIT_MARKER, NEW, RESUME, REVALIDATE, ROLE_EQUAL_BUDGET,
                                          ROLE_FULL, ROLE_LABELED_ONLY, ROLE_SSL_RUN, plan_runs)
from nnunetv2_pscm.benchmark_runner.runner import run_benchmark
from nnunetv2_pscm.benchmark_runner.session import BenchmarkError, BenchmarkSession
from nnunetv2_pscm.benchmark_runner.training import run_schedule, train_command, train_run

NAME, PLANS, SCHEDULE = "Dataset901_LA2018", "nnUNetPlans_2mm_f16", "30ep50it"
TRAINERS = ["nnUNetTrainerBCP", "nnUNetTrainerMeanTeacher", "nnUNetTrainerPSCM"]
VAL = IDS[64:]


@pytest.fixture
def context(tmp_path, monkeypatch) -> DatasetContext:
    pp = tmp_path / "preprocessed" / NAME
    pp.mkdir(parents=True)
    ctx = DatasetContext(name=NAME, preprocessed=str(pp), raw=None, results=str(tmp_path / "results" / NAME),
                         dataset_json={"file_ending": ".nii.gz"}, gt_folder=str(pp / "gt_segmentations"),
                         split_path=str(pp / "splits_final.json"), training_ids=list(IDS))
    monkeypatch.setattr(session_module, "resolve_dataset", lambda config: ctx)
    return ctx


def _config(tmp_path, **change):
    raw = {"dataset": 901, "configuration": "3d_fullres", "plans": PLANS, "trainers": TRAINERS,
           "presets": ["LA-4", "LA-8"], "seeds": [0, 1], "schedule": SCHEDULE, "warm_start": True, "device": "cpu",
           "output": str(tmp_path / "bench"), **change}
    return config_from_dict(raw)


def _fold(ctx, trainer, fold) -> Path:
    return Path(ctx.results) / f"{trainer}__{PLANS}__3d_fullres" / f"fold_{fold}"


def _finished(ctx, trainer, fold, warm_log=False):
    folder = _fold(ctx, trainer, fold)
    (folder / "validation").mkdir(parents=True)
    for name in ["checkpoint_final.pth", "validation/summary.json"] + [f"validation/{c}.nii.gz" for c in VAL]:
        (folder / name).touch()
    _log(folder, warm_log)
    return folder


def _log(folder, warm, n_train=4):
    text = f"2026-12-01 22:46:38.000000: This split has {n_train} training and 16 validation cases.\n"
    if warm:
        text += "2026-12-01 22:46:39.000000: Warm start from /x/checkpoint_final.pth: all weights ...\n"
    (folder / "training_log_2026_12_1_22_46_38.txt").write_text(text)


def test_training_order_per_fold_then_full_labels(tmp_path):
    from nnunetv2_pscm.benchmark_runner.fold_layout import build_benchmark_split

    config = _config(tmp_path)
    runs = plan_runs(config, build_benchmark_split(config, str(tmp_path / "s.json"), IDS).index)
    per_fold = [ROLE_LABELED_ONLY, ROLE_SSL_RUN, ROLE_SSL_RUN, ROLE_SSL_RUN, ROLE_EQUAL_BUDGET]
    assert [(r.fold, r.role) for r in runs] == [(f, role) for f in range(4) for role in per_fold] + [
        (4, ROLE_FULL), (5, ROLE_FULL)]
    assert [r.nnunet_trainer for r in runs[:5]] == ["nnUNetTrainer_30ep50it", "nnUNetTrainerBCP_30ep50it",
                                                    "nnUNetTrainerMeanTeacher_30ep50it", "nnUNetTrainerPSCM_30ep50it",
                                                    "nnUNetTrainer_60ep50it"]
    assert [r.pretrained_from for r in runs[:5]] == [None] + ["nnUNetTrainer_30ep50it"] * 3 + [None]
    assert [r.method for r in runs[:5:2]] == ["nnUNetTrainer (labeled only)", "nnUNetTrainerMeanTeacher (warm-started)",
                                              "nnUNetTrainer (labeled only, same total budget (2x))"]
    assert runs[-1].pretrained_from is None and runs[-1].method == "nnUNetTrainer (full labels)"
    cold = plan_runs(_config(tmp_path, warm_start=False), build_benchmark_split(
        _config(tmp_path, warm_start=False), str(tmp_path / "s.json"), IDS).index)
    assert len(cold) == 4 * 4 + 2 and not any(r.pretrained_from for r in cold)
    assert cold[1].method == "nnUNetTrainerBCP"


def test_equal_budget_false_drops_only_the_same_budget_run(tmp_path):
    from nnunetv2_pscm.benchmark_runner.fold_layout import build_benchmark_split

    config = _config(tmp_path, equal_budget=False)
    runs = plan_runs(config, build_benchmark_split(config, str(tmp_path / "s.json"), IDS).index)
    per_fold = [ROLE_LABELED_ONLY, ROLE_SSL_RUN, ROLE_SSL_RUN, ROLE_SSL_RUN]  # still warm-started from labeled-only
    assert [(r.fold, r.role) for r in runs] == [(f, role) for f in range(4) for role in per_fold] + [
        (4, ROLE_FULL), (5, ROLE_FULL)]
    assert [r.pretrained_from for r in runs[:4]] == [None] + ["nnUNetTrainer_30ep50it"] * 3
    assert config.equal_budget_trainer is None and config.to_dict()["equal_budget"] is False


def test_commands_new_warm_resume_and_revalidate(context, tmp_path):
    b = BenchmarkSession(_config(tmp_path), verbose=False)
    lo, bcp, mt, pscm, budget = b.runs[:5]
    _finished(context, "nnUNetTrainer_30ep50it", 0)
    (_fold(context, "nnUNetTrainerBCP_30ep50it", 0)).mkdir(parents=True)
    (_fold(context, "nnUNetTrainerBCP_30ep50it", 0) / "checkpoint_latest.pth").touch()  # interrupted
    (_fold(context, "nnUNetTrainerPSCM_30ep50it", 0)).mkdir(parents=True)
    (_fold(context, "nnUNetTrainerPSCM_30ep50it", 0) / "checkpoint_final.pth").touch()  # validation incomplete
    assert [b.status(r) for r in (lo, bcp, mt, pscm, budget)] == [DONE, RESUME, NEW, REVALIDATE, NEW]
    base = [NAME, "3d_fullres", "0", "-tr"]
    options = ["-p", PLANS, "-device", "cpu"]
    checkpoint = os.path.join(context.results, f"nnUNetTrainer_30ep50it__{PLANS}__3d_fullres", "fold_0",
                              "checkpoint_final.pth")
    assert train_command(b, mt, NEW)[1:] == base + ["nnUNetTrainerMeanTeacher_30ep50it"] + options + [
        "-pretrained_weights", checkpoint]
    # nnU-Net refuses --c with -pretrained_weights; the checkpoint already holds the warm-started training
    assert train_command(b, bcp, RESUME)[1:] == base + ["nnUNetTrainerBCP_30ep50it"] + options + ["--c"]
    assert train_command(b, pscm, REVALIDATE)[1:] == base + ["nnUNetTrainerPSCM_30ep50it"] + options + ["--val"]
    assert train_command(b, budget, NEW)[1:] == base + ["nnUNetTrainer_60ep50it"] + options
    assert train_command(b, b.runs[5], NEW)[1:] == [NAME, "3d_fullres", "1", "-tr", "nnUNetTrainer_30ep50it"] + options
    assert run_schedule(b.config, mt) == (30, 50) and run_schedule(b.config, budget) == (60, 50)  # progress, metadata


def test_dry_run_lists_the_commands_in_training_order(context, tmp_path, capsys):
    _finished(context, "nnUNetTrainer_30ep50it", 0)
    config = _config(tmp_path, presets=["LA-4"], seeds=[0], trainers=["nnUNetTrainerPSCM"])
    assert run_benchmark(config, dry_run=True) == config.output
    out = capsys.readouterr().out
    assert "split file" in out and "will be written" in out and "from nnUNetTrainer_30ep50it" in out
    commands = [line.split(" ", 1)[1] for line in out.splitlines() if "nnUNetv2_train " in line]
    assert [c.split(" -tr ")[1].split(" ")[0] for c in commands] == ["nnUNetTrainerPSCM_30ep50it",
                                                                     "nnUNetTrainer_60ep50it", "nnUNetTrainer_30ep50it"]
    assert commands[0].endswith("-pretrained_weights " + str(_fold(context, "nnUNetTrainer_30ep50it", 0) /
                                                             "checkpoint_final.pth"))
    assert "dry run: 4 runs, 3 to train or validate; nothing was written." in out
    assert not config.output.exists() and not os.path.exists(context.split_path)


def test_runs_trained_outside_the_runner_are_recognised_as_warm(context, tmp_path):
    """Folders like those of a shell script that ran nnUNetv2_train with -pretrained_weights: no markers, only
    nnU-Net's training log with our SSL trainers' warm-start line."""
    b = BenchmarkSession(_config(tmp_path), verbose=False)
    lo, bcp, mt = b.runs[:3]
    _finished(context, "nnUNetTrainer_30ep50it", 0)
    _finished(context, "nnUNetTrainerBCP_30ep50it", 0, warm_log=True)
    folder = _fold(context, "nnUNetTrainerMeanTeacher_30ep50it", 0)
    folder.mkdir(parents=True)
    (folder / "checkpoint_latest.pth").touch()
    _log(folder, warm=False)
    assert [b.status(r) for r in (lo, bcp, mt)] == [DONE, DONE, CONFLICT]
    assert b.conflict_reason(mt) == "started from scratch, but 'warm_start' is true"
    with pytest.raises(BenchmarkError, match="nnUNetTrainerMeanTeacher_30ep50it.*started from scratch"):
        run_benchmark(_config(tmp_path), dry_run=True, verbose=False)
    cold = BenchmarkSession(_config(tmp_path, warm_start=False), verbose=False)
    assert cold.conflict_reason(cold.runs[1]) == "started from pretrained weights, but 'warm_start' is false"
    assert cold.status(cold.runs[2]) == RESUME


def test_new_warm_run_writes_its_init_marker_and_needs_the_labeled_only_checkpoint(context, tmp_path, monkeypatch):
    b = BenchmarkSession(_config(tmp_path), verbose=False)
    mt = b.runs[2]
    with pytest.raises(BenchmarkError, match="labeled-only run nnUNetTrainer_30ep50it of fold 0 must finish first"):
        train_run(b, mt, NEW, {}, {}, "[1/1]")
    assert not _fold(context, mt.nnunet_trainer, 0).exists()

    _finished(context, "nnUNetTrainer_30ep50it", 0)
    commands = []

    def fake_nnunet(command, env, log_path, description, total_epochs=None, show_progress=True):
        commands.append(command)
        _finished(context, mt.nnunet_trainer, 0, warm_log=True)
        return 1.0

    monkeypatch.setattr(training_module, "run_logged", fake_nnunet)
    train_run(b, mt, NEW, {}, {"git_commit": "abc"}, "[1/1]")
    checkpoint = b.pretrained_checkpoint(mt)
    assert commands[0][-2:] == ["-pretrained_weights", checkpoint] and b.status(mt) == DONE
    marker = json.loads((_fold(context, mt.nnunet_trainer, 0) / INIT_MARKER).read_text())
    assert marker == {"pretrained_weights": checkpoint}
    meta = json.loads((Path(b.run_dir(mt)) / "metadata.json").read_text())
    assert meta["run"]["warm_start_from"] == checkpoint and meta["run"]["preset"] == "LA-4"
    assert meta["schedule"] == {"name": "30ep50it", "epochs": 30, "iterations_per_epoch": 50}
    assert meta["training"]["attempts"][0]["command"] == commands[0]
    # the same folder is a conflict for a config without warm start (the marker says how it started)
    cold = BenchmarkSession(_config(tmp_path, warm_start=False), verbose=False)
    assert cold.status(cold.runs[2]) == CONFLICT


def test_report_only_reports_finished_runs_and_marks_the_rest(context, tmp_path, monkeypatch):
    import nnunetv2_pscm.benchmark_runner.runner as runner_module
    from nnunetv2_pscm.benchmark_runner.paired import per_case_values
    from nnunetv2_pscm.benchmark_runner.report import run_row
    from nnunetv2_pscm.benchmark_runner.fold_layout import write_benchmark_split

    config = _config(tmp_path, presets=["LA-4"], trainers=["nnUNetTrainerPSCM"])
    with pytest.raises(BenchmarkError, match="--report-only"):  # no split file yet: nothing can be finished
        run_benchmark(config, report_only=True, verbose=False)
    write_benchmark_split(BenchmarkSession(config, verbose=False).split)  # as the first (training) invocation does
    _finished(context, "nnUNetTrainer_30ep50it", 0)
    _finished(context, "nnUNetTrainerPSCM_30ep50it", 0, warm_log=True)
    _finished(context, "nnUNetTrainer_30ep50it", 1)
    (_fold(context, "nnUNetTrainerPSCM_30ep50it", 1)).mkdir(parents=True)  # still training elsewhere
    (_fold(context, "nnUNetTrainerPSCM_30ep50it", 1) / "checkpoint_latest.pth").touch()

    def fake_summary(run):  # Dice 0.8 for labeled only, 0.9 for PSCM on every validation case
        dice = 0.9 if "PSCM" in run.nnunet_trainer else 0.8
        return {"num_cases": 16, "foreground_mean": {"voxel": {"dice": {"mean": dice}}, "mm": {"hd95": {"mean": 5.0}}},
                "per_case": [{"case": c, "metrics": {"1": {"voxel": {"dice": dice, "hd95": 5.0},
                                                           "mm": {"dice": dice, "hd95": 5.0}}}} for c in VAL]}

    evaluated = []

    def fake_evaluation(b, runs):
        evaluated.extend(r.run_id for r in runs)
        return [run_row(r, fake_summary(r)) for r in runs], {r.run_id: per_case_values(fake_summary(r)) for r in runs}

    monkeypatch.setattr(runner_module, "evaluate_validation", fake_evaluation)
    split_before = Path(context.split_path).read_text()
    run_benchmark(config, report_only=True, verbose=False)
    assert evaluated == ["fold00_nnUNetTrainer_30ep50it", "fold00_nnUNetTrainerPSCM_30ep50it",
                         "fold01_nnUNetTrainer_30ep50it"]
    assert Path(context.split_path).read_text() == split_before
    assert not (_fold(context, "nnUNetTrainerPSCM_30ep50it", 1) / "pscm_benchmark_split_entry.json").exists()
    results = (config.output / "results.md").read_text()
    assert "PARTIAL: 3 of 8 runs finished" in results and "fold01_nnUNetTrainerPSCM_30ep50it" in results
    assert "| LA-4 (4) | nnUNetTrainerPSCM (warm-started) | 1 | 0.9000 |" in results
    paired = (config.output / "paired.md").read_text()
    assert ("| LA-4 (4) | nnUNetTrainerPSCM (warm-started) | s0 0.9000, s1 missing | 0.9000 | +0.1000 | s0 5.00, "
            "s1 missing | 5.00 | +0.00 | 16 / 16 | s1 |") in paired
    assert "| LA-4 (4) | nnUNetTrainer (labeled only, same total budget (2x)) | s0 missing, s1 missing |" in paired


def test_only_folds_trains_one_replicate_and_reports_every_finished_run(context, tmp_path, monkeypatch, capsys):
    """--folds 1: the runs of fold 1 are trained (labeled-only first, then the warm-started one), fold 0's finished
    runs are reported but nothing of fold 0 is trained; an unknown fold is refused before anything is written."""
    import nnunetv2_pscm.benchmark_runner.runner as runner_module

    config = _config(tmp_path, presets=["LA-4"], trainers=["nnUNetTrainerPSCM"])
    with pytest.raises(BenchmarkError, match="--folds 7: this benchmark has no such fold; its folds are 0, 1, 2, 3 "):
        run_benchmark(config, only_folds=[7], verbose=False)
    assert not config.output.exists()
    _finished(context, "nnUNetTrainer_30ep50it", 0)
    trained = []

    def fake_train(b, run, status, env, environment, position):
        trained.append((run.run_id, status))
        _finished(context, run.nnunet_trainer, run.fold, warm_log=run.warm_started)

    evaluated = []
    monkeypatch.setattr(runner_module, "train_run", fake_train)
    monkeypatch.setattr(runner_module, "evaluate_validation", lambda b, runs: (
        evaluated.extend(r.run_id for r in runs) or ([], {})))
    monkeypatch.setattr(runner_module, "write_report", lambda *a, **k: {"markdown": str(tmp_path / "r.md")})
    monkeypatch.setattr(runner_module, "write_paired", lambda *a, **k: {})
    monkeypatch.setattr(runner_module, "markdown_table_only", lambda path: "")
    run_benchmark(config, only_folds=[1], verbose=True)
    assert trained == [("fold01_nnUNetTrainer_30ep50it", NEW), ("fold01_nnUNetTrainerPSCM_30ep50it", NEW),
                       ("fold01_nnUNetTrainer_60ep50it", NEW)]
    assert evaluated == ["fold00_nnUNetTrainer_30ep50it", "fold01_nnUNetTrainer_30ep50it",
                         "fold01_nnUNetTrainerPSCM_30ep50it", "fold01_nnUNetTrainer_60ep50it"]
    assert "3 run(s) trained or validated, 1 reused, 4 not selected (--folds / --trainers) and not finished" in \
        capsys.readouterr().out


def test_only_trainers_trains_one_method_with_its_labeled_only_run(context, tmp_path, monkeypatch, capsys):
    """--folds 1 --trainers PSCM: fold 1's labeled-only run (the warm start) and its PSCM run are trained; BCP, Mean
    Teacher and the same-budget run of fold 1 are not; a trainer the config does not list is refused up front."""
    import nnunetv2_pscm.benchmark_runner.runner as runner_module

    config = _config(tmp_path, presets=["LA-4"])
    with pytest.raises(BenchmarkError, match="--trainers nnUNetTrainerCRLN: not among this config's trainers "
                                             "\\(nnUNetTrainerBCP, nnUNetTrainerMeanTeacher, nnUNetTrainerPSCM\\)"):
        run_benchmark(config, only_trainers=["nnUNetTrainerCRLN"], verbose=False)
    assert not config.output.exists()
    trained = []

    def fake_train(b, run, status, env, environment, position):
        trained.append((run.run_id, status))
        _finished(context, run.nnunet_trainer, run.fold, warm_log=run.warm_started)

    monkeypatch.setattr(runner_module, "train_run", fake_train)
    monkeypatch.setattr(runner_module, "evaluate_validation", lambda b, runs: ([], {}))
    monkeypatch.setattr(runner_module, "write_report", lambda *a, **k: {"markdown": str(tmp_path / "r.md")})
    monkeypatch.setattr(runner_module, "write_paired", lambda *a, **k: {})
    monkeypatch.setattr(runner_module, "markdown_table_only", lambda path: "")
    run_benchmark(config, only_folds=[1], only_trainers=["nnUNetTrainerPSCM"], verbose=True)
    assert trained == [("fold01_nnUNetTrainer_30ep50it", NEW), ("fold01_nnUNetTrainerPSCM_30ep50it", NEW)]
    assert "2 run(s) trained or validated, 0 reused, 10 not selected (--folds / --trainers) and not finished" in \
        capsys.readouterr().out


def test_cli_passes_report_only(monkeypatch, tmp_path):
    import nnunetv2_pscm.benchmark_runner as benchmark_package
    from nnunetv2_pscm.cli.benchmark import main

    calls = []
    monkeypatch.setattr(benchmark_package, "load_config", lambda path: path)
    monkeypatch.setattr(benchmark_package, "run_benchmark", lambda config, **kwargs: calls.append(kwargs) or tmp_path)
    main(["bench.yaml", "--report-only"])
    main(["bench.yaml", "--folds", "1", "3"])
    main(["bench.yaml", "--folds", "2", "--trainers", "nnUNetTrainerCRLN"])
    plain = {"dry_run": False, "evaluate_test": False, "report_only": False, "only_folds": None,
             "only_trainers": None}
    assert calls == [{**plain, "report_only": True}, {**plain, "only_folds": [1, 3]},
                     {**plain, "only_folds": [2], "only_trainers": ["nnUNetTrainerCRLN"]}]
