"""The shipped published lists: exact counts and order, and what each preset returns."""
import pytest

from nnunetv2_pscm.data.presets import available_presets, describe_preset, get_preset_split, load_preset_file

EXPECTED_COUNTS = {  # preset: (labeled, val, unlabeled, test) in nnU-Net case ids
    "LA-4": (4, 16, 60, 20),
    "LA-8": (8, 16, 56, 20),
    "LA-16": (16, 16, 48, 20),
    "Pancreas-6": (6, 12, 44, 20),
    "Pancreas-12": (12, 12, 38, 20),
    "Pancreas-CoraNet-12": (12, 12, 38, 18),
    "ACDC-3": (6, 20, 134, 40),  # patients x 2 frames
    "ACDC-7": (14, 20, 126, 40),
    "ACDC-14": (28, 20, 112, 40),
    "BraTS19-25": (25, 25, 225, 60),
    "BraTS19-50": (50, 25, 200, 60),
}


def _all_training_case_ids(name):
    """Case ids a converter would write to imagesTr for the preset's dataset (test ids left out)."""
    content = load_preset_file({"LA": "LA2018_UAMT.json", "Pancreas-6": "NIHPancreas_MCNet.json",
                                "Pancreas-12": "NIHPancreas_MCNet.json"}.get(name, _file_of(name)))
    lists = content["lists"]
    if name.startswith("LA"):
        return [f"la_{i}" for i in lists["train"]]
    if name.startswith("Pancreas-CoraNet"):
        return [f"pancreas_{i}" for i in lists["train_lab"] + lists["train_unlab"]]
    if name.startswith("Pancreas"):
        return [f"pancreas_{i[5:]}" for i in lists["train"]]
    if name.startswith("ACDC"):  # original ACDC: real frame numbers, all 100 patients in imagesTr
        patients = {v.split("_")[0] for part in ("train", "val", "test") for v in lists[part]}
        return [f"{p}_frame{f:02d}" for p in sorted(patients) for f in (1, 12)]
    return lists["train"] + lists["val"]


def _file_of(name):
    return {"ACDC": "ACDC_SSL4MIS.json", "BraTS19": "BraTS2019_SSL4MIS.json", "Pancreas": "NIHPancreas_CoraNet.json",
            "LA": "LA2018_UAMT.json"}[name.split("-")[0]]


def test_available_presets():
    assert available_presets() == list(EXPECTED_COUNTS)


@pytest.mark.parametrize("name", list(EXPECTED_COUNTS))
def test_preset_counts_disjoint_and_described(name):
    split = get_preset_split(name, _all_training_case_ids(name))
    counts = tuple(len(split[k]) for k in ("train", "val", "unlabeled", "test"))
    assert counts == EXPECTED_COUNTS[name]
    parts = [set(split[k]) for k in ("train", "val", "unlabeled", "test")]
    assert sum(len(p) for p in parts) == len(set().union(*parts))  # pairwise disjoint
    assert split["source"].startswith(name) and "github.com" in split["source"]
    text = describe_preset(name)
    assert "Source:" in text and str(EXPECTED_COUNTS[name][0] // (2 if name.startswith("ACDC") else 1)) in text


def test_la_lists_exact():
    lists = load_preset_file("LA2018_UAMT.json")["lists"]
    assert len(lists["train"]) == 80 and len(lists["test"]) == 20
    assert lists["train"][0] == "06SR5RBREL16DQ6M8LWS" and lists["train"][-1] == "UZUZZT2W9IUSHL6ASOX3"
    assert lists["test"][0] == "UPT6DX9IQY9JAZ7HJKA7" and lists["test"][-1] == "ZQPMJ4XEC5A4BISD45P1"
    # not regenerable by sorting: two ids are swapped between the lists relative to "first 80 sorted"
    assert sorted(lists["train"] + lists["test"])[:80] != sorted(lists["train"])
    split = get_preset_split("LA-16", [f"la_{i}" for i in lists["train"]])
    assert split["train"] == [f"la_{i}" for i in lists["train"][:16]]
    assert split["val"] == [f"la_{i}" for i in lists["train"][64:]]
    assert split["test"] == [f"la_{i}" for i in lists["test"]]


def test_pancreas_lists_exact():
    mcnet = load_preset_file("NIHPancreas_MCNet.json")["lists"]
    assert (len(mcnet["train"]), len(mcnet["test"])) == (62, 20)
    assert mcnet["train"][:3] == ["image0057", "image0018", "image0062"] and mcnet["train"][-1] == "image0003"
    assert "image0025" in mcnet["test"] and "image0070" in mcnet["train"]
    split = get_preset_split("Pancreas-6", [f"pancreas_{i[5:]}" for i in mcnet["train"]])
    assert split["train"] == ["pancreas_0057", "pancreas_0018", "pancreas_0062", "pancreas_0031", "pancreas_0020",
                              "pancreas_0017"]
    coranet = load_preset_file("NIHPancreas_CoraNet.json")["lists"]
    assert coranet["train_lab"] == [f"{i:04d}" for i in range(1, 13)]
    assert coranet["train_unlab"] == [f"{i:04d}" for i in range(13, 64) if i != 25]
    assert coranet["test"] == [f"{i:04d}" for i in range(64, 83) if i != 70]


def test_acdc_patient_level():
    lists = load_preset_file("ACDC_SSL4MIS.json")["lists"]
    assert (len(lists["train"]), len(lists["val"]), len(lists["test"])) == (140, 20, 40)
    case_ids = _all_training_case_ids("ACDC-3")
    split = get_preset_split("ACDC-3", case_ids)
    assert split["train"] == ["patient099_frame01", "patient099_frame12", "patient038_frame01", "patient038_frame12",
                              "patient050_frame01", "patient050_frame12"]
    # test patients absent from case_ids (h5 conversion puts them in imagesTs): SSL4MIS frame names
    without_test = [c for c in case_ids if c not in split["test"]]
    h5_split = get_preset_split("ACDC-7", without_test)
    assert h5_split["test"][:2] == ["patient011_frame01", "patient011_frame02"]
    assert get_preset_split("ACDC-7", case_ids)["train"][-2:] == ["patient049_frame01", "patient049_frame12"]


def test_brats_lists_exact():
    lists = load_preset_file("BraTS2019_SSL4MIS.json")["lists"]
    assert (len(lists["train"]), len(lists["val"]), len(lists["test"])) == (250, 25, 60)
    assert lists["train"][0] == "BraTS19_TCIA02_370_1" and lists["test"][-1] == "BraTS19_CBICA_AQR_1"
    assert len(set(lists["train"]) | set(lists["val"]) | set(lists["test"])) == 335


def test_missing_ids_and_unknown_name():
    ids = _all_training_case_ids("LA-8")
    with pytest.raises(ValueError, match=r"LA-8.*la_06SR5RBREL16DQ6M8LWS"):
        get_preset_split("LA-8", ids[1:])
    with pytest.raises(ValueError, match="ACDC-3.*patient099"):
        get_preset_split("ACDC-3", [c for c in _all_training_case_ids("ACDC-3") if not c.startswith("patient099")])
    with pytest.raises(ValueError, match="Available presets"):
        get_preset_split("LA-5", ids)
    assert get_preset_split("la-8", ids)["train"] == get_preset_split("LA-8", ids)["train"]  # case-insensitive
