"""`nnUNetv2_pscm_convert_<name>`: public SSL benchmark datasets (and your own data) -> nnU-Net raw datasets.

Every command is built here from the converter registry (`nnunetv2_pscm.dataset_conversion.registry`): each
converter module declares its command name, description, extra options and convert() function once, and this
module turns every declaration into a parser and a console-script function `convert_<name>` (the names setup.py's
entry points point at). All commands take `-i INPUT_ROOT [-d DATASET_ID] [--overwrite] [-np N] [--verify]
[--replace-nonfinite VALUE]`, write `$nnUNet_raw/DatasetNNN_Name/` through a temporary folder, and print the
written folder on stdout (progress and notes go to stderr).
"""
from __future__ import annotations

import argparse
import importlib
import math
import sys
from typing import Callable

from nnunetv2_pscm.dataset_conversion.registry import CONVERTER_MODULES, ConverterCommand


def registered_converters() -> list[ConverterCommand]:
    """The CONVERTER declaration of every module in CONVERTER_MODULES, in that order."""
    return [importlib.import_module(f"nnunetv2_pscm.dataset_conversion.{module}").CONVERTER
            for module in CONVERTER_MODULES]


def _finite_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number (e.g. 0), got {text!r}")
    return value


def _shared_parser(command: ConverterCommand) -> argparse.ArgumentParser:
    """The options every converter takes, in front of its own."""
    from nnunetv2_pscm.dataset_conversion.common import default_num_processes

    parser = argparse.ArgumentParser(prog=command.script_name, description=command.description,
                                     epilog=command.epilog, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-i", "--input", required=True, metavar="INPUT_ROOT",
                        help="the downloaded, extracted dataset folder")
    parser.add_argument("-d", "--dataset-id", type=int, default=None, metavar="ID",
                        help=f"nnU-Net dataset id to write (default: {command.default_id})")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace an existing nnUNet_raw/DatasetNNN_* folder with this id")
    parser.add_argument("-np", "--num-processes", type=int, default=default_num_processes(),
                        help="parallel worker processes (default: %(default)s)")
    parser.add_argument("--verify", action="store_true",
                        help="run nnU-Net's verify_dataset_integrity on the result")
    parser.add_argument("--replace-nonfinite", type=_finite_float, default=None, metavar="VALUE",
                        help="write VALUE for NaN/Inf image voxels (default: stop with an error naming the case)")
    return parser


def build_parser(command: ConverterCommand) -> argparse.ArgumentParser:
    parser = _shared_parser(command)
    for option in command.options:
        parser.add_argument(*option.flags, **option.settings)
    return parser


def run_converter(command: ConverterCommand, argv=None) -> None:
    parser = build_parser(command)
    args = parser.parse_args(argv)
    options = {option.keyword: option.keyword_value(getattr(args, option.keyword)) for option in command.options}
    _run(parser, args, command.convert, **options)


def _run(parser: argparse.ArgumentParser, args: argparse.Namespace, function, **kwargs) -> None:
    """Call the converter; errors in the input data end the command with a one-line message (exit status 1).
    Returns None: console scripts pass the return value to sys.exit."""
    from nnunetv2_pscm.dataset_conversion.common import ConversionError

    try:
        result = function(args.input, dataset_id=args.dataset_id, overwrite=args.overwrite,
                          num_processes=args.num_processes, replace_nonfinite=args.replace_nonfinite, **kwargs)
    except ConversionError as e:
        parser.exit(1, f"{parser.prog}: error: {e}\n")
    if args.verify and result is not None and not kwargs.get("dry_run"):
        from nnunetv2.experiment_planning.verify_dataset_integrity import verify_dataset_integrity

        verify_dataset_integrity(str(result), max(1, args.num_processes))
    if result is not None and not kwargs.get("dry_run"):
        print(result)


def _console_function(command: ConverterCommand) -> Callable[..., None]:
    def console_script(argv=None) -> None:
        run_converter(command, argv)

    console_script.__name__ = console_script.__qualname__ = command.function_name
    console_script.__doc__ = f"{command.script_name}: {command.description}"
    return console_script


# convert_LA, convert_pancreas, ...: the functions setup.py's console-script entry points name
# (nnUNetv2_pscm_convert_LA=nnunetv2_pscm.cli.convert:convert_LA), one per registered converter
CONSOLE_FUNCTIONS = {command.function_name: _console_function(command) for command in registered_converters()}
globals().update(CONSOLE_FUNCTIONS)
__all__ = ["registered_converters", "build_parser", "run_converter", *CONSOLE_FUNCTIONS]


if __name__ == "__main__":
    print("Use the nnUNetv2_pscm_convert_<name> commands.", file=sys.stderr)
