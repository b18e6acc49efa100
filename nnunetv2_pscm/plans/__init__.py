"""Plans utilities on top of nnU-Net's plans files (e.g. small CPU plans derived from existing plans)."""
from nnunetv2_pscm.plans.cpu_plans import (CPU_DEFAULTS, DEFAULT_CPU_PLANS, CpuPlansResult, DerivedConfiguration,
                                           derive_cpu_plans, derive_cpu_plans_dict)

__all__ = ["CPU_DEFAULTS", "DEFAULT_CPU_PLANS", "CpuPlansResult", "DerivedConfiguration", "derive_cpu_plans",
           "derive_cpu_plans_dict"]
