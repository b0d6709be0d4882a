"""Split the 7-class data dir into the three protocols of egs/emo7 (emorec.data.emo7):

  OUT/strat/{train,valid,test}            stratified by class and corpus (paper 004)
  OUT/spk/{train,valid,test}              speaker-independent (sentences shared)
  OUT/spksent/{train,valid,test}          speaker-, sentence- and dialog-disjoint (a subset)
  OUT/loco/<corpus>/{train,valid,test}    leave one corpus out (test = <corpus>)

Each part is a data dir (the lists of ALL_DIR subset).  Checks before writing that no
speaker (spk, spksent, loco), sentence or dialog (spksent) or corpus (loco) is in two
parts.
"""
from __future__ import annotations

import argparse
import os
import sys

from emorec.data import emo7
from emorec.data.datadir import subset_data_dir
from emorec.fileio import DataDirError, read_kv


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--test-frac", type=float, default=0.2)
    ap.add_argument("--valid-frac", type=float, default=0.2,
                    help="share of the non-test part that is validation (0.2)")
    ap.add_argument("all_dir")
    ap.add_argument("out_dir")
    a = ap.parse_args(argv)
    try:
        utt2emo = read_kv(os.path.join(a.all_dir, "utt2emo"))
        utt2corpus = read_kv(os.path.join(a.all_dir, "utt2corpus"))
        utt2spk = read_kv(os.path.join(a.all_dir, "utt2spk"))
        protocols = {
            "strat": emo7.stratified(utt2emo, utt2corpus, a.seed, a.test_frac, a.valid_frac),
            "spk": emo7.speaker_independent(utt2emo, utt2corpus, utt2spk, a.seed,
                                            a.test_frac, a.valid_frac)}
        emo7.check_disjoint(protocols["spk"], utt2spk)
        protocols["spksent"] = emo7.speaker_sentence_disjoint(utt2emo, utt2corpus, utt2spk, a.seed,
                                                              a.test_frac, a.valid_frac)
        for key in (utt2spk, {u: emo7.sentence_of(u, c) for u, c in utt2corpus.items()},
                    {u: emo7.dialog_of(u, c) or u for u, c in utt2corpus.items()}):
            emo7.check_disjoint(protocols["spksent"], key)
        for corpus, fold in emo7.leave_one_corpus_out(utt2emo, utt2corpus, utt2spk, a.seed,
                                                      a.valid_frac).items():
            emo7.check_disjoint(fold, utt2spk)
            emo7.check_disjoint({"test": fold["test"],
                                 "rest": fold["train"] + fold["valid"]}, utt2corpus)
            protocols[f"loco/{corpus}"] = fold
        for name, parts in protocols.items():
            for part, utts in parts.items():
                if not utts:
                    raise DataDirError(f"{name}/{part} would be empty; too few speakers or "
                                       f"utterances in {a.all_dir}")
                subset_data_dir(a.all_dir, os.path.join(a.out_dir, name, part), utts)
    except (OSError, DataDirError, ValueError) as e:
        print(f"make_emo7_splits: ERROR: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    from emorec.bin import run_main
    run_main(main)
