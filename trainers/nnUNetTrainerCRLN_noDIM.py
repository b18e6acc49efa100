"""CRLN without the dynamic interaction module: the relationship map M(x) is the raw prototype classifier
(softmax_c max_k cos(z, pi_ck) / T at the prototype stage; no attention, one resolution), and CPS's prototype part is
the raw prototypes averaged over k in the stage's own feature space. Rectification and CPS stay on, so the ablation
isolates what the attention to multi-resolution features adds."""
from nnunetv2_pscm.trainers.nnUNetTrainerCRLN import nnUNetTrainerCRLN


class nnUNetTrainerCRLN_noDIM(nnUNetTrainerCRLN):
    use_dim = False
