#!/usr/bin/env bash
# Installs what emorec needs, and nothing twice: a no-op when all is in place.
#
# Usage: tools/install.sh [--test]
#   --test   also what the test suite needs (tools/requirements-test.txt; a local Slurm:
#            slurm-wlm, munge; chromium + chromium-driver for the web page's browser test)
#
# System packages (espeak-ng for the demo corpus, ffmpeg for VoxCeleb2 m4a, perl for
# the queue wrappers) come from apt when we are root; without root (a cluster login
# node) each missing one is named with the command that installs it, and the Python
# side still installs.
#
# Python: a virtual environment in tools/venv (override with EMOREC_VENV), built
# from tools/requirements.txt pinned by tools/constraints.txt. torch is pinned because
# an unpinned torch pulls several GB of CUDA wheels where a CPU build is wanted.
#
# torchaudio: every torchaudio wheel on PyPI is a CUDA build whose compiled
# libraries (torchaudio/lib/*.so) fail to load beside a CPU torch, which makes
# `import torchaudio` raise. emorec uses only torchaudio's pure-Python parts
# (compliance.kaldi, functional.resample, transforms) and reads audio with
# soundfile, so we install it without dependencies and, when its libraries do not
# load against the installed torch, remove them: the pure-Python parts then work on
# any torch build. On a CUDA torch whose ABI matches they load and are kept.
set -euo pipefail

with_test=false
[ "${1:-}" = "--test" ] && with_test=true

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
venv=${EMOREC_VENV:-$root/tools/venv}
python=${PYTHON:-python3}

# --- system packages ---------------------------------------------------------
declare -A pkg_of=( [espeak-ng]=espeak-ng [ffmpeg]=ffmpeg [perl]=perl )
if $with_test; then  # a local Slurm; chromium for the web page's browser test
  pkg_of[slurmctld]=slurm-wlm; pkg_of[munged]=munge; pkg_of[chromium]=chromium; pkg_of[chromedriver]=chromium-driver
fi
missing=()
for cmd in "${!pkg_of[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || [ -x "/usr/sbin/$cmd" ] || missing+=("${pkg_of[$cmd]}")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "$0: installing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "$0: WARNING: missing system packages: ${missing[*]}" >&2
    echo "$0:   install them with: sudo apt-get install ${missing[*]}" >&2
    echo "$0:   (or load the matching modules on your cluster); continuing with the Python side." >&2
  fi
fi

# --- Python virtual environment ----------------------------------------------
stamp=$venv/.emorec-installed
reqs=(-r "$root/tools/requirements.txt")
$with_test && reqs+=(-r "$root/tools/requirements-test.txt")
want=$(cat "$root/tools/requirements"*.txt "$root/tools/constraints.txt" "$root/pyproject.toml" | cksum)$with_test
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
if [ ! -x "$venv/bin/python" ]; then
  "$python" -m venv "$venv" || {
    echo "$0: could not create a venv with $python (on Debian: apt-get install python3-venv)" >&2; exit 1; }
fi
pip=("$venv/bin/python" -m pip --disable-pip-version-check -q)
"${pip[@]}" install -c "$root/tools/constraints.txt" "${reqs[@]}"
"${pip[@]}" install --no-deps -c "$root/tools/constraints.txt" torchaudio
if ! "$venv/bin/python" -c 'import torchaudio' >/dev/null 2>&1; then
  ta_lib=$("$venv/bin/python" -c 'import importlib.util, os; print(os.path.join(os.path.dirname(importlib.util.find_spec("torchaudio").origin), "lib"))')
  echo "$0: torchaudio's compiled libraries do not load against this torch; removing them (pure-Python parts kept)"
  rm -f "$ta_lib"/*.so
  "$venv/bin/python" -c 'import torchaudio.compliance.kaldi, torchaudio.functional'
fi
"${pip[@]}" install --no-deps -e "$root"
# librosa compiles its numba kernels into its own __pycache__ on first use; parallel feature
# jobs compiling at once can leave a corrupt cache there (segfaults later): compile them now
"$venv/bin/python" -c 'import numpy as np; from emorec.handcrafted import get_extractor
get_extractor("handcrafted")(np.random.default_rng(0).standard_normal(16000).astype(np.float32))'
echo "$want" > "$stamp"
echo "$0: environment ready in $venv"
