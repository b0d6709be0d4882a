# Sourced by the per-utterance job steps (steps/make_fbank.sh, steps/make_handcrafted.sh).
# split_for_jobs DATA NJ ME: splits DATA into at most NJ parts with utils/split_data.sh, by
# speaker when there are at least NJ speakers, else by utterance; sets nj (lowered to the
# number of utterances), nutt and sdata (the split root: DATA/splitN or DATA/splitNutt).
split_for_jobs() {
  local data=$1 me=$3 nspk opts=()
  nj=$2
  nutt=$(wc -l < "$data/utt2spk")
  [ "$nutt" -gt 0 ] || { echo "$me: $data/utt2spk is empty" >&2; exit 1; }
  if [ "$nutt" -lt "$nj" ]; then
    echo "$me: only $nutt utterances; using --nj $nutt"
    nj=$nutt
  fi
  nspk=$(awk '{print $2}' "$data/utt2spk" | sort -u | wc -l)
  if [ "$nspk" -lt "$nj" ]; then
    opts=(--per-utt); sdata=$data/split${nj}utt
  else
    sdata=$data/split${nj}
  fi
  "$EMOREC_ROOT/utils/split_data.sh" ${opts[@]+"${opts[@]}"} "$data" "$nj"
}
