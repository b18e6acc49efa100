#!/usr/bin/env bash
# Prepare Left Atrium 2018 for the benchmark configs in benchmarks/configs/ (la_*.yaml): convert the h5 release,
# plan at 2 mm, cut the plans down for a CPU (4 stages of 16-128 features, patch 28 x 48 x 64, batch 2) and
# preprocess. ~1.5 min on 2 cores. Needs nnUNet_raw / nnUNet_preprocessed / nnUNet_results set.
#   bash benchmarks/prepare_la.sh <folder holding '2018LA_Seg_Training Set' and train.list> [num_processes]
set -euo pipefail
if [ $# -lt 1 ]; then echo "usage: bash $0 LA2018_H5_FOLDER [NUM_PROCESSES]" >&2; exit 2; fi
SOURCE=$1; NP=${2:-2}
for var in nnUNet_raw nnUNet_preprocessed nnUNet_results; do
  if [ -z "${!var:-}" ]; then echo "$0: set $var first (nnU-Net's environment variables)" >&2; exit 2; fi
done
# the converter refuses to overwrite an existing Dataset901 (it says so and this script stops there), so a second
# call loses nothing; run the remaining steps by hand, or remove Dataset901 from nnUNet_raw to start over
nnUNetv2_pscm_convert_LA -i "$SOURCE" -np "$NP"
nnUNetv2_extract_fingerprint -d 901 -np "$NP"
nnUNetv2_plan_experiment -d 901 -overwrite_target_spacing 2 2 2 -overwrite_plans_name nnUNetPlans_2mm
nnUNetv2_pscm_cpu_plans -d 901 -c 3d_fullres -p nnUNetPlans_2mm -o nnUNetPlans_2mm_f16 --features 16 \
    --max-features 128 --patch 28 48 64 --batch-size 2
nnUNetv2_preprocess -d 901 -plans_name nnUNetPlans_2mm_f16 -c 3d_fullres -np "$NP"
echo "prepared Dataset901_LA2018 (plans nnUNetPlans_2mm_f16); next: nnUNetv2_pscm_benchmark benchmarks/configs/la_ssl_gain.yaml"
