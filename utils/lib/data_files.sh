# Sourced by the data-dir tools (validate_data_dir.sh, fix_data_dir.sh, split_data.sh,
# subset_data_dir.sh, combine_data.sh).
# classify_data_files DIR: sorts the lists in a Kaldi data dir by what their keys are,
# as emorec/data/data_files.txt defines (the one definition, which emorec.data.datadir
# reads too), into the arrays utt_files (utterance-keyed; wav.scp and reco2* too when
# there is no segments file), spk_files (speaker-keyed), reco_files (recording-keyed,
# with a segments file), trials_files and copy_files. utt2spk and spk2utt are left out:
# each tool treats them itself. Also sets has_segments.
classify_data_files() {
  local dir=$1 path f pattern kind
  local schema
  schema=$(cd -P "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/emorec/data/data_files.txt
  has_segments=false
  [ -f "$dir/segments" ] && has_segments=true
  utt_files=() spk_files=() reco_files=() trials_files=() copy_files=()
  for path in "$dir"/*; do
    [ -f "$path" ] || continue
    f=$(basename "$path")
    [[ $f != *" "* ]] || continue
    kind=
    while read -r pattern kind; do
      case $pattern in ''|'#'*) continue ;; esac
      # shellcheck disable=SC2053  # the pattern is a glob
      [[ $f == $pattern ]] && break
      kind=
    done < "$schema"
    case $kind in
      utt) utt_files+=("$f") ;;
      spk) spk_files+=("$f") ;;
      reco) if $has_segments; then reco_files+=("$f"); else utt_files+=("$f"); fi ;;
      trials) trials_files+=("$f") ;;
      copy) copy_files+=("$f") ;;
    esac
  done
}
