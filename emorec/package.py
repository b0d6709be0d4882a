"""A packaged model: one self-contained directory with everything inference needs
(steps/export_model.sh writes it, ``emorec-infer --model DIR`` and ``emorec-serve`` read it
through ``load_package``). Two kinds: version 1 (below), a late fusion of a speech ResNet
and a BERT text system; version 2 (``export_system``, ``SystemPackage``), one system of any
model family (emorec.train.families; e.g. paper 004's joint HuBERT+BERT) under
``systems/<name>/foldK`` (the fold model dirs), with ``manifest.json["preprocessing"]``
(resample to 16 kHz mono; noise_reduction, spectral gating as the recipe's stage 1 did it,
when enabled; silence_removal with ``vad.conf``), its ASR and its classes.

Layout::

    manifest.json        format, classes, feature config, ASR, systems (below)
    README.md            what it was trained on, its test UA/WA from the recipe's RESULTS.md
    fbank.conf           the feature config the speech models were trained with
    vad.conf             when they were trained on the voiced frames (--use-vad true): every
                         emorec.vad option (manifest "vad_config"; null: no VAD)
    classes.txt          the class order of every posterior
    speech/foldK/ text/foldK/ (the model dirs the families saved: family.json)  fusion/foldK/ (w1.txt / znorm_stats.txt)
    asr/                 the Whisper model, when a Whisper directory was exported

``manifest.json["systems"]`` lists the systems in the order they are computed; each has a
``name`` (speech, text, fused), a ``kind`` this module knows how to run (speech_resnet,
bert_text, late_fusion; other kinds -- SSL or joint models -- are added to KINDS) and
``members``: one entry per fold model. Leave-one-session-out gives five models trained on
different sessions; the package keeps those exported (all five by default) as an
**ensemble**: each system's posteriors are the mean of its members' natural-log posteriors,
renormalised (a log-softmax); the fused system averages each fold's own fusion of that
fold's speech and text. With one fold exported, the posteriors are that fold's exactly.

The ASR (``manifest.json["asr"]``) transcribes audio when no transcript is given:
``pocketsphinx`` (its wheel's models), or a Whisper model copied into ``asr/``, or a
Whisper name that must then be in the local Hugging Face cache of the machine running it.
"""
from __future__ import annotations

import json
import os
import shutil
from dataclasses import asdict
from pathlib import Path
from typing import List, Optional, Sequence

import numpy as np

from emorec import fusion
from emorec.fileio import atomic_dir, read_classes, write_classes
from emorec.inference import (MIN_SPEECH_S, EmotionRecognizer, InferError, Recording, Result, check_speech,
                              read_recording)
from emorec.vad import VadConfig

FORMAT = "emorec-model"
VERSION = 1          # late fusion of a speech and a text system (export_model)
SYSTEM_VERSION = 2   # one system of any model family, with its preprocessing (export_system)
KINDS = {"speech": "speech_resnet", "text": "bert_text", "fused": "late_fusion"}
FUSION_FILES = {"w1": ["w1.txt"], "znorm": ["znorm_stats.txt"], "equal_raw": []}


def _copy(src: Path, dst: Path, what: str) -> None:
    if not src.exists():
        raise InferError(f"{src}: missing ({what})")
    dst.parent.mkdir(parents=True, exist_ok=True)
    (shutil.copytree if src.is_dir() else shutil.copy2)(src, dst)


def results_rows(results_md: Path, systems: Sequence[str]) -> List[str]:
    """The title and the summary-table rows of ``systems`` in a recipe's RESULTS.md: the
    first table with a ``| system |`` header, up to its end (later tables name the same
    systems with other columns)."""
    lines = results_md.read_text(encoding="utf-8").splitlines()
    title = next((ln for ln in lines if ln.startswith("# ")), f"# {results_md}")
    head = [i for i, ln in enumerate(lines) if ln.startswith("| system |")]
    if not head:
        raise InferError(f"{results_md}: no summary table ('| system |' header)")
    i = head[0]
    end = next((j for j in range(i, len(lines)) if not lines[j].startswith("|")), len(lines))
    rows = [lines[i], lines[i + 1]] + [ln for ln in lines[i + 2:end]
                                       if any(ln.startswith(f"| `{s}` |") for s in systems)]
    return [title.lstrip("# ").strip()] + rows


def export_model(exp_dir, out_dir, fbank_config, folds: Sequence[str], speech_system: str = "ser_finetune",
                 text_system: str = "text", fusion_system: str = "fusion", fusion_method: str = "w1",
                 asr_model: str = "pocketsphinx", results_md=None, trained_on: str = "", use_vad: bool = False,
                 vad_config: Optional[str] = None, corpus: str = "", log=print) -> Path:
    """Copy fold models of a recipe's experiment dir into a package at ``out_dir``
    (written beside it, then renamed into place). The systems are read from
    EXP/<speech_system>/foldK/model, EXP/<text_system>/foldK/model and
    EXP/<fusion_system>/<fusion_method>/foldK; README.md quotes their RESULTS.md rows,
    named as the recipe reports them (speech_finetune, text_asr, fusion_w1_asr ...).
    ``use_vad``/``vad_config``: the recipe's features went through steps/compute_vad.sh
    (with that options file; None: the defaults); the package then keeps every VAD option.
    ``corpus``: demo, real or mixed (emorec.report.corpus_kind of the data prep's
    corpus_roots), "" when not known; the page warns of a demo corpus."""
    exp, out_dir = Path(exp_dir), Path(out_dir)
    if fusion_method not in FUSION_FILES:
        raise InferError(f"unknown fusion method {fusion_method!r} ({', '.join(FUSION_FILES)})")
    if not folds:
        raise InferError("no folds to export")
    members = {"speech": [], "text": [], "fused": []}
    with atomic_dir(out_dir) as tmp:
        _copy(Path(fbank_config), tmp / "fbank.conf", "the fbank config")
        vad = _write_vad(tmp, vad_config) if use_vad or vad_config else None
        classes = None
        for k in folds:
            sp, tx, fu = (f"speech/fold{k}", f"text/fold{k}", f"fusion/fold{k}")
            _copy(exp / speech_system / f"fold{k}" / "model", tmp / sp, "the speech model")
            _copy(exp / text_system / f"fold{k}" / "model", tmp / tx, "the text model")
            (tmp / fu).mkdir(parents=True)
            for f in FUSION_FILES[fusion_method] + ["classes.txt"]:
                src = exp / fusion_system / fusion_method / f"fold{k}" / f
                if f != "classes.txt" or src.is_file():
                    _copy(src, tmp / fu / f, f"{fusion_method} fusion parameters")
            # loading each fold checks that its models and fusion agree, before anything is published
            rec = EmotionRecognizer(str(tmp / sp), str(tmp / "fbank.conf"), text_model=str(tmp / tx),
                                    fusion=fusion_method, fusion_dir=str(tmp / fu), device="cpu",
                                    vad_config=str(tmp / vad) if vad else None)
            if classes is not None and rec.classes != classes:
                raise InferError(f"fold{k} has classes {rec.classes}, fold{folds[0]} {classes}")
            classes = rec.classes
            for name, path in zip(("speech", "text", "fused"), (sp, tx, fu)):
                members[name].append(path)
        write_classes(tmp / "classes.txt", classes)
        asr = _write_asr(tmp, asr_model)
        reported = [speech_system.replace("ser_", "speech_"), text_system,
                    f"fusion_{fusion_method}{fusion_system[len('fusion'):]}"]
        rows = results_rows(Path(results_md), reported) if results_md else []
        manifest = {
            "format": FORMAT, "version": VERSION, "classes": classes, "fbank_config": "fbank.conf",
            "vad_config": vad,
            "asr": asr,
            "ensemble": "mean of the members' natural-log posteriors, renormalised",
            "systems": [
                {"name": "speech", "kind": KINDS["speech"], "inputs": ["audio"], "members": members["speech"]},
                {"name": "text", "kind": KINDS["text"], "inputs": ["transcript"], "members": members["text"]},
                {"name": "fused", "kind": KINDS["fused"], "inputs": ["speech", "text"],
                 "method": fusion_method, "members": members["fused"]},
            ],
            "trained_on": trained_on, "corpus": corpus, "exp_systems": [speech_system, text_system, f"{fusion_system}/{fusion_method}"], "source_exp": str(exp.resolve()), "folds": [f"fold{k}" for k in folds],
            "results": rows[1:],
        }
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        (tmp / "README.md").write_text(_readme(manifest, rows), encoding="utf-8")
    log(f"export_model: {len(folds)} fold model(s) of {exp} -> {out_dir}")
    return out_dir


def _write_vad(tmp: Path, vad_config: Optional[str]) -> str:
    """vad.conf in the package: every emorec.vad option (vad_config's, else the defaults)."""
    try:
        cfg = VadConfig.from_file(vad_config)
    except (OSError, ValueError) as e:
        raise InferError(f"{vad_config}: {e}") from None
    (tmp / "vad.conf").write_text("".join(f"--{k.replace('_', '-')}={v}\n" for k, v in asdict(cfg).items()),
                                  encoding="utf-8")
    return "vad.conf"


def _write_asr(tmp: Path, asr_model: str) -> dict:
    if asr_model != "pocketsphinx" and os.path.isdir(asr_model):
        _copy(Path(asr_model), tmp / "asr", "the Whisper model")
        return {"model": "asr", "source": os.path.abspath(asr_model)}
    return {"model": asr_model}


def export_system(exp_dir, out_dir, system: str, folds: Sequence[str], asr_model: str = "pocketsphinx",
                  vad_config: Optional[str] = None, trim_silence: bool = True, noise_reduction: bool = False,
                  results_md=None, trained_on: str = "", system_dir=None, corpus: str = "", log=print) -> Path:
    """A package of one system of any model family (e.g. egs/emo7's joint HuBERT+BERT, as
    paper 004 deploys it): the fold model dirs EXP/<system>/foldK/model (an ensemble when
    several), the preprocessing of the recipe's audio (16 kHz mono; silence removal with
    ``vad_config``'s options, as its stage 1 trims, after spectral-gating noise reduction
    when the recipe used it: emorec.denoise), its ASR and its classes. ``system_dir``: where
    the system's foldK dirs are (default EXP/<system>; e.g. one seed's, EXP/<system>/seedS).
    ``corpus``: as export_model's."""
    from emorec.train import families

    exp, out_dir = Path(exp_dir), Path(out_dir)
    src = Path(system_dir) if system_dir else exp / system
    if not folds:
        raise InferError("no folds to export")
    members, classes, family = [], None, None
    with atomic_dir(out_dir) as tmp:
        for k in folds:
            rel = f"systems/{system}/fold{k}"
            _copy(src / f"fold{k}" / "model", tmp / rel, f"the {system} model")
            try:  # each fold must load before anything is published
                pred = families.load(tmp / rel, "cpu")
            except (OSError, ValueError) as e:
                raise InferError(f"{src / f'fold{k}' / 'model'}: {e}") from None
            name = families.family_of(tmp / rel)
            if classes is not None and (pred.classes != classes or name != family):
                raise InferError(f"fold{k} is a {name} model of {pred.classes}, fold{folds[0]} {family} of {classes}")
            classes, family, inputs = pred.classes, name, list(pred.inputs)
            members.append(rel)
        write_classes(tmp / "classes.txt", classes)
        pre = [{"step": "resample", "sample_rate": 16000, "channels": "mean"},
               {"step": "noise_reduction", "enabled": bool(noise_reduction), "method": "emorec.denoise.reduce_noise"}]
        if trim_silence:
            pre.append({"step": "silence_removal", "vad_config": _write_vad(tmp, vad_config)})
        rows = results_rows(Path(results_md), [system]) if results_md else []
        manifest = {"format": FORMAT, "version": SYSTEM_VERSION, "classes": classes, "preprocessing": pre,
                    "asr": _write_asr(tmp, asr_model),
                    "ensemble": "mean of the members' natural-log posteriors, renormalised",
                    "systems": [{"name": system, "family": family, "inputs": inputs, "members": members}],
                    "trained_on": trained_on, "corpus": corpus, "source_exp": str(exp.resolve()), "folds": [f"fold{k}" for k in folds],
                    "results": rows[1:]}
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        desc = (f"{system}: a {family} model of {' + '.join(inputs)}; preprocessing: 16 kHz mono"
                f"{', noise reduction (spectral gating)' if noise_reduction else ''}"
                f"{', silence removal (VAD `vad.conf`)' if trim_silence else ''}")
        (tmp / "README.md").write_text(_readme(manifest, rows, desc), encoding="utf-8")
    log(f"export_model: {len(folds)} fold model(s) of {src} -> {out_dir}")
    return out_dir


def _readme(m: dict, rows: List[str], systems: Optional[str] = None) -> str:
    n = len(m["folds"])
    how = ("the posteriors of that fold's models" if n == 1 else
           f"an ensemble of the {n} fold models ({', '.join(m['folds'])}; each trained without its test "
           f"session): per system, the mean of their natural-log posteriors, renormalised")
    out = ["# emorec packaged model", "",
           f"- trained on: {m['trained_on'] or 'not stated'}",
           f"- exported from: `{m['source_exp']}`",
           f"- classes: {' '.join(m['classes'])}",
           f"- systems: {systems or _late_fusion_systems(m)}; {how}.",
           f"- transcripts when none is given: ASR `{m['asr']['model']}`",
           "", "Run: `emorec-infer --model THIS_DIR some.wav` or `emorec-serve --model THIS_DIR`.", ""]
    if rows:
        out += [f"## Test results of the recipe ({rows[0]})", "",
                "Leave-one-session-out UA/WA of the fold models on their own test sessions (from the "
                "recipe's RESULTS.md); the ensemble itself has no held-out test set.", ""] + rows[1:] + [""]
    return "\n".join(out)


def _late_fusion_systems(m: dict) -> str:
    return (f"speech ResNet on log-mel filterbanks (`fbank.conf`"
            f"{'; the voiced frames only, VAD `vad.conf`' if m['vad_config'] else ''}), BERT text model, "
            f"late fusion ({m['systems'][2]['method']})")


def _manifest(model_dir) -> dict:
    mf = Path(model_dir) / "manifest.json"
    try:
        m = json.loads(mf.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InferError(f"{mf}: no such file ({model_dir} is not an exported model; "
                         f"steps/export_model.sh writes one)") from None
    except (OSError, ValueError) as e:
        raise InferError(f"{mf}: cannot read: {e}") from None
    if m.get("format") != FORMAT or m.get("version") not in (VERSION, SYSTEM_VERSION):
        raise InferError(f"{mf}: not a {FORMAT} manifest of version {VERSION} or {SYSTEM_VERSION}")
    return m


def load_package(model_dir, device="cpu"):
    """The package at model_dir, loaded for inference: a late fusion of a speech and a text
    system (version 1, export_model) or one system of any family (version 2, export_system)."""
    m = _manifest(model_dir)
    return (PackagedModel if m["version"] == VERSION else SystemPackage)(model_dir, device)


class _Package:
    """What every package has: its dir, manifest, classes and ASR."""

    def __init__(self, model_dir, device="cpu"):
        self.dir, self.device = Path(model_dir), device
        self.manifest = _manifest(model_dir)
        self.classes = self.manifest["classes"]
        self._asr = None

    def asr_name(self) -> str:
        name = self.manifest["asr"]["model"]
        return str(self.dir / name) if name == "asr" else name

    def transcribe(self, wav: str, recording: Optional[Recording] = None) -> str:
        """The ASR's words of WAV (``recording``: WAV already read), ``asr.NO_WORDS`` for none."""
        from emorec import asr
        from emorec.audio import mono_at_rate

        if self._asr is None:
            try:
                self._asr = asr.load_asr(self.asr_name(), device=self.device)
            except asr.ASRError as e:
                raise InferError(str(e)) from None
        rec = recording or read_recording(wav)
        return self._asr.transcribe([mono_at_rate(rec.data, rec.sr, wav, asr.SAMPLE_RATE)])[0] or asr.NO_WORDS


class PackagedModel(_Package):
    """A late-fusion package loaded for inference; ``score`` returns an inference.Result."""

    def __init__(self, model_dir, device="cpu"):
        super().__init__(model_dir, device)
        m, mf = self.manifest, self.dir / "manifest.json"
        if m["version"] != VERSION:
            raise InferError(f"{mf}: version {m['version']} is a one-system package (load_package)")
        systems = {s["name"]: s for s in m["systems"]}
        unknown = [f"{s['name']} ({s['kind']})" for s in m["systems"] if KINDS.get(s["name"]) != s["kind"]]
        if unknown:
            raise InferError(f"{mf}: this emorec cannot run the system(s) {', '.join(unknown)}; it knows "
                             f"{', '.join(f'{n} ({k})' for n, k in KINDS.items())}")
        missing = [n for n in KINDS if n not in systems]
        if missing:
            raise InferError(f"{mf}: no {', '.join(missing)} system")
        fused = systems["fused"]
        vad = m.get("vad_config")
        self.members = [
            EmotionRecognizer(str(self.dir / sp), str(self.dir / m["fbank_config"]), text_model=str(self.dir / tx),
                              fusion=fused["method"], fusion_dir=str(self.dir / fu), device=device,
                              vad_config=str(self.dir / vad) if vad else None)
            for sp, tx, fu in zip(systems["speech"]["members"], systems["text"]["members"], fused["members"])]
        if read_classes(self.dir / "classes.txt") != self.classes or \
                any(r.classes != self.classes for r in self.members):
            raise InferError(f"{self.dir}: the models' classes differ from classes.txt {self.classes}")
        self.fusion_method = fused["method"]

    def describe(self) -> dict:
        """As EmotionRecognizer.describe; a single fold's fusion keeps its own description."""
        n = len(self.members)
        method = self.members[0].fuser.describe() if n == 1 else f"{self.fusion_method}, {n}-fold ensemble"
        return {"speech": {"model": str(self.dir), "members": n}, "text": {"model": str(self.dir), "members": n},
                "fused": {"method": method, "model": str(self.dir), "members": n}}

    def score(self, wav: str, transcript: Optional[str] = None, max_seconds: Optional[float] = None,
              min_speech_s: float = MIN_SPEECH_S) -> Result:
        """Ensemble posteriors of WAV; its transcript from the ASR when none is given. The audio
        is read once (``max_seconds``: refuse longer audio before decoding it); with less than
        ``min_speech_s`` s of speech the result has no answer (inference.check_speech)."""
        from emorec.asr import NO_WORDS

        rec = read_recording(wav, max_seconds)
        if transcript is None:
            transcript = self.transcribe(wav, rec)
        results = [r.score(wav, transcript, min_speech_s=0, recording=rec) for r in self.members]
        res = results[0]
        for name in ("speech", "text", "fused"):
            if getattr(res, name) is not None:
                mean = np.mean([getattr(r, name) for r in results], axis=0)
                setattr(res, name, fusion.log_softmax(mean[None, :])[0])
        if transcript == NO_WORDS:
            res.warnings.append(f"{wav!r}: the ASR recognised no words; the text and fused posteriors "
                                f"rest on an unknown word")
        check_speech(res, rec, min_speech_s, self.members[0].speech.vad_config)
        return res


class SystemPackage(_Package):
    """A one-system package (export_system): each recording goes through the manifest's
    preprocessing, the ASR when the system reads a transcript and none is given, and the
    members (loaded by their families); the Result holds the system's posteriors as
    ``speech`` (audio alone), ``text`` (transcript alone) or ``fused`` (both)."""

    def __init__(self, model_dir, device="cpu"):
        from emorec.train import families

        super().__init__(model_dir, device)
        (self.system,) = self.manifest["systems"]
        try:
            self.members = [families.load(self.dir / rel, device) for rel in self.system["members"]]
        except (OSError, ValueError) as e:
            raise InferError(f"{self.dir}: {e}") from None
        if any(p.classes != self.classes for p in self.members):
            raise InferError(f"{self.dir}: the models' classes differ from classes.txt {self.classes}")
        self.inputs = tuple(self.system["inputs"])
        self.slot = {("wave",): "speech", ("text",): "text"}.get(self.inputs, "fused")
        self.vad = self.vad_file = None
        self.noise_reduction = False
        for step in self.manifest["preprocessing"]:
            if step["step"] == "silence_removal":
                from emorec.vad import Vad

                self.vad_file = self.dir / step["vad_config"]
                self.vad_cfg = VadConfig.from_file(str(self.vad_file))
                self.vad = Vad(self.vad_cfg)
            elif step["step"] == "noise_reduction":
                self.noise_reduction = bool(step["enabled"])

    def describe(self) -> dict:
        n = len(self.members)
        return {self.slot: {"model": str(self.dir), "system": self.system["name"],
                            "family": self.system["family"], "members": n}}

    def audio(self, rec: Recording):
        """-> (16 kHz mono audio of ``rec`` after the preprocessing, seconds before it, warnings)."""
        from emorec.audio import AudioError, mono_at_rate
        from emorec.inference import audio_warnings
        from emorec.vad import speech_samples

        wav = rec.wav
        try:
            wave = mono_at_rate(rec.data, rec.sr, wav, target_sr=16000, on_mismatch="resample")
        except AudioError as e:
            raise InferError(str(e), e.brief) from None
        warnings = list(rec.warnings) + audio_warnings(wav, rec.sr, wave, 16000)
        seconds = wave.size / 16000
        decisions = self.vad(wave) if self.vad is not None and wave.size else None
        if self.noise_reduction:  # the recipe's order: sample rate, noise reduction, silence removal
            from emorec.denoise import reduce_noise

            noise = speech_samples(wave, 1 - decisions, self.vad_cfg) if decisions is not None else None
            wave = reduce_noise(wave, 16000, noise=noise)
        if decisions is not None:
            kept = speech_samples(wave, decisions, self.vad_cfg)
            if kept.size >= 16000 // 10:
                wave = kept
            else:
                warnings.append(f"{wav!r}: the VAD finds no speech; the whole recording is scored")
        return wave, seconds, warnings

    def score(self, wav: str, transcript: Optional[str] = None, max_seconds: Optional[float] = None,
              min_speech_s: float = MIN_SPEECH_S) -> Result:
        """The system's posteriors of WAV (as PackagedModel.score: read once, ``max_seconds``
        refused before decoding, no answer with less than ``min_speech_s`` s of speech)."""
        from emorec.asr import NO_WORDS

        rec = read_recording(wav, max_seconds)
        if "text" in self.inputs and transcript is None:
            transcript = self.transcribe(wav, rec)
        wave, seconds, warnings = self.audio(rec)
        inputs = {k: v for k, v in (("wave", wave), ("text", transcript)) if k in self.inputs}
        lp = np.mean([m.score_one(**inputs) for m in self.members], axis=0)
        res = Result(wav, round(seconds, 3), self.classes, None, transcript=transcript, warnings=warnings)
        setattr(res, self.slot, fusion.log_softmax(lp[None, :])[0])
        if transcript == NO_WORDS and "text" in self.inputs:
            res.warnings.append(f"{wav!r}: the ASR recognised no words; the posteriors rest on an unknown word")
        check_speech(res, rec, min_speech_s, str(self.vad_file) if self.vad_file else None)
        return res
