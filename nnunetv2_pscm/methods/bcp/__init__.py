"""BCP (bidirectional copy-paste, Bai et al. CVPR 2023) on nnU-Net: the self-training base that PSCM and later
copy-paste methods extend through named hooks (see `trainer_base.BCPTrainerBase`)."""
