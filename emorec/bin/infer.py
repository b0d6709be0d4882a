"""Emotion posteriors of one or more audio files with trained models (emorec.inference).

  emorec-infer --model DIR [--transcript TEXT ...] WAV [WAV ...]
  emorec-infer --model DIR --data DATA_DIR        (every utterance of DATA_DIR/wav.scp)
  emorec-infer --model DIR --wav-list FILE        (one audio path per line; - : stdin)
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

The models are loaded once for all the inputs (a list or a data dir is scored by one
resident model). --max-seconds refuses longer audio before decoding it (read from the
header); rates outside 4-384 kHz are always refused.

Output: per wav, a table of posteriors (probabilities) per class and system with the
argmax of each and the answer (the fused system's argmax, else the speech one's); with
--json, one JSON object per line and wav, with "answer" and "warnings" (a list). Audio in
which the VAD finds no speech, or less than --min-speech seconds, gets no answer (null)
and a warning. Near-silent audio, audio below the model's sample rate and truncated files
are scored with a warning (stderr; and in the JSON). A wav that cannot be read is reported
on stderr (with --json also as a line {"wav", "error"}) and the others are still scored;
the exit status is then 1. Missing models, classes that differ between the models, bad
fusion or transcript files stop the command at once (exit 1) with the file named."""
from __future__ import annotations

import argparse
import json
import sys
from typing import List, Optional

import numpy as np

from emorec.inference import MIN_SPEECH_S, EmotionRecognizer, InferError, Result

PROG = "emorec-infer"


def _system(classes, lp) -> dict:
    p = np.exp(lp)
    p = p / p.sum()
    return {"posteriors": {c: float(v) for c, v in zip(classes, p)}, "argmax": classes[int(np.argmax(p))]}


def to_json(res: Result, rec) -> dict:
    """``rec``: the EmotionRecognizer or package (emorec.package.load_package) that scored ``res``."""
    desc = rec.describe()
    out = {"wav": res.wav, "duration_s": res.duration_s, "classes": res.classes, "answer": res.answer,
           "warnings": res.warnings}
    if res.transcript is not None:
        out["transcript"] = res.transcript
    for name in ("speech", "text", "fused"):
        if getattr(res, name) is not None:
            out[name] = dict(_system(res.classes, getattr(res, name)), **desc[name])
    return out


def format_table(res: dict) -> str:
    classes = res["classes"]
    systems = [s for s in ("speech", "text", "fused") if s in res]
    # a one-system package's system by its name (e.g. "joint"), a late fusion's by its method
    heads = {s: res[s].get("system") or (f"fused({res[s]['method']})" if "method" in res[s] else s)
             for s in systems}
    w0 = max(8, *(len(c) for c in classes))
    ws = {s: max(8, len(heads[s])) for s in systems}
    lines = [f"{res['wav']}  ({res['duration_s']:.2f} s)"]
    if "transcript" in res:
        lines.append(f"transcript: {res['transcript']}")
    lines.append(f"{'class':<{w0}}" + "".join(f"  {heads[s]:>{ws[s]}}" for s in systems))
    for c in classes:
        lines.append(f"{c:<{w0}}" + "".join(f"  {res[s]['posteriors'][c]:>{ws[s]}.4f}" for s in systems))
    lines.append(f"{'argmax':<{w0}}" + "".join(f"  {res[s]['argmax']:>{ws[s]}}" for s in systems))
    lines.append(f"answer: {res['answer']}" if res["answer"] else "answer: none (see the warning)")
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
    p.add_argument("--max-seconds", type=float, default=0.0,
                   help="refuse audio longer than this, before decoding it (0: no limit) [0]")
    p.add_argument("--min-speech", type=float, default=MIN_SPEECH_S, metavar="SECONDS",
                   help=f"less speech than this (VAD) gets no answer, only a warning (0: no check) "
                        f"[{MIN_SPEECH_S:g}]")
    p.add_argument("--data", metavar="DIR", help="score every utterance of DIR/wav.scp (a Kaldi data dir)")
    p.add_argument("--wav-list", metavar="FILE", help="score every audio path in FILE, one a line (-: stdin)")
    p.add_argument("wavs", nargs="*", metavar="WAV")
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


def _inputs(a) -> None:
    """``a.wavs`` += the wav.scp of --data and the lines of --wav-list; ``a.keys``: the
    utterance id of each (None for a plain path)."""
    from emorec.fileio import read_kv

    a.keys = [None] * len(a.wavs)
    if a.data:
        try:
            utts = read_kv(f"{a.data}/wav.scp")
        except (OSError, ValueError) as e:
            raise InferError(f"--data {a.data}: {e}") from None
        a.keys += list(utts)
        a.wavs += list(utts.values())
    if a.wav_list:
        try:
            with (sys.stdin if a.wav_list == "-" else open(a.wav_list, encoding="utf-8")) as f:
                paths = [ln.strip() for ln in f if ln.strip()]
        except (OSError, UnicodeDecodeError) as e:
            raise InferError(f"--wav-list {a.wav_list}: {e}") from None
        a.keys += [None] * len(paths)
        a.wavs += paths
    if not a.wavs:
        raise InferError("nothing to score: give WAV files, --data DIR or --wav-list FILE")


def run(a) -> int:
    import torch

    from emorec.runtime import pick_device, quiet_transformers

    _inputs(a)
    if a.num_threads:
        torch.set_num_threads(a.num_threads)
    quiet_transformers()
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
    for i, (key, wav) in enumerate(zip(a.keys, a.wavs)):
        utt = {"utt": key} if key is not None else {}
        try:
            res = rec.score(wav, transcripts[i] if transcripts is not None else None,
                            max_seconds=a.max_seconds or None, min_speech_s=a.min_speech)
        except InferError as e:
            print(f"{PROG}: error: {e}", file=sys.stderr)
            if a.json:
                print(json.dumps(dict(utt, wav=wav, error=str(e)), ensure_ascii=False), flush=True)
            status = 1
            continue
        for w in res.warnings:
            print(f"{PROG}: warning: {w}", file=sys.stderr)
        out = dict(utt, **to_json(res, rec))
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
