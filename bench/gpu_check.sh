#!/usr/bin/env bash
# Usage: bench/gpu_check.sh [options]
#   e.g. bench/gpu_check.sh                      # on a machine with one GPU: under 5 minutes
#        bench/gpu_check.sh --dir /tmp/gpu_check  # keep the logs and reports there
#
# Every check of issue 21 that needs CUDA, on one GPU, with no corpus and no network
# (generated features and waveforms, random-weight encoders):
#   1. bench/bench_resnet.py --sections cuda: emorec's ResNet34 against the WeSpeaker-shape
#      peer at batch 128, bf16, eager and compiled (+ channels-last + cuDNN autotuning)
#   2. bench/bench_train.py --loader-rate (the loader alone: workers for 6,000 segments/s),
#      then conf/train_paper.yaml's compiled steps fed by its loader (data wait)
#   3. steps/train_speaker.sh, one epoch of conf/train_paper.yaml
#   4. steps/train_ser.sh, one fold, one epoch of conf/ser_paper.yaml, fine-tuned from 3
#   5. bench/bench_ssl.py: the SSL and joint families on a HuBERT-base-shaped random encoder
#      (and a BERT-base-shaped one), head / partial / entire x mean / weighted pooling,
#      fp32 and bf16, at conf/{ssl,joint}_paper.yaml's batches and workers
# then prints one PASS/FAIL line per goal. The recipe runs (3, 4) use one chunk size (200
# frames) so that the model compiles once. Without CUDA the CPU-side parts run at small
# sizes (a tiny ResNet for 3 and 4, the demo-shaped HuBERT for 5: plumbing, not figures),
# and SKIPPED lines name what needs CUDA. Exit status 1 when a goal FAILs (without CUDA:
# when a part fails to run; the figures at small sizes are no goals).
# Logs: DIR/log/*.log; the bench reports: DIR/results/*.txt.
#
# Options:
#   --dir DIR      work dir; default: a temp dir, removed at the end
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/../utils/lib/script_init.sh"

dir=          # work dir (logs, reports, generated data); empty: a temp dir, removed at the end
. "$EMOREC_ROOT/utils/parse_options.sh"
positional_args 0 "$@"

if [ -z "$dir" ]; then
  dir=$(mktemp -d)
  trap 'rm -rf "$dir"' EXIT
fi
mkdir -p "$dir/log" "$dir/results"
export EMOREC_BENCH_RESULTS="$dir/results"
bench=$EMOREC_ROOT/bench
start=$SECONDS
summary=()
gpu=$(python -c "import torch; print(torch.cuda.get_device_name() if torch.cuda.is_available() else '')")

run() {  # run NAME CMD...: CMD's output to DIR/log/NAME.log; its GOAL lines to the summary
  local name=$1; shift
  echo "$(date -u +%H:%M:%S) $name: $*" >&2
  local rc=0
  "$@" > "$dir/log/$name.log" 2>&1 || rc=$?
  local line
  while IFS= read -r line; do summary+=("[$name] $line"); done < <(grep '^GOAL ' "$dir/log/$name.log" || true)
  if [ "$rc" -ne 0 ]; then
    summary+=("[$name] GOAL it runs: measured exit status $rc (see $dir/log/$name.log) -> FAIL")
    tail -n 5 "$dir/log/$name.log" >&2
  fi
  return 0
}

gen_feats() {  # gen_feats DIR SPEAKERS UTTS_PER_SPEAKER LABEL_FILE SEED
  python - "$@" <<'EOF'
import sys
sys.path.insert(0, "tests")
from synthetic_data import make_synthetic_datadir
out, spk, utts, labels, seed = sys.argv[1:]
make_synthetic_datadir(out, num_speakers=int(spk), utts_per_speaker=int(utts), min_frames=200,
                       max_frames=400, dim=128, seed=int(seed), label_file=labels)
EOF
}

recipe_goal() {  # recipe_goal NAME LOG: the epoch line of a training log -> a summary line
  local line
  line=$(grep -E "epoch 1/1 loss" "$2" | tail -n 1 | sed 's/^.*\] //' || true)
  local rate
  rate=$(grep -oE "[0-9.]+ items/s" "$2" | tail -n 1 || true)
  if [ -n "$line" ]; then
    summary+=("[$1] GOAL one epoch on ${gpu:-CPU}: measured $rate, $line -> PASS")
  else
    summary+=("[$1] GOAL one epoch on ${gpu:-CPU}: measured no epoch line (see $2) -> FAIL")
  fi
}

cd "$EMOREC_ROOT"
if [ -n "$gpu" ]; then
  echo "gpu_check: $gpu; work dir $dir" >&2
  run bench_resnet python "$bench/bench_resnet.py" --sections cuda --cuda-settings eager,compiled \
    --cuda-batches 128 --repeats 3
  run bench_loader python "$bench/bench_train.py" --loader-rate
  run bench_train python "$bench/bench_train.py" --configs paper --chunk-sizes 200 --utts 2048 \
    --paper-steps 150
  small=(--set train.epochs=1 --set "data.chunk_sizes=[200]")
  spk=100; utts=20; ser_utts=40
  ssl=(--encoder-shape base --devices cuda --steps 5 --reps 1)
else
  echo "gpu_check: no CUDA; the CPU-side parts at small sizes; work dir $dir" >&2
  run bench_resnet python "$bench/bench_resnet.py" --sections cpu --batch 4 --frames 100 --repeats 1
  run bench_loader python "$bench/bench_train.py" --loader-rate
  small=(--set train.epochs=1 --set "data.chunk_sizes=[200]" --set "model.blocks=[1,1,1,1]"
         --set model.channels=4 --set model.emb_dim=16 --set data.batch_size=8 --set data.num_workers=1)
  spk=8; utts=4; ser_utts=6
  ssl=(--encoder-shape demo --devices cpu --steps 1 --reps 1)
fi

gen_feats "$dir/data/spk" "$spk" "$utts" utt2spk 1
for part in train dev test; do
  gen_feats "$dir/data/ser/fold1/$part" 4 "$ser_utts" utt2emo "$(( ${#part} + 2 ))"
done
run train_speaker steps/train_speaker.sh --ngpu 1 --train-opts "${small[*]}" \
  egs/voxceleb/conf/train_paper.yaml "$dir/data/spk" "$dir/exp/spk"
recipe_goal train_speaker "$dir/exp/spk/log/train.log"
run train_ser steps/train_ser.sh --ngpu 1 --nfolds 1 --mode finetune --speaker-model "$dir/exp/spk/final.pt" \
  --train-config egs/iemocap/conf/ser_paper.yaml --train-opts "${small[*]}" "$dir/data/ser" "$dir/exp/ser"
recipe_goal train_ser "$dir/exp/ser/log/train.1.log"

run bench_ssl python "$bench/bench_ssl.py" --config egs/iemocap/conf/ssl_paper.yaml \
  --joint-config egs/iemocap/conf/joint_paper.yaml --families ssl,joint --mode head,partial,entire \
  --pooling mean,weighted "${ssl[@]}" --out "$dir/bench_ssl.jsonl"

elapsed=$(( SECONDS - start ))
if [ -n "$gpu" ]; then
  verdict=PASS; [ "$elapsed" -lt 300 ] || verdict=FAIL
  summary+=("[gpu_check] GOAL under 5 minutes on one GPU: measured $elapsed s -> $verdict")
fi
echo
echo "== gpu_check: ${gpu:-no CUDA, CPU-side parts at small sizes (plumbing, not figures)}; ${elapsed} s; reports in $dir/results =="
for line in "${summary[@]}"; do
  echo "$line" | sed -E 's/^(\[[a-z_]+\]) GOAL (.*): measured (.*) -> (PASS|FAIL)$/\4  \1 \2: \3/'
done
if [ -z "$gpu" ]; then
  for what in "bench_resnet: CUDA section (>= 1.0x the peer's crops/s compiled at batch 128 bf16, >= 6,000 crops/s, GPU peak memory <= 1.1x the peer's)" \
              "bench_resnet: the compiled models (on CPU inductor takes minutes per shape; tests/test_models.py checks the one graph)" \
              "bench_train: the paper config's compiled steps on the GPU (loader data wait < 5% at the target rate)" \
              "bench_ssl: the HuBERT-base shape, and bf16 faster than fp32 on CUDA (CPU: the demo shape, fp32 and bf16)" \
              "gpu_check: under 5 minutes on one GPU"; do
    echo "SKIPPED (no CUDA)  $what"
  done
  echo "(without CUDA the exit status counts only whether each part runs)"
fi
counted='-> FAIL$'
[ -n "$gpu" ] || counted='(it runs|one epoch on|every family).* -> FAIL$'
! printf '%s\n' "${summary[@]}" | grep -Eq -- "$counted"
