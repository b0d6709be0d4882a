"""Emotion posteriors of one or more audio files with trained models (emorec.inference).

  emorec-infer --model DIR [--transcript TEXT ...] WAV [WAV ...]
  emorec-infer --speech-model CKPT --fbank-config FILE [--use-vad [--vad-config FILE]]
               [--text-model DIR --transcript TEXT [--fusion w1|znorm|none --fusion-dir DIR]] WAV [WAV ...]
  (also: python -m emorec.bin.infer ...)

With --model DIR (an exported model, steps/export_model.sh; emorec/package.py): its
speech, text and fusion models, and, for a WAV without a transcript, its ASR, whose
transcript is printed with the posteriors. Audio: wav, flac, mp3 (libsndfile) and m4a or
other formats ffmpeg decodes.

Every model is named by its path; a recipe fills them from its layout (egs/iemocap:
local/iemocap_infer.sh [--exp-set N] [--fold K] -- [options] WAV...). With a recipe's
models of fold K:
  --speech-model  EXP/ser_finetune/foldK/model
  --fbank-config  conf/fbank.conf
  --text-model    EXP/text/foldK/model/
  --fusion-dir    EXP/fusion/METHOD/foldK   (w1.txt for --fusion w1, znorm_stats.txt for znorm)
  --use-vad       when the recipe ran with --use-vad true (the voiced frames only, as it scored)

Speech posteriors always; text posteriors with a transcript and --text-model; fused ones
with both, unless --fusion none. Transcripts: --transcript TEXT or --transcript-file FILE
(the file's whole content, UTF-8), given once per WAV in the order of the WAVs (or not at
all).

Output: per wav, a table of posteriors (probabilities) per class and system with the
argmax of each; with --json, one JSON object per line and wav. Near-silent audio and
audio below the model's sample rate are scored with a warning on stderr naming the wav.
A wav that cannot be read is reported on stderr and the others are still scored; the exit
status is then 1. Missing models, classes that differ between the models, bad fusion or
transcript files stop the command at once (exit 1) with the file named."""
from __future__ import annotations

import argparse
import json
import sys
from typing import List, Optional

import numpy as np

from emorec.inference import EmotionRecognizer, InferError, Result

PROG = "emorec-infer"


def _system(classes, lp) -> dict:
    p = np.exp(lp)
    p = p / p.sum()
    return {"posteriors": {c: float(v) for c, v in zip(classes, p)}, "argmax": classes[int(np.argmax(p))]}


def to_json(res: Result, rec) -> dict:
    """``rec``: the EmotionRecognizer or package (emorec.package.load_package) that scored ``res``."""
    desc = rec.describe()
    out = {"wav": res.wav, "duration_s": res.duration_s, "classes": res.classes}
    if res.transcript is not None:
        out["transcript"] = res.transcript
    for name in ("speech", "text", "fused"):
        if getattr(res, name) is not None:
            out[name] = dict(_system(res.classes, getattr(res, name)), **desc[name])
    return out


def format_table(res: dict) -> str:
    classes = res["classes"]
    systems = [s for s in ("speech", "text", "fused") if s in res]
    heads = {"speech": "speech", "text": "text",
             "fused": f"fused({res['fused']['method']})" if "fused" in res else "fused"}
    w0 = max(8, *(len(c) for c in classes))
    ws = {s: max(8, len(heads[s])) for s in systems}
    lines = [f"{res['wav']}  ({res['duration_s']:.2f} s)"]
    if "transcript" in res:
        lines.append(f"transcript: {res['transcript']}")
    lines.append(f"{'class':<{w0}}" + "".join(f"  {heads[s]:>{ws[s]}}" for s in systems))
    for c in classes:
        lines.append(f"{c:<{w0}}" + "".join(f"  {res[s]['posteriors'][c]:>{ws[s]}.4f}" for s in systems))
    lines.append(f"{'argmax':<{w0}}" + "".join(f"  {res[s]['argmax']:>{ws[s]}}" for s in systems))
    return "\n".join(lines)


# ----------------------------------------------------------------- main


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0],
                                epilog=__doc__.split("\n\n", 1)[1],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", metavar="DIR",
                   help="an exported model (steps/export_model.sh): all the models below, and an ASR that "
                        "transcribes each WAV when no transcript is given")
    p.add_argument("--speech-model", help="speech model (foldK/model of steps/train_ser.sh) or a checkpoint")
    p.add_argument("--fbank-config", help="the feature config the speech model was trained with")
    p.add_argument("--use-vad", action="store_true",
                   help="score the voiced frames only (emorec.vad), as a recipe run with --use-vad true does")
    p.add_argument("--vad-config", help="VAD options file (steps/compute_vad.sh --vad-config); implies --use-vad")
    p.add_argument("--text-model", help="text model dir (model/ of steps/train_text.sh); needs transcripts")
    p.add_argument("--fusion", choices=("w1", "znorm", "none"),
                   help="fusion method [w1] (with --model: the package's own)")
    p.add_argument("--fusion-dir", help="the fold's fusion output dir (w1.txt / znorm_stats.txt of steps/fuse.sh)")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--transcript", action="append", metavar="TEXT",
                   help="transcript of a WAV; once per WAV, in order")
    g.add_argument("--transcript-file", action="append", metavar="FILE",
                   help="UTF-8 file holding the transcript of a WAV; once per WAV, in order")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N [auto]")
    p.add_argument("--num-threads", type=int, default=0, help="torch threads (0: torch's default)")
    p.add_argument("--json", action="store_true", help="one JSON object per line and wav")
    p.add_argument("wavs", nargs="+", metavar="WAV")
    return p


def read_transcript_file(path: str) -> str:
    try:
        with open(path, "rb") as fh:
            raw = fh.read()
    except OSError as e:
        raise InferError(f"{path}: cannot read the transcript file: {e.strerror or e}") from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw[:e.start].count(b"\n") + 1
        raise InferError(f"{path}:{line}: the transcript is not UTF-8 text (byte 0x{raw[e.start]:02x} "
                         f"at offset {e.start})") from None


def _transcripts(a) -> Optional[List[str]]:
    if a.transcript_file:
        texts = [read_transcript_file(f) for f in a.transcript_file]
    elif a.transcript:
        texts = list(a.transcript)
    else:
        return None
    texts = [" ".join(t.split()) for t in texts]
    if len(texts) != len(a.wavs):
        raise InferError(f"{len(texts)} transcripts for {len(a.wavs)} wavs: give one per wav, in order")
    empty = [w for w, t in zip(a.wavs, texts) if not t]
    if empty:
        raise InferError(f"empty transcript for {empty[0]}")
    return texts


def run(a) -> int:
    import torch

    from emorec.runtime import pick_device

    if a.num_threads:
        torch.set_num_threads(a.num_threads)
    transcripts = _transcripts(a)
    if a.model:
        from emorec.package import load_package

        given = [o for o in ("speech_model", "fbank_config", "use_vad", "vad_config", "text_model", "fusion",
                             "fusion_dir") if getattr(a, o)]
        if given:
            raise InferError(f"--model DIR holds every model; drop --{given[0].replace('_', '-')}")
        return score_all(a, load_package(a.model, device=pick_device(a.device)), transcripts)
    if not (a.speech_model and a.fbank_config):
        raise InferError("give --model DIR, or --speech-model CKPT and --fbank-config FILE")
    a.fusion = a.fusion or "w1"
    if transcripts is not None and not a.text_model:
        raise InferError("transcripts need the text model: give --text-model DIR")
    if transcripts is not None and a.fusion != "none" and not a.fusion_dir:
        raise InferError(f"--fusion {a.fusion} needs --fusion-dir DIR (or give --fusion none)")
    rec = EmotionRecognizer(a.speech_model, a.fbank_config,
                            text_model=a.text_model if transcripts is not None else None,
                            fusion=a.fusion, fusion_dir=a.fusion_dir, device=pick_device(a.device),
                            use_vad=a.use_vad, vad_config=a.vad_config)
    return score_all(a, rec, transcripts)


def score_all(a, rec, transcripts: Optional[List[str]]) -> int:
    """Score every WAV with ``rec`` and print the results; 1 when one could not be scored."""
    status = 0
    for i, wav in enumerate(a.wavs):
        try:
            res = rec.score(wav, transcripts[i] if transcripts is not None else None)
        except InferError as e:
            print(f"{PROG}: error: {e}", file=sys.stderr)
            status = 1
            continue
        for w in res.warnings:
            print(f"{PROG}: warning: {w}", file=sys.stderr)
        out = to_json(res, rec)
        if a.json:
            print(json.dumps(out, ensure_ascii=False), flush=True)
        else:
            print(format_table(out) + ("\n" if i + 1 < len(a.wavs) else ""), flush=True)
    return status


def main(argv=None) -> int:
    a = get_parser().parse_args(argv)
    try:
        return run(a)
    except InferError as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
