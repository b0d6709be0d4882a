"""Prepare a Kaldi data dir (and trials) from a VoxCeleb1/2 tree (see emorec.data.voxceleb)."""
from __future__ import annotations

import argparse
import os
import sys
from collections import Counter

from emorec.data import voxceleb


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--trials", default="",
                    help="VoxCeleb trial list (default: VOX_ROOT/veri_test2.txt if present)")
    ap.add_argument("--split-dirs", nargs=2, metavar=("TRAIN_DIR", "TEST_DIR"),
                    help="also write TRAIN_DIR (speakers not in the trials) and "
                         "TEST_DIR (speakers in the trials, with the trials)")
    ap.add_argument("--layout", action="append", dest="layouts", metavar="SUBDIR",
                    help="read only this sub-folder of VOX_ROOT (e.g. dev/aac; repeatable); default: "
                         + ", ".join(s for s, _ in voxceleb.LAYOUTS))
    ap.add_argument("vox_root")
    ap.add_argument("data_dir")
    a = ap.parse_args(argv)
    try:
        lists = voxceleb.scan(a.vox_root, a.layouts)
        if not lists["utt2spk"]:
            raise ValueError(f"no utterances under {a.vox_root}")
        trials_file = a.trials or os.path.join(a.vox_root, "veri_test2.txt")
        trials = None
        if a.trials or os.path.exists(trials_file):
            trials = voxceleb.convert_trials(trials_file, set(lists["utt2spk"]))
        elif a.split_dirs:
            raise ValueError(f"--split-dirs needs a trial list; {trials_file} does not exist")
        voxceleb.write_data_dir(a.data_dir, lists, trials)
        n_spk = len(set(lists["utt2spk"].values()))
        print(f"prepare_voxceleb: {len(lists['utt2spk'])} utterances, {n_spk} speakers -> {a.data_dir}")
        if trials is not None:
            c = Counter(t.split()[2] for t in trials)
            print(f"prepare_voxceleb: {len(trials)} trials from {trials_file} "
                  f"({c['target']} target, {c['nontarget']} nontarget)")
        if a.split_dirs:
            ntr, nte = voxceleb.split_by_trial_speakers(a.data_dir, *a.split_dirs)
            print(f"prepare_voxceleb: train {ntr} utterances -> {a.split_dirs[0]}; "
                  f"test {nte} utterances -> {a.split_dirs[1]}")
    except (OSError, ValueError) as e:
        print(f"prepare_voxceleb: ERROR: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    from emorec.bin import run_main
    run_main(main)
