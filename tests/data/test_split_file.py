import json

import pytest

from nnunetv2_pscm.data import split_file as sf

IDS = [f"case{i:02d}" for i in range(20)]


def test_default_base_folds_match_nnunet_defaults():
    from nnunetv2.utilities.crossval_split import generate_crossval_split

    assert sf.default_base_folds(IDS) == generate_crossval_split(sorted(IDS), seed=12345, n_splits=5)


def test_ssl_folds_labeled_unlabeled_val_and_reference_folds():
    base = sf.default_base_folds(IDS)
    folds = sf.make_ssl_folds(base, num_labeled=3, seed=7, extra_unlabeled_ids=["img_a"])
    assert len(folds) == 10
    for i in range(5):
        ssl, ref = folds[i], folds[5 + i]
        assert len(ssl["train"]) == 3 and ssl["role"] == sf.ROLE_SSL
        assert set(ssl["train"]).isdisjoint(ssl["unlabeled"])
        assert set(ssl["train"]) | set(ssl["unlabeled"]) == set(base[i]["train"]) | {"img_a"}
        assert ssl["val"] == base[i]["val"] == ref["val"]
        assert sorted(ref["train"]) == sorted(base[i]["train"])
        assert ref["role"] == sf.ROLE_FULL_LABEL and ref["reference_for_fold"] == i and "unlabeled" not in ref
    assert folds == sf.make_ssl_folds(base, num_labeled=3, seed=7, extra_unlabeled_ids=["img_a"])  # deterministic


def test_fraction_is_rounded_and_at_least_one():
    base = sf.default_base_folds(IDS)  # 16 training cases per fold
    assert len(sf.make_ssl_folds(base, fraction=0.2)[0]["train"]) == 3  # round(3.2)
    assert len(sf.make_ssl_folds(base, fraction=0.01)[0]["train"]) == 1


@pytest.mark.parametrize("n,frac,msg", [(None, None, "exactly one"), (3, 0.1, "exactly one"), (0, None, "between 1"),
                                        (16, None, "between 1"), (None, 1.0, r"\(0, 1\)")])
def test_bad_labeled_requests(n, frac, msg):
    with pytest.raises(sf.SplitError, match=msg):
        sf.choose_num_labeled(16, n, frac)


def test_write_refuses_overwrite_and_keeps_backup(tmp_path):
    path = str(tmp_path / "splits_final.json")
    sf.write_splits(path, [{"train": ["a"], "val": ["b"]}])
    with pytest.raises(sf.SplitError, match="--overwrite"):
        sf.write_splits(path, [{"train": ["x"], "val": ["y"]}])
    backup = sf.write_splits(path, [{"train": ["x"], "val": ["y"]}], overwrite=True)
    assert json.load(open(backup)) == [{"train": ["a"], "val": ["b"]}]
    assert json.load(open(path)) == [{"train": ["x"], "val": ["y"]}]


def test_base_folds_recovered_from_an_ssl_split():
    base = sf.default_base_folds(IDS)
    ssl = sf.make_ssl_folds(base, num_labeled=4, extra_unlabeled_ids=["img_a"])
    recovered = sf.base_folds_from_existing(ssl, IDS)
    assert [sorted(f["train"]) for f in recovered] == [sorted(f["train"]) for f in base]
    assert [f["val"] for f in recovered] == [f["val"] for f in base]


def test_preset_fold_and_its_reference():
    folds = sf.fold_from_preset({"train": ["a"], "val": ["v"], "unlabeled": ["u1", "u2"]}, ["img"])
    assert folds[0] == {"train": ["a"], "val": ["v"], "unlabeled": ["u1", "u2", "img"], "role": sf.ROLE_SSL}
    assert folds[1]["train"] == ["a", "u1", "u2"] and folds[1]["val"] == ["v"]


@pytest.mark.parametrize("entry,msg", [
    ({"train": ["a"], "val": ["v"]}, "no unlabeled cases"),
    ({"train": ["a"], "val": ["v"], "unlabeled": []}, "no unlabeled cases"),
    ({"train": ["a"], "val": ["v"], "unlabeled": ["a"]}, "both labeled and unlabeled"),
    ({"train": ["a"], "val": ["v"], "unlabeled": ["v"]}, "validation cases"),
    ({"train": ["a"], "val": ["v"], "unlabeled": ["ghost"]}, "ghost"),
])
def test_fold_validation_errors(entry, msg):
    with pytest.raises(sf.SplitError, match=msg):
        sf.validate_ssl_fold(entry, 0, labeled_ids=["a", "b", "v"], unlabeled_image_ids=["img"], split_path="s.json")


def test_fold_validation_accepts_hidden_labels_and_images():
    sf.validate_ssl_fold({"train": ["a"], "val": ["v"], "unlabeled": ["b", "img"]}, 0, ["a", "b", "v"], ["img"], "s")
