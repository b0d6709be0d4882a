# Sourced by the data-dir tools (validate_data_dir.sh, fix_data_dir.sh, split_data.sh).
# classify_data_files DIR: sorts the lists in a Kaldi data dir by what their keys are,
# into the arrays utt_files (utterance-keyed), spk_files (speaker-keyed), reco_files
# (recording-keyed, when there is a segments file) and copy_files (copied as they are).
# utt2spk and spk2utt are left out: each tool treats them itself. Also sets has_segments.
classify_data_files() {
  local dir=$1 path f
  has_segments=false
  [ -f "$dir/segments" ] && has_segments=true
  utt_files=() spk_files=() reco_files=() copy_files=()
  for path in "$dir"/*; do
    [ -f "$path" ] || continue
    f=$(basename "$path")
    case $f in
      utt2spk|spk2utt) ;;
      *" "*) ;;
      spk2*|spk*.scp|cmvn.scp) spk_files+=("$f") ;;
      wav.scp|reco2*) if $has_segments; then reco_files+=("$f");
                      elif [ "$f" = wav.scp ]; then utt_files+=("$f"); fi ;;
      text|segments|utt2*|*.scp) utt_files+=("$f") ;;
      frame_shift) copy_files+=("$f") ;;
    esac
  done
}
