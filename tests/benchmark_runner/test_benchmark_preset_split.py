"""Benchmark splits from published presets (`presets: [LA-4, LA-8]`): the layout, checked by hand on the 80 LA ids,
and the exact file the LA benchmark trains on."""
import hashlib
import json
import re

import pytest

from nnunetv2_pscm.benchmark_runner.config import config_from_dict
from nnunetv2_pscm.benchmark_runner.fold_layout import REUSE, WRITE, build_benchmark_split, write_benchmark_split, write_index
from nnunetv2_pscm.benchmark_runner.runs import plan_runs
from nnunetv2_pscm.data import split_file as sf
from nnunetv2_pscm.data.presets import load_preset_file

# sha256 of json.dumps(splits_final.json, sort_keys=True) of the LA benchmark already training on this layout
# (Dataset901_LA2018, presets [LA-4, LA-8], seeds [0, 1]); the runner must reproduce it to reuse those runs
LA_BENCHMARK_SPLIT_SHA256 = "c0634c7d5af0b4f69c50b2c43c702cca936f55b3d122a66f9c089e4402aaefef"


def la_ids():
    """The 80 LA training cases as our converter names them, in train.list order."""
    content = load_preset_file("LA2018_UAMT.json")
    rule = content["case_id"]
    return [rule["format"].format(*re.match(rule["regex"], p).groups()) for p in content["lists"]["train"]]


IDS = la_ids()


def _config(tmp_path, **change):
    raw = {"dataset": 901, "configuration": "3d_fullres", "trainers": ["nnUNetTrainerBCP", "nnUNetTrainerPSCM"],
           "presets": ["LA-4", "LA-8"], "seeds": [0, 1], "output": str(tmp_path / "out"), **change}
    return config_from_dict(raw)


def test_la_ids_are_the_published_train_list():
    assert len(IDS) == 80 == len(set(IDS))
    assert IDS[0] == "la_06SR5RBREL16DQ6M8LWS" and IDS[-1] == "la_UZUZZT2W9IUSHL6ASOX3"


def test_preset_layout_by_hand(tmp_path):
    split = build_benchmark_split(_config(tmp_path), str(tmp_path / "splits_final.json"), sorted(IDS))
    folds = split.folds
    val = IDS[64:]  # the last 16 of train.list
    assert len(folds) == 6
    # preset-major, seed-minor: LA-4 s0, LA-4 s1, LA-8 s0, LA-8 s1; a seed is a replicate of the same split
    for fold, (preset, n, seed) in zip(folds[:4], [("LA-4", 4, 0), ("LA-4", 4, 1), ("LA-8", 8, 0), ("LA-8", 8, 1)]):
        assert fold == {"train": IDS[:n], "val": val, "unlabeled": IDS[n:64], "role": "ssl", "preset": preset,
                        "num_labeled": n, "seed": seed}
    for fold, seed, ssl_folds in ((folds[4], 0, [0, 2]), (folds[5], 1, [1, 3])):
        assert fold == {"train": sorted(IDS[:64]), "val": val, "role": "full_label_reference", "seed": seed,
                        "reference_for_fold": ssl_folds}
    assert [(e["fold"], e["preset"], e["seed"], e["base_fold"]) for e in split.index] == [
        (0, "LA-4", 0, None), (1, "LA-4", 1, None), (2, "LA-8", 0, None), (3, "LA-8", 1, None), (4, None, 0, None),
        (5, None, 1, None)]


def test_the_running_la_benchmark_split_is_reproduced_and_reused(tmp_path):
    path = tmp_path / "splits_final.json"
    split = build_benchmark_split(_config(tmp_path), str(path), IDS)
    assert hashlib.sha256(json.dumps(split.folds, sort_keys=True).encode()).hexdigest() == LA_BENCHMARK_SPLIT_SHA256
    assert split.action == WRITE and write_benchmark_split(split) is None
    # the key order of the file on disk does not matter; the parsed content does
    path.write_text(json.dumps([dict(reversed(list(f.items()))) for f in json.loads(path.read_text())]))
    assert build_benchmark_split(_config(tmp_path, warm_start=True, schedule="30ep50it"), str(path), IDS).action \
        == REUSE
    with pytest.raises(sf.SplitError, match="overwrite_split"):
        build_benchmark_split(_config(tmp_path, seeds=[0]), str(path), IDS)


def test_test_cases_in_the_dataset_stay_out_and_unlabeled_images_are_added(tmp_path):
    test_ids = [f"la_{p}" for p in load_preset_file("LA2018_UAMT.json")["lists"]["test"]]
    split = build_benchmark_split(_config(tmp_path, presets=["LA-8"], seeds=[3]), str(tmp_path / "s.json"),
                                  IDS + test_ids, extra_unlabeled_ids=["img_a"])
    ssl, full = split.folds
    assert ssl["unlabeled"] == IDS[8:64] + ["img_a"] and ssl["seed"] == 3
    assert full["train"] == sorted(IDS[:64]) and full["reference_for_fold"] == [0]


def test_missing_cases_and_mixed_protocols_name_presets(tmp_path):
    with pytest.raises(sf.SplitError, match=r"'presets': Split preset LA-4: 1 cases"):
        build_benchmark_split(_config(tmp_path), str(tmp_path / "s.json"), IDS[1:])
    a = {"train": ["a"], "val": ["v"], "unlabeled": ["b"], "test": []}
    with pytest.raises(sf.SplitError, match="do not share their validation cases"):
        sf.make_preset_benchmark_folds({"A": a, "B": dict(a, val=["w"])}, [0], ["a", "b", "v", "w"])


def test_preset_runs_and_index(tmp_path):
    config = _config(tmp_path, schedule="30ep50it")
    split = build_benchmark_split(config, str(tmp_path / "splits_final.json"), IDS)
    runs = plan_runs(config, split.index)
    assert len(runs) == 4 * 3 + 2
    assert [(r.setting, r.method, r.seed) for r in runs[:3]] == [
        ("LA-4", "nnUNetTrainer (labeled only)", 0), ("LA-4", "nnUNetTrainerBCP", 0), ("LA-4", "nnUNetTrainerPSCM", 0)]
    assert runs[6].preset == "LA-8" and runs[6].fold == 2 and runs[6].num_labeled == 8
    assert [(r.setting, r.fold, r.seed) for r in runs[-2:]] == [("full", 4, 0), ("full", 5, 1)]
    write_index(split, runs, str(tmp_path / "split_index.json"))
    index = json.load(open(tmp_path / "split_index.json"))["folds"]
    assert index[2] == {"fold": 2, "role": "ssl", "base_fold": None, "num_labeled": 8, "fraction": None, "seed": 0,
                        "preset": "LA-8", "num_val": 16, "trainers": ["nnUNetTrainer_30ep50it",
                                                                      "nnUNetTrainerBCP_30ep50it",
                                                                      "nnUNetTrainerPSCM_30ep50it"]}
