import json

import pytest

from nnunetv2_pscm.benchmark_runner.config import BenchmarkConfigError, config_from_dict, load_config

MINIMAL = {"dataset": 901, "configuration": "3d_fullres", "trainers": ["nnUNetTrainerPSCM"], "labeled": [4],
           "output": "out"}


def test_defaults_and_relative_output(tmp_path):
    c = config_from_dict(MINIMAL, base_dir=tmp_path)
    assert c.dataset == "901" and c.plans == "nnUNetPlans" and c.folds == (0,) and c.seeds == (0,)
    assert c.device == "cuda" and c.schedule is None and c.output == (tmp_path / "out").resolve()
    assert c.ssl_trainers == ("nnUNetTrainerPSCM",) and c.scheduled("nnUNetTrainer") == "nnUNetTrainer"


def test_schedule_is_appended_to_every_trainer_and_stock_trainer_is_not_an_ssl_trainer(tmp_path):
    c = config_from_dict(dict(MINIMAL, trainers=["nnUNetTrainer", "nnUNetTrainerMeanTeacher"], schedule="20ep50it"),
                         base_dir=tmp_path)
    assert c.ssl_trainers == ("nnUNetTrainerMeanTeacher",)
    assert c.scheduled("nnUNetTrainer") == "nnUNetTrainer_20ep50it"
    assert c.schedule_epochs_iterations() == (20, 50)


def test_yaml_and_json_files_resolve_output_next_to_the_file(tmp_path):
    (tmp_path / "b.yaml").write_text("dataset: Dataset901_X\nconfiguration: 2d\ntrainers: [nnUNetTrainerMeanTeacher]\n"
                                     "fractions: [0.1, 0.25]\nfolds: [0, 1]\nseeds: [0, 1]\ndevice: cpu\noutput: res\n")
    c = load_config(tmp_path / "b.yaml")
    assert c.fractions == (0.1, 0.25) and c.labeled == () and c.folds == (0, 1) and c.output == tmp_path / "res"
    (tmp_path / "b.json").write_text(json.dumps(MINIMAL))
    assert load_config(tmp_path / "b.json").labeled == (4,)


@pytest.mark.parametrize("change,key", [
    ({"labled": [3]}, "labled"),                       # typo: unknown key
    ({"trainers": []}, "trainers"),
    ({"trainers": ["not a name"]}, "trainers"),
    ({"labeled": None}, "labeled"),                    # neither labeled nor fractions
    ({"fractions": [0.1]}, "labeled"),                 # both
    ({"labeled": [0]}, "labeled"),
    ({"labeled": [2, 2]}, "labeled"),
    ({"labeled": None, "fractions": [1.5]}, "fractions"),
    ({"folds": [-1]}, "folds"),
    ({"seeds": "0"}, "seeds"),
    ({"schedule": "20epochs"}, "schedule"),
    ({"schedule": "0ep5it"}, "schedule"),
    ({"schedule": "1ep2it", "trainers": ["nnUNetTrainer_5ep5it"]}, "trainers"),
    ({"device": "gpu"}, "device"),
    ({"num_processes": 0}, "num_processes"),
    ({"overwrite_split": "yes"}, "overwrite_split"),
    ({"output": None}, "output"),
    ({"dataset": None}, "dataset"),
    ({"presets": ["LA-4"]}, "labeled"),                              # labeled and presets
    ({"labeled": None, "presets": ["LA-5"]}, "presets"),             # not a preset
    ({"labeled": None, "presets": ["LA-4", "la-4"]}, "presets"),     # the same preset twice
    ({"labeled": None, "presets": []}, "presets"),
    ({"labeled": None, "presets": ["LA-4"], "folds": [0]}, "folds"),  # a preset has no cross-validation
    ({"warm_start": True}, "schedule"),                              # the equal budget needs a schedule
    ({"warm_start": "yes", "schedule": "1ep2it"}, "warm_start"),
])
def test_invalid_configs_name_the_key(change, key, tmp_path):
    raw = {k: v for k, v in {**MINIMAL, **change}.items() if v is not None}
    with pytest.raises(BenchmarkConfigError, match=f"'{key}'"):
        config_from_dict(raw, base_dir=tmp_path)


def test_unreadable_file_is_named(tmp_path):
    (tmp_path / "bad.yaml").write_text("dataset: [unclosed\n")
    with pytest.raises(BenchmarkConfigError, match="bad.yaml"):
        load_config(tmp_path / "bad.yaml")
    with pytest.raises(BenchmarkConfigError, match="does not exist"):
        load_config(tmp_path / "missing.yaml")
    (tmp_path / "list.yaml").write_text("- 1\n")
    with pytest.raises(BenchmarkConfigError, match="mapping"):
        load_config(tmp_path / "list.yaml")


def test_presets_replace_labeled_counts_and_folds(tmp_path):
    c = config_from_dict({k: v for k, v in MINIMAL.items() if k != "labeled"} | {"presets": ["la-8", "LA-4"],
                                                                                   "seeds": [0, 1]}, base_dir=tmp_path)
    assert c.presets == ("LA-8", "LA-4")  # spelled as the presets module spells them, in config order
    assert c.labeled == () and c.fractions == () and c.folds == () and c.seeds == (0, 1)
    d = c.to_dict()
    assert d["presets"] == ["LA-8", "LA-4"] and "folds" not in d and "labeled" not in d and d["warm_start"] is False


def test_warm_start_adds_a_stock_trainer_with_twice_the_epochs(tmp_path):
    c = config_from_dict(dict(MINIMAL, warm_start=True, schedule="30ep50it"), base_dir=tmp_path)
    assert c.warm_start and c.equal_budget_trainer == "nnUNetTrainer_60ep50it"
    assert config_from_dict(dict(MINIMAL, schedule="30ep50it"), base_dir=tmp_path).equal_budget_trainer is None
    assert "'schedule' is required with 'warm_start: true'" in _error(dict(MINIMAL, warm_start=True), tmp_path)
    assert config_from_dict(dict(MINIMAL, warm_start=True, schedule="30ep50it", equal_budget=False),
                            base_dir=tmp_path).equal_budget_trainer is None
    assert "'equal_budget' must be true or false" in _error(
        dict(MINIMAL, warm_start=True, schedule="30ep50it", equal_budget="no"), tmp_path)
    assert "'equal_budget' only applies with 'warm_start: true'" in _error(
        dict(MINIMAL, schedule="30ep50it", equal_budget=False), tmp_path)


def _error(raw, tmp_path) -> str:
    with pytest.raises(BenchmarkConfigError) as info:
        config_from_dict(raw, base_dir=tmp_path)
    return str(info.value)
