"""The converter registry: which modules are converters, and how a converter module declares its command.

A converter module ends with one declaration, the only place its command is described:

    CONVERTER = ConverterCommand(
        name="LA",                                   # -> console script nnUNetv2_pscm_convert_LA
        convert=convert_la,                          # convert(input_root, dataset_id=, overwrite=, ...)
        description="Left Atrium 2018 -> nnU-Net. ...",
        default_id="901 (h5), 902 (nrrd)",
        options=(option("--format", dest="source_format", choices=["auto", "h5", "nrrd"], default="auto"),),
    )

and is listed in CONVERTER_MODULES below. `nnunetv2_pscm/cli/convert.py` builds every parser and console-script
function from that list, and setup.py builds the console-script entry points from it.

This file uses the standard library only: setup.py loads it before the package's dependencies (numpy, SimpleITK,
nnU-Net) are installed, and reads the command names from the module files with `ast` instead of importing them.
"""
from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

# module names inside nnunetv2_pscm.dataset_conversion, one per console script
CONVERTER_MODULES = (
    "Dataset901_LA2018",
    "Dataset911_NIHPancreas",
    "Dataset921_ACDC",
    "Dataset931_MNMs",
    "Dataset941_BraTS19",
    "Dataset951_AMOS2022",
    "Dataset960_MSD",
    "generic",
)
SCRIPT_PREFIX = "nnUNetv2_pscm_convert_"
CLI_MODULE = "nnunetv2_pscm.cli.convert"
DECLARATION = "CONVERTER"


@dataclass(frozen=True)
class Option:
    """One extra command-line option. `settings` go to argparse's add_argument; their `dest` is the keyword of
    the converter's convert() function that the option feeds. `to_keyword` turns the parsed value into what
    convert() expects (applied when the option was given)."""

    flags: tuple[str, ...]
    settings: dict
    to_keyword: Callable | None = None

    @property
    def keyword(self) -> str:
        return self.settings["dest"]

    def keyword_value(self, parsed):
        return self.to_keyword(parsed) if self.to_keyword is not None and parsed is not None else parsed


def option(*flags: str, dest: str, to_keyword: Callable | None = None, **settings) -> Option:
    """`option("--format", dest="source_format", choices=[...])`: `dest` is required so that every option names
    the convert() keyword it sets."""
    return Option(tuple(flags), {"dest": dest, **settings}, to_keyword)


@dataclass(frozen=True)
class ConverterCommand:
    """A converter's console script. `convert` takes the input folder and the keywords dataset_id, overwrite,
    num_processes and replace_nonfinite (the options every converter shares), plus one keyword per option."""

    name: str
    convert: Callable
    description: str
    default_id: str
    options: tuple[Option, ...] = field(default_factory=tuple)
    epilog: str | None = None

    @property
    def script_name(self) -> str:
        return SCRIPT_PREFIX + self.name

    @property
    def function_name(self) -> str:
        return f"convert_{self.name}"


# --------------------------------------------------------------------------------------------------
# reading the declarations without importing the modules (for setup.py)
# --------------------------------------------------------------------------------------------------

def declared_name(module_file: Path) -> str:
    """The literal `name=` of the module's `CONVERTER = ConverterCommand(name="...", ...)` declaration."""
    tree = ast.parse(Path(module_file).read_text(encoding="utf-8"), filename=str(module_file))
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else []
        if any(isinstance(t, ast.Name) and t.id == DECLARATION for t in targets) and isinstance(node.value, ast.Call):
            for keyword in node.value.keywords:
                if keyword.arg == "name":
                    return ast.literal_eval(keyword.value)
    raise ValueError(f"{module_file} has no `{DECLARATION} = ConverterCommand(name='...', ...)` declaration; "
                     f"every module in CONVERTER_MODULES needs one.")


def console_scripts(conversion_folder: Path) -> list[str]:
    """setuptools entry points `nnUNetv2_pscm_convert_<name>=nnunetv2_pscm.cli.convert:convert_<name>`."""
    names = [declared_name(Path(conversion_folder) / f"{module}.py") for module in CONVERTER_MODULES]
    return [f"{SCRIPT_PREFIX}{name}={CLI_MODULE}:convert_{name}" for name in names]
