#!/usr/bin/env bash
# The README's test command: set up the stack (idempotent) and run the test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
python -m pytest tests projects -q -p no:cacheprovider "$@"
