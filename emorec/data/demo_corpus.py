"""Synthetic demo corpus in the exact on-disk layouts of IEMOCAP and VoxCeleb1.

``make(out_dir, seed, size)`` writes ``out_dir/IEMOCAP_full_release`` and
``out_dir/VoxCeleb1`` (``wav/`` + ``veri_test2.txt``), speech from espeak-ng
resampled to 16 kHz 16-bit PCM.  Everything random is drawn up front from one
seeded generator, so a seed gives byte-identical files.

Emotion design (each modality alone is ambiguous on a different pair):
  * prosody (espeak pitch, SSML pitch range, rate, amplitude) has three arousal
    levels: {ang, hap, exc} high, neu mid, sad low -- ang and hap sound alike;
  * words: ang sentences carry anger words, hap/exc sentences joy words, neu and
    sad sentences share one neutral pool -- neu and sad read alike (except a
    quarter of the sad ones, which carry mildly sad words);
  * noise: per-actor pitch/rate offsets, per-utterance jitter, and ~12% of
    utterances of any class get neutral words.
So text separates ang | hap | {neu, sad} and speech separates {ang, hap} | neu |
sad, and late fusion beats either.  ``exc`` is a share of the happy utterances
(merged back into ``hap`` by Exp 3, which is then roughly balanced).

The release's traps are reproduced: ``._*`` AppleDouble files, ``Categorical/
Attribute/ Self-evaluation/`` sub-folders of EmoEvaluation, a
``Ses0kF_script02_2`` dialog per session, unevaluated ``..._MXX0`` transcript
lines (no wav), CRLF files (Sessions 2 and 4), a latin-1 byte in a transcript,
and ``xxx``/``fru``/``sur``/``oth`` labels that the 4-class sets drop.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

import numpy as np

from emorec.data.datadir import DEMO_MARKER
from emorec.stamp import Stamp

SR = 16000
SIZES = {
    # kept per session: ang, hap, exc, neu, sad; filtered: xxx, fru, sur, oth
    "small": {"ang": 25, "hap": 12, "exc": 13, "neu": 25, "sad": 25,
              "xxx": 8, "fru": 5, "sur": 3, "oth": 1},
    "tiny": {"ang": 4, "hap": 2, "exc": 2, "neu": 4, "sad": 4,
             "xxx": 1, "fru": 1, "sur": 1, "oth": 0},
}
VOX_SIZES = {"small": (48, 8), "tiny": (16, 6)}  # (speakers, trial speakers)
TEXT_NOISE = 0.12  # share of utterances whose words are neutral whatever the class
SAD_WORDS = 0.25  # share of sad utterances with sad words (the rest: the neutral pool)

# ---------------------------------------------------------------- words
NOUNS = ["report", "car", "letter", "kitchen", "package", "ticket", "window", "schedule",
         "train", "garden", "phone", "jacket", "house", "project", "dinner", "office",
         "bicycle", "contract", "bottle", "music", "weather", "hotel", "movie", "table"]
NAMES = ["Mary", "John", "Alex", "Sam", "Laura", "Peter", "Nina", "David"]
WORDS = {
    "ang": {"adj": ["furious", "unacceptable", "outrageous", "ridiculous", "disgusting",
                    "infuriating", "pathetic", "terrible", "insulting", "a disgrace"],
            "verb": ["hate", "despise", "detest", "resent", "cannot stand"],
            "excl": ["How dare you", "Damn it", "This is outrageous", "Shut up",
                     "I am so angry", "Stop it"]},
    "hap": {"adj": ["wonderful", "amazing", "fantastic", "lovely", "brilliant", "delightful",
                    "perfect", "excellent", "beautiful", "great"],
            "verb": ["love", "adore", "enjoy", "really like", "treasure"],
            "excl": ["Oh how wonderful", "That is great", "I am so happy", "Yes we did it",
                     "Oh I love it", "Hooray"]},
    "neu": {"adj": ["ready", "open", "closed", "upstairs", "next door", "on the desk",
                    "in the box", "blue", "finished", "downstairs"],
            "verb": ["checked", "moved", "found", "opened", "carried", "counted",
                     "painted", "washed"],
            "excl": ["Well", "Okay", "So", "Listen", "Right", "Anyway"]},
    "sad": {"adj": ["gone", "lost", "broken", "empty", "so far away", "over"],
            "verb": ["miss", "lost", "cried over", "gave up on", "said goodbye to"],
            "excl": ["Sorry", "Oh well", "I am so tired", "Never mind", "I feel alone"]},
    # pools of the other emotions of the emo7 demo (SAVEE's emotion-specific sentences)
    "fea": {"adj": ["dangerous", "dark", "terrifying", "not safe", "haunted"],
            "verb": ["fear", "dread", "am scared of", "panic about"],
            "excl": ["Help", "Oh no", "Watch out", "I am so scared"]},
    "dis": {"adj": ["disgusting", "rotten", "filthy", "revolting", "gross"],
            "verb": ["loathe", "cannot eat", "am sick of"],
            "excl": ["Yuck", "Ugh", "How revolting", "That smells awful"]},
    "sur": {"adj": ["unbelievable", "unexpected", "incredible", "a surprise"],
            "verb": ["never expected", "cannot believe", "just found"],
            "excl": ["Wow", "Oh my", "Really", "No way"]},
}
TEMPLATES = ["The {noun} is {adj}.", "I {verb} the {noun}.", "{excl}, the {noun} is {adj}.",
             "{name}, your {noun} is {adj} today.", "I think the {noun} and the {noun2} are {adj}.",
             "{excl}. I {verb} this {noun}.", "We {verb} the {noun} and the {noun2}."]
WORD_POOL = {"ang": "ang", "hap": "hap", "exc": "hap", "neu": "neu", "sad": "neu",
             "fru": "ang", "sur": "hap", "xxx": None, "oth": "neu"}

# ---------------------------------------------------------------- prosody
# arousal level -> (pitch, rate wpm, amplitude, SSML range index)
RANGES = ["x-low", "low", "medium", "high", "x-high"]
AROUSAL = {"high": (68.0, 195.0, 140.0, 3.5), "mid": (50.0, 165.0, 100.0, 2.0),
           "low": (32.0, 135.0, 70.0, 0.5)}
AROUSAL_OF = {"ang": "high", "hap": "high", "exc": "high", "neu": "mid", "sad": "low",
              "fru": "high", "sur": "high", "xxx": None, "oth": "mid"}
CAT_NAME = {"ang": "Anger", "hap": "Happiness", "exc": "Excited", "neu": "Neutral state",
            "sad": "Sadness", "fru": "Frustration", "sur": "Surprise", "oth": "Other",
            "fea": "Fear", "dis": "Disgust"}
VAD = {"ang": (1.5, 4.0, 4.0), "hap": (4.5, 3.5, 3.0), "exc": (4.0, 4.0, 3.5),
       "neu": (3.0, 2.0, 2.5), "sad": (1.5, 1.5, 2.0), "fru": (2.0, 3.5, 3.5),
       "sur": (3.5, 4.0, 3.0), "oth": (3.0, 3.0, 3.0), "xxx": (3.0, 3.0, 3.0)}
APPLEDOUBLE = (b"\x00\x05\x16\x07\x00\x02\x00\x00Mac OS X        \x00\x02\x00\x00\x00\x09"
               b"\x00\x00\x00\x32\x00\x00\x00\x20" + b"\x00" * 48)


@dataclass
class Job:
    path: str
    text: str
    voice: str
    pitch: int
    rate: int
    amp: int
    prange: str
    noise_seed: int
    duration: float = 0.0
    sr: int = SR        # sample rate of the written file
    pad: float = 0.0    # seconds of (noise-only) silence before and after the speech


def _choice(rng: np.random.Generator, seq):
    return seq[int(rng.integers(len(seq)))]


def sentence(rng: np.random.Generator, pool: str) -> str:
    w = WORDS[pool]
    t = _choice(rng, TEMPLATES)
    n1, n2 = rng.choice(len(NOUNS), 2, replace=False)
    return t.format(noun=NOUNS[n1], noun2=NOUNS[n2], adj=_choice(rng, w["adj"]),
                    verb=_choice(rng, w["verb"]), excl=_choice(rng, w["excl"]),
                    name=_choice(rng, NAMES))


def synth(job: Job) -> float:
    """espeak-ng -> 22.05 kHz wav -> job.sr 16-bit PCM at job.path; returns seconds."""
    import soundfile as sf

    from emorec.audio import resample

    ssml = (f'<speak><prosody range="{job.prange}">{job.text}</prosody></speak>')
    with tempfile.TemporaryDirectory(prefix="espeak") as td:
        raw = os.path.join(td, "out.wav")
        subprocess.run(["espeak-ng", "-m", "-v", job.voice, "-p", str(job.pitch),
                        "-s", str(job.rate), "-a", str(job.amp), "-w", raw, ssml],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        x, sr = sf.read(raw, dtype="float32")
    if x.ndim > 1:
        x = x.mean(axis=1)
    y = resample(np.ascontiguousarray(x), sr, job.sr)
    if job.pad:
        y = np.pad(y, int(job.pad * job.sr))
    noise = np.random.default_rng(job.noise_seed).standard_normal(len(y)).astype(np.float32)
    y = np.clip(y + 0.002 * noise, -1.0, 1.0)
    tmp = job.path + ".tmp.wav"
    sf.write(tmp, y, job.sr, subtype="PCM_16")
    os.replace(tmp, job.path)
    return len(y) / job.sr


def run_jobs(jobs: List[Job], workers: int = 2) -> None:
    import torch
    torch.set_num_threads(1)
    with ThreadPoolExecutor(max_workers=workers) as ex:
        for job, dur in zip(jobs, ex.map(synth, jobs)):
            job.duration = dur


# ---------------------------------------------------------------- IEMOCAP
@dataclass
class Turn:
    name: str
    dialog: str
    label: Optional[str]  # None: transcript line only (no evaluation, no wav)
    text: str
    job: Optional[Job] = None
    start: float = 0.0
    end: float = 0.0
    cues: Tuple[str, str] = ("", "")  # (word pool, arousal level) of the generation plan


def _ts(t: float) -> str:
    return f"{t:08.4f}"


def _iemocap_plan(root: str, rng: np.random.Generator, size: str) -> Tuple[Dict[int, List[List[Turn]]], List[Job]]:
    counts = SIZES[size]
    jobs: List[Job] = []
    plan: Dict[int, List[List[Turn]]] = {}
    for k in range(1, 6):
        sess = f"Ses{k:02d}"
        actors = {}
        for letter in ("F", "M"):
            actors[letter] = (iemocap_voice(k, letter), rng.uniform(-6, 6), rng.uniform(-12, 12))
        if size == "tiny":
            dialogs = [f"{sess}F_impro01", f"{sess}M_impro02", f"{sess}F_script02_2"]
        else:
            dialogs = [f"{sess}F_impro01", f"{sess}M_impro02", f"{sess}F_script01_1",
                       f"{sess}F_script02_2", f"{sess}M_script03_1"]
        labels = [lab for lab, n in counts.items()
                  for _ in range(max(0, n + (int(rng.integers(-2, 3)) if size == "small" else 0)))]
        labels = [labels[i] for i in rng.permutation(len(labels))]
        chunks = np.array_split(np.arange(len(labels)), len(dialogs))
        plan[k] = []
        latin1_done = False
        for d, idx in zip(dialogs, chunks):
            ddir = os.path.join(root, f"Session{k}", "sentences", "wav", d)
            os.makedirs(ddir, exist_ok=True)
            lead = d[5]
            order = [lead, "M" if lead == "F" else "F"]
            num = {"F": 0, "M": 0}
            turns: List[Turn] = []
            xx_at = int(rng.integers(len(idx) + 1))
            for j, i in enumerate(idx):
                if j == xx_at:
                    turns.append(Turn(f"{d}_{order[1]}XX0", d, None,
                                      _choice(rng, ["[LAUGHTER]", "Yeah.", "Mm-hmm.", "Okay."])))
                letter = order[j % 2]
                name = f"{d}_{letter}{num[letter]:03d}"
                num[letter] += 1
                lab = labels[i]
                pool = WORD_POOL[lab] or _choice(rng, ["ang", "hap", "neu"])
                if lab == "sad" and rng.random() < SAD_WORDS:
                    pool = "sad"
                if rng.random() < TEXT_NOISE:
                    pool = "neu"
                text = sentence(rng, pool)
                arousal = AROUSAL_OF[lab] or _choice(rng, ["high", "mid", "low"])
                p0, r0, a0, g0 = AROUSAL[arousal]
                voice, dp, dr = actors[letter]
                job = Job(os.path.join(ddir, name + ".wav"), text, voice,
                          int(np.clip(round(p0 + dp + rng.normal(0, 7)), 0, 99)),
                          int(np.clip(round(r0 + dr + rng.normal(0, 14)), 90, 260)),
                          int(np.clip(round(a0 + rng.normal(0, 15)), 30, 200)),
                          RANGES[int(np.clip(round(g0 + rng.normal(0, 0.7)), 0, 4))],
                          int(rng.integers(2**31)))
                if not latin1_done and lab == "neu" and k == 3:
                    text = job.text = "The caf\u00e9 is open."
                    latin1_done = True
                jobs.append(job)
                turns.append(Turn(name, d, lab, text, job, cues=(pool, arousal)))
            if xx_at == len(idx):
                turns.append(Turn(f"{d}_{order[1]}XX0", d, None, "Yeah."))
            plan[k].append(turns)
    return plan, jobs


def _eval_block(rng: np.random.Generator, t: Turn, letter: str) -> List[str]:
    lab = t.label
    v, a, d = VAD[lab]
    attrs = [tuple(int(np.clip(round(x + rng.normal(0, 0.6)), 1, 5)) for x in (v, a, d))
             for _ in range(3)]
    mean = [sum(x[i] for x in attrs) / 3 for i in range(3)]
    others = [c for c in CAT_NAME if c != lab]
    if lab == "xxx":
        cats = [CAT_NAME[c] for c in rng.choice(others, 3, replace=False)]
    else:
        cats = [CAT_NAME[lab]] * 3
        if rng.random() < 0.4:
            cats[int(rng.integers(3))] = CAT_NAME[_choice(rng, others)]
    lines = [f"[{t.start:.4f} - {t.end:.4f}]\t{t.name}\t{lab}\t"
             f"[{mean[0]:.4f}, {mean[1]:.4f}, {mean[2]:.4f}]"]
    for e, c in zip(("E2", "E3", "E4"), cats):
        lines.append(f"C-{e}:\t{c};\t()")
    if rng.random() < 0.5:
        lines.append(f"C-{letter}1:\t{cats[0]};\t()")
    for e, (vv, aa, dd) in zip(("E3", "E4", "E5"), attrs):
        lines.append(f"A-{e}:\tval {vv}; act {aa}; dom  {dd};\t()")
    return lines


def _write(path: str, lines: List[str], crlf: bool = False, latin1: bool = False) -> None:
    nl = "\r\n" if crlf else "\n"
    data = "".join(line + nl for line in lines)
    with open(path, "wb") as f:
        f.write(data.encode("latin-1" if latin1 else "utf-8"))


def _iemocap_texts(root: str, rng: np.random.Generator, plan: Dict[int, List[List[Turn]]]) -> None:
    for k, dialogs in plan.items():
        sdir = os.path.join(root, f"Session{k}", "dialog")
        emo = os.path.join(sdir, "EmoEvaluation")
        trd = os.path.join(sdir, "transcriptions")
        for sub in ("Categorical", "Attribute", "Self-evaluation"):
            os.makedirs(os.path.join(emo, sub), exist_ok=True)
        os.makedirs(trd, exist_ok=True)
        crlf = k in (2, 4)
        for turns in dialogs:
            d = turns[0].dialog
            t = 1.5 + float(rng.uniform(0, 2))
            for tu in turns:
                dur = tu.job.duration if tu.job else 0.6 + float(rng.uniform(0, 0.5))
                tu.start, tu.end = round(t, 4), round(t + dur, 4)
                t = tu.end + 0.3 + float(rng.uniform(0, 1.5))
            lines = ["% [START_TIME - END_TIME] TURN_NAME EMOTION [V, A, D]", ""]
            cat = {e: [] for e in ("e2", "e3", "e4")}
            atr = []
            for tu in turns:
                if tu.label is None:
                    continue
                block = _eval_block(rng, tu, tu.name.rsplit("_", 1)[1][0])
                lines += block + [""]
                for e, ln in zip(("e2", "e3", "e4"), block[1:4]):
                    cat[e].append(f"{tu.name} :{ln.split(chr(9))[1]} ()")
                atr.append(f"{tu.name} :" + block[-1].split("\t")[1] + " ()")
            _write(os.path.join(emo, d + ".txt"), lines, crlf=(k == 4))
            for e, cl in cat.items():
                _write(os.path.join(emo, "Categorical", f"{d}_{e}_cat.txt"), cl)
            _write(os.path.join(emo, "Attribute", f"{d}_e3_atr.txt"), atr)
            # A self-evaluation file that *looks* like an EmoEvaluation file.
            _write(os.path.join(emo, "Self-evaluation", f"{d}.txt"),
                   [f"[{tu.start:.4f} - {tu.end:.4f}]\t{tu.name}\tfru\t[3.0000, 3.0000, 3.0000]"
                    for tu in turns if tu.label])
            tr = [f"{tu.name} [{_ts(tu.start)}-{_ts(tu.end)}]: {tu.text}" for tu in turns]
            has_latin1 = any("\u00e9" in x for x in tr)
            _write(os.path.join(trd, d + ".txt"), tr, crlf=crlf, latin1=has_latin1)
        # AppleDouble resource forks next to real files.
        d0 = dialogs[0][0].dialog
        for p in (os.path.join(emo, f"._{d0}.txt"), os.path.join(trd, f"._{d0}.txt"),
                  os.path.join(sdir, "..", "sentences", "wav", d0, f"._{d0}_F000.wav")):
            with open(p, "wb") as f:
                f.write(APPLEDOUBLE)


# ---------------------------------------------------------------- VoxCeleb1
_YT = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


# espeak-ng voice variants of the demo VoxCeleb speakers: none of them is an IEMOCAP
# actor's (en-us+f1..f5, en-us+m1..m5), and no VoxCeleb speaker uses en-us, so the
# speaker model is never pre-trained on a test speaker's voice.
VOX_BASES = ["en-gb", "en", "en-gb-scotland", "en-029", "en-gb-x-rp"]
VOX_VARIANTS = ["m6", "m7", "adam", "Alex", "Andy", "Annie", "belinda", "benjamin", "david",
                "edward", "linda", "max", "paul", "rob", "steph", "zac"]


def iemocap_voice(session: int, letter: str) -> str:
    """The espeak-ng voice of the demo IEMOCAP actor ``Ses0kF``/``Ses0kM``."""
    return f"en-us+{letter.lower()}{session}"


def _vox_plan(root: str, rng: np.random.Generator, size: str) -> Tuple[Dict[str, List[str]], List[Job]]:
    n_spk, _ = VOX_SIZES[size]
    combos = [f"{b}+{v}" for b in VOX_BASES for v in VOX_VARIANTS]
    pick = rng.permutation(len(combos))[:n_spk]
    jobs: List[Job] = []
    spk_utts: Dict[str, List[str]] = {}
    p0, r0, a0, g0 = AROUSAL["mid"]
    for s in range(n_spk):
        spk = f"id1{s + 1:04d}"
        voice = combos[int(pick[s])]
        # A speaker corpus: everyone reads neutral sentences at the neutral (mid) arousal
        # level with a personal offset as large as an IEMOCAP actor's; no speaker speaks
        # at another arousal level, so no emotion-like prosody classes hide in speaker identity.
        pitch0, rate0 = p0 + rng.uniform(-6, 6), r0 + rng.uniform(-12, 12)
        amp0, range0 = a0, g0
        n_utt = int(rng.integers(10, 13))
        n_vid = int(rng.integers(2, 5))
        vids = ["".join(_choice(rng, _YT) for _ in range(11)) for _ in range(n_vid)]
        per_vid = np.array_split(np.arange(n_utt), n_vid)
        spk_utts[spk] = []
        for vid, us in zip(vids, per_vid):
            vdir = os.path.join(root, "wav", spk, vid)
            os.makedirs(vdir, exist_ok=True)
            for j in range(len(us)):
                rel = f"{spk}/{vid}/{j + 1:05d}.wav"
                text = sentence(rng, "neu")
                while len(text.split()) < 6:  # 2-4 s at the speaker's rate
                    text += " " + sentence(rng, "neu")
                jobs.append(Job(os.path.join(root, "wav", rel), text, voice,
                                int(np.clip(round(pitch0 + rng.normal(0, 7)), 0, 99)),
                                int(np.clip(round(rate0 + rng.normal(0, 14)), 90, 260)),
                                int(np.clip(round(amp0 + rng.normal(0, 15)), 30, 200)),
                                RANGES[int(np.clip(round(range0 + rng.normal(0, 0.7)), 0, 4))],
                                int(rng.integers(2**31))))
                spk_utts[spk].append(rel)
    return spk_utts, jobs


def _vox_trials(root: str, rng: np.random.Generator, spk_utts: Dict[str, List[str]], size: str) -> int:
    _, n_test = VOX_SIZES[size]
    test = sorted(spk_utts)[-n_test:]
    same = [(a, b) for s in test for i, a in enumerate(spk_utts[s]) for b in spk_utts[s][i + 1:]]
    diff = [(a, b) for i, s in enumerate(test) for t in test[i + 1:]
            for a in spk_utts[s] for b in spk_utts[t]]
    n = min(len(same), 200 if size == "small" else 60)
    tgt = [same[i] for i in rng.choice(len(same), n, replace=False)]
    non = [diff[i] for i in rng.choice(len(diff), n, replace=False)]
    lines = [f"1 {a} {b}" for a, b in tgt] + [f"0 {a} {b}" for a, b in non]
    lines = [lines[i] for i in rng.permutation(len(lines))]
    _write(os.path.join(root, "veri_test2.txt"), lines)
    return len(lines)


DESIGN_FILE = "IEMOCAP_design.txt"


def mark_demo(tree: str, made_by: str) -> None:
    """The provenance a data prep records (emorec.data.datadir.write_corpus_roots):
    TREE/DEMO_CORPUS.txt says the tree is synthetic, and by what."""
    _write(os.path.join(tree, DEMO_MARKER), [f"synthetic demo corpus made by {made_by}; not the real corpus"])


def write_design(path: str, plan: Dict[int, List[List[Turn]]]) -> None:
    """The generation plan of the evaluated turns, ``TURN LABEL WORD_POOL AROUSAL`` per
    line (read by emorec.report.read_design for the design-ceiling rows of RESULTS.md)."""
    lines = sorted(f"{t.name} {t.label} {t.cues[0]} {t.cues[1]}" for dialogs in plan.values()
                   for turns in dialogs for t in turns if t.label)
    _write(path, lines)


# ---------------------------------------------------------------- entry point
def make(out_dir: str, seed: int = 0, size: str = "small", workers: int = 2,
         log=print) -> Dict[str, object]:
    """Build the corpus in ``out_dir/.demo_tmp`` then rename both trees and the
    generation plan (``out_dir/IEMOCAP_design.txt``) into place.  Does nothing if all
    three were made with the same seed and size by this version (emorec.stamp)."""
    if size not in SIZES:
        raise ValueError(f"size must be one of {sorted(SIZES)}, not {size!r}")
    iem_final = os.path.join(out_dir, "IEMOCAP_full_release")
    vox_final = os.path.join(out_dir, "VoxCeleb1")
    design_final = os.path.join(out_dir, DESIGN_FILE)
    stamp = Stamp(design_final, step="make_demo_corpus iemocap", version=2, log=log,
                  options={"seed": seed, "size": size}, outputs=[iem_final, vox_final])
    if stamp.done():
        return {"skipped": True}
    stamp.begin()
    t0 = time.time()
    tmp = os.path.join(out_dir, ".demo_tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    iem, vox = os.path.join(tmp, "IEMOCAP_full_release"), os.path.join(tmp, "VoxCeleb1")
    rng = np.random.default_rng(seed)
    plan, iem_jobs = _iemocap_plan(iem, rng, size)
    spk_utts, vox_jobs = _vox_plan(vox, rng, size)
    run_jobs(iem_jobs + vox_jobs, workers)
    _iemocap_texts(iem, rng, plan)
    n_trials = _vox_trials(vox, rng, spk_utts, size)
    design = os.path.join(tmp, DESIGN_FILE)
    write_design(design, plan)
    for src, dst in ((iem, iem_final), (vox, vox_final)):
        mark_demo(src, f"emorec.data.demo_corpus, seed {seed}, size {size}")
        shutil.rmtree(dst, ignore_errors=True)
        os.replace(src, dst)
    os.replace(design, design_final)  # last: its presence marks the corpus done
    os.rmdir(tmp)
    stats = {"iemocap_wavs": len(iem_jobs), "vox_wavs": len(vox_jobs),
             "vox_speakers": len(spk_utts), "trials": n_trials,
             "seconds": round(time.time() - t0, 1),
             "iemocap_hours": round(sum(j.duration for j in iem_jobs) / 3600, 3),
             "vox_hours": round(sum(j.duration for j in vox_jobs) / 3600, 3)}
    log("demo corpus: " + " ".join(f"{k}={v}" for k, v in stats.items()))
    return stats
