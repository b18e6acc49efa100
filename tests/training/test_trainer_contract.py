"""The contract every trainer in trainers/ keeps, checked for each one found there (a new method file is covered
without editing this test): it initialises from nnU-Net's plans, takes optimizer steps with finite losses, survives
a checkpoint round trip as `--c` does it (step counter, weights, extra modules), and exports weights that load
strictly into the stock architecture, so `nnUNetv2_predict` needs nothing of ours.

Plus the warm start (`-pretrained_weights`) and the undiluted labeled loss that the SSL-gain issue defines."""
import importlib
import pkgutil
import sys

import pytest
import torch
from trainer_factory import make_trainer

import nnunetv2_pscm.trainers as trainer_package
from nnunetv2_pscm.data.ssl_split import write_ssl_split
from nnunetv2_pscm.components.deep_supervision import as_list, stock_loss_input
from nnunetv2_pscm.methods.quality.mixin import QualityGuidedMixin
from nnunetv2_pscm.methods.quality.training import QualityTrainingSettings, train_quality_predictor
from nnunetv2_pscm.training import nnUNetTrainerSSL

DATASET = 901
TINY_QUALITY = QualityTrainingSettings(epochs=1, samples_per_case=2, num_bins=2, max_draws_per_sample=2, batch_size=4,
                                       width=2, blocks_per_stage=(1, 1, 1, 1), stem_kernel=3)


def all_trainer_classes():
    found = []
    for info in pkgutil.iter_modules(trainer_package.__path__):
        module = importlib.import_module(f"{trainer_package.__name__}.{info.name}")
        cls = getattr(module, info.name, None)
        if isinstance(cls, type) and issubclass(cls, nnUNetTrainerSSL):
            found.append(cls)
    return found


TRAINERS = all_trainer_classes()


def test_the_contract_sees_every_method():
    names = {c.__name__ for c in TRAINERS}
    assert {"nnUNetTrainerMeanTeacher", "nnUNetTrainerBCP", "nnUNetTrainerPSCM"} <= names
    assert {"nnUNetTrainerMeanTeacher_QG", "nnUNetTrainerBCP_QG", "nnUNetTrainerPSCM_QG"} <= names


@pytest.fixture
def split(copied_3d, request):
    write_ssl_split(DATASET, num_labeled=3, n_folds=1)
    cls = getattr(request.node, "callspec", None) and request.node.callspec.params.get("cls")
    if isinstance(cls, type) and issubclass(cls, QualityGuidedMixin):  # its fold's quality predictor, tiny
        train_quality_predictor(DATASET, "3d_fullres", 0, "nnUNetPlans_cpu", TINY_QUALITY, device="cpu",
                                verbose=False)
    return copied_3d


def started(cls, **attributes):
    """A trainer as nnUNetv2_train leaves it after on_train_start (no validation, 3 iterations an epoch)."""
    trainer = make_trainer(cls, DATASET, num_epochs=4, num_iterations_per_epoch=3, **attributes)
    trainer.on_train_start()
    trainer.on_train_epoch_start()
    return trainer


def stock_network(trainer):
    return trainer.build_network_architecture(trainer.plans_manager, trainer.configuration_manager,
                                              trainer.num_input_channels,
                                              trainer.label_manager.num_segmentation_heads, False)


@pytest.mark.parametrize("cls", TRAINERS, ids=lambda c: c.__name__)
def test_steps_checkpoint_resume_and_stock_export(cls, split, tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "argv", ["nnUNetv2_train"])
    trainer = started(cls)
    losses = [float(trainer.train_step(next(trainer.dataloader_train))["loss"]) for _ in range(2)]
    assert all(torch.isfinite(torch.tensor(losses)))
    assert trainer.ssl_step == 2
    checkpoint = str(tmp_path / "checkpoint_latest.pth")
    trainer.save_checkpoint(checkpoint)
    saved = torch.load(checkpoint, map_location="cpu", weights_only=False)
    stock_network(trainer).load_state_dict(saved["network_weights"])  # strict: the stock architecture, nothing more

    resumed = make_trainer(cls, DATASET, num_epochs=4, num_iterations_per_epoch=3)
    resumed.load_checkpoint(checkpoint)  # what --c does before on_train_start
    assert resumed.ssl_step == 2
    for (name, a), b in zip(resumed.student_module.state_dict().items(), trainer.student_module.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=0, atol=0, msg=name)
    for (name, a), b in zip(resumed.extra_modules.state_dict().items(), trainer.extra_modules.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=0, atol=0, equal_nan=True, msg=name)
    resumed.on_train_start()
    resumed.on_train_epoch_start()
    assert not resumed.warm_started, "resuming is not a warm start"
    assert torch.isfinite(torch.as_tensor(resumed.train_step(next(resumed.dataloader_train))["loss"]))
    assert resumed.ssl_step == 3


def labeled_only_checkpoint(tmp_path, cls):
    """A 'labeled-only run' stand-in: random weights of the stock network, saved as nnU-Net saves them."""
    trainer = make_trainer(cls, DATASET)
    trainer.initialize()
    torch.manual_seed(123)
    network = stock_network(trainer)
    path = tmp_path / "labeled_only_checkpoint_final.pth"
    torch.save({"network_weights": network.state_dict()}, path)
    return str(path), network.state_dict()


@pytest.mark.parametrize("cls", TRAINERS, ids=lambda c: c.__name__)
def test_warm_start_from_pretrained_weights_of_the_labeled_only_run(cls, split, tmp_path, monkeypatch):
    from nnunetv2.run.load_pretrained_weights import load_pretrained_weights

    path, pretrained = labeled_only_checkpoint(tmp_path, cls)
    monkeypatch.setattr(sys, "argv", ["nnUNetv2_train", "901", "3d_fullres", "0", "-tr", cls.__name__,
                                      "-pretrained_weights", path])
    trainer = make_trainer(cls, DATASET, num_epochs=4, num_iterations_per_epoch=3)
    trainer.initialize()
    load_pretrained_weights(trainer.network, path, verbose=False)  # exactly what nnUNetv2_train does next
    trainer.on_train_start()
    assert trainer.warm_started
    # every tensor, the segmentation heads that nnU-Net's loader skips included, is the labeled-only model's
    for name, value in trainer.student_module.state_dict().items():
        torch.testing.assert_close(value, pretrained[name], rtol=0, atol=0, msg=name)
    for name, value in trainer.teacher.module.state_dict().items() if trainer.teacher is not None else ():
        torch.testing.assert_close(value, pretrained[name], rtol=0, atol=0, msg=f"teacher {name}")
    assert trainer.teacher_update_step() == float("inf"), "the EMA keeps the good teacher from step 1"
    if hasattr(trainer, "pretrain_epochs"):
        assert trainer.pretrain_epochs() == 0, "no labeled-only phase after a warm start"
        assert trainer.in_self_training()


@pytest.mark.parametrize("cls", TRAINERS, ids=lambda c: c.__name__)
def test_cold_start_is_not_mistaken_for_a_warm_start(cls, split, monkeypatch):
    monkeypatch.setattr(sys, "argv", ["nnUNetv2_train"])
    trainer = started(cls)
    assert not trainer.warm_started
    if hasattr(trainer, "pretrain_epochs"):
        assert trainer.pretrain_epochs() == round(trainer.pretrain_fraction * 4) > 0


@pytest.mark.parametrize("cls", [c for c in TRAINERS if c.labeled_loss_log_key], ids=lambda c: c.__name__)
def test_labeled_loss_is_the_stock_loss_on_the_plain_labeled_batch(cls, split, monkeypatch):
    """Undiluted labeled signal: the logged labeled loss equals nnU-Net's own Dice+CE with deep supervision on the
    labeled batch alone, whatever else shares the student pass (after any labeled-only phase)."""
    monkeypatch.setattr(sys, "argv", ["nnUNetv2_train"])
    trainer = started(cls, pretrain_fraction=0, warmup_fraction=0)
    labeled = trainer._to_device(next(trainer.dataloader_train))
    unlabeled = trainer._to_device(next(trainer.dataloader_unlabeled))
    torch.manual_seed(0)
    _, logs = trainer.compute_loss(labeled, unlabeled)
    with torch.no_grad():
        outputs = as_list(trainer.student_forward(labeled["data"]))  # InstanceNorm: per-sample, batch-independent
        alone = trainer.loss(stock_loss_input(outputs, trainer.enable_deep_supervision), labeled["target"])
    assert logs[cls.labeled_loss_log_key].item() == pytest.approx(alone.item(), rel=1e-4)
