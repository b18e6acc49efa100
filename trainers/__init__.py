"""Trainer modules that nnU-Net imports as top-level modules via nnUNet_extTrainer (see nnUNetv2_pscm_trainer_dir)."""
