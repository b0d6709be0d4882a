#!/usr/bin/env bash
# The test command: installs what is missing (Debian packages when root, the venv with
# the test requirements), then runs pytest in the checkout. Arguments go to pytest as
# they are: without test paths it runs tests/ (pyproject's testpaths), e.g.
#   tools/test.sh -k slurm
#   tools/test.sh tests/test_queue.py::test_slurm_array -x
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$root/tools/install.sh" --test
. "$root/path.sh"
cd "$root"
exec python -m pytest -q -ra --durations=15 "$@"
