"""Check that every entry of a wav.scp is readable audio.

Usage: python -m emorec.bin.check_audio [--full] [--sample-rate HZ] WAV_SCP

Plain paths are checked with soundfile.info (exists, non-empty, decodable header,
at least one sample); pipes (``cmd |``) are run and fully decoded.  --full decodes
plain files completely too (finds truncated data).  --sample-rate only reports
files at another rate as a note (they are resampled at extraction time), unless
--allow-resample false makes them errors.

Prints ``WAV_SCP:LINE: UTT: REASON`` on stdout for each bad entry, a summary on
stderr, and exits 1 if any entry is bad, else 0.
"""

from __future__ import annotations

import argparse
import os
import sys

from emorec.audio import audio_problem, parse_wav_scp


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m emorec.bin.check_audio", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--full", action="store_true", help="decode plain files completely")
    p.add_argument("--sample-rate", type=int, default=0,
                   help="expected rate; with --allow-resample false others are errors")
    p.add_argument("--allow-resample", choices=("true", "false"), default="true")
    p.add_argument("wav_scp")
    args = p.parse_args(argv)
    if not os.path.isfile(args.wav_scp):
        print(f"{args.wav_scp}: no such file", file=sys.stderr)
        return 1
    n = bad = other_rate = 0
    seen = set()
    for lineno, utt, rx, err in parse_wav_scp(args.wav_scp):
        n += 1
        reason = None
        if err:
            reason = f"malformed line: {err}"
        elif utt in seen:
            reason = "duplicate utterance id"
        else:
            seen.add(utt)
            reason, sr = audio_problem(rx, args.full)
            if reason is None and args.sample_rate and sr != args.sample_rate:
                if args.allow_resample == "false":
                    reason = (f"{rx!r}: sample rate {sr} Hz, expected {args.sample_rate} Hz "
                              f"(resampling disabled)")
                else:
                    other_rate += 1
        if reason:
            bad += 1
            print(f"{args.wav_scp}:{lineno}: {utt or '-'}: {reason}", flush=True)
    note = f"; {other_rate} at another sample rate (will be resampled)" if other_rate else ""
    print(f"check_audio: {args.wav_scp}: {n - bad} of {n} entries readable, {bad} bad{note}",
          file=sys.stderr)
    return 1 if bad or n == 0 else 0


if __name__ == "__main__":
    from emorec.bin import run_main
    run_main(main)
