#!/usr/bin/env bash
# The test command: installs what is missing (Debian packages when root, the venv),
# then runs the test suite. Extra arguments go to pytest (e.g. tools/test.sh -k slurm).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$root/tools/install.sh" --test
. "$root/path.sh"
cd "$root"
exec python -m pytest -q -ra --durations=15 tests "$@"
