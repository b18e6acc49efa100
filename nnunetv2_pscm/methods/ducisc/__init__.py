"""DuCiSC: dual cross-image semantic consistency with self-aware pseudo-labels (arXiv 2507.21440, IEEE TMI 2025) on
nnU-Net plans; see `trainer_base.DuCiSCTrainerBase`."""
