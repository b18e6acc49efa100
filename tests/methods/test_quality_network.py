"""The QG-SSL quality predictor network (methods/quality/network.py): the mask channels (one-hot of integer maps,
probabilities passed through), output shape and range for 2D and 3D inputs of odd sizes, the gradient that reaches a
soft mask (how the QAR regulariser uses it), the ResNet-18 layout, and clear errors on bad inputs."""
import pytest
import torch

from nnunetv2_pscm.methods.quality.network import BasicBlock, QualityNet, mask_to_channels


def test_mask_to_channels_one_hots_integer_maps_and_passes_probabilities_through():
    labels = torch.tensor([[[0, 2], [1, 2]]])  # (B=1, 2, 2)
    expected = torch.tensor([[[[1., 0.], [0., 0.]], [[0., 0.], [1., 0.]], [[0., 1.], [0., 1.]]]])
    assert torch.equal(mask_to_channels(labels, 3), expected)
    assert torch.equal(mask_to_channels(labels[:, None].short(), 3), expected)  # (B, 1, ...) too
    assert torch.equal(mask_to_channels(labels[:, None].float(), 3), expected)  # integral floats in one channel
    probs = torch.softmax(torch.randn(2, 3, 4, 5), 1)
    assert mask_to_channels(probs, 3) is probs


def test_mask_to_channels_refuses_bad_masks():
    with pytest.raises(ValueError, match="outside"):
        mask_to_channels(torch.tensor([[[0, 3]]]), 3)
    with pytest.raises(ValueError, match="3 class probabilities"):
        mask_to_channels(torch.rand(1, 2, 4, 4), 3)
    with pytest.raises(ValueError, match="3 class probabilities"):
        mask_to_channels(torch.rand(1, 1, 4, 4), 3)  # not integer labels either


@pytest.mark.parametrize("dims, spatial, image_channels, num_classes",
                         [(2, (37, 45), 1, 3), (2, (33, 7), 2, 2), (3, (35, 17, 9), 1, 2), (3, (13, 33, 11), 2, 4)])
def test_output_is_batch_by_foreground_classes_in_0_1(dims, spatial, image_channels, num_classes):
    torch.manual_seed(0)
    net = QualityNet(image_channels, num_classes, dims, width=4)
    image = torch.randn(2, image_channels, *spatial)
    labels = torch.randint(0, num_classes, (2, 1, *spatial))
    out = net(image, labels)
    assert out.shape == (2, num_classes - 1)
    assert torch.all((out > 0) & (out < 1))
    assert torch.allclose(out, net(image, mask_to_channels(labels, num_classes)))  # labels == their one-hot


def test_gradient_reaches_a_soft_mask_and_the_image():
    torch.manual_seed(0)
    net = QualityNet(1, 3, 2, width=4).train()
    logits = torch.randn(2, 3, 35, 21, requires_grad=True)
    image = torch.randn(2, 1, 35, 21, requires_grad=True)
    (1 - net(image, torch.softmax(logits, 1))).mean().backward()
    for tensor in (logits, image):
        assert tensor.grad is not None and torch.isfinite(tensor.grad).all() and tensor.grad.abs().sum() > 0


def test_resnet18_layout():
    net = QualityNet(1, 2, 3, width=8)
    blocks = [m for m in net.stages if isinstance(m, BasicBlock)]
    assert len(blocks) == 8 and net.head.in_features == 64 and net.downsampling == 32
    assert [b.conv1.stride[0] for b in blocks] == [1, 1, 2, 1, 2, 1, 2, 1]
    assert [b.conv2.out_channels for b in blocks] == [8, 8, 16, 16, 32, 32, 64, 64]
    assert isinstance(net.stem[1], torch.nn.InstanceNorm3d) and net.stem[1].affine
    assert isinstance(net.stem[2], torch.nn.LeakyReLU) and net.stem[2].negative_slope == 0.01


def test_bad_inputs_are_refused():
    net = QualityNet(1, 2, 2, width=4)
    with pytest.raises(ValueError, match="leaves one voxel"):
        net(torch.randn(1, 1, 32, 17), torch.zeros(1, 1, 32, 17, dtype=torch.long))
    with pytest.raises(ValueError, match="image of shape"):
        net(torch.randn(1, 2, 40, 40), torch.zeros(1, 1, 40, 40, dtype=torch.long))
    with pytest.raises(ValueError, match="does not match"):
        net(torch.randn(1, 1, 40, 40), torch.zeros(1, 1, 40, 39, dtype=torch.long))
    with pytest.raises(ValueError, match="2D or 3D"):
        QualityNet(1, 2, 1)
