# utils/lib/stamp.sh -- the restart rule of every shell step (emorec.stamp, through
# emorec.bin.stamp), *sourced*. A step describes what makes its output once,
#   fp=(--final OUT --step NAME --version N --input FILE... --option KEY=VALUE...)
# (inputs: the files read, configs included; options: every value that changes OUT;
# version: bumped when OUT changes meaning), then
#   if stamp_done "${fp[@]}"; then exit 0; fi        # logs "up to date" or what changed
#   stamp_begin "${fp[@]}" [--output PATH]... [--stale PATH]...
#   ... the work, OUT written last (atomically) ...
# stamp_done fails the script (exit 2) on a missing input, naming it.

stamp_done() {
  local rc=0
  python -m emorec.bin.stamp done "$@" || rc=$?
  [ $rc -le 1 ] || exit $rc
  return $rc
}

stamp_begin() {
  python -m emorec.bin.stamp begin "$@"
}
