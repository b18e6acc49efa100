"""make_benchmark_folds (split_file.py) and the benchmark's split decisions (write / reuse / refuse / replace)."""
import json

import pytest

from nnunetv2_pscm.benchmark_runner.config import config_from_dict
from nnunetv2_pscm.benchmark_runner.runs import ROLE_FULL, ROLE_LABELED_ONLY, ROLE_SSL_RUN, plan_runs
from nnunetv2_pscm.benchmark_runner.fold_layout import (REPLACE, REUSE, WRITE, build_benchmark_split, write_benchmark_split,
                                           write_index)
from nnunetv2_pscm.data import split_file as sf

IDS = [f"case{i:02d}" for i in range(20)]  # 5 folds: 16 training + 4 val cases each


def test_benchmark_folds_layout_and_index():
    base = dict(enumerate(sf.default_base_folds(IDS)))
    base = {b: base[b] for b in (0, 2)}
    settings = [{"num_labeled": 2, "seed": 0}, {"num_labeled": 2, "seed": 1}, {"num_labeled": 4, "seed": 0}]
    folds, index = sf.make_benchmark_folds(base, settings, extra_unlabeled_ids=["img"])
    assert len(folds) == 3 * 2 + 2 and [e["fold"] for e in index] == list(range(8))
    assert [(e["num_labeled"], e["seed"], e["base_fold"]) for e in index[:6]] == [
        (2, 0, 0), (2, 0, 2), (2, 1, 0), (2, 1, 2), (4, 0, 0), (4, 0, 2)]
    for entry, fold in zip(index, folds):
        b = entry["base_fold"]
        assert fold["val"] == base[b]["val"] and fold["base_fold"] == b
        if entry["role"] == sf.ROLE_SSL:
            assert set(fold["train"]) | set(fold["unlabeled"]) == set(base[b]["train"]) | {"img"}
            assert set(fold["train"]).isdisjoint(fold["unlabeled"]) and len(fold["train"]) == entry["num_labeled"]
    assert folds[6]["role"] == sf.ROLE_FULL_LABEL and folds[6]["reference_for_fold"] == [0, 2, 4]
    assert folds[7]["train"] == sorted(base[2]["train"]) and "unlabeled" not in folds[7]
    assert folds[0]["train"] != folds[2]["train"]  # another seed, another subset


def test_benchmark_subset_is_the_one_nnunetv2_pscm_split_writes_for_that_fold():
    base = sf.default_base_folds(IDS)
    ssl_split = sf.make_ssl_folds(base, num_labeled=3, seed=5)
    folds, _ = sf.make_benchmark_folds({3: base[3]}, [{"num_labeled": 3, "seed": 5}])
    assert folds[0]["train"] == ssl_split[3]["train"]


def test_fraction_settings_record_fraction_and_count():
    folds, index = sf.make_benchmark_folds({0: sf.default_base_folds(IDS)[0]}, [{"fraction": 0.25, "seed": 0}])
    assert index[0]["fraction"] == 0.25 and index[0]["num_labeled"] == 4 and folds[0]["fraction"] == 0.25


def test_base_folds_are_recovered_from_a_benchmark_split():
    base = sf.default_base_folds(IDS)
    folds, _ = sf.make_benchmark_folds({1: base[1], 4: base[4]}, [{"num_labeled": 2}, {"num_labeled": 5}])
    assert sf.is_benchmark_split(folds) and not sf.is_benchmark_split(sf.make_ssl_folds(base, 2))
    assert sf.benchmark_base_folds(folds) == {1: {"train": sorted(base[1]["train"]), "val": base[1]["val"]},
                                              4: {"train": sorted(base[4]["train"]), "val": base[4]["val"]}}
    assert [f["val"] for f in sf.base_folds_from_existing(folds, IDS)] == [base[1]["val"], base[4]["val"]]


def test_labeled_count_too_large_is_an_error():
    with pytest.raises(sf.SplitError, match="between 1 and 15"):
        sf.make_benchmark_folds({0: sf.default_base_folds(IDS)[0]}, [{"num_labeled": 16}])


def _config(tmp_path, **change):
    raw = {"dataset": 1, "configuration": "3d_fullres", "trainers": ["nnUNetTrainerMeanTeacher", "nnUNetTrainerPSCM"],
           "labeled": [2, 4], "seeds": [0], "folds": [0], "output": str(tmp_path / "out"), **change}
    return config_from_dict(raw)


def test_split_written_then_reused_then_refused_then_replaced(tmp_path):
    path = str(tmp_path / "splits_final.json")
    split = build_benchmark_split(_config(tmp_path), path, IDS)
    assert split.action == WRITE and write_benchmark_split(split) is None
    assert build_benchmark_split(_config(tmp_path), path, IDS).action == REUSE
    with pytest.raises(sf.SplitError, match="overwrite_split"):
        build_benchmark_split(_config(tmp_path, labeled=[3]), path, IDS)
    replaced = build_benchmark_split(_config(tmp_path, labeled=[3], overwrite_split=True, folds=[0, 1]), path, IDS)
    assert replaced.action == REPLACE
    backup = write_benchmark_split(replaced)
    assert json.load(open(backup)) == split.folds and json.load(open(path)) == replaced.folds
    # base fold 1 was not in the earlier benchmark split: it comes from nnU-Net's default cross-validation
    assert replaced.folds[1]["val"] == sf.default_base_folds(IDS)[1]["val"]


def test_existing_user_cross_validation_is_respected(tmp_path):
    path = str(tmp_path / "splits_final.json")
    own = [{"train": IDS[:10], "val": IDS[10:]}, {"train": IDS[10:], "val": IDS[:10]}]
    sf.write_splits(path, own)
    split = build_benchmark_split(_config(tmp_path, folds=[1], overwrite_split=True), path, IDS)
    assert all(f["val"] == IDS[:10] for f in split.folds)
    with pytest.raises(sf.SplitError, match=r"'folds' asks for base fold\(s\) \[2\]"):
        build_benchmark_split(_config(tmp_path, folds=[2], overwrite_split=True), path, IDS)


def test_runs_and_index_file(tmp_path):
    config = _config(tmp_path, seeds=[0, 1], schedule="1ep2it")
    split = build_benchmark_split(config, str(tmp_path / "splits_final.json"), IDS)
    runs = plan_runs(config, split.index)
    # per SSL fold: labeled-only + 2 SSL trainers; 4 SSL folds (2 counts x 2 seeds); 1 full-label fold
    assert len(runs) == 4 * 3 + 1
    assert [r.role for r in runs[:3]] == [ROLE_LABELED_ONLY, ROLE_SSL_RUN, ROLE_SSL_RUN]
    assert runs[-1].role == ROLE_FULL and runs[-1].fold == 4 and runs[-1].nnunet_trainer == "nnUNetTrainer_1ep2it"
    assert runs[1].run_id == "fold00_nnUNetTrainerMeanTeacher_1ep2it" and runs[1].method == "nnUNetTrainerMeanTeacher"
    assert len({r.run_id for r in runs}) == len(runs)
    write_index(split, runs, str(tmp_path / "split_index.json"))
    index = json.load(open(tmp_path / "split_index.json"))
    assert index["folds"][0] == {"fold": 0, "role": "ssl", "base_fold": 0, "num_labeled": 2, "fraction": None,
                                 "seed": 0, "num_val": 4, "trainers": ["nnUNetTrainer_1ep2it",
                                                                       "nnUNetTrainerMeanTeacher_1ep2it",
                                                                       "nnUNetTrainerPSCM_1ep2it"]}
