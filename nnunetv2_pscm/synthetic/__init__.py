"""The embedded demo dataset: small MR-like images where unlabeled data genuinely help.

`generate_synthetic_dataset` writes an nnU-Net raw dataset; `make_case` returns one case in memory
(with the mask of the never-labeled look-alike structures)."""
from nnunetv2_pscm.synthetic.case import SyntheticCase
from nnunetv2_pscm.synthetic.dataset import LABELS, generate_synthetic_dataset, make_case

__all__ = ["SyntheticCase", "LABELS", "generate_synthetic_dataset", "make_case"]
