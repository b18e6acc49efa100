"""What multi-GPU training (`nnUNetv2_train ... -num_gpus N`) needs beyond stock nnU-Net.

Stock nnU-Net wraps only `self.network` in DistributedDataParallel and calls it once per step. SSL
methods call the network several times per step (labeled, unlabeled, mixed views) and train extra
modules (decoders, mask generators), which DDP's one-forward-one-backward bookkeeping does not allow.
We therefore average gradients ourselves after the single backward pass: every rank all-reduces the
gradients of ALL trainable parameters (network and extra modules) in flat buckets. Parameters that got no
gradient on a rank contribute zeros, so all ranks issue identical collectives and never hang.
"""
from typing import Iterable, List

import torch
from torch import distributed as dist
from torch import nn


def per_rank_batch_size(global_batch_size: int, world_size: int, rank: int) -> int:
    """Split a global batch the way nnU-Net splits the labeled one (the first ranks take the remainder)."""
    if global_batch_size < world_size:
        raise ValueError(f"Cannot split a batch of {global_batch_size} over {world_size} processes.")
    sizes = [global_batch_size // world_size + (1 if r < global_batch_size % world_size else 0)
             for r in range(world_size)]
    return sizes[rank]


def broadcast_module(module: nn.Module, src: int = 0) -> None:
    """Give every rank rank-0's initial weights (DDP's constructor does this for the network only)."""
    with torch.no_grad():
        for t in list(module.parameters()) + list(module.buffers()):
            dist.broadcast(t.data, src)


def all_reduce_gradients(parameters: Iterable[nn.Parameter], bucket_numel: int = 2 ** 24) -> None:
    """Average .grad over all ranks in place."""
    params: List[nn.Parameter] = [p for p in parameters if p.requires_grad]
    world_size = dist.get_world_size()
    for p in params:
        if p.grad is None:
            p.grad = torch.zeros_like(p)
    bucket: List[torch.Tensor] = []
    numel = 0
    for p in params:
        bucket.append(p.grad)
        numel += p.grad.numel()
        if numel >= bucket_numel:
            _reduce_bucket(bucket, world_size)
            bucket, numel = [], 0
    if bucket:
        _reduce_bucket(bucket, world_size)


def _reduce_bucket(grads: List[torch.Tensor], world_size: int) -> None:
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat)
    flat /= world_size
    offset = 0
    for g in grads:
        n = g.numel()
        g.copy_(flat[offset:offset + n].view_as(g))
        offset += n


def all_reduce_mean(value: torch.Tensor) -> torch.Tensor:
    """Mean of a scalar tensor over ranks (for logging SSL terms)."""
    value = value.detach().clone().float()
    dist.all_reduce(value)
    return value / dist.get_world_size()
