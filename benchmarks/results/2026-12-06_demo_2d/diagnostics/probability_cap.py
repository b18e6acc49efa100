"""How confident each model of the demo is per class, on 10 of the demo's unlabeled images.

Made with, for each TRAINER (nnUNetTrainer_16ep50it, nnUNetTrainerPSCM_16ep50it, nnUNetTrainerMeanTeacher_16ep50it and
the two diagnostic variants of diag_trainers.py, nnUNet_extTrainer=$(nnUNetv2_pscm_trainer_dir):<folder of it>):
    nnUNetv2_predict -i <unlabeled_000..009_0000.nii.gz> -o out_TRAINER -d 980 -c 2d -p nnUNetPlans_cpu -tr TRAINER
        -f 0 -device cpu --disable_tta --save_probabilities
then: python probability_cap.py out_A out_B ...
Prints per foreground class the highest probability among the voxels predicted as that class, and the mean share of
those voxels at or above Mean Teacher's 0.9 pseudo-label threshold."""
import glob
import sys

import numpy as np

for folder in sys.argv[1:]:
    rows = []
    for f in sorted(glob.glob(f"{folder}/*.npz")):
        p = np.load(f)["probabilities"][:, 0]
        label, top = p.argmax(0), p.max(0)
        rows.append([top[label == c].max() if (label == c).any() else np.nan for c in range(1, p.shape[0])]
                    + [(top[label == c] >= 0.9).mean() if (label == c).any() else np.nan for c in range(1, p.shape[0])])
    r = np.array(rows, dtype=float)
    n = r.shape[1] // 2
    print(folder, "max prob per class", np.nanmax(r[:, :n], 0).round(3), "share >= 0.9", np.nanmean(r[:, n:], 0).round(3))
