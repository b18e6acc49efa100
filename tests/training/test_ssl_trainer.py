"""nnUNetTrainerSSL + Mean Teacher in-process on the synthetic 3D dataset: EMA updates, gradient paths,
checkpoint round trip, exported weights, and the clear errors promised for bad splits."""
from os.path import join

import numpy as np
import pytest
import torch
from trainer_factory import make_trainer

from nnunetv2_pscm.data.ssl_split import write_ssl_split
from nnunetv2_pscm.components.ema import ema_decay
from nnunetv2_pscm.data.split_file import SplitError, write_splits
from nnunetv2_pscm.data.unlabeled_preprocessing import preprocess_unlabeled
from nnunetv2_pscm.trainers.nnUNetTrainerMeanTeacher import nnUNetTrainerMeanTeacher

DATASET = 901


def ready_trainer(**attributes):
    trainer = make_trainer(nnUNetTrainerMeanTeacher, DATASET, num_epochs=2, num_iterations_per_epoch=2,
                           **attributes)
    trainer.initialize()
    trainer.dataloader_train, trainer.dataloader_val = trainer.get_dataloaders()
    trainer._register_log_keys()
    return trainer


@pytest.fixture
def ssl_split(copied_3d):
    preprocess_unlabeled(DATASET, "3d_fullres", "nnUNetPlans_cpu", num_processes=1)
    write_ssl_split(DATASET, num_labeled=3, n_folds=1, include_unlabeled_images=True)
    return copied_3d


def params(module):
    return [p.detach().clone() for p in module.parameters()]


def test_teacher_follows_the_ema_of_the_student(ssl_split):
    trainer = ready_trainer()
    for step in range(3):
        teacher_before = params(trainer.teacher.module)
        trainer.train_step(next(trainer.dataloader_train))
        a = ema_decay(step, trainer.ema_alpha)
        for t_old, t_new, s in zip(teacher_before, trainer.teacher.module.parameters(), trainer.student_module.parameters()):
            assert torch.allclose(t_new, a * t_old + (1 - a) * s.detach(), atol=1e-6)
    assert trainer.ssl_step == 3
    assert set(trainer._epoch_logs) == {"loss_sup", "loss_consistency", "loss_pseudo_label", "loss_pseudo_label_dice",
                                        "pl_confident_fraction", "consistency_ramp"}


def test_mean_teacher_gradient_paths(ssl_split):
    trainer = ready_trainer()
    labeled = trainer._to_device(next(trainer.dataloader_train))
    unlabeled = trainer._to_device(next(trainer.dataloader_unlabeled))
    loss, logs = trainer.compute_loss(labeled, unlabeled)
    loss.backward()
    assert all(p.grad is None for p in trainer.teacher.parameters())
    without_grad = {n for n, p in trainer.student_module.named_parameters() if p.grad is None}
    # nnU-Net gives its lowest-resolution deep-supervision output weight 0: that head alone gets no gradient
    assert without_grad <= {"decoder.seg_layers.0.weight", "decoder.seg_layers.0.bias"}

    # consistency alone: zero when the teacher is the student and both see the same input without noise and
    # without the student's feature dropout (the perturbation is what makes them differ by default)
    trainer.teacher.update(trainer.student_module, 0)
    trainer.teacher_input_noise_std = 0.0
    trainer.feature_dropout = 0.0
    trainer.student_module.eval()
    same = {"data": unlabeled["data_weak"], "data_weak": unlabeled["data_weak"]}
    _, logs = trainer.compute_loss(labeled, same)
    assert logs["loss_consistency"].item() == pytest.approx(0.0, abs=1e-7)


def test_checkpoint_round_trip_restores_all_ssl_state(ssl_split, tmp_path):
    trainer = ready_trainer()
    for _ in range(2):
        trainer.train_step(next(trainer.dataloader_train))
    trainer.on_train_epoch_end([{"loss": np.array(1.0)}])
    ckpt = str(tmp_path / "checkpoint.pth")
    trainer.save_checkpoint(ckpt)

    restored = make_trainer(nnUNetTrainerMeanTeacher, DATASET)
    restored.load_checkpoint(ckpt)
    assert restored.ssl_step == 2
    for a, b in zip(restored.teacher.module.state_dict().values(), trainer.teacher.module.state_dict().values()):
        assert torch.equal(a, b)
    for a, b in zip(restored.student_module.state_dict().values(), trainer.student_module.state_dict().values()):
        assert torch.equal(a, b)
    momentum_a = [s["momentum_buffer"] for s in restored.optimizer.state_dict()["state"].values()]
    momentum_b = [s["momentum_buffer"] for s in trainer.optimizer.state_dict()["state"].values()]
    assert all(torch.equal(a, b) for a, b in zip(momentum_a, momentum_b))
    assert restored.logger.get_value("loss_consistency", None) == trainer.logger.get_value("loss_consistency", None)


def test_exported_weights_are_the_stock_architecture(ssl_split, tmp_path):
    trainer = ready_trainer()
    trainer.train_step(next(trainer.dataloader_train))
    ckpt = str(tmp_path / "checkpoint.pth")
    trainer.save_checkpoint(ckpt)
    weights = torch.load(ckpt, map_location="cpu", weights_only=False)["network_weights"]
    stock = trainer.build_network_architecture(trainer.plans_manager, trainer.configuration_manager,
                                               trainer.num_input_channels,
                                               trainer.label_manager.num_segmentation_heads, False)
    stock.load_state_dict(weights)  # strict: same keys, same shapes
    stock.eval()
    trainer.student_module.eval()
    trainer.set_deep_supervision_enabled(False)
    x = torch.randn(1, 1, *trainer.configuration_manager.patch_size)
    with torch.no_grad():
        assert torch.allclose(stock(x), trainer.student_module(x), atol=1e-6)


def test_split_without_unlabeled_ids_says_how_to_fix_it(copied_3d):
    trainer = make_trainer(nnUNetTrainerMeanTeacher, DATASET)
    write_splits(join(trainer.preprocessed_dataset_folder_base, "splits_final.json"), [{"train": ["x"], "val": ["y"]}])
    trainer.initialize()
    with pytest.raises(SplitError, match="nnUNetv2_pscm_split"):
        trainer.get_unlabeled_dataset()


def test_unknown_unlabeled_ids_are_named(copied_3d):
    path, folds, _ = write_ssl_split(DATASET, num_labeled=3, n_folds=1)
    folds[0]["unlabeled"].append("nope")
    write_splits(path, folds, overwrite=True)
    trainer = make_trainer(nnUNetTrainerMeanTeacher, DATASET)
    trainer.initialize()
    with pytest.raises(SplitError, match="nope"):
        trainer.get_unlabeled_dataset()


def test_unsupported_ignore_label_stops_at_start(copied_3d):
    class NoIgnore(nnUNetTrainerMeanTeacher):
        supports_ignore_label = False

    def add_ignore(dataset_json):
        dataset_json["labels"]["ignore"] = max(dataset_json["labels"].values()) + 1

    trainer = make_trainer(NoIgnore, DATASET, dataset_json_edit=add_ignore)
    with pytest.raises(RuntimeError, match="ignore label"):
        trainer.initialize()
