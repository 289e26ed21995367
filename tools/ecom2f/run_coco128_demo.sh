#!/usr/bin/env bash
# ECO-M2F end to end at small scale on CPU (from scratch, few iterations):
#   Step A parent -> Step B quality table -> label histograms -> Step C gate for each beta
#   (validation PQ + mean exit) -> expected GFLOPs (per-image average) against the parent.
# Usage: bash tools/ecom2f/run_coco128_demo.sh   (env: DATA WORK SIZE PARENT_ITERS GATE_ITERS
#        BETAS GATE_METRIC FLOP_IMAGES EXTRA_OPTS PARENT_CFG_OVERRIDE GATE_CFG_OVERRIDE;
#        COCO128_ROOT as in the configs)
#   DATA=coco128  (default) the 100 coco128 panoptic images at SIZE=192 px, 60 parent iterations
#   DATA=embedded the 16 embedded images at the configs' 384 px, 300 parent iterations: the
#                 overfitting scale at which Mask2Former predicts segments (PQ > 0)
# Step B writes a per-image PQ and a per-image mIoU table in one pass; GATE_METRIC (pq or miou)
# picks the one the gates learn from (a parent trained for minutes scores PQ 0 on almost every
# image, which makes every label the cheapest exit). EXTRA_OPTS adds --cfg-options to every
# step, e.g. permissive post-processing thresholds so that a briefly trained parent outputs
# segments at all: EXTRA_OPTS="model.test_cfg.object_mask_thr=0.0 model.test_cfg.iou_thr=0.0
# model.test_cfg.filter_low_score=False". Every step runs mmeffseg's CPU
# deformable-attention core (--cpu-deform-attn gather: same results, faster).
set -euo pipefail
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
DATA=${DATA:-coco128}
case "$DATA" in
  coco128)
    PARENT_CFG=configs/ecom2f/ecom2f-parent_r18-lite_1xb2-500i_coco128-panoptic.py
    GATE_CFG=configs/ecom2f/ecom2f-gate_r18-lite_1xb8-200i_coco128-panoptic.py
    SIZE=${SIZE-192}; PARENT_ITERS=${PARENT_ITERS:-60}; FLOP_IMAGES=${FLOP_IMAGES:-20} ;;
  embedded)
    PARENT_CFG=configs/ecom2f/ecom2f-parent_r18-lite_1xb2-300i_embedded-panoptic.py
    GATE_CFG=configs/ecom2f/ecom2f-gate_r18-lite_1xb8-30i_embedded-panoptic.py
    SIZE=${SIZE-}; PARENT_ITERS=${PARENT_ITERS:-300}; FLOP_IMAGES=${FLOP_IMAGES:-16} ;;
  *) echo "DATA must be coco128 or embedded, got '$DATA'" >&2; exit 2 ;;
esac
# Other ECO-M2F configs on the same data (e.g. projects/proscale_ecom2f's) replace the pair.
PARENT_CFG=${PARENT_CFG_OVERRIDE:-$PARENT_CFG}
GATE_CFG=${GATE_CFG_OVERRIDE:-$GATE_CFG}
WORK=${WORK:-work_dirs/ecom2f_${DATA}_demo}
GATE_ITERS=${GATE_ITERS:-30}
BETAS=${BETAS:-"0 0.01"}
GATE_METRIC=${GATE_METRIC:-pq}
CORE=(--cpu-deform-attn gather)
# Smaller images than the configs' 384 px keep the coco128 run within minutes of CPU (the train
# pipeline's Resize is step 2, the test pipeline's step 1, in both datasets' configs).
OPTS=()
if [ -n "$SIZE" ]; then
  OPTS=("model.data_preprocessor.batch_augments.0.size=($SIZE,$SIZE)"
             "train_dataloader.dataset.pipeline.2.scale=($SIZE,$SIZE)"
             "val_dataloader.dataset.pipeline.1.scale=($SIZE,$SIZE)"
             "test_dataloader.dataset.pipeline.1.scale=($SIZE,$SIZE)")
fi
read -r -a EXTRA <<< "${EXTRA_OPTS:-}"
OPTS+=("${EXTRA[@]}")
# For the commands that take no other --cfg-options (argparse wants at least one value).
OPTS_CFG=()
[ ${#OPTS[@]} -eq 0 ] || OPTS_CFG=(--cfg-options "${OPTS[@]}")
mkdir -p "$WORK"
PARENT_CKPT=$WORK/parent/iter_$PARENT_ITERS.pth
TABLE_PQ=$WORK/quality_table_train.json
TABLE_MIOU=$WORK/quality_table_train_miou.json
if [ "$GATE_METRIC" = pq ]; then TABLE=$TABLE_PQ; else TABLE=$TABLE_MIOU; fi

echo "== Step A: parent, $PARENT_ITERS iterations"
[ -f "$PARENT_CKPT" ] || python tools/train.py $PARENT_CFG --work-dir "$WORK/parent" \
    "${CORE[@]}" --cfg-options "${OPTS[@]}" train_cfg.max_iters=$PARENT_ITERS \
    train_cfg.val_interval=$PARENT_ITERS default_hooks.checkpoint.interval=$PARENT_ITERS

echo "== Step B: quality table"
[ -f "$TABLE_PQ" ] || python tools/ecom2f/build_quality_table.py $PARENT_CFG "$PARENT_CKPT" \
    --metric pq miou --out "$TABLE_PQ" "$TABLE_MIOU" "${CORE[@]}" "${OPTS_CFG[@]}"
python tools/ecom2f/label_histogram.py "$TABLE_PQ" --beta $BETAS
python tools/ecom2f/label_histogram.py "$TABLE_MIOU" --beta $BETAS

for BETA in $BETAS; do
    echo "== Step C: gate, beta=$BETA"
    GDIR=$WORK/gate_${GATE_METRIC}_beta$BETA
    [ -f "$GDIR/iter_$GATE_ITERS.pth" ] || python tools/train.py $GATE_CFG --work-dir "$GDIR" \
        "${CORE[@]}" --cfg-options "${OPTS[@]}" load_from="$PARENT_CKPT" model.quality_table="$TABLE" \
        model.beta=$BETA train_cfg.max_iters=$GATE_ITERS train_cfg.val_interval=$GATE_ITERS \
        default_hooks.checkpoint.interval=$GATE_ITERS
    echo "== Expected cost, gate beta=$BETA"
    python tools/analysis_tools/get_flops.py $GATE_CFG --checkpoint "$GDIR/iter_$GATE_ITERS.pth" \
        --num-images $FLOP_IMAGES "${CORE[@]}" "${OPTS_CFG[@]}" \
        --parts panoptic_head.pixel_decoder.encoder panoptic_head.pixel_decoder.encoder.gate \
        --out "$GDIR/flops.json"
done
echo "== Cost of the 6-layer parent"
python tools/analysis_tools/get_flops.py $PARENT_CFG --checkpoint "$PARENT_CKPT" \
    --num-images $FLOP_IMAGES "${CORE[@]}" "${OPTS_CFG[@]}" \
    --parts panoptic_head.pixel_decoder.encoder panoptic_head.pixel_decoder.encoder.gate \
    --out "$WORK/parent/flops.json"
