"""Running the stock nnU-Net CLIs in subprocesses: environment, per-run log files, progress bars."""
from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections import deque
from typing import Optional, Sequence

EPOCH_LINE = re.compile(r"(?:^|: )Epoch (\d+)\s*$")  # nnU-Net prints "<timestamp>: Epoch N" at each epoch start
VALIDATION_LINE = re.compile(r": predicting \S+")  # nnU-Net's final validation (and nnUNetv2_predict) per case
LOG_TAIL_LINES = 40


class RunFailedError(RuntimeError):
    """A subprocess of the benchmark failed; the message names the run, its log file and shows the log's tail."""


def console_script(name: str) -> str:
    """The console script next to this interpreter (the venv's), else whatever PATH finds."""
    candidate = os.path.join(os.path.dirname(sys.executable), name)
    return candidate if os.path.isfile(candidate) else name


def benchmark_env(base: Optional[dict] = None) -> dict:
    """The user's environment (nnUNet_* variables included) with our trainer folder added to nnUNet_extTrainer,
    keeping any folders already listed there."""
    from nnunetv2_pscm.data.trainer_folder import trainer_dir

    env = dict(os.environ if base is None else base)
    entries = [e for e in env.get("nnUNet_extTrainer", "").split(os.pathsep) if e]
    ours = trainer_dir()
    if not any(os.path.abspath(e) == ours for e in entries):
        entries.append(ours)
    env["nnUNet_extTrainer"] = os.pathsep.join(entries)
    env.setdefault("PYTHONUNBUFFERED", "1")  # lines reach the log (and the progress bar) as they are printed
    return env


def run_logged(command: Sequence[str], env: dict, log_path: str, description: str, total_epochs: Optional[int] = None,
               show_progress: bool = True) -> float:
    """Run `command`, appending its output to `log_path`; a tqdm bar follows nnU-Net's epoch lines.

    Returns the wall time in seconds. Raises RunFailedError (with the log's tail) on a non-zero exit code.
    """
    from tqdm import tqdm

    os.makedirs(os.path.dirname(log_path), exist_ok=True)
    tail = deque(maxlen=LOG_TAIL_LINES)
    start = time.time()
    with open(log_path, "a") as log, tqdm(total=total_epochs, desc=description, unit="epoch", leave=True,
                                          disable=not show_progress, dynamic_ncols=True) as bar:
        log.write(f"\n===== {time.strftime('%Y-%m-%d %H:%M:%S')}  {' '.join(command)}\n")
        log.flush()
        process = subprocess.Popen(list(command), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                   text=True, bufsize=1)
        try:
            for line in process.stdout:
                log.write(line)
                tail.append(line.rstrip("\n"))
                match = EPOCH_LINE.search(line.rstrip())
                if match:
                    bar.update(int(match.group(1)) - bar.n)  # resumed runs start at their checkpoint's epoch
                    bar.set_postfix_str("training", refresh=False)
                elif VALIDATION_LINE.search(line):
                    bar.set_postfix_str("validation / prediction", refresh=True)
            returncode = process.wait()
        except BaseException:  # Ctrl-C: do not leave nnU-Net running without us
            process.terminate()
            process.wait()
            raise
        if returncode == 0 and total_epochs is not None:
            bar.update(total_epochs - bar.n)
        log.write(f"===== exit code {returncode} after {time.time() - start:.1f} s\n")
    if returncode != 0:
        raise RunFailedError(f"{description} failed (exit code {returncode}). Full log: {log_path}\n"
                             f"--- last {len(tail)} lines ---\n" + "\n".join(tail))
    return time.time() - start
