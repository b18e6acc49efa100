"""BOM and AUD pieces: mask budget, the reversed outer-level gradient, masked-only reconstruction,
counterfactual fill and the symmetric alignment."""
import pytest
import torch
from torch import nn

from nnunetv2_pscm.methods.pscm.aud import counterfactual_alignment, counterfactual_fill
from nnunetv2_pscm.methods.pscm.bom import learned_mask, masked_reconstruction_l1
from nnunetv2_pscm.methods.pscm.networks import MaskGenerator


class TinyEncoder:
    conv_op, norm_op, norm_op_kwargs = nn.Conv3d, nn.InstanceNorm3d, {"affine": True}
    nonlin, nonlin_kwargs = nn.LeakyReLU, {"inplace": True}


def make_inputs(batch=2):
    torch.manual_seed(0)
    features = torch.randn(batch, 4, 4, 4, 4)
    probs = torch.softmax(torch.randn(batch, 2, 16, 16, 16), 1)
    confidence = probs.max(1, keepdim=True).values
    uncertainty = 1 - confidence
    boundary = (torch.rand(batch, 1, 16, 16, 16) > 0.8).float()
    return features, confidence, uncertainty, boundary


def mask_from(generator, coefficient=1.0, ratio=0.25):
    return learned_mask(generator, *make_inputs(), (16, 16, 16), block_size=4, mask_ratio=ratio, prior_strength=2.0,
                        adversarial_coefficient=coefficient)


def test_mask_budget_is_respected():
    mask = mask_from(MaskGenerator(TinyEncoder, 4, width=8), ratio=0.25)
    assert mask.shape == (2, 1, 16, 16, 16)
    assert torch.equal(mask.mean(dim=(1, 2, 3, 4)), torch.full((2,), 16 / 64))


def test_outer_level_gradient_is_the_reversed_inner_gradient():
    generator = MaskGenerator(TinyEncoder, 4, width=8)
    image = torch.randn(2, 1, 16, 16, 16)
    grads = {}
    for coefficient in (1.0, -1.0):  # -1 = no reversal: plain descent on the same loss
        generator.zero_grad()
        mask = mask_from(generator, coefficient)
        masked = image * (1 - mask)
        inner_loss = masked_reconstruction_l1(image, masked * 0.5, mask) + (masked ** 2).mean()
        inner_loss.backward()
        grads[coefficient] = [p.grad.clone() for p in generator.parameters()]
    assert any(g.abs().sum() > 0 for g in grads[1.0])
    for reversed_grad, plain_grad in zip(grads[1.0], grads[-1.0]):
        assert torch.allclose(reversed_grad, -plain_grad, atol=1e-6)


def test_mask_generator_gets_no_gradient_from_terms_without_the_mask():
    generator = MaskGenerator(TinyEncoder, 4, width=8)
    mask = mask_from(generator)
    net = nn.Conv3d(1, 1, 1)
    unrelated = net(torch.randn(1, 1, 4, 4, 4)).mean()  # e.g. the copy-paste segmentation loss
    unrelated.backward()
    assert all(p.grad is None for p in generator.parameters())
    assert mask.requires_grad


def test_reconstruction_loss_counts_masked_voxels_only():
    image = torch.zeros(1, 1, 4)
    mask = torch.tensor([[[1.0, 1.0, 0.0, 0.0]]])
    wrong_outside = torch.tensor([[[0.0, 0.0, 5.0, 5.0]]], requires_grad=True)
    assert masked_reconstruction_l1(image, wrong_outside, mask).item() == pytest.approx(0.0, abs=1e-6)
    wrong_inside = torch.tensor([[[1.0, 3.0, 0.0, 0.0]]], requires_grad=True)
    loss = masked_reconstruction_l1(image, wrong_inside, mask)
    assert loss.item() == pytest.approx(2.0, abs=1e-5)  # (1 + 3) / 2 masked voxels
    loss.backward()
    assert wrong_inside.grad[0, 0, 2:].abs().sum() == 0 and wrong_inside.grad[0, 0, :2].abs().sum() > 0


def test_counterfactual_fill_replaces_masked_content_only():
    images = torch.stack([torch.full((1, 4), 1.0), torch.full((1, 4), 2.0)])  # (2, 1, 4)
    mask = torch.tensor([[[0.0, 1.0, 1.0, 0.0]]])
    cf = counterfactual_fill(images, mask)
    assert cf[0, 0].tolist() == [1, 2, 2, 1] and cf[1, 0].tolist() == [2, 1, 1, 2]
    single = torch.arange(4.0).view(1, 1, 4)
    assert counterfactual_fill(single, mask)[0, 0].tolist() == [0, 2, 1, 3]  # flipped image as donor


def test_alignment_is_symmetric_with_gradient_to_both_views():
    a = torch.randn(1, 3, 4, requires_grad=True)
    b = torch.randn(1, 3, 4, requires_grad=True)
    loss = counterfactual_alignment(a, b)
    assert loss.item() == pytest.approx(counterfactual_alignment(b, a).item())
    loss.backward()
    assert a.grad.abs().sum() > 0 and b.grad.abs().sum() > 0
    assert counterfactual_alignment(a, a.detach().clone()).item() == pytest.approx(0.0)
