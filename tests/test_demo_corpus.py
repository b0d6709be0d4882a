"""The synthetic demo corpus: real layouts and traps, determinism, and that the
real data preps run on it."""
import hashlib
import os
import shutil
import subprocess

import numpy as np
import pytest
import soundfile as sf

from emorec.data import demo_corpus
from emorec.fileio import read_kv

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
pytestmark = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed")


def _make(out, seed=0):
    subprocess.run(["bash", "local/make_demo_corpus.sh", "--seed", str(seed), "--size", "tiny", out],
                   cwd=REPO, check=True, capture_output=True, text=True)
    return out


def _digest(root):
    h = {}
    for d, _, files in os.walk(root):
        for f in files:
            p = os.path.join(d, f)
            h[os.path.relpath(p, root)] = hashlib.md5(open(p, "rb").read()).hexdigest()
    return h


def _validate(d, *opts):
    if os.path.exists(os.path.join(REPO, "utils", "validate_data_dir.sh")):
        subprocess.run(["bash", "utils/validate_data_dir.sh", "--no-feats", *opts, d], cwd=REPO,
                       check=True, capture_output=True)


@pytest.fixture(scope="session")
def demo(tmp_path_factory):
    return _make(str(tmp_path_factory.mktemp("demo") / "demo corpus"))


def test_iemocap_layout_and_traps(demo):
    root = os.path.join(demo, "IEMOCAP_full_release")
    # the sessions, and the marker by which the data prep records the tree as the demo
    assert sorted(os.listdir(root)) == ["DEMO_CORPUS.txt"] + [f"Session{k}" for k in range(1, 6)]
    labels = set()
    for k in range(1, 6):
        emo = os.path.join(root, f"Session{k}", "dialog", "EmoEvaluation")
        names = os.listdir(emo)
        assert {"Categorical", "Attribute", "Self-evaluation"} <= set(names)
        assert any(n.startswith("._") for n in names)
        assert f"Ses0{k}F_script02_2.txt" in names
        assert os.path.isfile(os.path.join(root, f"Session{k}", "sentences", "wav",
                                           f"Ses0{k}F_script02_2", f"Ses0{k}F_script02_2_F000.wav"))
        ev = open(os.path.join(emo, f"Ses0{k}F_impro01.txt"), "rb").read()
        assert ev.startswith(b"% [START_TIME - END_TIME] TURN_NAME EMOTION [V, A, D]")
        assert b"\nC-E2:\t" in ev and b"\nA-E3:\tval " in ev
        for n in names:
            if n.endswith(".txt") and not n.startswith("."):
                labels |= {b.split(b"\t")[2].decode() for b in open(os.path.join(emo, n), "rb")
                           .read().split(b"\n") if b.startswith(b"[")}
        trans = b"".join(open(os.path.join(root, f"Session{k}", "dialog", "transcriptions", n), "rb").read()
                         for n in os.listdir(os.path.join(root, f"Session{k}", "dialog", "transcriptions"))
                         if not n.startswith("."))
        assert b"XX0 [" in trans
        assert (b"\r\n" in trans) == (k in (2, 4))
        if k == 3:
            assert b"caf\xe9" in trans
    assert {"ang", "hap", "exc", "neu", "sad", "xxx", "fru", "sur"} <= labels


def test_iemocap_prep_on_demo(demo, tmp_path):
    root = os.path.join(demo, "IEMOCAP_full_release")
    for exp, classes in ((1, {"ang", "hap", "neu", "sad"}), (2, {"ang", "exc", "neu", "sad"}),
                         (3, {"ang", "hap", "neu", "sad"})):
        data = str(tmp_path / f"exp{exp}")
        r = subprocess.run(["bash", "local/iemocap_data_prep.sh", "--exp", str(exp), root, data],
                           cwd=REPO, check=True, capture_output=True, text=True)
        emo = read_kv(os.path.join(data, "utt2emo"))
        assert set(emo.values()) == classes, r.stdout
        if exp == 3:
            assert 60 <= len(emo) <= 100
            spk = set(read_kv(os.path.join(data, "utt2spk")).values())
            assert len(spk) == 10
            for k in range(1, 6):  # every class in every session (LOSO test sets)
                assert {e for u, e in emo.items() if u.startswith(f"Ses0{k}")} == classes
            wav = read_kv(os.path.join(data, "wav.scp"))
            for u in sorted(wav)[:10]:
                info = sf.info(wav[u])
                assert info.samplerate == 16000 and info.channels == 1 and info.subtype == "PCM_16"
                assert 0.8 < info.duration < 5.0
            subprocess.run(["bash", "local/make_loso_folds.sh", data, str(tmp_path / "folds")],
                           cwd=REPO, check=True, capture_output=True)
            assert len(read_kv(str(tmp_path / "folds" / "fold1" / "dev" / "utt2spk"))) > 0
            for p in ("train", "dev", "test"):
                _validate(str(tmp_path / "folds" / "fold1" / p))


def test_voxceleb_on_demo(demo, tmp_path):
    root = os.path.join(demo, "VoxCeleb1")
    data = str(tmp_path / "voxceleb")
    subprocess.run(["bash", "local/voxceleb_data_prep.sh", "--test-spk-from-trials", "true", root, data],
                   cwd=REPO, check=True, capture_output=True)
    u2s = read_kv(os.path.join(data, "utt2spk"))
    n_spk, n_test = demo_corpus.VOX_SIZES["tiny"]
    assert len(set(u2s.values())) == n_spk
    assert demo_corpus.VOX_SIZES["small"][0] >= 32
    trials = open(os.path.join(data, "trials")).read().split("\n")[:-1]
    kinds = [t.split()[2] for t in trials]
    assert kinds.count("target") == kinds.count("nontarget") > 0
    assert len(set(read_kv(data + "_test/utt2spk").values())) == n_test
    assert len(set(read_kv(data + "_train/utt2spk").values())) == n_spk - n_test
    for d in (data, data + "_train", data + "_test"):
        _validate(d, "--no-text")


def test_voxceleb_voices_disjoint_from_iemocap_actors(tmp_path):
    """The speaker model must not be pre-trained on the test speakers' voices, and the
    speaker corpus must hide no arousal classes: every speaker at the neutral level."""
    rng = np.random.default_rng(0)
    plan, iem_jobs = demo_corpus._iemocap_plan(str(tmp_path / "iem"), rng, "small")
    spk_utts, vox_jobs = demo_corpus._vox_plan(str(tmp_path / "vox"), rng, "small")
    actors = {j.voice for j in iem_jobs}
    assert actors == {demo_corpus.iemocap_voice(k, g) for k in range(1, 6) for g in "FM"}
    speakers = {j.voice for j in vox_jobs}
    assert len(speakers) == len(spk_utts)                       # one voice per speaker
    variant = lambda v: v.split("+", 1)[1].lower()              # noqa: E731  (the timbre)
    base = lambda v: v.split("+", 1)[0]                         # noqa: E731  (the accent)
    assert not {variant(v) for v in speakers} & {variant(v) for v in actors}
    assert not {base(v) for v in speakers} & {base(v) for v in actors}
    # every speaker's mean pitch is nearer the neutral level than the high or low one, and
    # the mean rate lies strictly between the low and high levels (the old demo drew
    # speaker pitch from 15..85 and rate from 120..220: arousal classes by speaker)
    (p_hi, r_hi, *_), (p_mid, *_), (p_lo, r_lo, *_) = (demo_corpus.AROUSAL[a] for a in ("high", "mid", "low"))
    by_voice = {}
    for j in vox_jobs:
        by_voice.setdefault(j.voice, []).append((j.pitch, j.rate))
    for v, pr in by_voice.items():
        p, r = np.mean(pr, axis=0)
        assert (p_mid + p_lo) / 2 < p < (p_mid + p_hi) / 2 and r_lo < r < r_hi, (v, p, r)


def test_design_plan_matches_labels(demo):
    design = read_kv(os.path.join(demo, demo_corpus.DESIGN_FILE))
    assert len(design) >= 60
    for turn, rest in design.items():
        label, pool, arousal = rest.split()
        assert arousal in demo_corpus.AROUSAL and pool in demo_corpus.WORDS
        if label in ("ang", "sad", "neu"):
            assert arousal == demo_corpus.AROUSAL_OF[label]


def test_deterministic(demo, tmp_path):
    again = _make(str(tmp_path / "again"), seed=0)
    assert _digest(demo) == _digest(again)
    other = _make(str(tmp_path / "other"), seed=1)
    assert _digest(demo) != _digest(other)


def test_skip_when_done(demo):
    r = subprocess.run(["bash", "local/make_demo_corpus.sh", "--size", "tiny", demo], cwd=REPO,
                       check=True, capture_output=True, text=True)
    assert "up to date; skipping" in r.stdout
