"""Converters from public datasets (and your own data) to nnU-Net raw datasets; see README.md in this folder.

Installed as `nnunetv2_pscm.dataset_conversion`; every converter module has an importable function and declares
its console script `nnUNetv2_pscm_convert_<name>` once (`CONVERTER = ConverterCommand(...)`, listed in
`registry.CONVERTER_MODULES`; nnunetv2_pscm/cli/convert.py and setup.py build the commands from that list).
Shared helpers live in `common`.
"""
