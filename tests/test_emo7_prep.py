"""local/{crema_d,ravdess,savee,tess}_data_prep.sh on small trees holding every layout
variant of the releases: labels, speakers, text, genders, ignored and dropped files."""

import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from emorec.fileio import read_kv
from emorec.data.iemocap import EXPERIMENTS

ROOT = Path(__file__).resolve().parent.parent
RECIPE = ROOT / "egs" / "emo7"


def tone(path: Path, sr: int, seconds: float = 0.3):
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(sr * seconds)) / sr
    sf.write(path, 0.2 * np.sin(2 * np.pi * 220 * t), sr, subtype="PCM_16")


def junk(root: Path, *names):
    for n in names:
        p = root / n
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(b"\x00\x05\x16\x07 AppleDouble or notes")


def prep(script: str, root: Path, data: Path, env, *opts, check=True):
    r = subprocess.run(["bash", f"local/{script}", *opts, str(root), str(data)], cwd=RECIPE,
                       env=env, capture_output=True, text=True, timeout=300)
    if check:
        assert r.returncode == 0, r.stdout + r.stderr
    return r


def lists(data: Path):
    return {f.name: read_kv(str(f)) for f in data.iterdir() if f.is_file()}


def test_crema_d(tmp_path, shell_env):
    root = tmp_path / "CREMA D"  # a space in the path
    a = root / "AudioWAV"
    for name in ("1001_DFA_ANG_XX", "1001_IEO_HAP_HI", "1002_TIE_NEU_X", "1002_WSI_FEA_LO",
                 "1002_ITS_DIS_MD", "1001_TSI_SAD_XX"):
        tone(a / f"{name}.wav", 16000)
    (a / "1002_MTI_SAD_XX.wav").write_bytes(b"")                 # empty, as in the release
    tone(a / "1003_ZZZ_ANG_XX.wav", 16000)                      # unknown sentence code
    junk(root, "AudioWAV/._1001_DFA_ANG_XX.wav", "AudioWAV/readme.txt")
    (root / "VideoDemographics.csv").write_text(
        "ActorID,Age,Sex,Race,Ethnicity\n1001,51,Male,Caucasian,Not Hispanic\n"
        "1002,21,Female,Caucasian,Not Hispanic\n1003,30,Female,Asian,Not Hispanic\n")
    data = tmp_path / "data" / "cremad"
    r = prep("crema_d_data_prep.sh", root, data, shell_env, check=False)
    assert r.returncode != 0 and "2 of 8 wavs" in r.stderr  # Kaldi's 5% rule
    r = prep("crema_d_data_prep.sh", root, data, shell_env, "--max-drop-frac", "0.3")
    assert "1002_MTI_SAD_XX.wav': empty file (0 bytes); dropped" in r.stderr
    assert "1003_ZZZ_ANG_XX.wav: unparseable name: unknown sentence code ZZZ" in r.stderr
    L = lists(data)
    assert L["utt2emo"] == {"cremad1001-1001_DFA_ANG_XX": "angry",
                            "cremad1001-1001_IEO_HAP_HI": "happy",
                            "cremad1001-1001_TSI_SAD_XX": "sad",
                            "cremad1002-1002_ITS_DIS_MD": "disgust",
                            "cremad1002-1002_TIE_NEU_X": "neutral",
                            "cremad1002-1002_WSI_FEA_LO": "fearful"}
    assert L["text"]["cremad1001-1001_DFA_ANG_XX"] == "Don't forget a jacket"
    assert L["text"]["cremad1002-1002_WSI_FEA_LO"] == "We'll stop in a couple of minutes"
    assert L["spk2gender"] == {"cremad1001": "m", "cremad1002": "f"}
    assert set(L["utt2corpus"].values()) == {"cremad"}
    assert L["wav.scp"]["cremad1001-1001_DFA_ANG_XX"] == str(a / "1001_DFA_ANG_XX.wav")


def test_ravdess_song_and_speech(tmp_path, shell_env):
    root = tmp_path / "RAVDESS"
    tone(root / "Actor_01" / "03-01-05-01-01-01-01.wav", 48000)
    tone(root / "Actor_01" / "03-01-01-01-02-02-01.wav", 48000)
    tone(root / "Actor_02" / "03-01-02-02-02-01-02.wav", 48000)
    tone(root / "Actor_02" / "03-01-08-02-01-01-02.wav", 48000)
    tone(root / "Actor_01" / "03-02-03-01-01-01-01.wav", 48000)  # song
    junk(root, "Actor_01/._03-01-05-01-01-01-01.wav", "Actor_02/Thumbs.db")
    data = tmp_path / "ravdess"
    prep("ravdess_data_prep.sh", root, data, shell_env)
    L = lists(data)
    assert L["utt2emo"] == {"ravdess01-03-01-01-01-02-02-01": "neutral",
                            "ravdess01-03-01-05-01-01-01-01": "angry",
                            "ravdess02-03-01-02-02-02-01-02": "calm",
                            "ravdess02-03-01-08-02-01-01-02": "surprised"}
    assert L["text"]["ravdess01-03-01-05-01-01-01-01"] == "Kids are talking by the door"
    assert L["text"]["ravdess02-03-01-02-02-02-01-02"] == "Dogs are sitting by the door"
    assert L["spk2gender"] == {"ravdess01": "m", "ravdess02": "f"}
    prep("ravdess_data_prep.sh", root, data, shell_env, "--include-song", "true")
    assert read_kv(str(data / "utt2emo"))["ravdess01-03-02-03-01-01-01-01"] == "happy"


@pytest.mark.parametrize("flat", [False, True])
def test_savee_layouts(tmp_path, shell_env, flat):
    root = tmp_path / "SAVEE"
    names = {"DC": ["a01", "sa02", "su03", "n10"], "JK": ["d05", "f15", "h01"]}
    for spk, codes in names.items():
        for c in codes:
            tone(root / ("ALL" if flat else f"AudioData/{spk}") /
                 (f"{spk}_{c}.wav" if flat else f"{c}.wav"), 44100)
    tone(root / ("ALL/XY_a01.wav" if flat else "AudioData/XY/a01.wav"), 44100)  # no such speaker
    junk(root, "AudioData/._a01.wav", "info.txt")
    data = tmp_path / "savee"
    r = prep("savee_data_prep.sh", root, data, shell_env, "--max-drop-frac", "0.2")
    assert "XY" in r.stderr and "dropped" in r.stderr
    L = lists(data)
    assert L["utt2emo"] == {"saveeDC-a01": "angry", "saveeDC-n10": "neutral",
                            "saveeDC-sa02": "sad", "saveeDC-su03": "surprised",
                            "saveeJK-d05": "disgust", "saveeJK-f15": "fearful",
                            "saveeJK-h01": "happy"}
    assert L["spk2gender"] == {"saveeDC": "m", "saveeJK": "m"}
    assert "text" not in L  # SAVEE ships no transcripts


def test_tess_folder_spellings(tmp_path, shell_env):
    root = tmp_path / "TESS Toronto"
    files = {"OAF_Fear/OAF_back_fear.wav": "fearful", "YAF_fear/YAF_back_fear.wav": "fearful",
             "OAF_Pleasant_surprise/OAF_back_ps.wav": "surprised",
             "YAF_pleasant_surprised/YAF_bite_ps.wav": "surprised",
             "OAF_angry/OAF_bite_angry.wav": "angry", "YAF_neutral/YAF_chat_neutral.wav": "neutral",
             "OAF_Sad/OAF_chat_sad.wav": "sad", "YAF_disgust/YAF_dab_disgust.wav": "disgust",
             "YAF_happy/YAF_dab_happy.wav": "happy"}
    for f in files:
        tone(root / f, 24414)
    junk(root, "OAF_Fear/._OAF_back_fear.wav", "desktop.ini")
    data = tmp_path / "tess"
    prep("tess_data_prep.sh", root, data, shell_env)
    L = lists(data)
    want = {f"tess{f.split('/')[1][:3]}-{Path(f).stem}": e for f, e in files.items()}
    assert L["utt2emo"] == want
    assert L["text"]["tessOAF-OAF_back_ps"] == "Say the word back"
    assert L["spk2gender"] == {"tessOAF": "f", "tessYAF": "f"}
    assert set(L["utt2spk"].values()) == {"tessOAF", "tessYAF"}


def test_iemocap_exp0_keeps_every_label(tmp_path, shell_env):
    from collections import Counter

    from test_iemocap_prep import TREE, make_tree

    assert EXPERIMENTS[0][0] is None
    root = make_tree(str(tmp_path / "IEMOCAP_full_release"))
    data = tmp_path / "iemocap"
    prep("iemocap_data_prep.sh", Path(root), data, shell_env, "--exp", "0")
    want = Counter(lab for dialogs in TREE.values() for turns in dialogs.values()
                   for _, lab in turns)
    assert Counter(read_kv(str(data / "utt2emo")).values()) == want
    assert {"sur", "exc"} <= set(want)  # labels no 4-class set keeps


def test_ravdess_kaggle_copy_holds_every_actor_twice(tmp_path, shell_env):
    """Kaggle's RAVDESS: Actor_NN/ and audio_speech_actors_01-24/Actor_NN/, the same files."""
    root = tmp_path / "ravdess kaggle"
    names = ["03-01-05-01-01-01-01", "03-01-01-01-02-02-01", "03-01-02-02-02-01-02"]
    for n in names:
        tone(root / f"Actor_{n[-2:]}" / f"{n}.wav", 48000)
    for p in list(root.rglob("*.wav")):
        copy = root / "audio_speech_actors_01-24" / p.relative_to(root)
        copy.parent.mkdir(parents=True, exist_ok=True)
        copy.write_bytes(p.read_bytes())
    data = tmp_path / "ravdess"
    r = prep("ravdess_data_prep.sh", root, data, shell_env)
    assert len(lists(data)["utt2emo"]) == 3 and "WARNING" not in r.stderr
    assert "3 utterances" in r.stdout and "3 identical second copies skipped" in r.stdout
    assert all(str(root / "Actor_") in p for p in lists(data)["wav.scp"].values())
    # the same name with other content is no copy: an error (here > 5% of the wavs)
    other = root / "audio_speech_actors_01-24" / "Actor_01" / f"{names[0]}.wav"
    tone(other, 48000, seconds=0.5)
    r = prep("ravdess_data_prep.sh", root, data, shell_env, check=False)
    assert r.returncode != 0
    assert f"{other}: utterance id ravdess01-{names[0]} already taken by {root}/Actor_01/{names[0]}.wav " \
           "(a different file)" in r.stderr


def test_crema_d_cloned_without_git_lfs(tmp_path, shell_env):
    root = tmp_path / "CREMA-D"
    for name in ("1001_DFA_ANG_XX", "1001_IEO_HAP_HI", "1002_TIE_NEU_X"):
        p = root / "AudioWAV" / f"{name}.wav"
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text("version https://git-lfs.github.com/spec/v1\n"
                     "oid sha256:4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393\nsize 123456\n")
    r = prep("crema_d_data_prep.sh", root, tmp_path / "cremad", shell_env, check=False)
    assert r.returncode != 0 and "Format not recognised" not in r.stderr
    assert "3 of 3 wavs" in r.stderr and "3 of them are a git-lfs pointer file, not audio" in r.stderr
    assert "git lfs pull" in r.stderr


def test_symlink_loops_and_non_utf8_folder(tmp_path, shell_env):
    root = tmp_path / "TESS"
    names = ["OAF_back_angry", "OAF_bar_fear", "YAF_dog_happy", "YAF_cat_sad"]
    for n in names:
        tone(root / f"{n[:3]}_x" / f"{n}.wav", 24414)
    (root / "OAF_x" / "loop").symlink_to("..")        # two loops: back to the root and to itself
    (root / "YAF_x" / "self").symlink_to(".")
    data = tmp_path / "tess"
    r = prep("tess_data_prep.sh", root, data, shell_env)
    assert sorted(lists(data)["utt2emo"]) == sorted(f"tess{n[:3]}-{n}" for n in names)
    assert "0 wavs dropped" in r.stdout and "2 symlinked folders walked already skipped" in r.stdout
    bad = os.fsencode(root) + b"/OAF_caf\xe9"
    os.mkdir(bad)
    with open(bad + b"/OAF_dog_sad.wav", "wb") as f:
        f.write((root / "OAF_x" / "OAF_back_angry.wav").read_bytes())
    r = prep("tess_data_prep.sh", root, data, shell_env, "--max-drop-frac", "0.5")
    assert f"{bad!r}: folder name is not UTF-8 (rename it); dropped" in r.stderr
    assert "cannot decode" not in r.stderr and len(lists(data)["utt2emo"]) == 4
