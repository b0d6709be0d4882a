"""Transcripts from speech (paper 004 §V takes its text from Whisper), and their WER.

Backends, chosen by one name (``--asr-model``):

* ``pocketsphinx``: CMU PocketSphinx with the US-English acoustic model, dictionary and
  language model its pip wheel ships; runs offline anywhere (the demo default). The
  decoder's feature state (cepstral mean, noise estimate) carries over from one utterance
  to the next, so it is reset (``reinit_feat``) before each one: a transcript depends on
  its audio only, not on what was decoded before it (nor on how a batch was split).
* anything else: a Whisper model for ``transformers``
  (``WhisperForConditionalGeneration`` + ``WhisperProcessor``), a local directory or a
  name in the local Hugging Face cache (``openai/whisper-small``); never downloaded
  (``local_files_only``). English, transcription task, greedy decoding, batched; audio
  longer than 30 s (Whisper's window) is cut into 30 s chunks whose transcripts are joined.

Audio is mono float32 at 16 kHz (both backends' rate). A recording in which the
recogniser finds no words gets the transcript ``NO_WORDS`` (``<unk>``: a Kaldi ``text``
has no empty transcripts; a text model reads it as an unknown word), and the caller
names it in a warning.
"""
from __future__ import annotations

import os
import re
from typing import Dict, List, Sequence

import numpy as np

SAMPLE_RATE = 16000
CHUNK_SECONDS = 30.0  # Whisper's input window
NO_WORDS = "<unk>"
DEFAULT_ASR = "pocketsphinx"


class ASRError(Exception):
    """The recogniser cannot be loaded or run; the message names the model."""


class PocketsphinxASR:
    """PocketSphinx with the wheel's own US-English models."""

    def __init__(self):
        try:
            from pocketsphinx import Decoder
        except ImportError as e:
            raise ASRError("pocketsphinx is not installed (pip install pocketsphinx; tools/install.sh)") from e
        self.name = "pocketsphinx"
        self.decoder = Decoder(samprate=SAMPLE_RATE, logfn=os.devnull)

    def transcribe(self, waves: Sequence[np.ndarray]) -> List[str]:
        out = []
        for wave in waves:
            pcm = (np.clip(wave, -1.0, 1.0) * 32767).astype("<i2").tobytes()
            self.decoder.reinit_feat()  # see the module doc: each utterance from the same state
            self.decoder.start_utt()
            self.decoder.process_raw(pcm, full_utt=True)
            self.decoder.end_utt()
            hyp = self.decoder.hyp()
            out.append(" ".join(hyp.hypstr.split()) if hyp is not None else "")
        return out


class WhisperASR:
    """A Whisper model of ``transformers``, from a local directory or the local cache."""

    def __init__(self, model: str, device="cpu", batch_size: int = 8):
        from transformers import WhisperForConditionalGeneration, WhisperProcessor
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        try:
            self.processor = WhisperProcessor.from_pretrained(model, local_files_only=True)
            self.model = WhisperForConditionalGeneration.from_pretrained(model, local_files_only=True)
        except (OSError, ValueError) as e:
            raise ASRError(f"{model}: cannot load a Whisper model from a local directory or the local "
                           f"cache (nothing is downloaded at run time): {e}") from e
        self.name, self.device, self.batch_size = model, device, batch_size
        self.model.to(device).eval()
        # English-only checkpoints (*.en) take no language/task; multilingual ones are told both
        multilingual = getattr(self.model.generation_config, "is_multilingual", False)
        self.english = {"language": "en", "task": "transcribe"} if multilingual else {}

    def transcribe(self, waves: Sequence[np.ndarray]) -> List[str]:
        import torch

        step = int(CHUNK_SECONDS * SAMPLE_RATE)
        chunks, owner = [], []
        for i, wave in enumerate(waves):
            for start in range(0, max(wave.size, 1), step):
                chunks.append(wave[start:start + step])
                owner.append(i)
        texts: List[List[str]] = [[] for _ in waves]
        for b in range(0, len(chunks), self.batch_size):
            batch = chunks[b:b + self.batch_size]
            feats = self.processor(batch, sampling_rate=SAMPLE_RATE, return_tensors="pt").input_features
            with torch.no_grad():
                ids = self.model.generate(feats.to(self.device, self.model.dtype), **self.english)
            for j, t in enumerate(self.processor.batch_decode(ids, skip_special_tokens=True)):
                texts[owner[b + j]].append(t)
        return [" ".join(" ".join(parts).split()) for parts in texts]


def load_asr(name: str = DEFAULT_ASR, device="cpu", batch_size: int = 8):
    """The recogniser named ``name``: ``pocketsphinx`` or a Whisper model dir/cached name."""
    if name == "pocketsphinx":
        return PocketsphinxASR()
    return WhisperASR(name, device=device, batch_size=batch_size)


def normalise_for_wer(text: str) -> str:
    """Lower case, punctuation removed (apostrophes inside words kept), IEMOCAP-style
    bracketed non-speech tags ([LAUGHTER], <unk>) dropped: the usual WER scoring."""
    text = re.sub(r"\[[^\]]*\]|<[^>]*>", " ", text.lower())
    text = re.sub(r"[^\w' ]+", " ", text)
    return " ".join(w.strip("'") for w in text.split() if w.strip("'"))


def word_error_rate(refs: Dict[str, str], hyps: Dict[str, str]) -> dict:
    """WER (jiwer) of the hypotheses against the references over their common keys, both
    normalised by normalise_for_wer; references left empty by it are not scored."""
    import jiwer

    keys = [k for k in refs if k in hyps and normalise_for_wer(refs[k])]
    if not keys:
        raise ValueError("no utterance has both a non-empty reference and a hypothesis")
    out = jiwer.process_words([normalise_for_wer(refs[k]) for k in keys],
                              [normalise_for_wer(hyps[k]) for k in keys])
    n_ref = out.hits + out.substitutions + out.deletions
    return {"wer": out.wer, "ref_words": n_ref, "sub": out.substitutions, "del": out.deletions,
            "ins": out.insertions, "utts": len(keys), "unscored": len(refs) - len(keys)}
