"""The one-command demo in a fast mode: every artifact is produced, and a second run reuses everything."""
import os
import subprocess
from pathlib import Path

from conftest import console_script

FAST = ["--iterations", "4", "--cases", "12", "--labeled", "2", "--unlabeled-images", "2"]


def run_demo(out: Path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("nnUNet_")}  # a fresh machine: none set
    env.update({"nnUNet_n_proc_DA": "1", "nnUNet_def_n_proc": "1", "PYTHONUNBUFFERED": "1"})
    proc = subprocess.run([console_script("nnUNetv2_pscm_demo"), "--out", str(out)] + FAST, env=env,
                          capture_output=True, text=True, timeout=1500)
    assert proc.returncode == 0, proc.stdout[-5000:] + proc.stderr[-5000:]
    return proc.stdout + proc.stderr


def test_demo_produces_everything_and_reuses_it(tmp_path):
    out = tmp_path / "demo"
    first = run_demo(out)
    for name in ("results.md", "results.png", "overlay.png", "benchmark/results.md"):
        assert (out / name).is_file(), name
    table = (out / "results.md").read_text()
    for method in ("nnUNetTrainer (labeled only)", "nnUNetTrainerMeanTeacher", "nnUNetTrainerPSCM",
                   "nnUNetTrainer (full labels)"):
        assert method in table and method in first
    # nnUNetv2_predict (the deployment path) with the PSCM trainer name, on every validation case
    assert len(list((out / "predictions" / "nnUNetTrainerPSCM").glob("*.nii.gz"))) >= 2
    assert "nnUNetv2_predict -tr nnUNetTrainerPSCM_1ep4it on the same images: Dice" in table
    second = run_demo(out)
    assert "synthetic dataset exists" in second
    for step in ("$ nnUNetv2_plan_and_preprocess", "$ nnUNetv2_pscm_cpu_plans", "$ nnUNetv2_predict"):
        assert step in first and step not in second, step
    assert (out / "results.md").read_text() == table  # same models, same predictions, same numbers
