"""Dual-network semi-supervised segmentation (UG-DualNet, arXiv 2509.13084) on nnU-Net plans; see
`trainer_base.DualNetTrainerBase`."""
