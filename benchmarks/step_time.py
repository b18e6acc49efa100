"""Seconds per training iteration and peak memory: stock nnUNetTrainer vs the given trainers, same plans and device.

    python benchmarks/step_time.py -d 901 -c 3d_fullres -p nnUNetPlans -tr nnUNetTrainerMeanTeacher \
        -tr nnUNetTrainerPSCM --iters 20 -device cpu

For each trainer: median seconds per iteration (and its compute / data-wait split), peak memory, then
`ratio TRAINER/nnUNetTrainer time X.XX memory Y.YY`. Memory: on CUDA, torch's peak allocated memory during
the timed steps (all trainers in this one process); on CPU, the growth of the resident set during the timed
steps (peak VmHWM minus VmRSS before them), each trainer in a fresh process so freed memory of one trainer
cannot hide the next one's allocations. Needs a split with unlabeled cases for the SSL trainers
(nnUNetv2_pscm_split) and nnUNet_extTrainer=$(nnUNetv2_pscm_trainer_dir).
"""
import argparse
import contextlib
import gc
import multiprocessing
import os
import statistics
import tempfile
import time
from os.path import join

import torch


class TimedIterator:
    """Wraps a batch generator and adds up the seconds spent waiting in next()."""

    def __init__(self, iterator):
        self.iterator, self.waited = iterator, 0.0

    def __next__(self):
        start = time.perf_counter()
        batch = next(self.iterator)
        self.waited += time.perf_counter() - start
        return batch

    def __getattr__(self, name):  # _finish() etc.
        return getattr(self.iterator, name)


def _status_kib(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def _reset_peak_rss() -> None:
    with open("/proc/self/clear_refs", "w") as f:  # "5" resets VmHWM to the current RSS (Linux)
        f.write("5")


def measure(trainer_name: str, dataset: str, configuration: str, plans: str, iterations: int, warmup: int,
            device: str) -> dict:
    from batchgenerators.utilities.file_and_folder_operations import load_json
    from nnunetv2.utilities.find_objects import recursive_find_trainer_class_by_name

    from nnunetv2_pscm.data.locations import preprocessed_dataset_folder

    folder = preprocessed_dataset_folder(dataset)
    plans_dict = load_json(join(folder, plans + ".json"))
    plans_dict["continue_training"] = False
    trainer_class = recursive_find_trainer_class_by_name(trainer_name)
    trainer = trainer_class(plans=plans_dict, configuration=configuration, fold=0,
                            dataset_json=load_json(join(folder, "dataset.json")), device=torch.device(device))
    # time the semi-supervised phase, not a labeled-only pretraining (BCP, PSCM) or warm-up (DuCiSC)
    for labeled_only_phase in ("pretrain_fraction", "warmup_fraction"):
        if hasattr(trainer, labeled_only_phase):
            setattr(trainer, labeled_only_phase, 0)
    with open(os.devnull, "w") as quiet, contextlib.redirect_stdout(quiet):  # nnU-Net prints the whole plans
        trainer.on_train_start()
        trainer.on_train_epoch_start()
    labeled = TimedIterator(trainer.dataloader_train)
    if getattr(trainer, "dataloader_unlabeled", None) is not None:
        trainer.dataloader_unlabeled = TimedIterator(trainer.dataloader_unlabeled)
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    gc.collect()
    # memory baseline BEFORE the first step: on CPU the allocator keeps what the first steps took, so a later
    # baseline would hide the working memory of a step
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
        baseline = torch.cuda.memory_allocated()
    else:
        _reset_peak_rss()
        baseline = _status_kib("VmRSS") * 1024
    for _ in range(warmup):
        trainer.train_step(next(labeled))
    sync()
    times, waits = [], []
    for _ in range(iterations):
        waited_before = labeled.waited + getattr(getattr(trainer, "dataloader_unlabeled", None), "waited", 0.0)
        start = time.perf_counter()
        trainer.train_step(next(labeled))
        sync()
        times.append(time.perf_counter() - start)
        waits.append(labeled.waited + getattr(getattr(trainer, "dataloader_unlabeled", None), "waited", 0.0)
                     - waited_before)
    peak = torch.cuda.max_memory_allocated() if device == "cuda" else _status_kib("VmHWM") * 1024
    for loader in (labeled, trainer.dataloader_val, getattr(trainer, "dataloader_unlabeled", None)):
        if hasattr(loader, "_finish"):
            loader._finish()
    return {"trainer": trainer_name, "median_s": statistics.median(times),
            "median_compute_s": statistics.median(t - w for t, w in zip(times, waits)),
            "median_wait_s": statistics.median(waits), "peak_bytes": peak - baseline,
            "batch_size": trainer.batch_size}


def _measure_in_child(args, queue):
    queue.put(measure(*args))


def _result_of(proc, queue, name: str) -> dict:
    """The child's result; if the child dies first (its traceback is on stderr), stop instead of waiting forever."""
    import queue as queue_module
    while True:
        try:
            result = queue.get(timeout=5)
            proc.join()
            return result
        except queue_module.Empty:
            if not proc.is_alive():
                raise SystemExit(f"step_time: measuring {name} failed (exit code {proc.exitcode}), see the "
                                 f"traceback above")


def run(trainers, dataset, configuration, plans, iterations, warmup, device):
    results = []
    for name in ["nnUNetTrainer"] + [t for t in trainers if t != "nnUNetTrainer"]:
        args = (name, dataset, configuration, plans, iterations, warmup, device)
        if device == "cpu":
            ctx = multiprocessing.get_context("spawn")
            queue = ctx.Queue()
            proc = ctx.Process(target=_measure_in_child, args=(args, queue))
            proc.start()
            result = _result_of(proc, queue, name)
        else:
            result = measure(*args)
            gc.collect()
            torch.cuda.empty_cache()
        results.append(result)
        print(f"{name}: median {result['median_s']:.3f} s/iteration (compute {result['median_compute_s']:.3f} s, "
              f"data wait {result['median_wait_s']:.3f} s), peak memory {result['peak_bytes'] / 2 ** 20:.0f} MiB",
              flush=True)
    stock = results[0]
    for r in results[1:]:
        print(f"ratio {r['trainer']}/nnUNetTrainer time {r['median_s'] / stock['median_s']:.2f} "
              f"memory {r['peak_bytes'] / max(stock['peak_bytes'], 1):.2f}")
    return results


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-d", required=True)
    p.add_argument("-c", required=True)
    p.add_argument("-p", default="nnUNetPlans")
    p.add_argument("-tr", action="append", default=[], required=True)
    p.add_argument("--iters", type=int, default=20)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("-device", default="cuda" if torch.cuda.is_available() else "cpu", choices=["cpu", "cuda"])
    a = p.parse_args()
    os.environ.setdefault("nnUNet_compile", "0" if a.device == "cpu" else "1")
    if not os.environ.get("nnUNet_extTrainer"):  # our trainers, as nnUNetv2_pscm_trainer_dir prints it
        from nnunetv2_pscm.data.trainer_folder import trainer_dir
        os.environ["nnUNet_extTrainer"] = trainer_dir()
    # a trainer writes its log and debug.json into nnUNet_results/<dataset>/<trainer>__<plans>__<config>/fold_0
    # as soon as it is built: point nnUNet_results at a scratch folder (before nnunetv2 is imported anywhere) so
    # the benchmark never writes beside, or into, a real training run
    with tempfile.TemporaryDirectory(prefix="step_time_results_") as scratch:
        os.environ["nnUNet_results"] = scratch
        run(a.tr, a.d, a.c, a.p, a.iters, a.warmup, a.device)


if __name__ == "__main__":
    main()
