"""PSCM: pseudo-label self-correction (PSC), bi-level optimal mask learning (BOM) and an auxiliary decoder
with counterfactuals (AUD) on a bidirectional copy-paste (BCP) mean-teacher base.

The paper's code is not public; see `trainer_base.PSCMTrainerBase` for what is confirmed (the architecture
of the paper's figure) and what is our reconstruction."""
