"""Inference time of an exported SSL model vs the stock nnUNetTrainer model of the same plans (a script, not a test).

    python benchmarks/inference.py -d 901 -c 3d_fullres -p nnUNetPlans -tr nnUNetTrainerPSCM -f 0 -device cuda

Both models are run through the stock `nnUNetv2_predict` in fresh subprocesses, alternately, on the same images.
The network our trainers export IS nnU-Net's stock architecture for the plans, so the ratio should be ~1.00. When no
stock nnUNetTrainer model of these plans is trained for that fold (or with --same-weights), one is built: the
exported checkpoint saved again under trainer_name nnUNetTrainer in a temporary results folder. Then the two
predictions must also be identical, which is checked. A schedule variant (-tr nnUNetTrainerPSCM_20ep50it) is
compared with the stock trainer of the same schedule (nnUNetTrainer_20ep50it) unless --stock-trainer says otherwise.
"""
import argparse
import os
import re
import shutil
import statistics
import sys
import tempfile
import time

import numpy as np

STOCK = "nnUNetTrainer"
SCHEDULE_SUFFIX = re.compile(r"_\d+ep\d+it$")
CHECKPOINT = "checkpoint_final.pth"
# what nnUNetPredictor reads from a checkpoint; the SSL extras (teacher, heads) are training-only
INFERENCE_KEYS = ("network_weights", "init_args", "trainer_name", "inference_allowed_mirroring_axes")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("-d", required=True, help="dataset name or id")
    p.add_argument("-c", required=True, help="configuration, e.g. 3d_fullres")
    p.add_argument("-p", default="nnUNetPlans", help="plans identifier (default nnUNetPlans)")
    p.add_argument("-tr", required=True, help="our trainer (the exported model), e.g. nnUNetTrainerPSCM")
    p.add_argument("-f", default="0", help="fold (default 0)")
    p.add_argument("-i", help="folder of images to predict (default: imagesTs of the raw dataset, else imagesTr)")
    p.add_argument("-device", default="cuda", choices=("cpu", "cuda", "mps"))
    p.add_argument("--num_cases", type=int, default=3, help="predict at most this many cases (default 3; 0 = all)")
    p.add_argument("--repeats", type=int, default=1, help="timed runs per model, alternating; the median is used")
    p.add_argument("-np", type=int, default=1, help="preprocessing and export processes of nnUNetv2_predict "
                   "(-npp/-nps; default 1, same for both models)")
    p.add_argument("--disable_tta", action="store_true", help="pass --disable_tta to nnUNetv2_predict (both models)")
    p.add_argument("--stock-trainer", help="name of the stock model to compare with (default: nnUNetTrainer, with "
                   "the schedule suffix of -tr if it has one, e.g. nnUNetTrainer_20ep50it)")
    p.add_argument("--same-weights", action="store_true",
                   help="always compare against the exported weights saved as a stock checkpoint, even when a "
                        "stock nnUNetTrainer model is trained")
    return p.parse_args(argv)


def model_folder(results_root, dataset_name, trainer, plans, configuration):
    return os.path.join(results_root, dataset_name, f"{trainer}__{plans}__{configuration}")


def stock_trainer_name(trainer: str) -> str:
    suffix = SCHEDULE_SUFFIX.search(trainer)
    return STOCK + (suffix.group(0) if suffix else "")


def build_stock_copy(ours_folder, fold, tmp_results, dataset_name, plans, configuration, stock):
    """Save our checkpoint's network weights as a stock nnUNetTrainer model (trainer_name is what the predictor uses
    to build the network)."""
    import torch

    target = model_folder(tmp_results, dataset_name, stock, plans, configuration)
    os.makedirs(os.path.join(target, f"fold_{fold}"))
    for name in ("dataset.json", "plans.json"):
        shutil.copy(os.path.join(ours_folder, name), os.path.join(target, name))
    checkpoint = torch.load(os.path.join(ours_folder, f"fold_{fold}", CHECKPOINT), map_location="cpu",
                            weights_only=False)
    checkpoint_out = {k: checkpoint[k] for k in INFERENCE_KEYS if k in checkpoint}
    checkpoint_out["trainer_name"] = stock
    torch.save(checkpoint_out, os.path.join(target, f"fold_{fold}", CHECKPOINT))


def input_folder(args, raw_folder, tmp, file_ending):
    """The images to predict, limited to --num_cases cases (linked into a temporary folder)."""
    from nnunetv2.utilities.utils import get_identifiers_from_splitted_dataset_folder

    source = args.i
    if source is None:
        candidates = [os.path.join(raw_folder, sub) for sub in ("imagesTs", "imagesTr")]
        source = next((c for c in candidates if os.path.isdir(c) and os.listdir(c)), None)
        if source is None:
            sys.exit(f"no images: give -i, or fill {candidates[0]}")
    cases = sorted(get_identifiers_from_splitted_dataset_folder(source, file_ending))
    if args.num_cases:
        cases = cases[:args.num_cases]
    if not cases:
        sys.exit(f"no '*_0000{file_ending}' images in {source}")
    folder = os.path.join(tmp, "input")
    os.makedirs(folder)
    for f in os.listdir(source):
        if any(f.startswith(c + "_") and f.endswith(file_ending) and len(f) == len(c) + 5 + len(file_ending)
               for c in cases):
            os.symlink(os.path.abspath(os.path.join(source, f)), os.path.join(folder, f))
    return folder, source, cases


def predict(trainer, args, images, out, env):
    import subprocess

    from nnunetv2_pscm.benchmark_runner.execution import console_script

    shutil.rmtree(out, ignore_errors=True)
    command = [console_script("nnUNetv2_predict"), "-i", images, "-o", out, "-d", args.d, "-c", args.c, "-p", args.p,
               "-tr", trainer, "-f", str(args.f), "-chk", CHECKPOINT, "-device", args.device,
               "-npp", str(args.np), "-nps", str(args.np)]
    command += ["--disable_tta"] if args.disable_tta else []
    start = time.perf_counter()
    proc = subprocess.run(command, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"{' '.join(command)} failed ({proc.returncode}):\n{(proc.stdout + proc.stderr)[-4000:]}")
    return elapsed


def same_predictions(folder_a, folder_b, cases, file_ending, dataset_json):
    from nnunetv2.imageio.reader_writer_registry import determine_reader_writer_from_dataset_json

    first = os.path.join(folder_a, cases[0] + file_ending)
    reader = determine_reader_writer_from_dataset_json(dataset_json, first, verbose=False)()
    return all(np.array_equal(reader.read_seg(os.path.join(folder_a, c + file_ending))[0],
                              reader.read_seg(os.path.join(folder_b, c + file_ending))[0]) for c in cases)


def main(argv=None):
    args = parse_args(argv)
    from batchgenerators.utilities.file_and_folder_operations import load_json
    from nnunetv2.paths import nnUNet_raw, nnUNet_results
    from nnunetv2.utilities.dataset_name_id_conversion import maybe_convert_to_dataset_name

    from nnunetv2_pscm.benchmark_runner.execution import benchmark_env

    dataset_name = maybe_convert_to_dataset_name(args.d)
    results = os.fspath(nnUNet_results)
    ours = model_folder(results, dataset_name, args.tr, args.p, args.c)
    if not os.path.isfile(os.path.join(ours, f"fold_{args.f}", CHECKPOINT)):
        sys.exit(f"no trained model: {os.path.join(ours, f'fold_{args.f}', CHECKPOINT)} does not exist")
    dataset_json = load_json(os.path.join(ours, "dataset.json"))
    file_ending = dataset_json["file_ending"]
    env = benchmark_env()
    stock = args.stock_trainer or stock_trainer_name(args.tr)

    with tempfile.TemporaryDirectory(prefix="pscm_inference_") as tmp:
        images, source, cases = input_folder(args, os.path.join(os.fspath(nnUNet_raw), dataset_name), tmp, file_ending)
        stock_trained = os.path.isfile(os.path.join(model_folder(results, dataset_name, stock, args.p, args.c),
                                                    f"fold_{args.f}", CHECKPOINT))
        stock_env = env
        if args.same_weights or not stock_trained:
            tmp_results = os.path.join(tmp, "results")
            build_stock_copy(ours, args.f, tmp_results, dataset_name, args.p, args.c, stock)
            stock_env = dict(env, nnUNet_results=tmp_results)
            stock_label = f"{stock} (the exported weights saved as a stock checkpoint)"
        else:
            stock_label = f"{stock} (trained stock model, fold {args.f})"

        print(f"{len(cases)} case(s) from {source}, device {args.device}, {args.repeats} repeat(s)", flush=True)
        times = {args.tr: [], stock: []}
        for repeat in range(args.repeats):
            # alternate the order so that warm file caches do not favour one model
            order = [(args.tr, env), (stock, stock_env)]
            for trainer, trainer_env in order if repeat % 2 == 0 else order[::-1]:
                times[trainer].append(predict(trainer, args, images, os.path.join(tmp, f"out_{trainer}"),
                                              trainer_env))
        ours_time, stock_time = statistics.median(times[args.tr]), statistics.median(times[stock])
        print(f"{args.tr} (fold {args.f}): {ours_time:.2f} s  (runs: {', '.join(f'{t:.2f}' for t in times[args.tr])})")
        print(f"{stock_label}: {stock_time:.2f} s  (runs: {', '.join(f'{t:.2f}' for t in times[stock])})")
        if args.same_weights or not stock_trained:
            identical = same_predictions(os.path.join(tmp, f"out_{args.tr}"), os.path.join(tmp, f"out_{stock}"),
                                         cases, file_ending, dataset_json)
            print(f"identical predictions: {'yes' if identical else 'NO (the exported network is not the stock one)'}")
        print(f"ratio {args.tr}/{stock} time {ours_time / stock_time:.2f}")


if __name__ == "__main__":
    main()
