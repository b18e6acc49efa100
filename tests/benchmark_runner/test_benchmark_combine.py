"""Combining recorded benchmark folders: identical runs once, pairing within the run's own chain, the other chain's
same-budget run only as a marked fallback, mean ± std over seeds; all numbers by hand."""
import json

import pytest

from nnunetv2_pscm.benchmark_runner.combine import CombineError, _today_method, combine, compare_methods, markdown
from nnunetv2_pscm.cli.benchmark_combine import main

CASES = ("a", "b")


def record(folder, fold, role, trainer, dice, hd95, seed, method=None):
    run_id = f"fold{fold:02d}_{trainer}"
    run_dir = folder / "runs" / run_id
    run_dir.mkdir(parents=True)
    method = method or {"labeled_only": "labeled only", "labeled_only_equal_budget": "same budget"}.get(role, trainer)
    run = {"run_id": run_id, "fold": fold, "role": role, "method": method, "nnunet_trainer": trainer, "seed": seed,
           "preset": "LA-4", "num_labeled": 4, "fraction": None}
    (run_dir / "metadata.json").write_text(json.dumps({"run": run}))
    per_case = [{"case": c, "metrics": {"fg": {"voxel": {"dice": d, "hd95": 2 * h}, "mm": {"dice": d, "hd95": h}}}}
                for c, d, h in zip(CASES, dice, hd95)]
    (run_dir / "validation_summary.json").write_text(json.dumps({"per_case": per_case}))


@pytest.fixture
def folders(tmp_path):
    a, b, c, d = (tmp_path / name for name in "abcd")
    # seed 0, one chain recorded twice (b reused a's labeled-only and same-budget runs)
    record(a, 0, "labeled_only", "L", [0.5, 0.7], [10, 6], 0)
    record(a, 0, "labeled_only_equal_budget", "E", [0.55, 0.8], [9, 5], 0)
    record(a, 0, "ssl", "X", [0.6, 0.9], [8, 4], 0)
    record(b, 0, "labeled_only", "L", [0.5, 0.7], [10, 6], 0)
    record(b, 0, "labeled_only_equal_budget", "E", [0.55, 0.8], [9, 5], 0)
    # seed 1: X was trained from a re-run labeled-only model whose chain has no same-budget run (c); d has one
    record(c, 1, "labeled_only", "L", [0.6, 0.6], [8, 8], 1)
    record(c, 1, "ssl", "X", [0.7, 0.5], [6, 9], 1)
    record(d, 1, "labeled_only", "L", [0.4, 0.4], [12, 12], 1)
    record(d, 1, "labeled_only_equal_budget", "E", [0.65, 0.65], [7, 7], 1)
    return [a, b, c, d]


def rows_by_method(rows):
    return {row["method"]: row for row in rows}


def test_identical_runs_count_once_and_re_runs_are_listed(folders):
    rows = rows_by_method(combine(folders))
    labeled = rows["labeled only"]
    assert labeled["runs"] == 3  # a's (= b's), c's and d's
    assert labeled["seeds"][0]["dice"] == [pytest.approx(0.6)] and labeled["seeds"][1]["dice"] == [0.6, 0.4]
    # seed means 0.6 and 0.5 -> 0.55 ± std(0.6, 0.5) = 0.0707
    assert labeled["dice"] == pytest.approx(0.55) and labeled["dice_std"] == pytest.approx(0.1 / 2 ** 0.5)
    assert [r["role"] for r in combine(folders)] == ["labeled_only", "labeled_only_equal_budget", "ssl"]


def test_pairs_within_the_chain_and_marks_the_fallback(folders):
    x = rows_by_method(combine(folders))["X"]
    s0, s1 = x["seeds"][0], x["seeds"][1]
    # seed 0 vs its own labeled-only: (0.1 + 0.2) / 2, HD95 (-2 - 2) / 2, both cases rose; vs same budget 0.075
    assert s0["vs_labeled_only"]["dice"] == pytest.approx(0.15) and s0["vs_labeled_only"]["hd95_mm"] == pytest.approx(-2)
    assert s0["vs_labeled_only"]["rose"] == 2 and s0["vs_equal_budget"]["own_chain"]
    assert s0["vs_equal_budget"]["dice"] == pytest.approx(0.075)
    # seed 1 vs ITS labeled-only (c's, not d's): (0.1 - 0.1) / 2 = 0, one case rose
    assert s1["vs_labeled_only"]["dice"] == pytest.approx(0.0) and s1["vs_labeled_only"]["rose"] == 1
    # no same-budget run in c's chain: d's, marked as another chain: (0.05 - 0.15) / 2
    assert s1["vs_equal_budget"]["dice"] == pytest.approx(-0.05) and not s1["vs_equal_budget"]["own_chain"]
    assert x["vs_labeled_only"]["dice"] == pytest.approx(0.075) and x["vs_labeled_only"]["rose"] == 3
    assert x["vs_labeled_only"]["cases"] == 4 and not x["vs_equal_budget"]["own_chain"]
    text = markdown(combine(folders), folders)
    # HD95: seed 0 -2, seed 1 (-2 + 1) / 2 -> -1.25; vs same budget: seed 0 -1, seed 1 (-1 + 2) / 2 -> -0.25
    assert "| +0.075 / -1.25 mm, 3 / 4 |" in text and "/ -0.25 mm, 3 / 4 † |" in text
    assert x["vs_equal_budget"]["dice"] == pytest.approx(0.0125)


def test_errors_name_the_folder_and_existing_output_is_kept(folders, tmp_path, capsys):
    with pytest.raises(CombineError, match="nope.*no runs/"):
        combine([tmp_path / "nope"])
    out = tmp_path / "table.md"
    out.write_text("keep me")
    with pytest.raises(SystemExit, match="exists; pass --overwrite"):
        main([str(f) for f in folders] + ["-o", str(out)])
    assert out.read_text() == "keep me"
    main([str(f) for f in folders] + ["-o", str(out), "--overwrite"])
    assert out.read_text().startswith("| setting | method |")


def test_compare_pairs_two_methods_within_the_chain_and_marks_the_fallback(folders, tmp_path, capsys):
    a, b, c, d = folders
    record(a, 0, "ssl", "Y", [0.5, 0.96], [9, 3], 0)  # seed 0: same chain as X
    record(d, 1, "ssl", "Y", [0.8, 0.28], [5, 10], 1)  # seed 1: d's chain; X of seed 1 is in c's chain
    (row,) = compare_methods(folders, "X", "Y")
    s0, s1 = row["seeds"][0], row["seeds"][1]
    # seed 0, own chain: X (0.6, 0.9) - Y (0.5, 0.96) = (+0.1, -0.06) -> +0.02; HD95 (8-9, 4-3) -> 0; one case rose
    assert s0["dice"] == pytest.approx(0.02) and s0["hd95_mm"] == pytest.approx(0.0) and s0["rose"] == 1
    assert s0["own_chain"]
    # seed 1: no Y in c's chain -> d's Y, marked: X (0.7, 0.5) - Y (0.8, 0.28) = (-0.1, +0.22) -> +0.06
    assert s1["dice"] == pytest.approx(0.06) and not s1["own_chain"] and s1["rose"] == 1
    assert row["dice"] == pytest.approx(0.04) and row["dice_std"] == pytest.approx(0.04 / 2 ** 0.5)
    assert row["rose"] == 2 and row["cases"] == 4
    main([str(f) for f in folders] + ["--compare", "X", "Y"])
    assert "| X − Y | s0 +0.020; s1 +0.060 † | +0.040 ± 0.028 |" in capsys.readouterr().out
    with pytest.raises(CombineError, match="no evaluated run of 'Z'.*X, Y"):
        compare_methods(folders, "X", "Z")


def test_a_renamed_trainer_shows_under_todays_name_in_its_folder_only(folders):
    a, c = folders[0], folders[2]
    # a recorded X when X was another recipe (today's X_old); c's X is today's X
    (a / "renamed_trainers.json").write_text(json.dumps({"X": "X_old", "X_other": "unused"}))
    rows = rows_by_method(combine(folders))
    assert rows["X_old"]["seeds"].keys() == {0} and rows["X"]["seeds"].keys() == {1}
    assert rows["labeled only"]["runs"] == 3  # labels that are not trainer names are untouched
    # only a whole trainer name is renamed, and the suffix after it is kept
    assert _today_method("X (warm-started)", {"X": "X_old"}) == "X_old (warm-started)"
    assert _today_method("X_strong (warm-started)", {"X": "X_old"}) == "X_strong (warm-started)"


def test_a_malformed_rename_file_names_itself(folders):
    (folders[0] / "renamed_trainers.json").write_text('["X"]')
    with pytest.raises(CombineError, match="renamed_trainers.json.*trainer names"):
        combine(folders)


def test_a_full_label_run_without_a_seed_is_listed_without_a_seed_prefix(tmp_path):
    record(tmp_path / "a", 1, "full_label", "F", [0.9, 0.7], [3, 5], None, method="full labels")
    table = markdown(combine([tmp_path / "a"]), [tmp_path / "a"])
    row = next(line for line in table.splitlines() if "full labels" in line)
    assert "| 0.800 | 0.800 |" in row and "sNone" not in row
