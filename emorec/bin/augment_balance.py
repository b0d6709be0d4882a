"""Class-balancing waveform augmentation of a training data dir (emorec.wave_augment).

Usage: python -m emorec.bin.augment_balance [--seed 0] [--target N] TRAIN_DIR DST_DIR WAV_DIR

DST_DIR = TRAIN_DIR's utterances plus augmented copies until every class has --target
utterances (0: as many as the largest class).  A copy ``<orig>-aug<k>`` (same speaker,
label, corpus and text as its original) is written as WAV_DIR/<copy>.wav (16 kHz PCM);
``utt2orig`` maps every utterance to its original (an original to itself) and
``utt2aug`` names the op and parameter.  Only utterances of TRAIN_DIR are ever copied,
so no copy of a validation or test utterance can exist.  The plan comes from one seeded
generator: same seed and TRAIN_DIR -> same copies, byte for byte.  A copy whose wav
exists is reused (a rerun after a kill continues).
"""
from __future__ import annotations

import argparse
import os
import sys

import soundfile

from emorec import wave_augment
from emorec.audio import AudioError, load_audio
from emorec.data.datadir import subset_data_dir, write_spk2utt
from emorec.fileio import DataDirError, atomic_write, read_kv, write_kv


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m emorec.bin.augment_balance",
                                 description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__.split("\n\n", 1)[1])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--target", type=int, default=0)
    ap.add_argument("--ops", default=" ".join(wave_augment.OPS),
                    help=f"space-separated subset of: {' '.join(wave_augment.OPS)}")
    ap.add_argument("train_dir")
    ap.add_argument("dst_dir")
    ap.add_argument("wav_dir")
    a = ap.parse_args(argv)
    me = "augment_balance"
    ops = tuple(a.ops.split())
    bad = [o for o in ops if o not in wave_augment.OPS]
    if bad or not ops:
        print(f"{me}: ERROR: unknown --ops {' '.join(bad) or '(none)'}", file=sys.stderr)
        return 1
    try:
        wav = read_kv(os.path.join(a.train_dir, "wav.scp"))
        utt2emo = read_kv(os.path.join(a.train_dir, "utt2emo"))
        plan = wave_augment.balance_plan(utt2emo, a.seed, a.target, ops)
        subset_data_dir(a.train_dir, a.dst_dir, wav)
        lists = {name: read_kv(os.path.join(a.dst_dir, name), allow_empty_value=(name == "text"))
                 for name in os.listdir(a.dst_dir)
                 if (name.startswith("utt2") or name in ("text", "wav.scp"))
                 and name not in ("utt2orig", "utt2aug", "utt2dur")}
    except (OSError, DataDirError) as e:
        print(f"{me}: ERROR: {e}", file=sys.stderr)
        return 1
    os.makedirs(a.wav_dir, exist_ok=True)
    wav_dir = os.path.abspath(a.wav_dir)
    utt2orig = dict(read_kv(os.path.join(a.train_dir, "utt2orig"))
                    if os.path.exists(os.path.join(a.train_dir, "utt2orig"))
                    else {u: u for u in wav})
    utt2aug = {}
    for c in plan:
        out = os.path.join(wav_dir, f"{c.utt}.wav")
        if not os.path.isfile(out):
            try:
                x = load_audio(wav[c.orig])
            except AudioError as e:
                print(f"{me}: ERROR: {a.train_dir}/wav.scp: {c.orig}: {e}", file=sys.stderr)
                return 1
            with atomic_write(out, "wb") as f:
                soundfile.write(f, wave_augment.apply(x, c), wave_augment.SR,
                                subtype="PCM_16", format="WAV")
        for name, d in lists.items():
            d[c.utt] = out if name == "wav.scp" else d[c.orig]
        utt2orig[c.utt] = utt2orig[c.orig]
        utt2aug[c.utt] = f"{c.op}={c.param:g}"
    for name, d in lists.items():
        write_kv(os.path.join(a.dst_dir, name), d)
    write_kv(os.path.join(a.dst_dir, "utt2orig"), utt2orig)
    write_kv(os.path.join(a.dst_dir, "utt2aug"),
             {u: utt2aug.get(u, "none") for u in utt2orig})
    for stale in ("utt2dur", "feats.scp", "utt2num_frames", "vad.scp"):
        p = os.path.join(a.dst_dir, stale)
        if os.path.exists(p):
            os.remove(p)
    write_spk2utt(a.dst_dir)
    counts = {}
    for u, e in lists["utt2emo"].items():
        counts[e] = counts.get(e, 0) + 1
    print(f"{me}: {len(wav)} training utterances + {len(plan)} augmented copies -> "
          + " ".join(f"{k}={counts[k]}" for k in sorted(counts)))
    return 0


if __name__ == "__main__":
    from emorec.bin import run_main
    run_main(main)
