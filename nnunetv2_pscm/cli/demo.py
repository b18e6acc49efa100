"""`nnUNetv2_pscm_demo`: the whole semi-supervised workflow on an embedded synthetic dataset, in minutes on a CPU."""
import argparse
from pathlib import Path

from nnunetv2_pscm.demo.workflow import DemoSettings, run_demo


def main(argv=None) -> None:
    d = DemoSettings(output=Path("pscm_demo"))
    p = argparse.ArgumentParser(description=__doc__ + " Generates a synthetic dataset (2D multi-class by default, "
                                "--kind 3d for the 3D one), plans and preprocesses it "
                                "with nnU-Net, derives CPU plans, writes a split with few labeled and many unlabeled "
                                "cases, trains the labeled-only nnU-Net, Mean Teacher and PSCM (plus the full-label "
                                "nnU-Net as reference) with the same budget through nnUNetv2_train, predicts the "
                                "validation cases with nnUNetv2_predict, evaluates them and writes results.md, "
                                "results.png and overlay.png. A second run reuses what is finished.")
    p.add_argument("--out", type=Path, default=d.output, help="working folder (default: ./%(default)s)")
    p.add_argument("--iterations", type=int, default=d.iterations, help="training iterations per method "
                   "(default %(default)s)")
    p.add_argument("--labeled", type=int, default=d.num_labeled, help="labeled cases (default %(default)s)")
    p.add_argument("--cases", type=int, default=d.num_cases, help="cases with labels on disk, of which --labeled keep "
                   "them and the rest are hidden (default %(default)s; 20 %% go to validation)")
    p.add_argument("--unlabeled-images", type=int, default=d.num_unlabeled_images,
                   help="extra images without any label in imagesUnlabeled/ (default %(default)s)")
    p.add_argument("--device", default=d.device, choices=["cpu", "cuda", "mps"])
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--kind", default=d.kind, choices=["3d", "2d"], help="synthetic dataset: 3d binary organ among "
                   "look-alikes (3d_fullres) or 2d multi-class heart-like slices (2d); default %(default)s")
    a = p.parse_args(argv)
    run_demo(DemoSettings(a.out, a.iterations, a.labeled, a.cases, a.unlabeled_images, a.device, a.seed, a.kind))


if __name__ == "__main__":
    main()
