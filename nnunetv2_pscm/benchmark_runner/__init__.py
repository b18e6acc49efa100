"""Label-efficiency benchmark: SSL trainers vs the labeled-only and full-label nnU-Net on the same validation cases.

    from nnunetv2_pscm.benchmark_runner import load_config, run_benchmark
    output_folder = run_benchmark(load_config("benchmark.yaml"))

or `nnUNetv2_pscm_benchmark benchmark.yaml [--dry-run] [--report-only] [--test]`. The config format is in
nnunetv2_pscm.benchmark_runner.config; the output files in nnunetv2_pscm.benchmark_runner.session, .report and .paired.
"""
from nnunetv2_pscm.benchmark_runner.config import BenchmarkConfig, BenchmarkConfigError, config_from_dict, load_config
from nnunetv2_pscm.benchmark_runner.runner import BenchmarkError, run_benchmark

__all__ = ["BenchmarkConfig", "BenchmarkConfigError", "BenchmarkError", "config_from_dict", "load_config",
           "run_benchmark"]
