"""Turn a finished nnUNetTrainerDualNet_single run into the nnUNetTrainerDualNet (ensemble) model of the SAME training.

    python benchmarks/dualnet_ensemble_from_single.py \\
        $nnUNet_results/Dataset901_LA2018/nnUNetTrainerDualNet_single_30ep50it__nnUNetPlans_2mm_f16__3d_fullres/fold_0
    nnUNetv2_train 901 3d_fullres 0 -tr nnUNetTrainerDualNet_30ep50it -p nnUNetPlans_2mm_f16 --val   # its validation

The two trainers train identically and differ only in what `network_weights` holds (one net or both), so one
training run gives both exports, at half the benchmark's CPU time. The _single checkpoint keeps both nets: the
exported one in `network_weights` (the plans network in `ssl_state['method_state']['plans_net']` when the partner
was exported) and the partner in `ssl_state['extra_modules']`. This writes the ensemble's checkpoint_final.pth (plans
network under its own keys, partner under `partner.`, as DualNetEnsemble's state dict) into the ensemble trainer's
results folder, beside copies of the plans, dataset files, the training log and the benchmark runner's markers (so
`nnUNetv2_pscm_benchmark` sees the same warm-started run of the same split and only validates it). Nothing existing
is overwritten.
"""
import argparse
import glob
import os
import shutil
import sys

import torch

SINGLE_SUFFIX = "_single"
FOLDER_FILES = ("plans.json", "dataset.json", "dataset_fingerprint.json")
FOLD_FILES = ("training_log_*.txt", "pscm_benchmark_*.json", "debug.json")


def ensemble_weights(checkpoint: dict) -> dict:
    ssl_state = checkpoint["ssl_state"]
    plans_net = ssl_state["method_state"].get("plans_net", checkpoint["network_weights"])
    partner = {k: v for k, v in ssl_state["extra_modules"].items() if k.startswith("partner.")}
    if not partner:
        raise ValueError("the checkpoint has no partner network under ssl_state['extra_modules']")
    return {**plans_net, **partner}


def ensemble_trainer_name(single_trainer: str) -> str:
    """nnUNetTrainerDualNet_single[_<E>ep<I>it] -> nnUNetTrainerDualNet[_<E>ep<I>it]."""
    head, sep, schedule = single_trainer.partition(SINGLE_SUFFIX)
    if not sep or not head.endswith("DualNet"):
        raise ValueError(f"{single_trainer!r} is not an nnUNetTrainerDualNet_single trainer")
    return head + schedule


def export(single_fold_dir: str) -> str:
    single_fold_dir = os.path.abspath(single_fold_dir.rstrip("/"))
    source = os.path.join(single_fold_dir, "checkpoint_final.pth")
    if not os.path.isfile(source):
        raise FileNotFoundError(f"{source} does not exist: the _single run has not finished")
    checkpoint = torch.load(source, map_location="cpu", weights_only=False)
    trainer = ensemble_trainer_name(checkpoint["trainer_name"])
    single_folder = os.path.dirname(single_fold_dir)
    folder_name = os.path.basename(single_folder)
    if not folder_name.startswith(checkpoint["trainer_name"] + "__"):
        raise ValueError(f"{single_folder} is not the results folder of {checkpoint['trainer_name']}")
    target_folder = os.path.join(os.path.dirname(single_folder), trainer + folder_name[len(checkpoint["trainer_name"]):])
    target_fold_dir = os.path.join(target_folder, os.path.basename(single_fold_dir))
    if os.path.exists(target_fold_dir):
        raise FileExistsError(f"{target_fold_dir} exists; remove it first (nothing was written)")
    checkpoint["network_weights"] = ensemble_weights(checkpoint)
    checkpoint["trainer_name"] = trainer
    os.makedirs(target_fold_dir)
    for name in FOLDER_FILES:
        if not os.path.exists(os.path.join(target_folder, name)):
            shutil.copy2(os.path.join(single_folder, name), target_folder)
    for pattern in FOLD_FILES:
        for path in glob.glob(os.path.join(single_fold_dir, pattern)):
            shutil.copy2(path, target_fold_dir)
    partial = os.path.join(target_fold_dir, "checkpoint_final.pth.partial")
    torch.save(checkpoint, partial)
    os.replace(partial, os.path.join(target_fold_dir, "checkpoint_final.pth"))
    return target_fold_dir


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("fold_dir", help="fold_X folder of a finished nnUNetTrainerDualNet_single(_<E>ep<I>it) run")
    a = p.parse_args(argv)
    try:
        print(f"wrote {export(a.fold_dir)}")
    except (OSError, ValueError) as e:
        sys.exit(f"dualnet_ensemble_from_single: {e}")


if __name__ == "__main__":
    main()
