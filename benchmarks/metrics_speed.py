"""Time Dice/Jaccard/HD95/ASD/ASSD on a 512 x 512 x 300 pair of overlapping ellipsoids (one core).

Usage::

    python benchmarks/metrics_speed.py [--shape 512 512 300] [--repeats 3] [--medpy]

Prints the wall time of ``compute_binary_metrics`` in ``voxel`` mode, ``mm`` mode (anisotropic spacing) and
both, for a large object (semi-axes about 100 voxels, the size of a liver) and a small one (about 15
voxels, a tumour), plus the size of the union bounding box the distance transforms run in. ``--medpy``
adds medpy's ``hd95`` + ``asd`` on the same pair for comparison (slow: it works on the full array).
This is a script, not a test.
"""
from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")  # the claim is about one core

import numpy as np  # noqa: E402

from nnunetv2_pscm.evaluation.metrics import compute_binary_metrics  # noqa: E402
from nnunetv2_pscm.evaluation.surface_distances import union_bounding_box  # noqa: E402

SPACING = (0.7, 0.7, 2.5)  # typical CT: fine in-plane, thick slices along the last axis


def ellipsoid(shape, center, semi_axes) -> np.ndarray:
    grid = np.ogrid[tuple(slice(0, s) for s in shape)]
    return sum(((g - c) / a) ** 2 for g, c, a in zip(grid, center, semi_axes)) <= 1.0


def best_of(repeats: int, function) -> float:
    """Shortest of ``repeats`` wall times: the least disturbed by other processes on a shared machine."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shape", type=int, nargs=3, default=(512, 512, 300))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--medpy", action="store_true", help="also time medpy hd95 + asd (slow)")
    args = parser.parse_args()
    shape = tuple(args.shape)
    center = np.array(shape) / 2

    pairs = {
        "large (~100 vox)": (
            ellipsoid(shape, center, (110, 120, 90)),
            ellipsoid(shape, center + (12, -10, 8), (105, 125, 85)),
        ),
        "small (~15 vox)": (
            ellipsoid(shape, center, (15, 18, 12)),
            ellipsoid(shape, center + (3, 2, -2), (14, 17, 13)),
        ),
    }
    print(f"shape {shape}, spacing for mm {SPACING}, best of {args.repeats}")
    for name, (pred, ref) in pairs.items():
        box = union_bounding_box(pred, ref)
        box_voxels = int(np.prod([s.stop - s.start for s in box]))
        print(f"\n{name}: pred {int(pred.sum())} vox, ref {int(ref.sum())} vox, union box {box_voxels} vox "
              f"({100 * box_voxels / pred.size:.1f}% of the volume)")
        for label, modes in (("voxel", ("voxel",)), ("mm", ("mm",)), ("voxel+mm", ("voxel", "mm"))):
            seconds = best_of(args.repeats, lambda: compute_binary_metrics(pred, ref, SPACING, modes))
            print(f"  {label:9s} {seconds:6.2f} s")
        result = compute_binary_metrics(pred, ref, SPACING, ("voxel", "mm"))
        print("  values: " + ", ".join(f"{m}={result['voxel'][m]:.4f}" for m in ("dice", "hd95", "asd", "assd"))
              + " (voxel); " + ", ".join(f"{m}={result['mm'][m]:.4f}" for m in ("hd95", "asd")) + " (mm)")
        if args.medpy:
            from medpy.metric.binary import asd, hd95

            start = time.perf_counter()
            medpy_values = {"hd95": hd95(pred, ref), "asd": asd(pred, ref)}
            seconds = time.perf_counter() - start
            difference = max(abs(medpy_values[m] - result["voxel"][m]) for m in medpy_values)
            print(f"  medpy hd95+asd (voxel) {seconds:6.2f} s, max |difference| to ours {difference:.2e}")


if __name__ == "__main__":
    main()
