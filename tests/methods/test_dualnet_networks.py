"""The dual-network trainer's networks (methods/dualnet/networks.py): the partner architecture from the same plans,
the ensemble that nnUNetv2_predict runs (mean of the softmax, through the predictor's own softmax), and the single
net export that loads whichever net's stock weights it is given."""
import math
from types import SimpleNamespace

import pytest
import torch
from nnunetv2.utilities.get_network_from_plans import get_network_from_plans

from nnunetv2_pscm.methods.dualnet.networks import (PLAIN, RESENC, DualNetEnsemble, SelectedNet,
                                                    build_partner_network, mean_softmax_as_logits,
                                                    partner_architecture)

REQ_IMPORT = ["conv_op", "norm_op", "dropout_op", "nonlin"]
PLAIN_KWARGS = {"n_stages": 3, "features_per_stage": [4, 8, 16], "conv_op": "torch.nn.modules.conv.Conv2d",
                "kernel_sizes": [[3, 3]] * 3, "strides": [[1, 1], [2, 2], [2, 2]], "n_conv_per_stage": [2, 2, 2],
                "n_conv_per_stage_decoder": [2, 2], "conv_bias": True,
                "norm_op": "torch.nn.modules.instancenorm.InstanceNorm2d",
                "norm_op_kwargs": {"eps": 1e-5, "affine": True}, "dropout_op": None, "dropout_op_kwargs": None,
                "nonlin": "torch.nn.LeakyReLU", "nonlin_kwargs": {"inplace": True}}


def plans_pair(deep_supervision=False):
    torch.manual_seed(0)
    primary = get_network_from_plans(PLAIN, PLAIN_KWARGS, REQ_IMPORT, 1, 3, deep_supervision=deep_supervision)
    manager = SimpleNamespace(network_arch_class_name=PLAIN, network_arch_init_kwargs=PLAIN_KWARGS,
                              network_arch_init_kwargs_req_import=REQ_IMPORT)
    partner = build_partner_network(manager, 1, 3, deep_supervision, (1, 3, 4, 6), 2)
    return primary, partner


def test_partner_is_the_other_family_with_the_plans_stages():
    name, kwargs = partner_architecture(PLAIN, PLAIN_KWARGS, (1, 3, 4, 6, 6), 2)
    assert name == RESENC and kwargs["n_blocks_per_stage"] == [1, 3, 4] and "n_conv_per_stage" not in kwargs
    assert {k: v for k, v in kwargs.items() if k != "n_blocks_per_stage"} == \
           {k: v for k, v in PLAIN_KWARGS.items() if k != "n_conv_per_stage"}
    back, back_kwargs = partner_architecture(RESENC, kwargs, (1, 3, 4), 2)
    assert back == PLAIN and back_kwargs == PLAIN_KWARGS
    with pytest.raises(ValueError, match="PlainConvUNet"):
        partner_architecture("dynamic_network_architectures.architectures.primus.Primus", PLAIN_KWARGS, (1,), 2)
    primary, partner = plans_pair()
    assert type(partner).__name__ == "ResidualEncoderUNet"
    assert partner(torch.zeros(1, 1, 16, 16)).shape == primary(torch.zeros(1, 1, 16, 16)).shape == (1, 3, 16, 16)


def test_light_partner_has_one_residual_block_per_stage():
    from nnunetv2_pscm.trainers.nnUNetTrainerDualNet_lightPartner import nnUNetTrainerDualNet_lightPartner

    manager = SimpleNamespace(network_arch_class_name=PLAIN, network_arch_init_kwargs=PLAIN_KWARGS,
                              network_arch_init_kwargs_req_import=REQ_IMPORT)
    light = nnUNetTrainerDualNet_lightPartner.build_partner(manager, 1, 3, False)
    _, deep = plans_pair()
    # each stage: one BasicBlockD (two 3x3 convolutions), against ResNet-34's 1, 3, 4 in the default partner
    assert [len(stage.blocks) for stage in light.encoder.stages] == [1, 1, 1]
    assert [len(stage.blocks) for stage in deep.encoder.stages] == [1, 3, 4]
    assert sum(p.numel() for p in light.parameters()) < sum(p.numel() for p in deep.parameters())


def test_mean_softmax_as_logits_by_hand():
    z1, z2 = torch.tensor([[0.0, 0.0]]), torch.tensor([[math.log(3), 0.0]])  # (1/2, 1/2) and (3/4, 1/4)
    out = mean_softmax_as_logits(z1, z2)
    torch.testing.assert_close(torch.softmax(out, 1), torch.tensor([[5 / 8, 3 / 8]]))
    torch.testing.assert_close(out.exp().sum(1), torch.ones(1)), "a log-probability: what softmax leaves alone"


def test_ensemble_averages_probabilities_and_keeps_the_plans_net_keys():
    primary, partner = plans_pair()
    ensemble = DualNetEnsemble(primary, partner)
    keys = set(ensemble.state_dict())
    assert set(primary.state_dict()) <= keys
    assert keys - set(primary.state_dict()) == {f"partner.{k}" for k in partner.state_dict()}
    x = torch.randn(2, 1, 16, 16)
    expected = 0.5 * (torch.softmax(primary(x), 1) + torch.softmax(partner(x), 1))
    torch.testing.assert_close(torch.softmax(ensemble(x), 1), expected)  # what nnU-Net's predictor computes
    # round trip through a freshly built ensemble (what nnUNetv2_predict does with network_weights)
    fresh = DualNetEnsemble(*plans_pair())
    for p in fresh.parameters():
        torch.nn.init.zeros_(p)
    fresh.load_state_dict(ensemble.state_dict())
    torch.testing.assert_close(fresh(x), ensemble(x))
    ensemble.eval()
    assert not primary.training and not partner.training and not primary.encoder.training


def test_ensemble_under_deep_supervision_averages_every_scale():
    ensemble = DualNetEnsemble(*plans_pair(deep_supervision=True))
    out = ensemble(torch.randn(1, 1, 16, 16))
    assert isinstance(out, list) and [o.shape[-1] for o in out] == [16, 8]  # 3 stages: 2 decoder outputs


def test_selected_net_runs_whichever_net_it_loaded():
    primary, partner = plans_pair()
    x = torch.randn(1, 1, 16, 16)
    selected = SelectedNet(*plans_pair())
    assert selected.active == "primary" and set(selected.state_dict()) == set(primary.state_dict())
    selected.load_state_dict(partner.state_dict())  # strict: the ResEnc's own stock keys
    assert selected.active == "partner"
    torch.testing.assert_close(selected(x), partner(x))
    assert set(selected.state_dict()) == set(partner.state_dict())
    selected.load_state_dict(primary.state_dict())
    assert selected.active == "primary"
    torch.testing.assert_close(selected(x), primary(x))
    with pytest.raises(RuntimeError, match="neither"):
        selected.load_state_dict({"foreign.weight": torch.zeros(1)})
