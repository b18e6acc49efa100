"""The one-command demo: the whole semi-supervised workflow on an embedded synthetic dataset.

Every step is a stock nnU-Net command or one of ours, run in a subprocess exactly as a user would type it (the
command is printed), inside one local folder with its own nnUNet_raw / nnUNet_preprocessed / nnUNet_results, so
the user's own nnU-Net data are never touched. Each step is skipped when its result is already there, so a second
run reuses everything that finished.
"""
import json
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import numpy as np

from nnunetv2_pscm.benchmark_runner.execution import benchmark_env, console_script, run_logged

# outside the ids our converters use (9x1..9x3, 960+)
DATASET_IDS = {"3d": 990, "2d": 980}
CONFIGURATIONS = {"3d": "3d_fullres", "2d": "2d"}
PLANS = "nnUNetPlans_cpu"
METHODS = ("nnUNetTrainerMeanTeacher", "nnUNetTrainerPSCM")


@dataclass(frozen=True)
class DemoSettings:
    output: Path
    iterations: int = 800  # training iterations per method (equal budgets)
    num_labeled: int = 4
    num_cases: int = 40
    num_unlabeled_images: int = 10
    device: str = "cpu"
    seed: int = 0
    # synthetic dataset: "2d" multi-class heart-like slices (default: 800 iterations of all four models fit in
    # 10 minutes on 2 CPU cores; 1000 took 10.5 minutes once PSCM's step grew with the SSL-gain recipe) or "3d"
    # binary organ among look-alikes (3d_fullres; ~12 minutes at 500 iterations)
    kind: str = "2d"

    @property
    def schedule(self) -> str:
        """`<E>ep<I>it` with at most 50 iterations per epoch, so progress shows often."""
        per_epoch = min(50, self.iterations)
        epochs = max(1, round(self.iterations / per_epoch))
        return f"{epochs}ep{per_epoch}it"


class Demo:
    def __init__(self, settings: DemoSettings):
        self.s = settings
        self.root = settings.output.resolve()
        self.started = time.time()
        self.deployment_note = ""
        self.env = benchmark_env(dict(os.environ, nnUNet_raw=str(self.root / "nnUNet_raw"),
                                      nnUNet_preprocessed=str(self.root / "nnUNet_preprocessed"),
                                      nnUNet_results=str(self.root / "nnUNet_results")))
        # CPU-friendly defaults, unless the user chose otherwise
        self.env.setdefault("nnUNet_n_proc_DA", "2")
        self.env.setdefault("nnUNet_def_n_proc", "2")
        if settings.device == "cpu":
            self.env.setdefault("nnUNet_compile", "0")
        # the benchmark runner reads these from this process's environment, and passes them to nnU-Net's CLIs
        os.environ.update(self.env)

    @property
    def dataset_id(self) -> int:
        return DATASET_IDS[self.s.kind]

    @property
    def configuration(self) -> str:
        return CONFIGURATIONS[self.s.kind]

    # ------------------------------------------------------------------ helpers
    def say(self, message: str) -> None:
        print(f"[{time.time() - self.started:6.0f} s] {message}", flush=True)

    def run(self, name: str, *args, description: Optional[str] = None, total_epochs: Optional[int] = None) -> None:
        command = [console_script(name)] + [str(a) for a in args]
        self.say("$ " + " ".join([name] + [str(a) for a in args]))
        run_logged(command, self.env, str(self.root / "logs" / f"{name}.log"), description or name,
                   total_epochs=total_epochs, show_progress=total_epochs is not None)

    @property
    def raw_dataset(self) -> Optional[Path]:
        found = sorted((self.root / "nnUNet_raw").glob(f"Dataset{self.dataset_id:03d}_*"))
        return found[0] if found else None

    @property
    def preprocessed_dataset(self) -> Path:
        return self.root / "nnUNet_preprocessed" / self.raw_dataset.name

    # ------------------------------------------------------------------ steps
    def generate(self) -> None:
        if self.raw_dataset is not None:
            return self.say(f"synthetic dataset exists: {self.raw_dataset}")
        from nnunetv2_pscm.synthetic import generate_synthetic_dataset

        (self.root / "nnUNet_raw").mkdir(parents=True, exist_ok=True)
        self.say(f"$ nnUNetv2_pscm_synthetic -d {self.dataset_id} --kind {self.s.kind} -n {self.s.num_cases} "
                 f"--n-unlabeled-images {self.s.num_unlabeled_images} --seed {self.s.seed}")
        folder = generate_synthetic_dataset(self.dataset_id, self.s.kind, self.s.num_cases,
                                            self.s.num_unlabeled_images, seed=self.s.seed,
                                            raw_root=str(self.root / "nnUNet_raw"))
        self.say(f"wrote {folder}")

    def plan_and_preprocess(self) -> None:
        pp = self.root / "nnUNet_preprocessed" / self.raw_dataset.name
        if (pp / f"nnUNetPlans_{self.configuration}").is_dir() and (pp / "gt_segmentations").is_dir():
            self.say("nnU-Net plans and preprocessed data exist")
        else:
            self.run("nnUNetv2_plan_and_preprocess", "-d", self.dataset_id, "-c", self.configuration,
                     "-np", 2, "-npfp", 2)
        if not (pp / f"{PLANS}.json").is_file():
            self.run("nnUNetv2_pscm_cpu_plans", "-d", self.dataset_id, "-c", self.configuration)
        if self.s.num_unlabeled_images and not list(pp.glob("*_unlabeled")):
            self.run("nnUNetv2_pscm_preprocess_unlabeled", "-d", self.dataset_id, "-c", self.configuration,
                     "-p", PLANS, "-np", 2)

    def benchmark_config(self):
        from nnunetv2_pscm.benchmark_runner.config import config_from_dict

        return config_from_dict({
            "dataset": self.dataset_id, "configuration": self.configuration, "plans": PLANS,
            "trainers": list(METHODS),
            "labeled": [self.s.num_labeled], "folds": [0], "seeds": [self.s.seed], "schedule": self.s.schedule,
            "device": self.s.device, "output": str(self.root / "benchmark"), "num_processes": 2,
            "include_unlabeled_images": self.s.num_unlabeled_images > 0, "overwrite_split": False})

    def train(self) -> list:
        """Split, train and score through the benchmark runner (stock nnUNetv2_train, resumable). Returns the runs:
        labeled-only nnU-Net, the SSL methods, full-label nnU-Net."""
        from nnunetv2_pscm.benchmark_runner.runs import ROLE_FULL, ROLE_LABELED_ONLY
        from nnunetv2_pscm.benchmark_runner.runner import run_benchmark
        from nnunetv2_pscm.benchmark_runner.session import BenchmarkSession

        self.say(f"training the labeled-only nnU-Net, {', '.join(METHODS)} and the full-label nnU-Net with "
                 f"{self.s.iterations} iterations each ({self.s.schedule})")
        config = self.benchmark_config()
        run_benchmark(config)
        runs = BenchmarkSession(config, verbose=False).runs
        order = {ROLE_LABELED_ONLY: 0, ROLE_FULL: 2}
        return sorted(runs, key=lambda r: (order.get(r.role, 1), METHODS.index(r.trainer) if r.trainer in METHODS else 0))

    # ------------------------------------------------------------------ after training
    def validation_folders(self, runs) -> Tuple[Dict[str, Path], List[str]]:
        """Each run's validation predictions, written by nnUNetv2_train itself from its final checkpoint."""
        from nnunetv2_pscm.benchmark_runner.runs import fold_folder

        val_cases = json.load(open(self.preprocessed_dataset / "splits_final.json"))[runs[0].fold]["val"]
        results = str(self.root / "nnUNet_results" / self.raw_dataset.name)
        folders = {r.method: Path(fold_folder(results, r, PLANS, self.configuration)) / "validation" for r in runs}
        return folders, val_cases

    def predict_with_nnunet(self, run, val_cases: List[str]) -> Path:
        """The deployment path: nnUNetv2_predict with our trainer name on the raw validation images. Only for
        one model, because nnUNetv2_train has already predicted the same cases with every model."""
        images = self.root / "validation_images"
        images.mkdir(exist_ok=True)
        for source in sorted((self.raw_dataset / "imagesTr").iterdir()):
            if source.name[:-len("_0000.nii.gz")] in val_cases and not (images / source.name).exists():
                os.symlink(source, images / source.name)
        out = self.root / "predictions" / re.sub(r"\W+", "_", run.method).strip("_")
        if out.is_dir() and len(list(out.glob("*.nii.gz"))) == len(val_cases):
            self.say(f"predictions of {run.method} exist")
        else:
            self.run("nnUNetv2_predict", "-i", images, "-o", out, "-d", self.dataset_id, "-c", self.configuration,
                     "-p", PLANS,
                     "-tr", run.nnunet_trainer, "-f", run.fold, "-device", self.s.device, "--disable_progress_bar",
                     "-npp", 1, "-nps", 1)  # one worker each: spawning more costs more than it saves on small cases
        return out

    def evaluate(self, folders: Dict[str, Path]) -> List[dict]:
        from nnunetv2_pscm.evaluation import evaluate_folders, tidy_rows_from_summary

        dataset_json = json.load(open(self.preprocessed_dataset / "dataset.json"))
        rows = []
        for method, folder in folders.items():
            summary = evaluate_folders(str(self.preprocessed_dataset / "gt_segmentations"), str(folder), dataset_json,
                                       modes=("mm",), num_processes=2, cases_from_pred=True)
            per_case = [r for r in tidy_rows_from_summary(summary) if r["mode"] == "mm"]
            dice = np.array([r["dice"] for r in per_case], dtype=float)
            hd95 = np.array([np.nan if r["hd95"] in (None, "") else r["hd95"] for r in per_case], dtype=float)
            rows.append({"method": method, "dice_mean": float(np.mean(dice)), "dice_std": float(np.std(dice)),
                         "hd95_mean": float(np.nanmean(hd95)) if np.isfinite(hd95).any() else float("nan"),
                         "hd95_std": float(np.nanstd(hd95)) if np.isfinite(hd95).any() else float("nan"),
                         "hd95_undefined": int(np.isnan(hd95).sum()), "cases": len(per_case),
                         "per_case_dice": {r["case"]: r["dice"] for r in per_case}})
        return rows

    def report(self, rows: List[dict], folders: Dict[str, Path], val_cases: List[str]) -> None:
        from nnunetv2_pscm.demo.figures import results_bar_chart

        lines = [f"| method | labeled cases | Dice | HD95 (mm) |", "|---|---|---|---|"]
        for r in rows:
            labeled = "all" if "full labels" in r["method"] else str(self.s.num_labeled)
            undefined = f" ({r['hd95_undefined']} undefined)" if r["hd95_undefined"] else ""
            lines.append(f"| {r['method']} | {labeled} | {r['dice_mean']:.3f} ± {r['dice_std']:.3f} | "
                         f"{r['hd95_mean']:.2f} ± {r['hd95_std']:.2f}{undefined} |")
        table = "\n".join(lines)
        note = (f"{len(val_cases)} validation cases of fold 0 (never used for training), predicted by nnUNetv2_train's "
                f"final validation of each model; {self.s.iterations} training iterations per method on "
                f"{self.s.device}; HD95 in mm. {self.deployment_note}")
        (self.root / "results.md").write_text(f"# nnunetv2_pscm demo\n\n{table}\n\n{note}\n")
        results_bar_chart(rows, str(self.root / "results.png"),
                          f"{self.s.num_labeled} labeled + {self.s.num_cases - len(val_cases) - self.s.num_labeled} "
                          f"hidden-label + {self.s.num_unlabeled_images} unlabeled images, {self.s.iterations} iterations")
        self._overlay(rows, folders, val_cases)
        print("\n" + table + "\n\n" + note)
        self.say(f"results: {self.root / 'results.md'}, plot: {self.root / 'results.png'}, "
                 f"overlay: {self.root / 'overlay.png'}")

    def _overlay(self, rows, folders, val_cases) -> None:
        import SimpleITK as sitk

        from nnunetv2_pscm.demo.figures import overlay_figure

        # the case where semi-supervision changed most, so the picture shows what the table says
        labeled_only, best = rows[0], max(rows[1:-1], key=lambda r: r["dice_mean"])
        case = max(val_cases, key=lambda c: best["per_case_dice"][c] - labeled_only["per_case_dice"][c])
        read = lambda path: sitk.GetArrayFromImage(sitk.ReadImage(str(path)))
        overlay_figure(read(self.raw_dataset / "imagesTr" / f"{case}_0000.nii.gz"),
                       read(self.raw_dataset / "labelsTr" / f"{case}.nii.gz"),
                       {r["method"]: read(folders[r["method"]] / f"{case}.nii.gz") for r in rows},
                       {r["method"]: r["per_case_dice"][case] for r in rows}, str(self.root / "overlay.png"), case)


def run_demo(settings: DemoSettings) -> Path:
    demo = Demo(settings)
    demo.say(f"nnunetv2_pscm demo in {demo.root} (device {settings.device})")
    demo.generate()
    demo.plan_and_preprocess()
    runs = demo.train()
    folders, val_cases = demo.validation_folders(runs)
    pscm = next(r for r in runs if r.trainer == "nnUNetTrainerPSCM")
    predicted = {f"{pscm.method} via nnUNetv2_predict": demo.predict_with_nnunet(pscm, val_cases)}
    rows = demo.evaluate(folders)
    deployed = demo.evaluate(predicted)[0]
    trained = next(r for r in rows if r["method"] == pscm.method)
    demo.deployment_note = (f"nnUNetv2_predict -tr {pscm.nnunet_trainer} on the same images: Dice "
                            f"{deployed['dice_mean']:.4f} (the table's {trained['dice_mean']:.4f} comes from the same "
                            f"checkpoint inside nnUNetv2_train).")
    demo.say(demo.deployment_note)
    demo.report(rows, folders, val_cases)
    return demo.root
