# Sourced by every recipe (egs/*/path.sh) and script: the environment emorec runs in.
# EMOREC_ROOT is the checkout; the venv is tools/venv unless EMOREC_VENV says otherwise.
EMOREC_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export EMOREC_ROOT
_venv=${EMOREC_VENV:-$EMOREC_ROOT/tools/venv}
if [ -f "$_venv/bin/activate" ]; then
  # shellcheck disable=SC1091
  . "$_venv/bin/activate"
else
  echo "path.sh: no virtual environment at $_venv; run $EMOREC_ROOT/tools/install.sh" >&2
fi
unset _venv
export PATH="$EMOREC_ROOT/utils:$EMOREC_ROOT/steps:$PATH"
export PYTHONPATH="$EMOREC_ROOT${PYTHONPATH:+:$PYTHONPATH}"
export LC_ALL=C
export PYTHONUNBUFFERED=1
export PYTHONIOENCODING=UTF-8
# No network at run time: transformers and the HF hub read local files only.
export HF_HUB_OFFLINE=1
export TRANSFORMERS_OFFLINE=1
export HF_DATASETS_OFFLINE=1
# glibc malloc: keep and reuse the heap instead of handing freed memory back to the kernel
# and page-faulting it in again at every training step (bench/bench_malloc.py); a value
# already in the environment wins.
export MALLOC_TRIM_THRESHOLD_=${MALLOC_TRIM_THRESHOLD_:-1073741824}
export MALLOC_TOP_PAD_=${MALLOC_TOP_PAD_:-268435456}
export MALLOC_MMAP_THRESHOLD_=${MALLOC_MMAP_THRESHOLD_:-33554432}
# utils/lib/script_init.sh sources this file only where it is not in effect yet
export EMOREC_PATH_SH=$EMOREC_ROOT
