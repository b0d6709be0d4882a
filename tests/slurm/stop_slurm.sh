#!/usr/bin/env bash
# tests/slurm/stop_slurm.sh -- stop the local test Slurm started by start_slurm.sh.
#
# Usage: tests/slurm/stop_slurm.sh
#   Stops slurmd and slurmctld (by their pid files under $EMOREC_SLURM_DIR,
#   default /var/tmp/emorec-slurm). munged is left running.
set -euo pipefail
base=${EMOREC_SLURM_DIR:-/var/tmp/emorec-slurm}
for d in slurmd slurmctld; do
  pidf=$base/run/$d.pid
  if [ -f "$pidf" ] && kill -0 "$(cat "$pidf")" 2> /dev/null; then
    kill "$(cat "$pidf")"
    for _ in $(seq 100); do kill -0 "$(cat "$pidf")" 2> /dev/null || break; sleep 0.1; done
  fi
done
