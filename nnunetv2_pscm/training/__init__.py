"""The semi-supervised training base class. Imported by trainer modules as
`from nnunetv2_pscm.training import nnUNetTrainerSSL`."""
from nnunetv2_pscm.training.nnUNetTrainerSSL import nnUNetTrainerSSL

__all__ = ["nnUNetTrainerSSL"]
