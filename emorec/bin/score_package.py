"""Score every utterance of a data dir with a packaged model (steps/export_model.sh), as
its users would: each recording through the package's own preprocessing, ASR and systems.

Usage: python -m emorec.bin.score_package [--use-text true|false] MODEL_DIR DATA_DIR OUT_DIR

Writes OUT_DIR/scores.ark (natural-log posteriors of the package's final system: fused
when there is one, kaldiio text ark), classes.txt beside it and, when DATA_DIR has
utt2emo, OUT_DIR/summary.txt (UA and WA in %, utterances scored). Transcripts: DATA_DIR/text
when --use-text true and present, else the package's ASR. An utterance whose audio
cannot be read is skipped with a warning naming it; more than 5% of them is an error.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m emorec.bin.score_package", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--use-text", choices=("true", "false"), default="false",
                    help="use DATA_DIR/text as the transcripts (false: the package's ASR, as deployed) [false]")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("model_dir")
    ap.add_argument("data_dir")
    ap.add_argument("out_dir")
    a = ap.parse_args(argv)

    import numpy as np

    from emorec import metrics
    from emorec.fileio import atomic_write_text, read_kv, write_scores
    from emorec.inference import InferError
    from emorec.package import load_package
    from emorec.runtime import quiet_transformers

    quiet_transformers()
    data, out = Path(a.data_dir), Path(a.out_dir)
    try:
        model = load_package(a.model_dir, device=a.device)
        wavs = read_kv(data / "wav.scp")
        texts = read_kv(data / "text") if a.use_text == "true" and (data / "text").is_file() else {}
    except (InferError, OSError, ValueError) as e:
        print(f"score_package: ERROR: {e}", file=sys.stderr)
        return 1
    utts, rows, bad = [], [], 0
    for u, wav in wavs.items():
        try:
            res = model.score(wav, texts.get(u))
        except InferError as e:
            bad += 1
            print(f"score_package: WARNING: {data / 'wav.scp'}: {u}: skipped: {e}", file=sys.stderr)
            continue
        lp = next(getattr(res, s) for s in ("fused", "text", "speech") if getattr(res, s) is not None)
        utts.append(u)
        rows.append(lp)
    if bad > 0.05 * len(wavs):
        print(f"score_package: ERROR: {bad} of {len(wavs)} utterances failed (more than 5%)", file=sys.stderr)
        return 1
    out.mkdir(parents=True, exist_ok=True)
    write_scores(out / "scores.ark", utts, np.array(rows), model.classes)
    if (data / "utt2emo").is_file():
        emo = read_kv(data / "utt2emo")
        known = [i for i, u in enumerate(utts) if emo.get(u, "").strip() in model.classes]
        y = np.array([model.classes.index(emo[utts[i]].strip()) for i in known])
        pred = np.array([int(np.argmax(rows[i])) for i in known])
        ua = 100 * metrics.unweighted_accuracy(y, pred, len(model.classes))
        wa = 100 * metrics.weighted_accuracy(y, pred)
        atomic_write_text(out / "summary.txt", f"UA {ua:.2f}\nWA {wa:.2f}\nutterances {len(known)}\n")
        print(f"score_package: {len(known)} utterances of {data}: UA {ua:.2f} WA {wa:.2f}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
