"""Prepare a Kaldi data dir from a CREMA-D, RAVDESS, SAVEE or TESS tree (see
emorec.data.emo_corpora for the layouts, ids and the bad-input policy)."""
from __future__ import annotations

import argparse
import os
import sys

from emorec.data import emo_corpora
from emorec.data.datadir import utt2spk_to_spk2utt, write_corpus_roots
from emorec.fileio import write_kv


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--corpus", required=True, choices=emo_corpora.CORPORA)
    ap.add_argument("--include-song", action="store_true",
                    help="RAVDESS: keep the song files (vocal channel 02)")
    ap.add_argument("--max-drop-frac", type=float, default=0.05,
                    help="fail if more than this fraction of the wavs is dropped (0.05)")
    ap.add_argument("corpus_root")
    ap.add_argument("data_dir")
    a = ap.parse_args(argv)
    me = f"prepare_emo_corpus[{a.corpus}]"
    try:
        res = emo_corpora.prepare(a.corpus, a.corpus_root, a.include_song, a.max_drop_frac)
    except (OSError, RuntimeError, ValueError) as e:
        print(f"{me}: ERROR: {e}", file=sys.stderr)
        return 1
    for d in res.dropped:
        print(f"{me}: WARNING: {d}", file=sys.stderr)
    os.makedirs(a.data_dir, exist_ok=True)
    for name in ("text", "spk2gender"):  # a rerun must not keep a stale list
        if name not in res.lists and os.path.exists(os.path.join(a.data_dir, name)):
            os.remove(os.path.join(a.data_dir, name))
    for name, d in res.lists.items():
        write_kv(os.path.join(a.data_dir, name), d)
    write_kv(os.path.join(a.data_dir, "spk2utt"), utt2spk_to_spk2utt(res.lists["utt2spk"]))
    write_corpus_roots(a.data_dir, a.corpus, a.corpus_root)
    print(emo_corpora.report(a.corpus, res))
    print(f"{me}: wrote {a.data_dir}")
    return 0


if __name__ == "__main__":
    from emorec.bin import run_main
    run_main(main)
