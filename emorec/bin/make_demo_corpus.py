"""Synthesise a demo corpus set in the real layouts, speech from espeak-ng:
--set iemocap: OUT_DIR/IEMOCAP_full_release and OUT_DIR/VoxCeleb1 (emorec.data.demo_corpus);
--set emo7: OUT_DIR/{CREMA-D,RAVDESS,SAVEE,TESS,IEMOCAP_full_release} (emorec.data.demo_emo7)."""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys

from emorec.data import demo_corpus, demo_emo7


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--set", default="iemocap", choices=("iemocap", "emo7"))
    ap.add_argument("--size", default="small", choices=sorted(demo_corpus.SIZES))
    ap.add_argument("--workers", type=int, default=2, help="parallel espeak-ng jobs")
    ap.add_argument("out_dir")
    a = ap.parse_args(argv)
    if shutil.which("espeak-ng") is None:
        print("make_demo_corpus: ERROR: espeak-ng not found (tools/install.sh installs it)",
              file=sys.stderr)
        return 1
    try:
        (demo_emo7 if a.set == "emo7" else demo_corpus).make(a.out_dir, a.seed, a.size,
                                                              a.workers)
    except (OSError, ValueError, subprocess.CalledProcessError) as e:
        print(f"make_demo_corpus: ERROR: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    from emorec.bin import run_main
    run_main(main)
