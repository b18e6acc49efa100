"""CRLN: cooperative rectification learning network (Wang et al., arXiv 2502.11456; no code public) on nnU-Net plans;
see `trainer_base.CRLNTrainerBase` for what is confirmed and what is our reconstruction."""
