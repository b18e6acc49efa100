"""One converter registry: each converter module declares its command once (CONVERTER = ConverterCommand(...)),
and both the console-script functions (nnunetv2_pscm.cli.convert) and setup.py's entry points come from the
registry's module list."""
import ast
import importlib
import inspect
import json
import subprocess
import sys
from pathlib import Path

import pytest

from nnunetv2_pscm.cli import convert as cli
from nnunetv2_pscm.dataset_conversion import registry
from nnunetv2_pscm.dataset_conversion.registry import CONVERTER_MODULES

REPO_ROOT = Path(__file__).resolve().parents[2]
CONVERSION_FOLDER = REPO_ROOT / "dataset_conversion"
# the commands users and docs already rely on: they must never disappear
EXISTING_SCRIPTS = ["nnUNetv2_pscm_convert_LA", "nnUNetv2_pscm_convert_pancreas", "nnUNetv2_pscm_convert_MSD",
                    "nnUNetv2_pscm_convert_AMOS", "nnUNetv2_pscm_convert_ACDC", "nnUNetv2_pscm_convert_MNMs",
                    "nnUNetv2_pscm_convert_BraTS19", "nnUNetv2_pscm_convert_generic"]
SHARED_KEYWORDS = ("dataset_id", "overwrite", "num_processes", "replace_nonfinite")

# setup.py in a fresh interpreter, as pip runs it from a fresh clone: the package's dependencies (and the package
# itself) cannot be imported yet, and setuptools.setup only records what it is given
SETUP_PROBE = r"""
import json, runpy, sys
import setuptools

NOT_INSTALLED_YET = {"numpy", "SimpleITK", "torch", "nnunetv2", "nibabel", "h5py", "pydicom", "nnunetv2_pscm"}

class NotInstalledYet:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in NOT_INSTALLED_YET:
            raise ImportError(f"setup.py imports {name}, which pip has not installed yet")

sys.meta_path.insert(0, NotInstalledYet())
recorded = {}
setuptools.setup = lambda **kwargs: recorded.update(kwargs)
runpy.run_path("setup.py", run_name="__main__")
print(json.dumps(recorded["entry_points"]["console_scripts"]))
"""


def _converter(module_name):
    return importlib.import_module(f"nnunetv2_pscm.dataset_conversion.{module_name}").CONVERTER


def _setup_console_scripts() -> list[str]:
    proc = subprocess.run([sys.executable, "-c", SETUP_PROBE], cwd=REPO_ROOT, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout)


def _top_level_assigns(tree, name):
    return [n for n in tree.body if isinstance(n, ast.Assign) and any(getattr(t, "id", None) == name for t in n.targets)]


def test_setup_entry_points_are_the_registered_converters_without_heavy_imports():
    scripts = _setup_console_scripts()
    converter_scripts = [s for s in scripts if s.startswith(registry.SCRIPT_PREFIX)]
    expected = [f"{c.script_name}={registry.CLI_MODULE}:{c.function_name}" for c in cli.registered_converters()]
    assert converter_scripts == expected
    assert set(EXISTING_SCRIPTS) <= {s.split("=")[0] for s in converter_scripts}
    for entry_point in converter_scripts:  # every entry point names a function that exists
        module, function = entry_point.split("=")[1].split(":")
        assert callable(getattr(importlib.import_module(module), function)), entry_point


@pytest.mark.parametrize("module_name", CONVERTER_MODULES)
def test_every_registered_converter_has_a_working_help(module_name, capsys):
    command = _converter(module_name)
    with pytest.raises(SystemExit) as exit_info:
        getattr(cli, command.function_name)(["--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    assert text.startswith(f"usage: {command.script_name} ")
    for flag in ["-i INPUT_ROOT", "--overwrite", "-np", "--verify", "--replace-nonfinite VALUE",
                 *(option.flags[0] for option in command.options)]:
        assert flag in text, (module_name, flag)


@pytest.mark.parametrize("module_name", CONVERTER_MODULES)
def test_declaration_matches_what_setup_reads_and_what_convert_accepts(module_name):
    command = _converter(module_name)
    assert registry.declared_name(CONVERSION_FOLDER / f"{module_name}.py") == command.name
    parameters = inspect.signature(command.convert).parameters
    for keyword in (*SHARED_KEYWORDS, *(option.keyword for option in command.options)):
        assert keyword in parameters, f"{module_name}: convert() has no keyword {keyword!r}"


def test_every_module_with_a_declaration_is_registered():
    declaring = sorted(p.stem for p in CONVERSION_FOLDER.glob("*.py")
                       if _top_level_assigns(ast.parse(p.read_text()), registry.DECLARATION))
    assert declaring == sorted(CONVERTER_MODULES)


def test_converter_modules_have_no_main_block():
    """The console scripts are the entry points; `python -m ...DatasetNNN_X` is not a second way in."""
    def is_main_guard(node):
        return (isinstance(node, ast.If) and isinstance(node.test, ast.Compare)
                and getattr(node.test.left, "id", None) == "__name__")

    with_main = [p.name for p in CONVERSION_FOLDER.glob("*.py") if any(map(is_main_guard, ast.parse(p.read_text()).body))]
    assert with_main == []
