"""Emotion posteriors of single recordings with trained models (the library side of
``emorec-infer``): each model is named by an explicit path, so the same code serves a
recipe's experiment dirs and any other layout.

Speech: the audio (any sample rate, mono or stereo) is read with emorec.audio (channels
averaged, resampled to the feature rate), turned into log-mel filterbanks by
emorec.features.Fbank, normalised per segment (emorec.data.dataset.normalise) and
scored by the model on the whole segment: the code path of compute_fbank +
score_posteriors; with VAD (a recipe run with --use-vad true: steps/compute_vad.sh), only
the frames emorec.vad finds voiced, as feature reading selects them for the recipe's
scores (emorec.data.dataset.select_voiced). Text (with a transcript): the fine-tuned BERT model. Fused (with
both): the fitted late fusion of a fold (emorec.fusion.apply_fusion, as fuse_fold
applies it), then a log-softmax. All posteriors are in the speech model's class order;
the text model's and the fusion files' classes are mapped to it by name.

Warnings (one line each, naming the audio): near-silent input (RMS below
SILENCE_DBFS), audio below the feature rate (upsampled: the band the model was
trained on is missing), a truncated file (read as far as it goes). The posteriors are
computed all the same. Input in which emorec.vad finds no speech, or less than
``min_speech_s`` seconds of it (a tone, noise, a 0.2 s click), gets a warning and no
answer (check_speech) (``Result.no_answer`` says why, ``Result.answer`` is None): a confident class for
it would be a guess.

The audio is read once per call (``read_recording``; ``max_seconds`` refuses longer audio
before decoding it, emorec.audio) and every model of a package scores that one reading.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import List, Optional, Sequence

import numpy as np

from emorec import fusion
from emorec.fileio import class_index

SILENCE_DBFS = -60.0  # RMS level (dB re full scale) under which an input counts as near-silent
MIN_SPEECH_S = 0.5  # seconds of speech (emorec.vad) under which no class is given
STEADY_DB = 3.0  # level spread (dB) under which the VAD's "speech" is a steady sound (speech_seconds)


class InferError(Exception):
    """A user-facing error; the message names the file, ``brief`` leaves out the decoders'
    own words (emorec.audio.AudioError.brief)."""

    def __init__(self, message: str, brief: Optional[str] = None):
        super().__init__(message)
        self.brief = brief or message


@dataclass
class Recording:
    """One decoded input: ``data`` (samples, channels) at its own rate ``sr``, and the
    warnings reading it gave."""
    wav: str
    data: np.ndarray
    sr: int
    warnings: List[str] = field(default_factory=list)


def read_recording(wav: str, max_seconds: Optional[float] = None) -> Recording:
    from emorec.audio import AudioError, read_audio

    warnings: List[str] = []
    try:
        data, sr = read_audio(wav, max_seconds=max_seconds, warn=warnings.append)
    except AudioError as e:
        raise InferError(str(e), e.brief) from None
    return Recording(wav, data, sr, warnings)


def speech_seconds(rec: Recording, vad_config: Optional[str] = None) -> float:
    """Seconds of speech emorec.vad finds in ``rec`` (with the model's VAD options, if any);
    0 when the frames it finds keep one level (their log-energy's standard deviation under
    STEADY_DB): a tone or a hum, which the VAD's SNR test alone takes for speech, while
    syllables make the level of speech vary by 6 dB and more, even in noise."""
    from emorec.audio import mono_at_rate
    from emorec.vad import Vad, VadConfig

    cfg = VadConfig.from_file(vad_config)
    wave = mono_at_rate(rec.data, rec.sr, rec.wav, target_sr=int(cfg.sample_frequency))
    if wave.size < cfg.framing().window_size:
        return 0.0
    vad = Vad(cfg)
    speech = vad(wave) > 0.5
    if not speech.any():
        return 0.0
    level_db = 10 * np.log10(vad.power_spectrum(wave).sum(axis=1)[speech] + 1e-20)
    if level_db.std() < STEADY_DB:
        return 0.0
    return float(speech.sum()) * cfg.frame_shift / 1000


def check_speech(res: "Result", rec: Recording, min_speech_s: float, vad_config: Optional[str] = None) -> None:
    """Without speech in ``rec``, or less than ``min_speech_s`` s of it (0: no check), ``res``
    gets no answer and a warning saying why."""
    if not min_speech_s:
        return
    seconds = speech_seconds(rec, vad_config)
    if seconds == 0:
        res.no_answer = f"{rec.wav!r}: no speech found (silence, a tone or noise?); no emotion can be told"
    elif seconds < min_speech_s:
        res.no_answer = (f"{rec.wav!r}: only {seconds:.2f} s of speech, less than the {min_speech_s:g} s "
                         f"needed to tell an emotion")
    if res.no_answer:
        res.warnings.append(res.no_answer)


def class_map(target: Sequence[str], other: Sequence[str], what: str) -> List[int]:
    """Indices into ``other`` that put its columns in the order of ``target`` (same class set)."""
    if sorted(target) != sorted(other) or len(set(other)) != len(other):
        raise InferError(f"classes differ: {what}")
    return class_index(target, other).tolist()


def audio_warnings(wav: str, sr: int, wave: np.ndarray, rate: int) -> List[str]:
    """The warnings about an input read at ``sr`` Hz and resampled to ``rate``."""
    warnings = []
    if sr < rate:
        warnings.append(f"{wav!r}: {sr} Hz audio upsampled to {rate} Hz; the model was "
                        f"trained on {rate} Hz audio, so its posteriors are less reliable")
    level = 10 * np.log10(max(float(np.mean(np.square(wave, dtype=np.float64))), 1e-20))
    if level < SILENCE_DBFS:
        warnings.append(f"{wav!r}: near-silent input (RMS {level:.1f} dBFS, below {SILENCE_DBFS:g} dBFS); "
                        f"its posteriors say little")
    return warnings


class SpeechScorer:
    """audio -> natural-log posteriors, the path of compute_fbank + score_posteriors."""

    def __init__(self, ckpt: str, fbank_config: str, device, use_vad: bool = False,
                 vad_config: Optional[str] = None):
        from emorec.features import Fbank, FbankConfig
        from emorec.train import families
        from emorec.vad import Vad, VadConfig

        if not os.path.exists(ckpt):
            raise InferError(f"{ckpt}: no such speech model (foldK/model of steps/train_ser.sh, or a checkpoint)")
        if not os.path.isfile(fbank_config):
            raise InferError(f"{fbank_config}: no such fbank config (the recipe's conf/fbank.conf)")
        try:
            self.predictor = families.load(ckpt, device)
        except Exception as e:  # noqa: BLE001 - unpickling/shape errors: name the file
            raise InferError(f"{ckpt}: cannot load the speech model: {e}") from e
        if self.predictor.inputs != ("feats",):
            raise InferError(f"{ckpt}: a model of {', '.join(self.predictor.inputs)}, not of filterbank features")
        try:
            self.cfg = FbankConfig.from_file(fbank_config)
        except (OSError, ValueError) as e:
            raise InferError(f"{fbank_config}: {e}") from e
        self.path, self.device = ckpt, device
        self.classes = list(self.predictor.classes)
        in_dim = self.predictor.in_dim
        if in_dim is not None and int(in_dim) != self.cfg.dim:
            raise InferError(f"{ckpt}: the model takes {in_dim}-dim features but {fbank_config} "
                             f"gives {self.cfg.dim}")
        self.fbank = Fbank(self.cfg)
        self.vad, self.vad_config = None, vad_config
        if use_vad or vad_config:
            try:
                self.vad = Vad(VadConfig.from_file(vad_config))
            except (OSError, ValueError) as e:
                raise InferError(f"{vad_config}: {e}") from e

    @property
    def sample_rate(self) -> int:
        return int(self.cfg.sample_frequency)

    def features(self, rec: Recording):
        """-> (raw, unnormalised filterbanks of ``rec`` as compute_fbank writes them, seconds of
        audio, warnings about the input)."""
        from emorec.audio import AudioError, mono_at_rate
        from emorec.features import TooShortError

        wav, data, sr = rec.wav, rec.data, rec.sr
        try:
            wave = mono_at_rate(data, sr, wav, target_sr=self.sample_rate, on_mismatch="resample")
        except AudioError as e:
            raise InferError(str(e), e.brief) from None
        warnings = list(rec.warnings) + audio_warnings(wav, sr, wave, self.sample_rate)
        if self.fbank.num_frames(wave.size) <= 0:
            raise InferError(f"{wav!r}: {wave.size / self.sample_rate * 1000:.1f} ms of audio is shorter "
                             f"than one frame ({self.cfg.frame_length:g} ms); no features")
        try:
            feats = self.fbank.compute_many([wave])[0]
        except TooShortError as e:
            raise InferError(f"{wav!r}: {e}") from e
        if self.vad is not None:  # as steps/compute_vad.sh decides and feature reading selects
            from emorec.data.dataset import select_voiced

            vad_rate = int(self.vad.cfg.sample_frequency)
            decisions = self.vad(wave if vad_rate == self.sample_rate else
                                 mono_at_rate(data, sr, wav, target_sr=vad_rate))
            feats = select_voiced(feats, decisions, wav)
        return feats, wave.size / self.sample_rate, warnings

    def logposteriors(self, feats: np.ndarray) -> np.ndarray:
        """Whole-segment log-posteriors of raw features (normalised as for training/scoring)."""
        return self.predictor.score_one(feats)


class TextScorer:
    """transcript -> natural-log posteriors of a fine-tuned text model directory."""

    def __init__(self, model_dir: str, device):
        from transformers.utils import logging as hf_logging

        from emorec.train import families

        hf_logging.disable_progress_bar()  # no "Loading weights" bars in the output
        if not os.path.isfile(os.path.join(model_dir, "text_model.json")):
            raise InferError(f"{model_dir}: no text model here (text_model.json missing; model/ of "
                             f"steps/train_text.sh)")
        try:
            self.predictor = families.load(model_dir, device)
        except Exception as e:  # noqa: BLE001
            raise InferError(f"{model_dir}: cannot load the text model: {e}") from e
        self.path, self.device = model_dir, device
        self.classes = list(self.predictor.classes)

    def logposteriors(self, transcript: str) -> np.ndarray:
        return self.predictor.score_one(transcript)


class Fuser:
    """The late fusion fitted for one fold (steps/fuse.sh's w1.txt or znorm_stats.txt in
    ``fusion_dir``), its statistics put in the order of ``classes``."""

    def __init__(self, method: str, fusion_dir: str, classes: Sequence[str]):
        self.method, self.dir = method, fusion_dir
        try:
            params, file_classes = fusion.read_fusion_params(method, fusion_dir)
        except (OSError, ValueError) as e:
            raise InferError(str(e)) from None
        if file_classes is not None:
            order = class_map(classes, file_classes,
                              f"{fusion_dir} has {file_classes}, the models have {list(classes)}")
        else:
            n = len(classes) if params.znorm is None else params.znorm["speech_mean"].size
            if n != len(classes):
                raise InferError(f"{os.path.join(fusion_dir, 'znorm_stats.txt')}: {n} classes but the "
                                 f"models have {len(classes)}")
            order = range(n)
        self.params = params.reordered(order)

    def describe(self) -> str:
        return f"w1={self.params.w1:.2f}" if self.method == "w1" else self.method

    def logposteriors(self, lp_speech: np.ndarray, lp_text: np.ndarray) -> np.ndarray:
        return fusion.log_softmax(fusion.apply_fusion(self.params, lp_speech[None, :], lp_text[None, :]))[0]


@dataclass
class Result:
    """Natural-log posteriors of one recording per system, in the order of ``classes``."""
    wav: str
    duration_s: float
    classes: List[str]
    speech: Optional[np.ndarray]   # None: a package whose one system reads a transcript too
    text: Optional[np.ndarray] = None
    fused: Optional[np.ndarray] = None
    transcript: Optional[str] = None
    warnings: List[str] = field(default_factory=list)
    no_answer: Optional[str] = None  # why no class is given (check_speech)

    @property
    def answer(self) -> Optional[str]:
        """The headline class: the fused system's argmax, else the speech one's; None with
        ``no_answer``."""
        if self.no_answer is not None:
            return None
        lp = self.fused if self.fused is not None else self.speech
        return self.classes[int(np.argmax(lp))]


class EmotionRecognizer:
    """The speech model, and optionally the text model and the fold's fusion, of one
    trained system. ``fusion`` is w1, znorm, equal_raw or none."""

    def __init__(self, speech_model: str, fbank_config: str, text_model: Optional[str] = None,
                 fusion: str = "none", fusion_dir: Optional[str] = None, device="cpu", use_vad: bool = False,
                 vad_config: Optional[str] = None):
        self.speech = SpeechScorer(speech_model, fbank_config, device, use_vad, vad_config)
        self.classes = self.speech.classes
        self.text = self.fuser = None
        if text_model is not None:
            self.text = TextScorer(text_model, device)
            self.text_order = class_map(self.classes, self.text.classes,
                                        f"the speech model {self.speech.path} has {self.classes}, "
                                        f"the text model {self.text.path} has {self.text.classes}")
            if fusion != "none":
                if fusion_dir is None:
                    raise InferError(f"{fusion} fusion needs the fold's fusion directory")
                self.fuser = Fuser(fusion, fusion_dir, self.classes)

    def describe(self) -> dict:
        """Per system, what produced its posteriors (for the JSON output)."""
        out = {"speech": {"model": self.speech.path}}
        if self.text is not None:
            out["text"] = {"model": self.text.path}
        if self.fuser is not None:
            out["fused"] = {"method": self.fuser.describe(), "dir": self.fuser.dir}
            if self.fuser.method == "w1":
                out["fused"]["w1"] = self.fuser.params.w1
        return out

    def score(self, wav: str, transcript: Optional[str] = None, max_seconds: Optional[float] = None,
              min_speech_s: float = MIN_SPEECH_S, recording: Optional[Recording] = None) -> Result:
        """Posteriors of WAV (and of its transcript, when there is a text model); ``recording``:
        WAV already read (read_recording); ``min_speech_s`` 0: no speech check."""
        if transcript is not None and self.text is None:
            raise InferError("a transcript was given but no text model")
        rec = recording or read_recording(wav, max_seconds)
        feats, seconds, warnings = self.speech.features(rec)
        res = Result(wav, round(seconds, 3), self.classes, self.speech.logposteriors(feats), warnings=warnings)
        check_speech(res, rec, min_speech_s, self.speech.vad_config)
        if transcript is not None:
            res.transcript = transcript
            res.text = self.text.logposteriors(transcript)[self.text_order]
            if self.fuser is not None:
                res.fused = self.fuser.logposteriors(res.speech, res.text)
        return res
