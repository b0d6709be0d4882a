"""Word error rate of a hypothesis ``text`` against a reference ``text`` (emorec.asr).

Usage: python -m emorec.bin.compute_wer REF_TEXT HYP_TEXT
Both are normalised (lower case, punctuation and bracketed tags removed) before
scoring; prints one line:
  %WER 23.45 [ 120 / 512, 10 ins, 30 del, 80 sub ] over 40 utterances (2 with an empty reference not scored)
"""
from __future__ import annotations

import sys

from emorec.asr import word_error_rate
from emorec.fileio import DataDirError, read_kv


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 1
    try:
        refs, hyps = (read_kv(p, allow_empty_value=True) for p in argv)
        w = word_error_rate(refs, hyps)
    except (OSError, DataDirError, ValueError) as e:
        print(f"ERROR: compute_wer: {e}", file=sys.stderr)
        return 1
    errors = w["ins"] + w["del"] + w["sub"]
    print(f"%WER {100 * w['wer']:.2f} [ {errors} / {w['ref_words']}, {w['ins']} ins, {w['del']} del, "
          f"{w['sub']} sub ] over {w['utts']} utterances ({w['unscored']} with an empty reference not scored)")
    return 0


if __name__ == "__main__":
    from emorec.bin import run_main
    run_main(main)
