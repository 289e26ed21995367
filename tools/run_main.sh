#!/usr/bin/env bash
# The README's main command: set up the stack (idempotent), then run the main job on the
# embedded data (data/embedded_coco): each model is trained briefly from scratch, evaluated,
# and measured side by side (per-image FLOPs, CPU latency, quality). Two reports, one per host:
#   outputs/main/mask2former/  Mask2Former R18-lite baseline vs PRO-SCALE (3,3,3)+TRC+LPE (PQ)
#   outputs/main/segmenter/    Segmenter ViT-T baseline vs ALGM (mIoU)
# Sized for < 15 min on 2 CPU cores; pass e.g. ITERS_M2F=300 for a longer (overfitting) run.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh
ITERS_M2F=${ITERS_M2F:-30}
ITERS_SEG=${ITERS_SEG:-60}
python tools/analysis_tools/efficiency_report.py \
  --baseline configs/mask2former/mask2former_r18-lite_1xb2-300i_embedded-panoptic.py \
  --methods configs/proscale/proscale-333-trc-lpe_r18-lite_1xb2-300i_embedded-panoptic.py \
  --train-iters "$ITERS_M2F" --num-images 4 --cpu-deform-attn gather \
  --out-dir outputs/main/mask2former
python tools/analysis_tools/efficiency_report.py \
  --baseline configs/segmenter/segmenter_vit-t_mask_1xb4-200i_embedded-semantic-256x256.py \
  --methods configs/algm/algm_segmenter_vit-t_mask_1xb4-200i_embedded-semantic-256x256.py \
  --train-iters "$ITERS_SEG" --num-images 8 --out-dir outputs/main/segmenter
