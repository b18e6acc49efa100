"""nnunetv2_pscm: semi-supervised segmentation trainers and tools for nnU-Net v2.

`trainers/` and `dataset_conversion/` sit at the top of the repository (nnU-Net imports the trainer
modules as top-level modules through `nnUNet_extTrainer`), but they are installed *inside* our package
(`nnunetv2_pscm.trainers`, `nnunetv2_pscm.dataset_conversion`) so that we never install top-level
packages with such generic names.
"""
import importlib.util
import sys
from pathlib import Path

from setuptools import find_packages, setup


def converter_console_scripts():
    """nnUNetv2_pscm_convert_* entry points from the converter registry. It is loaded from its file, not imported
    as part of the package: setup.py runs before numpy, SimpleITK and nnU-Net are installed, and the registry uses
    the standard library only."""
    folder = Path(__file__).resolve().parent / "dataset_conversion"
    spec = importlib.util.spec_from_file_location("_pscm_converter_registry", folder / "registry.py")
    registry = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = registry  # dataclasses look their module up in sys.modules
    spec.loader.exec_module(registry)
    return registry.console_scripts(folder)


setup(
    name="nnunetv2_pscm",
    version="0.1.0",
    description="Semi-supervised medical image segmentation (PSCM, Mean Teacher, ...) as an nnU-Net v2 extension",
    python_requires=">=3.10",
    packages=find_packages(include=["nnunetv2_pscm", "nnunetv2_pscm.*"])
    + ["nnunetv2_pscm.trainers", "nnunetv2_pscm.dataset_conversion"],
    package_dir={
        "nnunetv2_pscm.trainers": "trainers",
        "nnunetv2_pscm.dataset_conversion": "dataset_conversion",
    },
    package_data={"nnunetv2_pscm": ["data/presets/*.json"]},
    include_package_data=True,
    install_requires=[
        "nnunetv2>=2.8.1",
        "torch>=2.1",
        "batchgeneratorsv2",
        "batchgenerators",
        "dynamic-network-architectures",
        "acvl-utils",
        "SimpleITK",
        "nibabel",
        "h5py",
        "pydicom",
        "numpy",
        "scipy",
        "matplotlib",
        "tqdm",
    ],
    extras_require={"test": ["pytest>=7", "medpy>=0.5"]},
    entry_points={
        "console_scripts": [
            "nnUNetv2_pscm_trainer_dir=nnunetv2_pscm.cli.trainer_dir:main",
            "nnUNetv2_pscm_split=nnunetv2_pscm.cli.split:main",
            "nnUNetv2_pscm_preprocess_unlabeled=nnunetv2_pscm.cli.preprocess_unlabeled:main",
            "nnUNetv2_pscm_cpu_plans=nnunetv2_pscm.cli.cpu_plans:main",
            "nnUNetv2_pscm_synthetic=nnunetv2_pscm.cli.synthetic:main",
            "nnUNetv2_pscm_evaluate=nnunetv2_pscm.cli.evaluate:main",
            "nnUNetv2_pscm_benchmark=nnunetv2_pscm.cli.benchmark:main",
            "nnUNetv2_pscm_benchmark_combine=nnunetv2_pscm.cli.benchmark_combine:main",
            "nnUNetv2_pscm_demo=nnunetv2_pscm.cli.demo:main",
            "nnUNetv2_pscm_train_quality=nnunetv2_pscm.cli.train_quality:main",
            "nnUNetv2_pscm_quality=nnunetv2_pscm.cli.quality:main",
            "nnUNetv2_pscm_suggest=nnunetv2_pscm.cli.suggest:main",
        ]
        + converter_console_scripts(),
    },
)
