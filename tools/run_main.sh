#!/usr/bin/env bash
# The README's main command: set up the stack (idempotent), then run the main job on the
# embedded data (data/embedded_coco, 16 COCO images, 133 classes as semantic labels): each model
# is trained briefly from scratch, evaluated (mIoU on the 16 images it trained on), and measured
# side by side (per-image FLOPs, CPU latency, quality). Two reports, one per host, both on the
# same dataset definition (configs/_base_/datasets/embedded_coco_semantic_dataset.py):
#   outputs/main/mask2former/  mmseg Mask2Former R18-lite baseline vs PRO-SCALE (3,3,3)+TRC+LPE
#   outputs/main/segmenter/    Segmenter ViT-T baseline vs ALGM
#
# Budget: < 15 min after setup on an idle 2-core machine. CPU seconds per training iteration,
# measured with OMP_NUM_THREADS=1 on short runs (2026-12-06; the machine was shared with a
# 2-thread training job, so these are upper bounds, and 2 threads run faster):
#   Mask2Former R18-lite, 2 crops of 256x256: 2.63 s (90 iterations: 236.5 CPU s)
#   PRO-SCALE (3,3,3)+TRC+LPE, same:           1.95 s (15 iterations: 29.2 CPU s)
#   evaluation on the 16 images: 10-12 CPU s per model; FLOPs on 4 images + timing: ~20 s
# Mask2Former report: 100 x (2.63 + 1.95) = 458 s training + 2 x ~35 s + ~20 s start-up
#   = ~550 s (9.2 min); Segmenter report (60 iterations of 4 crops per model): ~3-4 min
#   (not re-measured here; the whole job took 9 min 28 s with the panoptic Mask2Former before);
#   setup's checks ~15 s. Total ~13.5 min on one thread.
# Quality (a probe of the baseline, validating every 30 iterations, same recipe and seed): from
# scratch the Mask2Former first predicts one class everywhere (mIoU 0.15 at 30 and 60
# iterations) and only starts to separate classes near iteration 90 (mIoU 0.42): its mIoU here
# is non-zero but far from a trained model's. Raise ITERS_M2F to train longer.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh
ITERS_M2F=${ITERS_M2F:-100}
ITERS_SEG=${ITERS_SEG:-60}
python tools/analysis_tools/efficiency_report.py \
  --baseline configs/mask2former/mask2former_r18-lite_1xb2-300i_embedded-semantic-256x256.py \
  --methods configs/proscale/proscale-333-trc-lpe_r18-lite_1xb2-300i_embedded-semantic-256x256.py \
  --train-iters "$ITERS_M2F" --num-images 4 --cpu-deform-attn gather \
  --out-dir outputs/main/mask2former
python tools/analysis_tools/efficiency_report.py \
  --baseline configs/segmenter/segmenter_vit-t_mask_1xb4-200i_embedded-semantic-256x256.py \
  --methods configs/algm/algm_segmenter_vit-t_mask_1xb4-200i_embedded-semantic-256x256.py \
  --train-iters "$ITERS_SEG" --num-images 8 --out-dir outputs/main/segmenter
