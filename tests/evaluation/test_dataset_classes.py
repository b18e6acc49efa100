"""dataset.json -> classes to evaluate; must agree with nnU-Net's LabelManager."""
import json

import pytest

from nnunetv2_pscm.evaluation.dataset_classes import classes_from_dataset_json, load_dataset_json_for

EXAMPLES = [
    {"labels": {"background": 0, "LA": 1}},
    {"labels": {"background": 0, "RV": 1, "MYO": 2, "LV": 3}},
    {"labels": {"background": 0, "organ": [1], "tumour": 2}},
    {"labels": {"background": 0, "a": 1, "b": 2, "ignore": 3}},
    {
        "labels": {"background": 0, "whole tumor": [1, 2, 3], "tumor core": [2, 3], "enhancing tumor": 3},
        "regions_class_order": [1, 2, 3],
    },
]


@pytest.mark.parametrize("dataset_json", EXAMPLES)
def test_agrees_with_nnunet_label_manager(dataset_json):
    label_handling = pytest.importorskip("nnunetv2.utilities.label_handling.label_handling")
    manager = label_handling.LabelManager(dataset_json["labels"], dataset_json.get("regions_class_order"))
    classes = classes_from_dataset_json(dataset_json)
    assert classes.has_regions == manager.has_regions
    assert classes.ignore_label == manager.ignore_label
    expected = manager.foreground_regions if manager.has_regions else manager.foreground_labels
    normalised = [tuple(r) if isinstance(r, (list, tuple)) else (r,) for r in expected]
    ours = [r if isinstance(r, tuple) else (r,) for r in classes.labels_or_regions]
    assert ours == normalised
    assert classes.allowed_values >= set(manager.all_labels)


def test_names_follow_dataset_json_order():
    classes = classes_from_dataset_json(EXAMPLES[4])
    assert classes.names == ("whole tumor", "tumor core", "enhancing tumor")
    assert classes.labels_or_regions == ((1, 2, 3), (2, 3), (3,))
    assert classes.allowed_values == {0, 1, 2, 3}


@pytest.mark.parametrize(
    "dataset_json,message",
    [
        ({}, "labels"),
        ({"labels": {"fg": 1}}, "background"),
        ({"labels": {"background": 0}}, "no foreground"),
        ({"labels": {"background": 0, "a": [1, 2], "b": 2}}, "regions_class_order"),
        ({"labels": {"background": 0, "a": 1, "b": 2, "ignore": 1}}, "ignore"),
    ],
)
def test_invalid_dataset_json_is_rejected(dataset_json, message):
    with pytest.raises(ValueError, match=message):
        classes_from_dataset_json(dataset_json)


def test_load_dataset_json_prefers_preprocessed(tmp_path, monkeypatch):
    for base, tag in (("raw", "from raw"), ("preprocessed", "from preprocessed")):
        folder = tmp_path / base / "Dataset123_Demo"
        folder.mkdir(parents=True)
        (folder / "dataset.json").write_text(json.dumps({"labels": {"background": 0, "x": 1}, "tag": tag}))
    # nnU-Net 2.8 reads its paths from the environment lazily
    monkeypatch.setenv("nnUNet_raw", str(tmp_path / "raw"))
    monkeypatch.setenv("nnUNet_preprocessed", str(tmp_path / "preprocessed"))
    dataset_json, path = load_dataset_json_for(123)
    assert dataset_json["tag"] == "from preprocessed" and path.endswith("dataset.json")
    (tmp_path / "preprocessed" / "Dataset123_Demo" / "dataset.json").unlink()
    assert load_dataset_json_for("Dataset123_Demo")[0]["tag"] == "from raw"
    (tmp_path / "raw" / "Dataset123_Demo" / "dataset.json").unlink()
    with pytest.raises(FileNotFoundError, match="Dataset123_Demo"):
        load_dataset_json_for("Dataset123_Demo")
