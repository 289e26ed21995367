#!/usr/bin/env bash
# GPU readiness check (issue 13, item 5), for a CUDA machine with Python + torch and no
# internet. Runs what works without mmcv (tools/device/gpu_check.py: the gather core vs a
# grid_sample reference, packed attention, batch invariance, ViT-S timings at batch 1 and 8)
# and, only where mmcv / mmseg / mmdet import, the ALGM and pruning tests too. Writes JSON
# (and logs) to $OUT (default work_dirs/gpu_check). Budget: under 12 minutes.
#
#   bash tools/device/gpu_check.sh             # on the CUDA machine
#   bash tools/device/gpu_check.sh --dry-run   # anywhere: CPU, toy sizes (seconds)
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-work_dirs/gpu_check}
mkdir -p "$OUT"
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
DRY=0
[ "${1:-}" = "--dry-run" ] && DRY=1

python - <<'PY' > "$OUT/environment.txt" 2>&1
import importlib, platform, torch
print('python', platform.python_version(), 'torch', torch.__version__,
      'cuda', torch.version.cuda, 'available', torch.cuda.is_available())
if torch.cuda.is_available():
    print('device', torch.cuda.get_device_name(0))
for name in ('mmengine', 'mmcv', 'mmcv.ops', 'mmseg', 'mmdet'):
    try:
        importlib.import_module(name)
        print(name, 'importable')
    except Exception as exc:  # report, do not stop
        print(name, 'missing:', type(exc).__name__, str(exc)[:120])
PY
cat "$OUT/environment.txt"

status=0
if [ $DRY = 1 ]; then
    timeout 300 python tools/device/gpu_check.py --dry-run --out "$OUT/gpu_check.json" || status=$?
else
    timeout 540 python tools/device/gpu_check.py --out "$OUT/gpu_check.json" || status=$?
fi

# The OpenMMLab stack cannot be built offline (mmcv's ops compile from a source tarball that
# is not there); where it is installed, run the reducers' tests on this machine as well.
if [ $DRY = 0 ] && python -c "import mmcv.ops, mmseg, mmdet" 2>/dev/null; then
    timeout 120 python -m pytest tests/test_algm tests/test_token_pruning -q -x \
        -p no:cacheprovider > "$OUT/pytest.txt" 2>&1 || status=$?
    tail -3 "$OUT/pytest.txt"
else
    echo "mmcv/mmseg/mmdet stack not importable (or dry run): tests needing it not run" \
        > "$OUT/pytest.txt"
fi
echo "[gpu_check.sh] results in $OUT (exit $status)"
exit $status
