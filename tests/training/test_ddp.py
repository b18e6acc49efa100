"""What DDP touches, run as a real 2-process gloo group on CPU (CI has no GPU)."""
import pytest
import torch
import torch.multiprocessing as mp
from torch import distributed as dist
from torch import nn

from nnunetv2_pscm.training.ddp import all_reduce_gradients, broadcast_module, per_rank_batch_size


@pytest.mark.parametrize("global_bs,world,expected", [(5, 2, [3, 2]), (2, 2, [1, 1]), (7, 3, [3, 2, 2]), (4, 1, [4])])
def test_per_rank_batch_size_splits_like_nnunet(global_bs, world, expected):
    sizes = [per_rank_batch_size(global_bs, world, r) for r in range(world)]
    assert sizes == expected and sum(sizes) == global_bs


def test_per_rank_batch_size_refuses_too_small_batch():
    with pytest.raises(ValueError, match="Cannot split"):
        per_rank_batch_size(1, 2, 0)


def _worker(rank: int, world: int, init_file: str, results):
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    torch.manual_seed(rank)  # different initial weights on purpose: broadcast must fix that
    model = nn.ModuleDict({"net": nn.Linear(3, 2), "extra": nn.Linear(2, 1), "unused": nn.Linear(2, 2)})
    broadcast_module(model)
    torch.manual_seed(123)
    x_all = torch.randn(4, 3)
    x = x_all[rank * 2:(rank + 1) * 2]  # each rank sees its half of the global batch
    loss = model["extra"](model["net"](x)).pow(2).mean()
    if rank == 0:  # a module used on one rank only: its gradient must still be reduced, without a hang
        loss = loss + model["unused"](torch.ones(1, 2)).sum()
    loss.backward()
    all_reduce_gradients(model.parameters())
    results[rank] = {k: v.grad.clone() for k, v in model.named_parameters()} | {"weights": model.state_dict()}
    dist.destroy_process_group()


def test_two_process_gradient_average_equals_full_batch_gradient(tmp_path):
    manager = mp.Manager()
    results = manager.dict()
    mp.spawn(_worker, args=(2, str(tmp_path / "init"), results), nprocs=2, join=True)
    r0, r1 = results[0], results[1]
    for k in r0["weights"]:
        assert torch.equal(r0["weights"][k], r1["weights"][k]), f"broadcast failed for {k}"
    for k in ("net.weight", "net.bias", "extra.weight", "extra.bias", "unused.weight"):
        assert torch.allclose(r0[k], r1[k]), f"gradients differ across ranks for {k}"

    # reference: one process, the whole batch, the same (rank-0) weights
    model = nn.ModuleDict({"net": nn.Linear(3, 2), "extra": nn.Linear(2, 1), "unused": nn.Linear(2, 2)})
    model.load_state_dict(r0["weights"])
    torch.manual_seed(123)
    x_all = torch.randn(4, 3)
    model["extra"](model["net"](x_all)).pow(2).mean().backward()
    for k in ("net.weight", "extra.weight", "extra.bias"):
        assert torch.allclose(r0[k], dict(model.named_parameters())[k].grad, atol=1e-6)
    # the one-rank-only module: rank 0's gradient (ones) averaged with rank 1's zeros
    assert torch.allclose(r0["unused.bias"], torch.full((2,), 0.5))
