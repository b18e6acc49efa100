"""Where a training epoch's time goes: stock nnUNetTrainer vs the given trainers, whole epochs as nnUNetv2_train runs
them (data loading in its worker processes, train steps, validation steps, the epoch's end: logging, plots,
checkpoints, monitors).

    python benchmarks/epoch_time.py -d 901 -c 3d_fullres -p nnUNetPlans_2mm_f16 -tr nnUNetTrainerMeanTeacher \
        --epochs 4 --iters 25 -device cpu

`step_time.py` times train_step alone; on a CPU an epoch also pays for what runs beside and between the steps (the
unlabeled batch's augmentation competes with the steps for the same cores). For each trainer, over the epochs after
the first: median epoch seconds, and per epoch the seconds in train steps (waiting for batches included), in
validation steps and in on_epoch_end; then `ratio TRAINER/nnUNetTrainer epoch X.XX steps Y.YY`. Each trainer runs
in a fresh process; logs and checkpoints go to a scratch nnUNet_results. Needs the split of `step_time.py`.
"""
import argparse
import multiprocessing
import os
import statistics
import tempfile
import time
from collections import defaultdict
from os.path import join

import torch


def _timed(trainer, name: str, totals: dict):
    method = getattr(trainer, name)

    def wrapper(*args, **kwargs):
        start = time.perf_counter()
        try:
            return method(*args, **kwargs)
        finally:
            totals[name] += time.perf_counter() - start

    setattr(trainer, name, wrapper)


def measure(trainer_name: str, dataset: str, configuration: str, plans: str, epochs: int, iterations: int,
            device: str) -> dict:
    from batchgenerators.utilities.file_and_folder_operations import load_json
    from nnunetv2.utilities.find_objects import recursive_find_trainer_class_by_name

    from nnunetv2_pscm.data.locations import preprocessed_dataset_folder

    folder = preprocessed_dataset_folder(dataset)
    plans_dict = load_json(join(folder, plans + ".json"))
    plans_dict["continue_training"] = False  # as step_time.py: a fresh run
    trainer = recursive_find_trainer_class_by_name(trainer_name)(
        plans=plans_dict, configuration=configuration, fold=0, dataset_json=load_json(join(folder, "dataset.json")),
        device=torch.device(device))
    trainer.num_epochs, trainer.num_iterations_per_epoch = epochs, iterations
    trainer.num_val_iterations_per_epoch = max(1, iterations // 5)  # as the _<E>ep<I>it schedules do
    for labeled_only_phase in ("pretrain_fraction", "warmup_fraction"):  # time self-training, not a warm-up
        if hasattr(trainer, labeled_only_phase):
            setattr(trainer, labeled_only_phase, 0)
    per_epoch, totals, ends = [], defaultdict(float), []
    for name in ("train_step", "validation_step", "on_epoch_end"):
        _timed(trainer, name, totals)
    timed_epoch_end = trainer.on_epoch_end

    def on_epoch_end():
        timed_epoch_end()
        per_epoch.append(dict(totals))
        totals.clear()
        ends.append(time.perf_counter())

    trainer.on_epoch_end = on_epoch_end
    trainer.run_training()
    # epoch i's wall time: from the end of epoch i - 1 to the end of epoch i (nnU-Net's own epoch timestamps stop
    # before on_epoch_end); the first epoch, which starts the workers, is left out
    walls = [b - a for a, b in zip(ends, ends[1:])]
    return {"trainer": trainer_name, "epoch_s": statistics.median(walls),
            **{k: statistics.median(e.get(k, 0.0) for e in per_epoch[1:])
               for k in ("train_step", "validation_step", "on_epoch_end")}}


def _measure_in_child(args, queue):
    queue.put(measure(*args))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-d", required=True)
    p.add_argument("-c", required=True)
    p.add_argument("-p", default="nnUNetPlans")
    p.add_argument("-tr", action="append", default=[], required=True)
    p.add_argument("--epochs", type=int, default=4, help="at least 2 (the first one is not timed)")
    p.add_argument("--iters", type=int, default=25)
    p.add_argument("-device", default="cuda" if torch.cuda.is_available() else "cpu", choices=["cpu", "cuda"])
    a = p.parse_args()
    os.environ.setdefault("nnUNet_compile", "0" if a.device == "cpu" else "1")
    results = []
    with tempfile.TemporaryDirectory(prefix="epoch_time_results_") as scratch:
        os.environ["nnUNet_results"] = scratch  # before nnunetv2 is imported: never beside a real run
        for name in ["nnUNetTrainer"] + [t for t in a.tr if t != "nnUNetTrainer"]:
            ctx = multiprocessing.get_context("spawn")
            queue = ctx.Queue()
            proc = ctx.Process(target=_measure_in_child,
                               args=((name, a.d, a.c, a.p, a.epochs, a.iters, a.device), queue))
            proc.start()
            r = queue.get()
            proc.join()
            results.append(r)
            print(f"{name}: epoch {r['epoch_s']:.1f} s = train steps {r['train_step']:.1f} s + validation "
                  f"{r['validation_step']:.1f} s + epoch end {r['on_epoch_end']:.1f} s + other "
                  f"{r['epoch_s'] - r['train_step'] - r['validation_step'] - r['on_epoch_end']:.1f} s", flush=True)
    stock = results[0]
    for r in results[1:]:
        print(f"ratio {r['trainer']}/nnUNetTrainer epoch {r['epoch_s'] / stock['epoch_s']:.2f} "
              f"steps {r['train_step'] / stock['train_step']:.2f}")


if __name__ == "__main__":
    main()
