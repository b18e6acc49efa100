"""Converters from public datasets (and your own data) to nnU-Net raw datasets; see README.md in this folder.

Installed as `nnunetv2_pscm.dataset_conversion`; every module has an importable function and a console script
`nnUNetv2_pscm_convert_<name>` (nnunetv2_pscm/cli/convert.py). Shared helpers live in `common`.
"""
