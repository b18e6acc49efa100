"""Read, or perturb, intermediate outputs of an nnU-Net network without forking its forward (forward hooks)."""
from contextlib import ExitStack, contextmanager
from typing import Iterable, List, Optional, Tuple

import torch
from torch import nn

from nnunetv2_pscm.components.deep_supervision import as_list


@contextmanager
def capture_outputs(module: nn.Module):
    """Within the block, every output `module` produces is appended to the yielded list."""
    captured: List = []
    handle = module.register_forward_hook(lambda _m, _inp, out: captured.append(out))
    try:
        yield captured
    finally:
        handle.remove()


def forward_with_decoder_features(network: nn.Module, x: torch.Tensor) -> Tuple[List[torch.Tensor], List[torch.Tensor]]:
    """Outputs and decoder-stage features of an nnU-Net U-Net (`decoder.stages`), both fine -> coarse (nnU-Net's
    output order), so output s is the segmentation head of feature s whenever deep supervision is on. Pass the bare
    network: hooks on a compiled or DDP-wrapped module are not reliable."""
    with ExitStack() as stack:
        captured = [stack.enter_context(capture_outputs(stage)) for stage in network.decoder.stages]
        outputs = as_list(network(x))
    return outputs, [c[-1] for c in reversed(captured)]


def channel_dropout(x: torch.Tensor, p: float, first_sample: int = 0,
                    generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """Whole-channel dropout (Dropout2d/3d semantics: a channel of a sample is zeroed with probability p, the others
    scaled by 1 / (1 - p)) applied to samples first_sample: only; the samples before it pass unchanged. Any spatial
    rank."""
    if p <= 0 or first_sample >= x.shape[0]:
        return x
    if p >= 1:
        raise ValueError(f"channel dropout probability must be < 1, got {p}")
    kept, perturbed = x[:first_sample], x[first_sample:]
    shape = perturbed.shape[:2] + (1,) * (perturbed.ndim - 2)
    keep = torch.rand(shape, generator=generator, device=x.device) >= p
    return torch.cat((kept, perturbed * keep.to(perturbed.dtype) / (1.0 - p)))


def encoder_stages(network: nn.Module, owner: str) -> List[nn.Module]:
    """The encoder stages of an nnU-Net U-Net (PlainConvUNet and ResidualEncoderUNet both have `encoder.stages`),
    the modules `feature_perturbation` hooks; `owner` (the trainer's name) goes into the error for other networks."""
    stages = getattr(getattr(network, "encoder", None), "stages", None)
    if stages is None:
        raise ValueError(f"{owner}.feature_dropout needs a network with encoder.stages (nnU-Net's U-Nets); "
                         f"{type(network).__name__} has none")
    return list(stages)


@contextmanager
def feature_perturbation(modules: Iterable[nn.Module], p: float, first_sample: int = 0):
    """Within the block, the output of each module (e.g. every encoder stage of an nnU-Net network: its skip features
    and the next stage's input) gets `channel_dropout(p)` on samples first_sample: only (UniMatch's feature
    perturbation, Yang et al. CVPR 2023, on the unlabeled part of a joint labeled + unlabeled pass). p = 0: no hooks."""
    handles = []
    if p > 0:
        handles = [m.register_forward_hook(lambda _m, _inp, out: channel_dropout(out, p, first_sample))
                   for m in modules]
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()
