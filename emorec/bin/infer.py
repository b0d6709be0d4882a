"""Emotion posteriors of one or more wav files with a trained recipe's models.

  emorec-infer [--exp-dir exp/exp3] [--fold 1] [--transcript TEXT] WAV [WAV ...]
  (also: python -m emorec.bin.infer ...)

Run from the recipe directory (egs/iemocap): the models are then found where the
recipe leaves them, for Exp set 3 and fold K:
  speech  EXP/ser_finetune/foldK/best.pt          (--speech-model overrides)
  text    EXP/text/foldK/model/                   (--text-model overrides)
  fusion  EXP/fusion/w1/foldK/w1.txt              (--fusion w1, the default)
          EXP/fusion/znorm/foldK/znorm_stats.txt  (--fusion znorm)
          (--fusion-dir overrides the directory; --fusion none: no fusion)
  fbank   conf/fbank.conf                         (--fbank-config overrides)

Speech: the wav (any sample rate, mono or stereo) is read with emorec.audio.load_audio
(resampled to the feature rate, channels averaged), turned into log-mel filterbanks by
emorec.features.Fbank, normalised per segment (emorec.data.dataset.normalise) and
scored by the model on the whole segment: the code path of compute_fbank +
score_posteriors. Text (only with a transcript): the fine-tuned BERT model. Fused (only
with both): the recipe's late fusion of the two log-posteriors (emorec.fusion), with
w1 (S = w1 S_speech + (1 - w1) S_text) or the per-class z-norm statistics of the fold's
dev set, then a softmax.

Transcripts: --transcript TEXT or --transcript-file FILE (the file's whole content),
given once per WAV in the order of the WAVs (or not at all).

Output: per wav, a table of posteriors (probabilities) per class and system with the
argmax of each; with --json, one JSON object per line and wav. A wav that cannot be
read is reported on stderr and the others are still scored; the exit status is then 1.
Missing models, classes that differ between the models or bad fusion files stop the
command at once (exit 1) with the file named."""
from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Dict, List, Optional, Sequence

import numpy as np

from emorec.fileio import read_classes

PROG = "emorec-infer"


class InferError(Exception):
    """A user-facing error; the message names the file."""


# ----------------------------------------------------------------- fusion files


# ----------------------------------------------------------------- models


def class_map(target: Sequence[str], other: Sequence[str], what: str) -> List[int]:
    """Indices into ``other`` that put its columns in the order of ``target`` (same class set)."""
    if list(target) == list(other):
        return list(range(len(target)))
    if sorted(target) != sorted(other) or len(set(other)) != len(other):
        raise InferError(f"classes differ: {what}")
    idx = {c: i for i, c in enumerate(other)}
    return [idx[c] for c in target]


class SpeechScorer:
    """wav -> natural-log posteriors, the path of compute_fbank + score_posteriors."""

    def __init__(self, ckpt: str, fbank_config: str, device):
        from emorec.features import Fbank, FbankConfig
        from emorec.train.infer import load_model

        if not os.path.isfile(ckpt):
            raise InferError(f"{ckpt}: no such speech model (best.pt of steps/train_ser.sh; "
                             f"give --speech-model or --exp-dir/--fold)")
        if not os.path.isfile(fbank_config):
            raise InferError(f"{fbank_config}: no such fbank config (run from the recipe directory "
                             f"or give --fbank-config)")
        try:
            self.model, self.meta = load_model(ckpt, device)
        except Exception as e:  # noqa: BLE001 - unpickling/shape errors: name the file
            raise InferError(f"{ckpt}: cannot load the speech model: {e}") from e
        try:
            self.cfg = FbankConfig.from_file(fbank_config)
        except (OSError, ValueError) as e:
            raise InferError(f"{fbank_config}: {e}") from e
        self.path, self.device = ckpt, device
        self.classes = list(self.meta["classes"])
        in_dim = self.meta.get("model_args", {}).get("in_dim")
        if in_dim is not None and int(in_dim) != self.cfg.dim:
            raise InferError(f"{ckpt}: the model takes {in_dim}-dim features but {fbank_config} "
                             f"gives {self.cfg.dim}")
        self.fbank = Fbank(self.cfg)

    @property
    def sample_rate(self) -> int:
        return int(self.cfg.sample_frequency)

    def features(self, wav: str):
        """-> (raw, unnormalised filterbanks of WAV as compute_fbank writes them, seconds of audio)."""
        from emorec.audio import AudioError, load_audio
        from emorec.features import TooShortError

        try:
            wave = load_audio(wav, target_sr=self.sample_rate, on_mismatch="resample")
        except AudioError as e:
            raise InferError(str(e)) from e
        if self.fbank.num_frames(wave.size) <= 0:
            raise InferError(f"{wav!r}: {wave.size / self.sample_rate * 1000:.1f} ms of audio is shorter "
                             f"than one frame ({self.cfg.frame_length:g} ms); no features")
        try:
            return self.fbank.compute_many([wave])[0], wave.size / self.sample_rate
        except TooShortError as e:
            raise InferError(f"{wav!r}: {e}") from e

    def logposteriors(self, feats: np.ndarray) -> np.ndarray:
        """Whole-segment log-posteriors of raw features (normalised as for training/scoring)."""
        import torch

        from emorec.data.dataset import collate_padded, normalise
        from emorec.train.infer import autocast_ctx

        x = torch.from_numpy(normalise(feats))
        _, xb, lengths, _ = collate_padded([("utt", x, -1)])
        with torch.no_grad(), autocast_ctx(torch.device(self.device), "none"):
            out = self.model(xb.to(self.device), lengths.to(self.device)).float()
        return torch.log_softmax(out, dim=-1)[0].cpu().numpy().astype(np.float64)


class TextScorer:
    def __init__(self, model_dir: str, device):
        from transformers.utils import logging as hf_logging

        from emorec.models import text

        hf_logging.disable_progress_bar()  # no "Loading weights" bars in the output
        if not os.path.isfile(os.path.join(model_dir, "text_model.json")):
            raise InferError(f"{model_dir}: no text model here (text_model.json missing; model/ of "
                             f"steps/train_text.sh; give --text-model or --exp-dir/--fold)")
        try:
            self.model, self.tok, self.meta = text.load_text_classifier(model_dir, device)
        except Exception as e:  # noqa: BLE001
            raise InferError(f"{model_dir}: cannot load the text model: {e}") from e
        self.path, self.device = model_dir, device
        self.classes = list(self.meta["classes"])
        self.max_len = int(self.meta.get("max_len", 128))

    def logposteriors(self, transcript: str) -> np.ndarray:
        from emorec.models import text

        lp = text.predict_logposteriors(self.model, self.tok, [transcript], self.max_len, device=self.device)
        return lp[0].astype(np.float64)


class Fuser:
    """The recipe's late fusion of one fold, in the speech model's class order."""

    def __init__(self, method: str, fusion_dir: str, classes: Sequence[str]):
        from emorec import fusion

        self.method, self.dir = method, fusion_dir
        cls_txt = os.path.join(fusion_dir, "classes.txt")
        try:
            self._load(method, fusion_dir, classes, cls_txt, fusion)
        except (OSError, ValueError) as e:
            raise InferError(f"{e} (give --fusion-dir, or --fusion none)") from None

    def _load(self, method, fusion_dir, classes, cls_txt, fusion):
        file_classes = None
        if method == "w1":
            self.w1 = fusion.read_w1(os.path.join(fusion_dir, "w1.txt"))
            if os.path.isfile(cls_txt):
                file_classes = read_classes(cls_txt)
        elif method == "znorm":
            src = os.path.join(fusion_dir, "znorm_stats.txt")
            st = fusion.read_znorm_stats(src)
            file_classes = st["classes"]
            if file_classes is None and os.path.isfile(cls_txt):
                file_classes = read_classes(cls_txt)
            n = st["speech_mean"].size
            if file_classes is None and n != len(classes):
                raise InferError(f"{src}: {n} classes but the models have {len(classes)}")
            order = (class_map(classes, file_classes, f"{src} has {file_classes}, the models have {list(classes)}")
                     if file_classes is not None else list(range(n)))
            self.stats = {k: st[k][order] for k in fusion.ZNORM_ROWS}
            file_classes = None  # already mapped
        else:
            raise ValueError(method)
        if file_classes is not None:
            class_map(classes, file_classes, f"{cls_txt} has {file_classes}, the models have {list(classes)}")

    def describe(self) -> str:
        return f"w1={self.w1:.2f}" if self.method == "w1" else "znorm"

    def logposteriors(self, lp_speech: np.ndarray, lp_text: np.ndarray) -> np.ndarray:
        from emorec import fusion

        a, b = lp_speech[None, :], lp_text[None, :]
        if self.method == "w1":
            s = fusion.fuse_weighted(a, b, self.w1)
        else:
            st = self.stats
            s = fusion.fuse_weighted(fusion.apply_znorm(a, st["speech_mean"], st["speech_std"]),
                                     fusion.apply_znorm(b, st["text_mean"], st["text_std"]), 0.5)
        return fusion.log_softmax(s)[0]


# ----------------------------------------------------------------- output


def _system(classes, lp) -> dict:
    p = np.exp(lp)
    p = p / p.sum()
    return {"posteriors": {c: float(v) for c, v in zip(classes, p)}, "argmax": classes[int(np.argmax(p))]}


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
    p.add_argument("--exp-dir", default="exp/exp3", help="the recipe's experiment dir [exp/exp3]")
    p.add_argument("--fold", type=int, default=1, help="which fold's models [1]")
    p.add_argument("--speech-model", help="speech checkpoint [EXP/ser_finetune/foldK/best.pt]")
    p.add_argument("--text-model", help="text model dir [EXP/text/foldK/model]")
    p.add_argument("--fusion", choices=("w1", "znorm", "none"), default="w1", help="fusion method [w1]")
    p.add_argument("--fusion-dir", help="dir with w1.txt / znorm_stats.txt [EXP/fusion/METHOD/foldK]")
    p.add_argument("--fbank-config", default="conf/fbank.conf", help="[conf/fbank.conf]")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--transcript", action="append", metavar="TEXT",
                   help="transcript of a WAV; once per WAV, in order")
    g.add_argument("--transcript-file", action="append", metavar="FILE",
                   help="file holding the transcript of a WAV; once per WAV, in order")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N [auto]")
    p.add_argument("--num-threads", type=int, default=0, help="torch threads (0: torch's default)")
    p.add_argument("--json", action="store_true", help="one JSON object per line and wav")
    p.add_argument("wavs", nargs="+", metavar="WAV")
    return p


def _transcripts(a) -> Optional[List[str]]:
    if a.transcript_file:
        texts = []
        for f in a.transcript_file:
            try:
                with open(f, encoding="utf-8") as fh:
                    texts.append(fh.read())
            except OSError as e:
                raise InferError(f"{f}: cannot read the transcript file: {e.strerror or e}") from None
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
    fold = f"fold{a.fold}"
    transcripts = _transcripts(a)
    device = pick_device(a.device)
    speech = SpeechScorer(a.speech_model or os.path.join(a.exp_dir, "ser_finetune", fold, "best.pt"),
                          a.fbank_config, device)
    classes = speech.classes
    text = fuser = None
    text_order = None
    if transcripts is not None:
        text = TextScorer(a.text_model or os.path.join(a.exp_dir, "text", fold, "model"), device)
        text_order = class_map(classes, text.classes,
                               f"the speech model {speech.path} has {classes}, "
                               f"the text model {text.path} has {text.classes}")
        if a.fusion != "none":
            fuser = Fuser(a.fusion, a.fusion_dir or os.path.join(a.exp_dir, "fusion", a.fusion, fold), classes)

    status = 0
    for i, wav in enumerate(a.wavs):
        try:
            feats, seconds = speech.features(wav)
        except InferError as e:
            print(f"{PROG}: error: {e}", file=sys.stderr)
            status = 1
            continue
        lp_s = speech.logposteriors(feats)
        res: Dict = {"wav": wav, "duration_s": round(seconds, 3),
                     "classes": classes, "speech": _system(classes, lp_s)}
        res["speech"]["model"] = speech.path
        if text is not None:
            lp_t = text.logposteriors(transcripts[i])[text_order]
            res["transcript"] = transcripts[i]
            res["text"] = _system(classes, lp_t)
            res["text"]["model"] = text.path
            if fuser is not None:
                res["fused"] = _system(classes, fuser.logposteriors(lp_s, lp_t))
                res["fused"]["method"] = fuser.describe()
                res["fused"]["dir"] = fuser.dir
                if fuser.method == "w1":
                    res["fused"]["w1"] = fuser.w1
        if a.json:
            print(json.dumps(res, ensure_ascii=False), flush=True)
        else:
            print(format_table(res) + ("\n" if i + 1 < len(a.wavs) else ""), flush=True)
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
