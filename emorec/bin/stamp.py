"""The restart rule of emorec.stamp for shell steps (through utils/lib/stamp.sh).

  stamp done  FINGERPRINT    exit 0 when FINAL is up to date, 1 when the step must run
                             (both logged on stderr, with what changed)
  stamp begin FINGERPRINT [--output PATH]... [--stale PATH]...
                             before the work: remove the outputs (--stale too when the
                             last run had another fingerprint), record the fingerprint
FINGERPRINT: --final FINAL --step NAME --version N [--input PATH]... [--option KEY=VALUE]...
A missing input exits 2, naming it."""
from __future__ import annotations

import argparse
import sys


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="stamp", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("action", choices=("done", "begin"))
    ap.add_argument("--final", required=True, help="the output written last (stamp: FINAL.stamp)")
    ap.add_argument("--step", required=True)
    ap.add_argument("--version", type=int, required=True)
    ap.add_argument("--input", action="append", default=[])
    ap.add_argument("--option", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--output", action="append", default=[], help="(begin) removed first")
    ap.add_argument("--stale", action="append", default=[],
                    help="(begin) removed too when the last run had another fingerprint")
    a = ap.parse_args(argv)
    options = {}
    for kv in a.option:
        k, sep, v = kv.partition("=")
        if not sep or not k:
            ap.error(f"--option {kv!r}: expected KEY=VALUE")
        options[k] = v

    from emorec.stamp import Stamp

    try:
        st = Stamp(a.final, step=a.step, version=a.version, inputs=a.input, options=options,
                   outputs=[a.final] + a.output)
    except OSError as e:
        print(f"ERROR: {a.step}: {e}", file=sys.stderr)
        return 2
    if a.action == "done":
        return 0 if st.done() else 1
    st.begin(a.stale)
    return 0


if __name__ == "__main__":
    sys.exit(main())
