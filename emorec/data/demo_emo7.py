"""Demo corpora of egs/emo7: CREMA-D, RAVDESS, SAVEE and TESS trees in their release
layouts (plus the IEMOCAP demo tree of ``emorec.data.demo_corpus``), espeak-ng speech.

``make(out_dir, seed, size)`` writes ``out_dir/{CREMA-D,RAVDESS,SAVEE,TESS,
IEMOCAP_full_release}``; everything random comes from one seeded generator, so a seed
gives byte-identical files.  The real corpora's traits are kept:
  * sample rates: CREMA-D 16 kHz, RAVDESS 48 kHz, SAVEE 44.1 kHz, TESS 24414 Hz (the
    header says 24414; the samples are espeak's 22.05 kHz resampled to 24400, a 0.06%
    pitch error that spares an awkward 3675:4069 resampling ratio);
  * layouts and name variants: CREMA-D ``AudioWAV/`` with levels LO MD HI XX and
    ``VideoDemographics.csv``; RAVDESS ``Actor_NN/`` with song files (vocal channel 02)
    beside the speech; SAVEE two speakers in ``AudioData/<SPK>/a01.wav``, two flat
    ``ALL/<SPK>_a01.wav``; TESS folders spelt ``OAF_Fear``, ``YAF_fear``,
    ``OAF_Pleasant_surprise``, ``YAF_pleasant_surprised`` with ``_ps.wav`` files;
  * traps: ``._*`` AppleDouble files, a stray non-audio file per tree, one empty wav in
    CREMA-D (as ``1076_MTI_SAD_XX.wav`` of the real one);
  * every file has 0.2-0.6 s of near-silence before and after the speech (VAD work).
Emotion is carried by prosody (pitch, rate, amplitude, pitch range per emotion, with
per-actor offsets and per-utterance jitter) in every corpus, and by words only in SAVEE,
whose real sentences differ per emotion; CREMA-D, RAVDESS and TESS sentences are the
corpora's own fixed, emotion-neutral ones.
"""
from __future__ import annotations

import os
import shutil
import time
from typing import Dict, List

import numpy as np

from emorec.data import demo_corpus as dc
from emorec.stamp import Stamp
from emorec.data.emo_corpora import CREMAD_SENTENCES, RAVDESS_TEXT

# emotion -> (espeak pitch 0-99, rate wpm, amplitude, SSML range index)
PROSODY = {"neutral": (50, 160, 100, 2.0), "calm": (42, 140, 75, 1.0),
           "happy": (70, 180, 130, 3.5), "sad": (30, 120, 70, 0.5),
           "angry": (58, 195, 160, 3.0), "fearful": (80, 205, 90, 3.0),
           "disgust": (38, 130, 115, 1.5), "surprised": (85, 170, 135, 4.0)}
SIZES = {"small": {"cremad_actors": 8, "cremad_sentences": 4, "ravdess_actors": 6,
                   "ravdess_statements": 2, "savee_per_emo": 5, "tess_words": 10,
                   "iemocap": "tiny"},
         "tiny": {"cremad_actors": 2, "cremad_sentences": 1, "ravdess_actors": 2,
                  "ravdess_statements": 1, "savee_per_emo": 1, "tess_words": 2,
                  "iemocap": "tiny"}}
TREES = ("CREMA-D", "RAVDESS", "SAVEE", "TESS", "IEMOCAP_full_release")
SAVEE_POOL = {"angry": "ang", "happy": "hap", "sad": "sad", "neutral": "neu",
              "fearful": "fea", "disgust": "dis", "surprised": "sur"}
TESS_WORDS = ["back", "bar", "base", "bath", "bean", "beg", "bite", "boat", "bone", "book",
              "bought", "burn", "cab", "calm", "came", "cause", "chain", "chair", "chalk",
              "chat", "check", "cheek", "chief", "choice", "cool", "dab", "date", "dead"]
TESS_DIRS = {"OAF": {"angry": "angry", "disgust": "disgust", "fearful": "Fear",
                     "happy": "happy", "neutral": "neutral",
                     "surprised": "Pleasant_surprise", "sad": "Sad"},
             "YAF": {"angry": "angry", "disgust": "disgust", "fearful": "fear",
                     "happy": "happy", "neutral": "neutral",
                     "surprised": "pleasant_surprised", "sad": "sad"}}
TESS_FILE_EMO = {"angry": "angry", "disgust": "disgust", "fearful": "fear", "happy": "happy",
                 "neutral": "neutral", "surprised": "ps", "sad": "sad"}


class _Planner:
    """Draws every job of the demo from one generator, in a fixed order."""

    def __init__(self, rng: np.random.Generator):
        self.rng = rng
        self.jobs: List[dc.Job] = []

    def actor(self, voice: str) -> tuple:
        return voice, self.rng.uniform(-8, 8), self.rng.uniform(-15, 15)

    def job(self, path: str, text: str, actor: tuple, emo: str, sr: int) -> None:
        rng = self.rng
        voice, dp, dr = actor
        p0, r0, a0, g0 = PROSODY[emo]
        os.makedirs(os.path.dirname(path), exist_ok=True)
        self.jobs.append(dc.Job(
            path, text, voice,
            int(np.clip(round(p0 + dp + rng.normal(0, 6)), 0, 99)),
            int(np.clip(round(r0 + dr + rng.normal(0, 12)), 90, 260)),
            int(np.clip(round(a0 + rng.normal(0, 12)), 30, 200)),
            dc.RANGES[int(np.clip(round(g0 + rng.normal(0, 0.6)), 0, 4))],
            int(rng.integers(2 ** 31)), sr=sr, pad=round(float(rng.uniform(0.2, 0.6)), 3)))


def _traps(root: str, wav_dir: str, first_wav: str, stray: str) -> None:
    with open(os.path.join(wav_dir, "._" + first_wav), "wb") as f:
        f.write(dc.APPLEDOUBLE)
    with open(os.path.join(root, stray), "w") as f:
        f.write("Demo corpus written by emorec.data.demo_emo7; not audio.\n")


def _cremad(root: str, p: _Planner, cfg: Dict) -> None:
    wav_dir = os.path.join(root, "AudioWAV")
    codes = sorted(CREMAD_SENTENCES)
    emos = {"ANG": "angry", "DIS": "disgust", "FEA": "fearful", "HAP": "happy",
            "NEU": "neutral", "SAD": "sad"}
    demo = ["ActorID,Age,Sex,Race,Ethnicity"]
    names = []
    for a in range(cfg["cremad_actors"]):
        actor_id = 1001 + a
        sex = "Male" if p.rng.random() < 0.5 else "Female"
        demo.append(f"{actor_id},{int(p.rng.integers(20, 75))},{sex},Caucasian,Not Hispanic")
        actor = p.actor(f"en-us+{'m' if sex == 'Male' else 'f'}{a % 5 + 1}")
        sents = [codes[i] for i in p.rng.permutation(len(codes))[:cfg["cremad_sentences"]]]
        for code in sents:
            for emo_code, emo in emos.items():
                level = "XX" if code != sents[0] or emo == "neutral" else \
                    dc._choice(p.rng, ["LO", "MD", "HI"])
                name = f"{actor_id}_{code}_{emo_code}_{level}.wav"
                p.job(os.path.join(wav_dir, name), CREMAD_SENTENCES[code], actor, emo, 16000)
                names.append(name)
    dc._write(os.path.join(root, "VideoDemographics.csv"), demo)
    _traps(root, wav_dir, names[0], "README.txt")


def _ravdess(root: str, p: _Planner, cfg: Dict) -> None:
    emo_codes = {"neutral": "01", "calm": "02", "happy": "03", "sad": "04", "angry": "05",
                 "fearful": "06", "disgust": "07", "surprised": "08"}
    for a in range(1, cfg["ravdess_actors"] + 1):
        adir = os.path.join(root, f"Actor_{a:02d}")
        actor = p.actor(f"en-gb+{'m' if a % 2 else 'f'}{a % 5 + 1}")
        for emo, ec in emo_codes.items():
            for intensity in (("01",) if emo == "neutral" else ("01", "02")):
                for st in sorted(RAVDESS_TEXT)[:cfg["ravdess_statements"]]:
                    text = RAVDESS_TEXT[st]
                    name = f"03-01-{ec}-{intensity}-{st}-01-{a:02d}.wav"
                    p.job(os.path.join(adir, name), text, actor, emo, 48000)
        for ec, emo in (("02", "calm"), ("03", "happy")):  # song: skipped by default
            name = f"03-02-{ec}-01-01-01-{a:02d}.wav"
            p.job(os.path.join(adir, name), RAVDESS_TEXT["01"], actor, emo, 48000)
    _traps(root, os.path.join(root, "Actor_01"), "03-01-01-01-01-01-01.wav", "Thumbs.db")


def _savee(root: str, p: _Planner, cfg: Dict) -> None:
    codes = {"angry": "a", "disgust": "d", "fearful": "f", "happy": "h", "neutral": "n",
             "sad": "sa", "surprised": "su"}
    for k, spk in enumerate(("DC", "JE", "JK", "KL")):
        actor = p.actor(f"en-gb+m{k + 2}")
        for emo, code in codes.items():
            n = cfg["savee_per_emo"] * (2 if emo == "neutral" else 1)
            for i in range(1, n + 1):
                # a third are common sentences (neutral words), as in the real corpus
                pool = "neu" if i % 3 == 0 else SAVEE_POOL[emo]
                text = dc.sentence(p.rng, pool)
                path = (os.path.join(root, "AudioData", spk, f"{code}{i:02d}.wav") if k < 2
                        else os.path.join(root, "ALL", f"{spk}_{code}{i:02d}.wav"))
                p.job(path, text, actor, emo, 44100)
    _traps(root, os.path.join(root, "AudioData", "DC"), "a01.wav", "info.txt")


def _tess(root: str, p: _Planner, cfg: Dict) -> None:
    for spk, voice in (("OAF", "en-us+f4"), ("YAF", "en-us+f2")):
        actor = p.actor(voice)
        words = [TESS_WORDS[i] for i in p.rng.permutation(len(TESS_WORDS))[:cfg["tess_words"]]]
        for emo, folder in TESS_DIRS[spk].items():
            for w in words:
                name = f"{spk}_{w}_{TESS_FILE_EMO[emo]}.wav"
                p.job(os.path.join(root, f"{spk}_{folder}", name), f"Say the word {w}",
                      actor, emo, 24414)
    _traps(root, os.path.join(root, "OAF_angry"), f"OAF_{words[0]}_angry.wav", "desktop.ini")


def make(out_dir: str, seed: int = 0, size: str = "small", workers: int = 2,
         log=print) -> Dict[str, object]:
    """Build the trees in ``out_dir/.demo_emo7_tmp``, then rename them into place.
    Does nothing if the five trees were made with the same seed and size by this
    version (emorec.stamp)."""
    if size not in SIZES:
        raise ValueError(f"size must be one of {sorted(SIZES)}, not {size!r}")
    stamp = Stamp(os.path.join(out_dir, TREES[-1]), step="make_demo_corpus emo7", version=2, log=log,
                  options={"seed": seed, "size": size}, outputs=[os.path.join(out_dir, t) for t in TREES])
    if stamp.done():
        return {"skipped": True}
    stamp.begin()
    cfg = SIZES[size]
    t0 = time.time()
    tmp = os.path.join(out_dir, ".demo_emo7_tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    rng = np.random.default_rng(seed)
    p = _Planner(rng)
    _cremad(os.path.join(tmp, "CREMA-D"), p, cfg)
    _ravdess(os.path.join(tmp, "RAVDESS"), p, cfg)
    _savee(os.path.join(tmp, "SAVEE"), p, cfg)
    _tess(os.path.join(tmp, "TESS"), p, cfg)
    iem = os.path.join(tmp, "IEMOCAP_full_release")
    plan, iem_jobs = dc._iemocap_plan(iem, rng, cfg["iemocap"])
    dc.run_jobs(p.jobs + iem_jobs, workers)
    dc._iemocap_texts(iem, rng, plan)
    # CREMA-D's empty file (the real release has one, 1076_MTI_SAD_XX.wav)
    empty = os.path.join(tmp, "CREMA-D", "AudioWAV",
                         f"{1000 + cfg['cremad_actors']}_MTI_SAD_XX.wav")
    open(empty, "wb").close()
    for t in TREES:
        dc.mark_demo(os.path.join(tmp, t), f"emorec.data.demo_emo7, seed {seed}, size {size}")
    for t in TREES:  # IEMOCAP_full_release last: the stamp's final output
        shutil.rmtree(os.path.join(out_dir, t), ignore_errors=True)
        os.replace(os.path.join(tmp, t), os.path.join(out_dir, t))
    os.rmdir(tmp)
    stats = {"wavs": len(p.jobs) + len(iem_jobs),
             "hours": round(sum(j.duration for j in p.jobs + iem_jobs) / 3600, 3),
             "seconds": round(time.time() - t0, 1)}
    log("demo corpora: " + " ".join(f"{k}={v}" for k, v in stats.items()))
    return stats
