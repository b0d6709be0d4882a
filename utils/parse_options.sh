# utils/parse_options.sh -- Kaldi-style option parsing, *sourced* by scripts.
#
# Usage (inside a script, after utils/lib/script_init.sh and the defaults):
#   foo_bar=default        # what it is (shown by --help)
#   use_gpu=false
#   . "$EMOREC_ROOT/utils/parse_options.sh"
#   positional_args 2 "$@"
#
# Semantics:
#   --foo-bar VALUE, --foo-bar=VALUE   set the option variable foo_bar (an option with
#                                      no such variable is an error). With script_init.sh,
#                                      the options are the variables the script set
#                                      after it (not exported, not starting with "_");
#                                      without it, any existing variable
#   the default's type is kept: a true/false option only accepts true/false, an
#   integer one an integer, a decimal one a number
#   --config FILE                      applied first, whatever its position: one
#                                      "--opt=value" (or "--opt value") per line,
#                                      "#" starts a comment; may be repeated
#   --help, -h                         prints $help_message or the script's header, then
#                                      every option with its default and help (the
#                                      comment of its line and the indented comment
#                                      lines under it), and exits 0
#   --                                 ends the options
#   with options stage and stop_stage (a recipe), stage > stop_stage is an error;
#   parsing stops at the first argument that does not start with "--";
#   values may contain spaces. The remaining arguments are left in "$@".

_po_script=$(basename -- "$0")

_po_die() {
  echo "$_po_script: $*" >&2
  exit 1
}

_po_header() {
  if [ -n "${help_message:-}" ]; then
    printf '%s\n' "$help_message"
  elif [ -f "${EMOREC_SCRIPT:-$0}" ]; then
    # The usage header: the first block of comment lines (after the #! line).
    awk 'NR == 1 && /^#!/ { next }
         /^#/ { sub(/^# ?/, ""); print; seen = 1; next }
         seen || NF { exit }' "${EMOREC_SCRIPT:-$0}"
  else
    echo "Usage: $_po_script [options] <args>"
  fi
}

# _po_is_option NAME: NAME is one of this script's options.
_po_is_option() {
  [[ $1 =~ ^[A-Za-z][A-Za-z0-9_]*$ ]] && [ -n "${!1+x}" ] || return 1
  [ -n "${EMOREC_NON_OPTIONS:-}" ] || return 0
  [[ $EMOREC_NON_OPTIONS != *" $1 "* ]] || return 1
  local _decl
  _decl=$(declare -p "$1" 2>/dev/null) || return 1
  _decl=${_decl#declare -}
  [[ ${_decl%% *} != *[xaA]* ]]
}

# _po_usage: the header, then every option, its default and the comment of its line.
_po_usage() {
  _po_header
  [ -n "${EMOREC_NON_OPTIONS:-}" ] && [ -f "${EMOREC_SCRIPT:-}" ] || return 0
  local _n _line _seen=" " _names=()
  while IFS= read -r _line; do
    _n=${_line%%=*}
    _po_is_option "$_n" && [[ $_seen != *" $_n "* ]] && { _names+=("$_n"); _seen+="$_n "; }
  done < <(grep -E '^[A-Za-z][A-Za-z0-9_]*=' "$EMOREC_SCRIPT")
  for _n in $(compgen -v); do
    _po_is_option "$_n" && [[ $_seen != *" $_n "* ]] && { _names+=("$_n"); _seen+="$_n "; }
  done
  [ ${#_names[@]} -gt 0 ] || return 0
  echo
  echo "Options (default in brackets):"
  for _n in "${_names[@]}"; do
    # the comment of the option's line, and of the indented comment lines under it
    _line=$(awk -v n="$_n=" '
      found && /^[[:space:]]+#/ { sub(/^[[:space:]]+# ?/, ""); printf " %s", $0; next }
      found { exit }
      index($0, n) == 1 { found = 1; if (match($0, /[[:space:]]#/)) printf "%s", substr($0, RSTART + 2) }
    ' "$EMOREC_SCRIPT")
    _line=${_line#"${_line%%[![:space:]]*}"}
    printf '  %-26s %s[%s]\n' "--${_n//_/-}" "${_line:+$_line }" "${!_n}"
  done
}

# _po_set NAME VALUE ORIGIN: set an option, keeping the type of its default.
_po_set() {
  local _name=$1 _value=$2 _origin=$3
  _po_is_option "$_name" || _po_die "invalid option ${_origin} (no option '${_name}' in this script; see --help)"
  local _old=${!_name}
  if [ "$_old" = true ] || [ "$_old" = false ]; then
    [ "$_value" = true ] || [ "$_value" = false ] ||
      _po_die "option ${_origin}: expected 'true' or 'false', got '${_value}'"
  elif [[ $_old =~ ^-?[0-9]+$ ]]; then
    [[ $_value =~ ^-?[0-9]+$ ]] || _po_die "option ${_origin}: expected an integer, got '${_value}'"
  elif [[ $_old =~ ^-?[0-9]*\.[0-9]+([eE][-+]?[0-9]+)?$ ]]; then
    [[ $_value =~ ^-?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?$ ]] ||
      _po_die "option ${_origin}: expected a number, got '${_value}'"
  fi
  printf -v "$_name" '%s' "$_value"
}

# _po_apply_config FILE
_po_apply_config() {
  local _file=$1 _line _lineno=0 _opt _val _name
  [ -r "$_file" ] || _po_die "cannot read config file '$_file'"
  while IFS= read -r _line || [ -n "$_line" ]; do
    _lineno=$((_lineno + 1))
    _line=${_line%%#*}                                   # strip comments
    _line="${_line#"${_line%%[![:space:]]*}"}"           # trim leading space
    _line="${_line%"${_line##*[![:space:]]}"}"           # trim trailing space
    [ -z "$_line" ] && continue
    case $_line in
      --*=*) _opt=${_line%%=*}; _val=${_line#*=} ;;
      --*" "*) _opt=${_line%% *}; _val=${_line#* }; _val="${_val#"${_val%%[![:space:]]*}"}" ;;
      *) _po_die "$_file:$_lineno: expected '--option=value', got '$_line'" ;;
    esac
    _name=${_opt#--}
    _name=${_name//-/_}
    [ "$_name" = config ] && _po_die "$_file:$_lineno: --config inside a config file is not supported"
    _po_set "$_name" "$_val" "$_opt (from $_file:$_lineno)"
  done < "$_file"
}

# Pass 1: find --config options among the leading options and apply them first.
_po_args=("$@")
_po_i=0
while [ "$_po_i" -lt "${#_po_args[@]}" ]; do
  _po_a=${_po_args[$_po_i]}
  case $_po_a in
    --) break ;;
    --config) [ $((_po_i + 1)) -lt "${#_po_args[@]}" ] || _po_die "option --config needs a value"
              _po_c=${_po_args[$((_po_i + 1))]}
              [ -n "${config+x}" ] && config=$_po_c
              _po_apply_config "$_po_c"; _po_i=$((_po_i + 2)) ;;
    --config=*) _po_c=${_po_a#--config=}
              [ -n "${config+x}" ] && config=$_po_c
              _po_apply_config "$_po_c"; _po_i=$((_po_i + 1)) ;;
    --help|-h) _po_i=$((_po_i + 1)) ;;
    --*=*) _po_i=$((_po_i + 1)) ;;
    --*) _po_i=$((_po_i + 2)) ;;
    *) break ;;
  esac
done

# Pass 2: the options themselves.
while [ $# -gt 0 ]; do
  case $1 in
    --help|-h) _po_usage; exit 0 ;;
    --) shift; break ;;
    --config) shift 2 || _po_die "option --config needs a value" ;;
    --config=*) shift ;;
    --*=*) _po_o=${1%%=*}; _po_n=${_po_o#--}
           _po_set "${_po_n//-/_}" "${1#*=}" "$_po_o"; shift ;;
    --*) [ $# -ge 2 ] || _po_die "option $1 needs a value"
         _po_n=${1#--}
         _po_set "${_po_n//-/_}" "$2" "$1"; shift 2 ;;
    *) break ;;
  esac
done

# A recipe's stage range: --stage after --stop-stage would run nothing and exit 0.
if [[ ${stage-} =~ ^-?[0-9]+$ && ${stop_stage-} =~ ^-?[0-9]+$ ]] && [ "$stage" -gt "$stop_stage" ]; then
  _po_die "--stage $stage is after --stop-stage $stop_stage: no stage would run"
fi

unset _po_args _po_i _po_a _po_c _po_o _po_n _po_script
unset -f _po_die _po_header _po_is_option _po_usage _po_set _po_apply_config
true
