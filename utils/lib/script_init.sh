# utils/lib/script_init.sh -- the one preamble of every emorec shell script, *sourced*
# right after `set -euo pipefail` and before the option defaults:
#   . "$(dirname "${BASH_SOURCE[0]}")/../utils/lib/script_init.sh"   # steps/, local/
#   . "$(dirname "${BASH_SOURCE[0]}")/lib/script_init.sh"             # utils/
#   . "$(dirname "${BASH_SOURCE[0]}")/utils/lib/script_init.sh"       # egs/*/run.sh
# then the defaults (`name=value   # what it is`), then `. "$EMOREC_ROOT/utils/parse_options.sh"`,
# then `positional_args N "$@"`.
#
# It sets EMOREC_ROOT (the checkout), EMOREC_SCRIPT (this script, absolute, so the
# header stays readable after a `cd`), EMOREC_COMMAND (the command line, shell-quoted), sources the checkout's path.sh unless that is
# already in effect, logs the command line to stderr (as Kaldi scripts do) and
# remembers the variables that exist now: the ones the script sets between here and
# parse_options.sh (not exported) are its options, which --help lists with their defaults.
#
# Helpers:
#   usage                     print the script's header (its leading comment block)
#   usage_error MESSAGE       the header, then "SCRIPT: ERROR: MESSAGE" on stderr, exit 1
#   positional_args N "$@"    N positional arguments (N-M: N to M; N-: at least N),
#                             none looking like an option (options come first, as in
#                             Kaldi); else usage_error
#   check_enum NAME VALUE...  the option NAME's value is one of VALUE...
#   check_list NAME VALUE...  every word of the option NAME's value is one of VALUE...
#   stage_banner N            "=== <UTC time> <script> stage N: <the header's stage N line>"
#   job_errors LOG...         the first ERROR line ("prog: ERROR:", "prog (family): ERROR:") or Python exception of each log, on
#                             stderr: why the jobs of a failed $cmd array failed

EMOREC_ROOT=$(cd -P "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)
EMOREC_SCRIPT=$(cd "$(dirname "$0")" && pwd)/$(basename "$0")
if [ "${EMOREC_PATH_SH:-}" != "$EMOREC_ROOT" ]; then
  # shellcheck disable=SC1091
  . "$EMOREC_ROOT/path.sh"
fi
export EMOREC_ROOT
EMOREC_COMMAND=$(printf '%q ' "$0" "$@")   # the command line, quoted so it can be pasted back
EMOREC_COMMAND=${EMOREC_COMMAND% }
echo "$EMOREC_COMMAND" >&2

usage() {
  awk 'NR == 1 && /^#!/ { next }
       /^#/ { sub(/^# ?/, ""); print; seen = 1; next }
       seen || NF { exit }' "$EMOREC_SCRIPT"
}

usage_error() {   # the header first, so that the error is the last thing on the screen
  { usage; echo; echo "$(basename "$0"): ERROR: $*"; } >&2
  exit 1
}

positional_args() {
  local want=$1 a; shift
  if [ "$want" = 0 ] && [ $# -gt 0 ]; then
    usage_error "unexpected argument '$1': this script takes options only, and parsing stopped" \
                "there (a list value is one quoted word, e.g. --ser-modes \"probe finetune\")"
  fi
  for a in "$@"; do
    case $a in
      --?*) usage_error "option '$a' after the positional arguments (options come first)" ;;
    esac
  done
  case $want in
    *-) [ $# -ge "${want%-}" ] || usage_error "expected at least ${want%-} arguments, got $#" ;;
    *-*) [ $# -ge "${want%-*}" ] && [ $# -le "${want#*-}" ] ||
           usage_error "expected $want arguments, got $#" ;;
    *) [ $# -eq "$want" ] || usage_error "expected $want argument(s), got $#" ;;
  esac
}

_option_name() { local n=${1//_/-}; echo "--$n"; }

check_enum() {
  local name=$1 v; shift
  for v in "$@"; do [ "${!name}" = "$v" ] && return 0; done
  usage_error "$(_option_name "$name") '${!name}': expected one of: $*"
}

check_list() {
  local name=$1 w v ok; shift
  for w in ${!name}; do
    ok=false
    for v in "$@"; do [ "$w" = "$v" ] && ok=true; done
    $ok || usage_error "$(_option_name "$name") '${!name}': '$w' is not one of: $*"
  done
}

stage_banner() {
  local what
  what=$(usage | sed -n "s/^[[:space:]]*stage $1:[[:space:]]*//p" | head -n 1)
  echo "=== $(date -u +%Y-%m-%dT%H:%M:%SZ) $(basename "$0") stage $1${what:+: $what}"
}

job_errors() {
  grep -h -m 1 -E "^ERROR|^[A-Za-z_.]+( \([A-Za-z0-9_]+\))?: ERROR: |^[A-Za-z.]*Error: " "$@" 2>/dev/null | sort -u >&2 || true
}

# The variables that are not options (see utils/parse_options.sh).
EMOREC_NON_OPTIONS=" $(compgen -v | tr '\n' ' ')EMOREC_NON_OPTIONS "
