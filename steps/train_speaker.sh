#!/usr/bin/env bash
# steps/train_speaker.sh -- train the speaker ResNet (emorec.bin.train) as one job.
#
# Usage: steps/train_speaker.sh [options] <config.yaml> <data-dir> <exp-dir>
#   e.g. steps/train_speaker.sh --cmd "$cuda_cmd" --ngpu 1 conf/train_paper.yaml data/voxceleb_train exp/resnet34
#
# Options:
#   --cmd CMD          job runner (run.pl; "slurm.pl --config conf/slurm.conf --gpu 1" on a cluster)
#   --ngpu N           0: CPU; 1: one process (CUDA when available); N>1: N DDP processes (torchrun)
#   --nnodes N         nodes, each running --ngpu processes (slurm.pl --nodes N; a c10d rendezvous)
#   --num-threads T    CPUs per node; empty: (data.num_workers + 1) per process, from the config
#   --mem M            memory per node; empty: (4G + 1G per loader worker) per process
#   --time T           time limit of the job (sbatch --time); empty: the queue's default
#   --resume BOOL      continue from the last <exp-dir>/epoch_N.pt when there is one (true)
#   --labels FILE      utterance labels (default <data-dir>/utt2spk)
#   --dev-data DIR     dev data evaluated every epoch (best.pt by unweighted accuracy)
#   --seed S           overrides train.seed
#   --train-opts STR   more emorec.bin.train options, e.g. "--set optim.lr=0.1"
#
# Writes <exp-dir>/epoch_N.pt, final.pt (last), config.yaml, tensorboard/, log/train.log.
# Restartable: emorec.bin.train --skip-done does nothing when <exp-dir>/final.pt is done
# (the restart rule of DEVELOPERS.md); otherwise it resumes from the last epoch
# checkpoint of a run with the same data, config and options (with --resume true).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/../utils/lib/script_init.sh"

cmd=run.pl
ngpu=1
nnodes=1
num_threads=
mem=
time=
resume=true
labels=
dev_data=
seed=
train_opts=

. "$EMOREC_ROOT/utils/parse_options.sh"

positional_args 3 "$@"
config=$1
data=$2
exp=$3
me=$(basename "$0")

for f in "$config" "$data/feats.scp" "${labels:-$data/utt2spk}"; do
  [ -f "$f" ] || { echo "$me: no such file $f" >&2; exit 1; }
done
mkdir -p "$exp/log"

args=(--config "$config" --data "$data" --exp-dir "$exp" --ngpu "$ngpu" --nnodes "$nnodes" --skip-done)
[ -n "$labels" ] && args+=(--labels "$labels")
[ -n "$dev_data" ] && args+=(--dev-data "$dev_data")
[ -n "$seed" ] && args+=(--seed "$seed")
$resume && args+=(--resume)
# shellcheck disable=SC2206
[ -n "$train_opts" ] && extra=($train_opts) && args+=("${extra[@]}")

# shellcheck disable=SC2207  # one line of options
job_opts=($(python -m emorec.bin.job_resources --config "$config" --ngpu "$ngpu" --nnodes "$nnodes" \
  --num-threads "$num_threads" --mem "$mem" --time "$time"))
$cmd "${job_opts[@]}" "$exp/log/train.log" python -m emorec.bin.train "${args[@]}" \
  || { echo "$me: training failed, see $exp/log/train.log" >&2; exit 1; }
[ -f "$exp/final.pt" ] || { echo "$me: no $exp/final.pt after training; see $exp/log/train.log" >&2; exit 1; }
{ grep -E "parameters|epoch [0-9]+/|skipping" "$exp/log/train.log" || true; } | sed 's/^[^]]*] //' | tail -n 4
echo "$me: done, $exp/final.pt"
