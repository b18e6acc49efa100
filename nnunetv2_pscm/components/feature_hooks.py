"""Read intermediate outputs of an nnU-Net network without forking its forward (a forward hook)."""
from contextlib import contextmanager
from typing import List

from torch import nn


@contextmanager
def capture_outputs(module: nn.Module):
    """Within the block, every output `module` produces is appended to the yielded list."""
    captured: List = []
    handle = module.register_forward_hook(lambda _m, _inp, out: captured.append(out))
    try:
        yield captured
    finally:
        handle.remove()
