"""Checkpoint files that survive interruptions: written atomically, and read with a message instead of a traceback.

nnU-Net's `torch.save(checkpoint, filename)` writes in place, so a run killed while saving (a session limit, an
out-of-memory kill) leaves a truncated `checkpoint_latest.pth`, and `nnUNetv2_train --c` then dies inside
`torch.load` with an unpickling traceback that names no file. Here a checkpoint is written to a temporary file and
renamed (the rename is atomic: the previous checkpoint stays intact until the new one is complete), and an
unreadable one is reported with its path, its size and what to do.
"""
import os
from typing import Union

import torch

# the files nnUNetv2_train --c tries, in its order (nnunetv2/run/run_training.py, maybe_load_checkpoint)
RESUME_ORDER = ("checkpoint_final.pth", "checkpoint_latest.pth", "checkpoint_best.pth")


class CheckpointError(RuntimeError):
    """A checkpoint file that cannot be read; the message names the file and the fix."""


def write_checkpoint_atomically(checkpoint: dict, filename: str) -> None:
    temporary = filename + ".tmp"
    torch.save(checkpoint, temporary)
    os.replace(temporary, filename)


def _what_to_do(filename: str) -> str:
    folder, name = os.path.split(os.path.abspath(filename))
    later = RESUME_ORDER[RESUME_ORDER.index(name) + 1:] if name in RESUME_ORDER else ()
    fallback = next((n for n in later if os.path.isfile(os.path.join(folder, n))), None)
    if fallback is not None:
        return f"delete it and run again with --c to continue from {fallback} (an earlier state of this run)"
    return "delete it and start the run again without --c (no other checkpoint of this run is left)"


def read_checkpoint(filename: str, map_location: Union[str, torch.device] = "cpu") -> dict:
    """torch.load of a checkpoint written by nnU-Net or by us, or a CheckpointError that says what is wrong."""
    try:
        size = os.path.getsize(filename)
    except OSError as error:
        raise CheckpointError(f"cannot read checkpoint {filename}: {error.strerror}") from error
    if size == 0:
        raise CheckpointError(f"checkpoint {filename} is empty (0 bytes; a save that was interrupted?): "
                              f"{_what_to_do(filename)}.")
    try:
        checkpoint = torch.load(filename, map_location=map_location, weights_only=False)
    except Exception as error:  # torch raises RuntimeError, EOFError, UnpicklingError, ... for damaged files
        raise CheckpointError(f"checkpoint {filename} ({size} bytes) is truncated or damaged "
                              f"({type(error).__name__}: {str(error).splitlines()[0] if str(error) else '-'}): "
                              f"{_what_to_do(filename)}.") from error
    if not isinstance(checkpoint, dict) or "network_weights" not in checkpoint:
        raise CheckpointError(f"{filename} is not an nnU-Net checkpoint (no 'network_weights'): "
                              f"{_what_to_do(filename)}.")
    return checkpoint


class SafeCheckpointFiles:
    """Mixin for any nnUNetTrainer: atomic `save_checkpoint`, and `load_checkpoint` that names a damaged file.

    Put it first among the bases (`class X(SafeCheckpointFiles, nnUNetTrainer)`); the stock trainer's own code
    builds and restores the checkpoint's content unchanged."""

    def save_checkpoint(self, filename: str) -> None:
        partial = filename + ".part"
        super().save_checkpoint(partial)
        if os.path.isfile(partial):  # nothing is written on other ranks or with checkpointing disabled
            os.replace(partial, filename)

    def load_checkpoint(self, filename_or_checkpoint) -> None:
        if isinstance(filename_or_checkpoint, str):
            # read it once to fail with a message; nnU-Net 2.8.1's loader then needs the file name, not the dict
            read_checkpoint(filename_or_checkpoint, map_location="cpu")
        super().load_checkpoint(filename_or_checkpoint)
