"""Transcribe every utterance of a wav.scp into a Kaldi ``text`` (emorec.asr).

Usage: python -m emorec.bin.transcribe [options] WAV_SCP TEXT_OUT
  e.g. python -m emorec.bin.transcribe --asr-model pocketsphinx data/x/split4/1/wav.scp exp/asr/x/text.1

TEXT_OUT gets "UTT TRANSCRIPT" lines, LC_ALL=C sorted, written atomically (temp name,
then rename). An utterance whose audio cannot be read is logged as
  WARNING: WAV_SCP:LINE: UTT: REASON
and left out; the job fails (exit 1, no output) when more than --max-fail-frac of its
utterances fail. One in which the recogniser finds no words gets the transcript <unk>
with a WARNING naming it. With --skip-done a TEXT_OUT made from the same WAV_SCP, model
and options is kept (emorec.stamp).
"""
from __future__ import annotations

import argparse
import os
import sys

from emorec import asr
from emorec.audio import AudioError, load_audio, parse_wav_scp
from emorec.fileio import write_kv
from emorec.stamp import Stamp, options_of

ME = "transcribe"


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m emorec.bin.transcribe", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog=__doc__.split("\n\n", 1)[1])
    p.add_argument("--asr-model", default=asr.DEFAULT_ASR,
                   help="pocketsphinx, or a Whisper model dir / locally cached name [pocketsphinx]")
    p.add_argument("--batch-size", type=int, default=8, help="Whisper: 30 s chunks per generate call [8]")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N [auto]")
    p.add_argument("--num-threads", type=int, default=1, help="torch threads (1: parallelism comes from jobs)")
    p.add_argument("--max-fail-frac", type=float, default=0.05,
                   help="fail the job if more than this fraction of utterances fail [0.05]")
    p.add_argument("--skip-done", action="store_true", help="keep a TEXT_OUT made from the same inputs and options")
    p.add_argument("wav_scp")
    p.add_argument("text_out")
    return p


def main(argv=None) -> int:
    a = get_parser().parse_args(argv)
    model_dir = [a.asr_model] if os.path.isdir(a.asr_model) else []
    stamp = Stamp(a.text_out, step=ME, version=1, inputs=[a.wav_scp] + model_dir,
                  options=options_of(a, "wav_scp", "text_out", "device", "num_threads"))
    if a.skip_done and stamp.done():
        return 0
    stamp.begin()
    import torch

    from emorec.runtime import pick_device

    torch.set_num_threads(max(1, a.num_threads))
    try:
        recogniser = asr.load_asr(a.asr_model, device=pick_device(a.device), batch_size=a.batch_size)
    except asr.ASRError as e:
        print(f"ERROR: {ME}: {e}", file=sys.stderr)
        return 1
    n_total, failed, utts, waves = 0, 0, [], []
    seen = set()
    for lineno, utt, rx, err in parse_wav_scp(a.wav_scp):
        n_total += 1
        try:
            if err:
                raise AudioError(f"malformed line: {err}")
            if utt in seen:
                raise AudioError("duplicate utterance id")
            seen.add(utt)
            waves.append(load_audio(rx, target_sr=asr.SAMPLE_RATE))
            utts.append(utt)
        except AudioError as e:
            failed += 1
            print(f"WARNING: {a.wav_scp}:{lineno}: {utt or '-'}: {e}", file=sys.stderr)
    if n_total == 0 or failed > a.max_fail_frac * n_total or not utts:
        print(f"ERROR: {ME}: {failed} of {n_total} utterances of {a.wav_scp} could not be read "
              f"(more than {a.max_fail_frac:g})", file=sys.stderr)
        return 1
    texts = recogniser.transcribe(waves)
    out = {}
    for utt, t in zip(utts, texts):
        if not t:
            print(f"WARNING: {a.wav_scp}: {utt}: no words recognised; transcript {asr.NO_WORDS}", file=sys.stderr)
        out[utt] = t or asr.NO_WORDS
    write_kv(a.text_out, out)
    print(f"LOG: {ME}: {len(out)} of {n_total} utterances transcribed with {recogniser.name} -> {a.text_out}",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    from emorec.bin import run_main
    run_main(main)
