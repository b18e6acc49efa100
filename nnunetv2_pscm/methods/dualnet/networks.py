"""The two heterogeneous networks of the dual-network trainer, and the modules `nnUNetv2_predict` builds from its
checkpoints.

* `partner_architecture`: the other dynamic-network-architectures U-Net family for the SAME plans (stages, features,
  kernels, strides, norm, nonlinearity): plans with a PlainConvUNet get a ResidualEncoderUNet partner and vice versa.
  They stand in for the paper's V-Net (PlainConvUNet: plain conv stages) and ResNet-34 encoder net
  (ResidualEncoderUNet: residual basic blocks, (1, 3, 4, 6, 6, ...) per stage, i.e. ResNet-34's 3-4-6 after the stem).
* `DualNetEnsemble` (nnUNetTrainerDualNet's inference module): mean of the two nets' SOFTMAX, returned as its log.
  nnU-Net's predictor applies softmax (and argmax) to whatever the network returns; softmax(log p) = p when p sums
  to 1, so the predictor ends up with exactly the averaged probabilities (the paper's ensemble). Averaging logits
  instead would be a geometric mean of probabilities, which is not what the released test code does. Across
  sliding-window tiles, mirroring and folds the predictor then averages these log-probabilities as it averages
  logits for a stock network. Its state dict is the plans network's own keys (unprefixed) plus the partner's under
  `partner.`, so a stock labeled-only checkpoint and this one share the plans network's keys.
* `SelectedNet` (nnUNetTrainerDualNet_single's inference module): one of the two nets, whichever the loaded
  weights belong to (the checkpoint holds that net's plain stock state dict); it runs that net alone, at stock speed.
"""
import pydoc
from typing import Dict, Optional, Sequence, Tuple

import torch
from torch import nn

PLAIN = "dynamic_network_architectures.architectures.unet.PlainConvUNet"
RESENC = "dynamic_network_architectures.architectures.unet.ResidualEncoderUNet"
FAMILIES = {"PlainConvUNet": "plain", "ResidualEncoderUNet": "resenc"}


def family(arch_class_name_or_module) -> str:
    """'plain' or 'resenc' for a class name (dotted or not) or a network instance."""
    name = arch_class_name_or_module if isinstance(arch_class_name_or_module, str) \
        else type(arch_class_name_or_module).__name__
    short = name.split(".")[-1]
    if short not in FAMILIES:
        raise ValueError(f"The dual-network trainer pairs nnU-Net's PlainConvUNet with its ResidualEncoderUNet; the "
                         f"plans name the architecture '{name}', which is neither. Use nnUNetPlans or a ResEnc plans.")
    return FAMILIES[short]


def _per_stage(values, n_stages: int) -> list:
    values = [values] if isinstance(values, int) else list(values)
    return (values + [values[-1]] * n_stages)[:n_stages]


def partner_architecture(arch_class_name: str, arch_kwargs: dict, resenc_blocks_per_stage: Sequence[int],
                         plain_convs_per_stage) -> Tuple[str, dict]:
    """(class name, init kwargs) of the other family, built from the same plans' stages and features."""
    kwargs = dict(arch_kwargs)
    n_stages = kwargs["n_stages"]
    if family(arch_class_name) == "plain":
        kwargs.pop("n_conv_per_stage", None)
        kwargs["n_blocks_per_stage"] = _per_stage(resenc_blocks_per_stage, n_stages)
        return RESENC, kwargs
    for key in ("n_blocks_per_stage", "block", "bottleneck_channels", "stem_channels"):
        kwargs.pop(key, None)
    kwargs["n_conv_per_stage"] = _per_stage(plain_convs_per_stage, n_stages)
    return PLAIN, kwargs


def build_partner_network(configuration_manager, num_input_channels: int, num_output_channels: int,
                          enable_deep_supervision: bool, resenc_blocks_per_stage: Sequence[int],
                          plain_convs_per_stage) -> nn.Module:
    from nnunetv2.utilities.get_network_from_plans import get_network_from_plans

    name, kwargs = partner_architecture(configuration_manager.network_arch_class_name,
                                        configuration_manager.network_arch_init_kwargs, resenc_blocks_per_stage,
                                        plain_convs_per_stage)
    return get_network_from_plans(name, kwargs, configuration_manager.network_arch_init_kwargs_req_import,
                                  num_input_channels, num_output_channels, allow_init=True,
                                  deep_supervision=enable_deep_supervision)


def mean_softmax_as_logits(*logits: torch.Tensor) -> torch.Tensor:
    """log(mean_k softmax(z_k)) over the channel axis, computed stably (logsumexp of log-softmaxes). Softmax of the
    result is the mean of the softmaxes, argmax is the argmax of the mean probability."""
    log_p = torch.stack([torch.log_softmax(z.float(), 1) for z in logits])
    return torch.logsumexp(log_p, 0) - torch.log(torch.tensor(float(len(logits)), device=log_p.device))


class DualNetEnsemble(nn.Module):
    """primary (the plans' network) + partner, forward = log of the mean of their softmax (per deep-supervision scale
    when deep supervision is on). The primary's submodules are registered directly on this module (its state dict
    keys stay those of a stock checkpoint); the primary object itself is kept unregistered only to call its forward."""

    def __init__(self, primary: nn.Module, partner: nn.Module):
        super().__init__()
        if list(primary.named_parameters(recurse=False)) or list(primary.named_buffers(recurse=False)):
            raise ValueError("DualNetEnsemble expects a network whose parameters all live in submodules")
        for name, child in primary.named_children():
            if name == "partner":
                raise ValueError("the primary network must not have a submodule called 'partner'")
            self.add_module(name, child)
        self.partner = partner
        self._primary = (primary,)  # a tuple: not registered a second time

    @property
    def primary(self) -> nn.Module:
        return self._primary[0]

    def train(self, mode: bool = True):
        self.primary.train(mode)
        return super().train(mode)

    def forward(self, x: torch.Tensor):
        a, b = self.primary(x), self.partner(x)
        if isinstance(a, (list, tuple)):
            return [mean_softmax_as_logits(i, j) for i, j in zip(a, b)]
        return mean_softmax_as_logits(a, b)


class SelectedNet(nn.Module):
    """Holds both architectures and runs the one whose weights were loaded last (default: the primary). Its state dict
    is that net's plain stock state dict, so the exported checkpoint loads into that stock architecture as well."""

    def __init__(self, primary: nn.Module, partner: nn.Module, active: str = "primary"):
        super().__init__()
        self.nets = nn.ModuleDict({"primary": primary, "partner": partner})
        if active not in self.nets:
            raise ValueError(f"active must be 'primary' or 'partner', got {active!r}")
        self.active = active

    @property
    def active_net(self) -> nn.Module:
        return self.nets[self.active]

    def forward(self, x: torch.Tensor):
        return self.active_net(x)

    def state_dict(self, *args, destination=None, prefix: str = "", keep_vars: bool = False):
        return self.active_net.state_dict(destination=destination, prefix=prefix, keep_vars=keep_vars)

    def which(self, state_dict: Dict[str, torch.Tensor]) -> Optional[str]:
        keys = set(state_dict)
        for name, net in self.nets.items():
            if keys == set(nn.Module.state_dict(net)):
                return name
        return None

    def load_state_dict(self, state_dict, strict: bool = True, assign: bool = False):
        name = self.which(state_dict)
        if name is None:
            expected = {n: sorted(set(nn.Module.state_dict(net)) - set(state_dict))[:3] for n, net in self.nets.items()}
            raise RuntimeError(f"These weights are neither the {type(self.nets['primary']).__name__} nor the "
                               f"{type(self.nets['partner']).__name__} of these plans (missing keys, first few: "
                               f"{expected}).")
        self.active = name
        return nn.Module.load_state_dict(self.nets[name], state_dict, strict, assign)
