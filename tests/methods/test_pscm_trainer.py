"""PSCM and its ablations in-process on the synthetic 3D dataset: every gradient path, the phase switch,
what is exported, what is checkpointed."""
import pytest
import torch
from trainer_factory import make_trainer, next_batches, with_loaders

from nnunetv2_pscm.components.deep_supervision import full_resolution
from nnunetv2_pscm.data.ssl_split import write_ssl_split
from nnunetv2_pscm.trainers.nnUNetTrainerPSCM import nnUNetTrainerPSCM
from nnunetv2_pscm.trainers.nnUNetTrainerPSCM_noAUD import nnUNetTrainerPSCM_noAUD
from nnunetv2_pscm.trainers.nnUNetTrainerPSCM_noBOM import nnUNetTrainerPSCM_noBOM
from nnunetv2_pscm.trainers.nnUNetTrainerPSCM_noPSC import nnUNetTrainerPSCM_noPSC
from nnunetv2_pscm.trainers.nnUNetTrainerPSCM_withAUD import nnUNetTrainerPSCM_withAUD

DATASET = 901


@pytest.fixture
def split(copied_3d):
    write_ssl_split(DATASET, num_labeled=3, n_folds=1)
    return copied_3d


def ready(cls, pretrain_fraction=0.0, **attributes):
    # auxiliary terms at full weight from the first step, so every gradient path is exercised
    attributes.setdefault("aux_rampup_fraction", 0.0)
    trainer = make_trainer(cls, DATASET, num_epochs=2, num_iterations_per_epoch=3, **attributes)
    trainer.pretrain_fraction = pretrain_fraction
    return with_loaders(trainer)


def grads_of(module):
    return [p.grad for p in module.parameters() if p.requires_grad]


def test_every_gradient_path_in_self_training(split):
    trainer = ready(nnUNetTrainerPSCM_withAUD)
    loss, logs = trainer.compute_loss(*next_batches(trainer))
    loss.backward()
    assert logs["phase"] == 1.0
    assert set(logs) >= {"loss_labeled", "loss_mix", "loss_bom", "loss_aud", "loss_cf", "psc_changed_fraction", "mask_ratio"}
    assert all(p.grad is None for p in trainer.teacher.parameters())
    for name in ("reconstruction_decoder", "auxiliary_decoder", "mask_generator"):
        assert all(g is not None and g.abs().sum() > 0 for g in grads_of(trainer.extra_modules[name])), name
    without_grad = {n for n, p in trainer.student_module.named_parameters() if p.grad is None}
    assert without_grad <= {"decoder.seg_layers.0.weight", "decoder.seg_layers.0.bias"}  # DS weight 0 (stock)
    assert logs["mask_ratio"].item() == pytest.approx(trainer.bom_mask_ratio, abs=0.05)


def test_outer_optimizer_owns_the_mask_generator_only(split):
    trainer = ready(nnUNetTrainerPSCM_noAUD)  # PSC + BOM
    main = {id(p) for g in trainer.optimizer.param_groups for p in g["params"]}
    outer = {id(p) for g in trainer.extra_optimizers["mask_generator"].param_groups for p in g["params"]}
    assert outer == {id(p) for p in trainer.extra_modules["mask_generator"].parameters()}
    assert not main & outer
    assert {id(p) for p in trainer.student_module.parameters()} <= main
    before = [p.detach().clone() for p in trainer.extra_modules["mask_generator"].parameters()]
    trainer.train_step(next(trainer.dataloader_train))
    after = list(trainer.extra_modules["mask_generator"].parameters())
    assert any(not torch.equal(a, b) for a, b in zip(before, after)), "the outer level must step"
    # step 1 has no auxiliary views (aux_every_steps = 2): the mask generator gets no gradient and is not stepped
    assert trainer.aux_every_steps == 2
    before = [p.detach().clone() for p in trainer.extra_modules["mask_generator"].parameters()]
    trainer.train_step(next(trainer.dataloader_train))
    assert all(torch.equal(a, b) for a, b in zip(before, trainer.extra_modules["mask_generator"].parameters()))
    assert len(trainer._epoch_logs["loss_bom"]) == 1, "BOM's loss is logged on the step with auxiliary views only"


def test_phase_a_uses_labeled_data_only_then_restarts_from_the_pretrained_model(split):
    trainer = ready(nnUNetTrainerPSCM, pretrain_fraction=0.5)
    assert trainer.pretrain_epochs() == 1
    _, logs = trainer.compute_loss(*next_batches(trainer))
    assert logs["phase"] == 0.0 and "psc_changed_fraction" not in logs and "loss_aud" not in logs
    trainer.train_step(next(trainer.dataloader_train))  # a phase-A step: momentum buffers now exist
    assert trainer.optimizer.state
    trainer.current_epoch = 1
    trainer.on_train_epoch_start()  # the switch: teacher = student, momentum and learning rate restart
    student = [p.detach().clone() for p in trainer.student_module.parameters()]
    assert all(torch.equal(t, s) for t, s in zip(trainer.teacher.module.parameters(), student))
    assert not trainer.optimizer.state
    assert trainer.optimizer.param_groups[0]["lr"] == pytest.approx(trainer.initial_lr)
    _, logs = trainer.compute_loss(*next_batches(trainer))
    assert logs["phase"] == 1.0 and "psc_changed_fraction" in logs


def test_auxiliary_terms_ramp_in_over_self_training(split):
    trainer = ready(nnUNetTrainerPSCM_withAUD, aux_rampup_fraction=0.5)
    assert trainer.current_aux_weight() == pytest.approx(0.0067, abs=1e-3)  # sigmoid ramp-up at its start
    trainer.ssl_step = 3  # half of the 6 self-training steps
    assert trainer.current_aux_weight() == pytest.approx(1.0)


@pytest.mark.parametrize("cls,modules", [
    (nnUNetTrainerPSCM_noPSC, {"reconstruction_decoder", "auxiliary_decoder", "mask_generator"}),
    (nnUNetTrainerPSCM_noBOM, {"auxiliary_decoder"}),
    (nnUNetTrainerPSCM_noAUD, {"reconstruction_decoder", "mask_generator"}),
    (nnUNetTrainerPSCM_withAUD, {"reconstruction_decoder", "auxiliary_decoder", "mask_generator"}),
    (nnUNetTrainerPSCM, set()),  # BOM and AUD off by default (LA and demo evidence): PSC on BCP
])
def test_ablations_train_with_exactly_their_modules(split, cls, modules):
    trainer = ready(cls)
    assert set(trainer.extra_modules) - {"prototypes", "structure"} == modules
    assert ("prototypes" in trainer.extra_modules) == trainer.use_psc
    out = trainer.train_step(next(trainer.dataloader_train))
    assert torch.isfinite(torch.as_tensor(out["loss"]))
    logged = set(trainer._epoch_logs)
    assert ("loss_bom" in logged) == ("reconstruction_decoder" in modules)
    assert ("loss_aud" in logged) == ("auxiliary_decoder" in modules)
    assert ("psc_changed_fraction" in logged) == (cls is not nnUNetTrainerPSCM_noPSC)
    # the teacher keeps an encoder skip for R_phi only
    teacher = trainer.teacher_outputs(next_batches(trainer)[1]["data"])
    assert ("encoder_features" in teacher) == ("mask_generator" in modules)


def test_export_is_encoder_plus_main_decoder_and_extras_are_checkpointed(split, tmp_path):
    trainer = ready(nnUNetTrainerPSCM_withAUD)
    trainer.train_step(next(trainer.dataloader_train))
    ckpt = str(tmp_path / "c.pth")
    trainer.save_checkpoint(ckpt)
    saved = torch.load(ckpt, map_location="cpu", weights_only=False)
    stock = trainer.build_network_architecture(trainer.plans_manager, trainer.configuration_manager,
                                               trainer.num_input_channels,
                                               trainer.label_manager.num_segmentation_heads, False)
    stock.load_state_dict(saved["network_weights"])  # strict: nothing more, nothing less
    x = torch.randn(1, 1, *trainer.configuration_manager.patch_size)
    stock.eval()
    network = trainer.student_module.eval()
    with torch.no_grad():
        d1 = network.decoder(network.encoder(x))
        assert torch.allclose(stock(x), full_resolution(d1), atol=1e-5)
    extras = saved["ssl_state"]["extra_modules"]
    assert any(k.startswith("auxiliary_decoder.") for k in extras)
    assert not any(k.startswith("auxiliary_decoder.encoder") for k in extras), "the encoder is not duplicated"
    assert "mask_generator" in saved["ssl_state"]["extra_optimizers"]

    restored = make_trainer(nnUNetTrainerPSCM_withAUD, DATASET)
    restored.load_checkpoint(ckpt)
    for (k, a), b in zip(restored.extra_modules.state_dict().items(), trainer.extra_modules.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=0, atol=0, equal_nan=True, msg=k)
    assert restored.ssl_step == 1


def test_regions_are_refused_with_a_clear_message(copied_3d):
    def to_regions(dataset_json):
        dataset_json["labels"] = {"background": 0, "whole": [1, 2], "core": 2}
        dataset_json["regions_class_order"] = [1, 2]

    with pytest.raises(RuntimeError, match="region-based"):
        make_trainer(nnUNetTrainerPSCM, DATASET, dataset_json_edit=to_regions).initialize()
