#!/usr/bin/env bash
# Installs the whole mmeffseg stack into the active Python environment, in the order the builds
# need. Idempotent: every step is skipped when its package is already present at the right
# version (so mmcv, which takes ~10 min to compile, is built once).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
PIP="$PY -m pip install --disable-pip-version-check -q"

have() {  # have NAME VERSION -> 0 if NAME==VERSION (or, with '*', any version) is installed
  "$PY" - "$1" "$2" <<'PYEOF'
import sys
from importlib import metadata
try:
    # metadata.version raises when NAME is missing, also for '*'. '2.13.0+cpu' is 2.13.0:
    # compare without the local version label.
    installed = metadata.version(sys.argv[1]).split('+')[0]
    ok = sys.argv[2] in ('*', installed)
except metadata.PackageNotFoundError:
    ok = False
sys.exit(0 if ok else 1)
PYEOF
}
step() { echo "[setup] $*"; }
mim_location() {  # where pkg_resources (and so mim) thinks mmeffseg is installed
  (cd / && "$PY" -W ignore -c "import pkg_resources as p; print(p.get_distribution('mmeffseg').location)" 2>/dev/null)
}

have torch 2.13.0 || { step "torch 2.13.0 (CPU)"; $PIP torch==2.13.0; }
# torch wants setuptools>=77; mmcv's build, mim and mmdet:: configs need pkg_resources (<82), and
# mim finds an editable install only through the egg-link that `develop` writes before 80.
"$PY" -c "import setuptools,sys; sys.exit(not 77 <= int(setuptools.__version__.split('.')[0]) < 80)" \
  || { step "setuptools>=77,<80"; $PIP "setuptools>=77,<80"; }
have wheel '*' || $PIP wheel
have ninja '*' || $PIP ninja
have mmengine 0.10.7 || { step "mmengine 0.10.7"; $PIP mmengine==0.10.7; }
if ! "$PY" -c "import mmcv, mmcv.ops; assert mmcv.__version__ == '2.1.0'" 2>/dev/null; then
  step "mmcv 2.1.0 with ops (built from source; ~10 min on 2 cores, cached by pip afterwards)"
  MMCV_WITH_OPS=1 MAX_JOBS=${MAX_JOBS:-2} $PIP --no-build-isolation mmcv==2.1.0
fi
have mmdet 3.3.0 || { step "mmdet 3.3.0"; $PIP mmdet==3.3.0; }
have mmsegmentation 1.2.2 || { step "mmsegmentation 1.2.2"; $PIP mmsegmentation==1.2.2; }
"$PY" -c "import numpy, scipy, matplotlib, pycocotools, ftfy, regex, PIL, tqdm, pytest" 2>/dev/null \
  || { step "runtime + test requirements"; $PIP -r requirements/runtime.txt -r requirements/tests.txt; }
# openmim without its dataset-download extras (opendatalab/openxlab pin setuptools 60 and an old
# requests); these are the dependencies `mim train/test` needs.
have openmim 0.3.9 || { step "openmim 0.3.9"; $PIP --no-deps openmim==0.3.9; }
"$PY" -c "import click, colorama, modelindex, rich, tabulate, pandas, requests" 2>/dev/null \
  || $PIP click colorama model-index rich tabulate pandas requests
have panopticapi-lite '*' || "$PY" -c "import panopticapi" 2>/dev/null \
  || { step "panopticapi-lite (--no-deps)"; $PIP --no-deps panopticapi-lite; }
# Legacy develop mode: mim locates a package's tools/configs through its install location, which
# a PEP 660 editable install reports as site-packages instead of this repository. Re-run when a
# file of setup.py's MIM_FILES (e.g. model-index.yml for `mim search`) has no link in .mim yet.
if ! "$PY" -c "import mmeffseg, os, sys; sys.exit(os.path.realpath(mmeffseg.__file__) != os.path.realpath('mmeffseg/__init__.py') or not all(os.path.exists('mmeffseg/.mim/' + f) for f in ('tools', 'configs', 'model-index.yml')))" 2>/dev/null \
   || [ "$(mim_location)" != "$(pwd -P)" ]; then
  step "mmeffseg (editable)"
  $PY -m pip uninstall -y -q mmeffseg >/dev/null 2>&1 || true
  $PIP --no-build-isolation --no-deps --no-use-pep517 -e .
fi
"$PY" -c "import mmeffseg, mmdet, mmseg, mmcv.ops; print('[setup] ok: mmeffseg', mmeffseg.__version__)"
