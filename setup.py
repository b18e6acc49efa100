"""nnunetv2_pscm: semi-supervised segmentation trainers and tools for nnU-Net v2.

`trainers/` and `dataset_conversion/` sit at the top of the repository (nnU-Net imports the trainer
modules as top-level modules through `nnUNet_extTrainer`), but they are installed *inside* our package
(`nnunetv2_pscm.trainers`, `nnunetv2_pscm.dataset_conversion`) so that we never install top-level
packages with such generic names.
"""
from setuptools import find_packages, setup

CONVERTERS = ["LA", "pancreas", "MSD", "AMOS", "ACDC", "MNMs", "BraTS19", "generic"]

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
            "nnUNetv2_pscm_demo=nnunetv2_pscm.cli.demo:main",
        ]
        + [f"nnUNetv2_pscm_convert_{name}=nnunetv2_pscm.cli.convert:convert_{name}" for name in CONVERTERS],
    },
)
