"""Fixtures for the converter tests: a private nnU-Net folder tree per test and a fast integrity check.

Test modules import them explicitly (`from conversion_fixtures import nnunet_dirs, verify`): a conftest.py here
would be imported under the module name `conftest` and shadow tests/conftest.py for tests that import from it.
"""
import multiprocessing.pool
import types

import pytest


@pytest.fixture
def nnunet_dirs(tmp_path, monkeypatch):
    """nnUNet_raw / _preprocessed / _results inside tmp_path (nnU-Net 2.8 reads them lazily from the env)."""
    dirs = {}
    for name in ("nnUNet_raw", "nnUNet_preprocessed", "nnUNet_results"):
        dirs[name] = tmp_path / name
        dirs[name].mkdir()
        monkeypatch.setenv(name, str(dirs[name]))
    return dirs


class _ThreadContext:
    """Stands in for multiprocessing.get_context('spawn') inside nnU-Net's verify module: the check itself is
    unchanged, only its worker pool runs in threads. A spawned pool costs ~5 s per call (each child imports
    torch and nnU-Net) which would dominate this test suite; one test (test_la_real_data_spawned_verify) keeps
    the genuine spawn path."""

    @staticmethod
    def Pool(processes=None):
        return multiprocessing.pool.ThreadPool(processes)


@pytest.fixture
def verify(monkeypatch):
    from nnunetv2.experiment_planning import verify_dataset_integrity as module

    monkeypatch.setattr(module, "multiprocessing", types.SimpleNamespace(get_context=lambda method=None: _ThreadContext))

    def run(folder):
        module.verify_dataset_integrity(str(folder), 1)

    return run


@pytest.fixture
def verify_spawned():
    """nnU-Net's integrity check exactly as shipped (spawned worker processes)."""
    from nnunetv2.experiment_planning.verify_dataset_integrity import verify_dataset_integrity

    def run(folder):
        verify_dataset_integrity(str(folder), 1)

    return run
