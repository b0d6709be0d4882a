"""IEMOCAP data prep on hand-made trees that carry the real release's traps."""
import os
import re
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from emorec.data import iemocap
from emorec.fileio import check_utf8, read_kv

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
APPLEDOUBLE = b"\x00\x05\x16\x07\x00\x02\x00\x00Mac OS X        \x00\x00"

# dialog -> [(turn suffix, label)]
TREE = {
    1: {"Ses01F_impro01": [("F000", "neu"), ("M000", "ang"), ("F001", "hap"), ("M001", "exc"),
                           ("F002", "xxx"), ("M002", "fru"), ("F003", "sad")],
        "Ses01F_script01_1": [("F000", "exc"), ("M000", "sad"), ("F001", "oth")]},
    5: {"Ses05F_script02_2": [("F000", "ang"), ("M000", "hap"), ("F001", "neu"), ("M001", "sad"),
                              ("M002", "sur")]},
}
EXPECTED = {1: {"ang": 2, "hap": 2, "neu": 2, "sad": 3},
            2: {"ang": 2, "exc": 2, "neu": 2, "sad": 3},
            3: {"ang": 2, "hap": 4, "neu": 2, "sad": 3}}


def _wav(path):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    sf.write(path, np.zeros(1600, dtype=np.float32), 16000, subtype="PCM_16")


def make_tree(root, crlf=True):
    """A two-session IEMOCAP_full_release with every trap of the real one."""
    nl = b"\r\n" if crlf else b"\n"
    for k, dialogs in TREE.items():
        sdir = os.path.join(root, f"Session{k}")
        emo = os.path.join(sdir, "dialog", "EmoEvaluation")
        trd = os.path.join(sdir, "dialog", "transcriptions")
        for sub in ("Categorical", "Attribute", "Self-evaluation"):
            os.makedirs(os.path.join(emo, sub), exist_ok=True)
        os.makedirs(trd, exist_ok=True)
        for d, turns in dialogs.items():
            ev = [b"% [START_TIME - END_TIME] TURN_NAME EMOTION [V, A, D]", b""]
            tr = []
            t = 1.0
            for i, (suf, lab) in enumerate(turns):
                turn = f"{d}_{suf}"
                ev += [f"[{t:.4f} - {t + 1.5:.4f}]\t{turn}\t{lab}\t[2.5000, 3.0000, 3.5000]".encode(),
                       b"C-E2:\tNeutral state;\t()", b"C-E3:\tAnger;\t()",
                       b"A-E3:\tval 3; act 2; dom  2;\t()", b""]
                text = "Excuse me." if suf != "F000" else "The caf\u00e9 is open."
                tr.append(f"{turn} [{t:08.4f}-{t + 1.5:08.4f}]: {text}".encode("latin-1"))
                if i == 1:  # an unevaluated turn in the transcript, and no wav
                    tr.append(f"{d}_MXX0 [{t:08.4f}-{t + 0.5:08.4f}]: Mm-hmm.".encode())
                _wav(os.path.join(sdir, "sentences", "wav", d, turn + ".wav"))
                t += 2.0
            with open(os.path.join(emo, d + ".txt"), "wb") as f:
                f.write(nl.join(ev) + nl)
            with open(os.path.join(trd, d + ".txt"), "wb") as f:
                f.write(nl.join(tr) + nl)
            # Traps: files that parse like evaluations but must never be read.
            bogus = f"[1.0000 - 2.0000]\t{d}_F099\tang\t[1.0, 1.0, 1.0]\n".encode()
            for p in (os.path.join(emo, f"._{d}.txt"), os.path.join(emo, "Categorical", f"{d}_e2_cat.txt"),
                      os.path.join(emo, "Attribute", f"{d}_e3_atr.txt"),
                      os.path.join(emo, "Self-evaluation", f"{d}.txt")):
                with open(p, "wb") as f:
                    f.write((APPLEDOUBLE if "._" in p else b"") + bogus)
            with open(os.path.join(trd, f"._{d}.txt"), "wb") as f:
                f.write(APPLEDOUBLE + f"{d}_F000 [001.0000-002.5000]: WRONG\n".encode())
            with open(os.path.join(sdir, "sentences", "wav", d, f"._{d}_F000.wav"), "wb") as f:
                f.write(APPLEDOUBLE)
    return root


@pytest.fixture
def tree(tmp_path):
    return make_tree(str(tmp_path / "IEMOCAP_full_release"))


def run_prep(root, data, *opts, check=True):
    return subprocess.run(["bash", "local/iemocap_data_prep.sh", *opts, root, data], cwd=REPO,
                          capture_output=True, text=True, check=check)


def _sorted_bytes(path):
    keys = [ln.split(" ", 1)[0].encode() for ln in open(path, encoding="utf-8")]
    return keys == sorted(keys) and len(keys) == len(set(keys))


@pytest.mark.parametrize("exp", [1, 2, 3])
def test_class_sets_and_counts(tree, tmp_path, exp):
    data = str(tmp_path / f"data{exp}")
    r = run_prep(tree, data, "--exp", str(exp))
    emo = read_kv(os.path.join(data, "utt2emo"))
    counts = {c: list(emo.values()).count(c) for c in EXPECTED[exp]}
    assert counts == EXPECTED[exp]
    assert set(emo.values()) == set(EXPECTED[exp])
    assert f"{sum(EXPECTED[exp].values())} utterances" in r.stdout
    for c, n in EXPECTED[exp].items():  # the per-class table
        assert c in r.stdout
    assert "WARNING: this looks like the full" not in r.stdout


def test_ids_paths_text_and_traps(tree, tmp_path):
    data = str(tmp_path / "data")
    run_prep(tree, data)
    utt2spk = read_kv(os.path.join(data, "utt2spk"))
    wav = read_kv(os.path.join(data, "wav.scp"))
    text = read_kv(os.path.join(data, "text"))
    emo = read_kv(os.path.join(data, "utt2emo"))
    # speaker = session + letter of the turn's own last part
    assert utt2spk["Ses01M-Ses01F_impro01_M000"] == "Ses01M"
    assert utt2spk["Ses01F-Ses01F_impro01_F000"] == "Ses01F"
    assert all(u.startswith(s + "-") for u, s in utt2spk.items())
    # dialog names with underscores
    assert wav["Ses05F-Ses05F_script02_2_F000"] == os.path.join(
        os.path.abspath(tree), "Session5", "sentences", "wav", "Ses05F_script02_2",
        "Ses05F_script02_2_F000.wav")
    assert emo["Ses01M-Ses01F_script01_1_M000"] == "sad"
    assert emo["Ses01F-Ses01F_script01_1_F000"] == "hap"  # exc merged (Exp 3)
    # no bogus turn from ._*, Categorical/, Attribute/, Self-evaluation/; no XX turns
    assert not any("F099" in u or "XX" in u for u in utt2spk)
    # CRLF gone, latin-1 decoded, the ._ transcript not used
    assert text["Ses01F-Ses01F_impro01_F000"] == "The caf\u00e9 is open."
    assert text["Ses01M-Ses01F_impro01_M000"] == "Excuse me."
    raw = open(os.path.join(data, "text"), "rb").read()
    assert b"\r" not in raw and "caf\u00e9".encode("utf-8") in raw
    # every list byte-sorted, unique, same key set; spk2utt consistent
    for f in ("wav.scp", "utt2spk", "text", "utt2emo", "spk2utt"):
        assert _sorted_bytes(os.path.join(data, f)), f
    assert set(wav) == set(text) == set(emo) == set(utt2spk)
    spk2utt = read_kv(os.path.join(data, "spk2utt"))
    assert sorted(u for us in spk2utt.values() for u in us.split()) == sorted(utt2spk)
    assert set(spk2utt) == {"Ses01F", "Ses01M", "Ses05F", "Ses05M"}
    if os.path.exists(os.path.join(REPO, "utils", "validate_data_dir.sh")):
        subprocess.run(["bash", "utils/validate_data_dir.sh", "--no-feats", data], cwd=REPO,
                       check=True, capture_output=True)


def test_lf_endings_same_result(tmp_path):
    a = make_tree(str(tmp_path / "a" / "IEMOCAP_full_release"), crlf=True)
    b = make_tree(str(tmp_path / "b" / "IEMOCAP_full_release"), crlf=False)
    ra, la = iemocap.prepare(a, 3)
    rb, lb = iemocap.prepare(b, 3)
    assert la["text"] == lb["text"] and la["utt2emo"] == lb["utt2emo"]


def test_missing_wav_and_empty_transcript(tree, tmp_path):
    os.remove(os.path.join(tree, "Session1", "sentences", "wav", "Ses01F_impro01",
                           "Ses01F_impro01_F003.wav"))
    tpath = os.path.join(tree, "Session5", "dialog", "transcriptions", "Ses05F_script02_2.txt")
    lines = open(tpath, "rb").read().split(b"\r\n")
    lines[0] = lines[0].split(b"]:")[0] + b"]:   "  # Ses05F_script02_2_F000: empty text
    open(tpath, "wb").write(b"\r\n".join(lines))
    # 2 of 11 dropped > 5%: fails by default, naming the problems
    r = run_prep(tree, str(tmp_path / "d1"), check=False)
    assert r.returncode != 0 and "dropped" in r.stderr
    r = run_prep(tree, str(tmp_path / "d2"), "--max-drop-frac", "0.5")
    assert "Ses01F_impro01_F003.wav" in r.stderr
    assert f"{tpath}:1: empty transcript" in r.stderr
    utts = read_kv(str(tmp_path / "d2" / "utt2spk"))
    assert len(utts) == 9
    assert "Ses01F-Ses01F_impro01_F003" not in utts and "Ses05F-Ses05F_script02_2_F000" not in utts


def test_turn_name_rules():
    assert iemocap.turn_speaker("Ses01F_impro01_M003") == "Ses01M"
    assert iemocap.turn_speaker("Ses05M_script02_2_F010") == "Ses05F"
    assert iemocap.turn_dialog("Ses05F_script02_2_F010") == "Ses05F_script02_2"
    assert iemocap.turn_speaker("._Ses01F_impro01") is None


def test_full_corpus_warning():
    def res(counts, n_eval=10039, n_sess=5):
        u2e = {f"Ses01F-x{c}{i}": c for c, n in counts.items() for i in range(n)}
        return iemocap.PrepResult(3, u2e, n_sess, n_eval, iemocap.Counter(u2e.values()))
    good = iemocap.PAPER_COUNTS[3]
    assert "WARNING" not in iemocap.report(res(good))
    bad = dict(good, hap=good["hap"] - 1)
    assert "WARNING: this looks like the full IEMOCAP release" in iemocap.report(res(bad))
    assert "WARNING" not in iemocap.report(res(bad, n_eval=500))  # a partial/demo corpus
    assert "WARNING" not in iemocap.report(res(bad, n_sess=4))


def test_bad_root(tmp_path):
    r = run_prep(str(tmp_path), str(tmp_path / "d"), check=False)
    assert r.returncode != 0 and "Session" in r.stderr


@pytest.mark.parametrize("bad", [b"[3.0000 5.5000]", b"[3.0000 - 5.5000"])
def test_malformed_evaluation_line_is_named_and_counted(tree, tmp_path, bad):
    """A header whose time span lost its '-' or ']' drops the turn loudly, and the drop
    counts against --max-drop-frac like any other."""
    epath = os.path.join(tree, "Session1", "dialog", "EmoEvaluation", "Ses01F_impro01.txt")
    lines = open(epath, "rb").read().split(b"\r\n")
    n = next(i for i, ln in enumerate(lines) if b"Ses01F_impro01_M000" in ln)
    lines[n] = lines[n].replace(b"[3.0000 - 4.5000]", bad)
    assert lines[n].startswith(bad)
    open(epath, "wb").write(b"\r\n".join(lines))
    r = run_prep(tree, str(tmp_path / "d1"), check=False)   # 1 of 11 > 5%
    assert r.returncode != 0 and "1 of 11 selected utterances dropped" in r.stderr
    r = run_prep(tree, str(tmp_path / "d2"), "--max-drop-frac", "0.2")
    assert f"{epath}:{n + 1}: malformed evaluation line" in r.stderr
    assert "10 utterances" in r.stdout and "1 dropped" in r.stdout
    assert "Ses01M-Ses01F_impro01_M000" not in read_kv(str(tmp_path / "d2" / "utt2spk"))


def test_non_utf8_transcript_line_named_and_written_as_utf8(tree, tmp_path):
    data = str(tmp_path / "data")
    r = run_prep(tree, data)
    tpath = os.path.join(tree, "Session1", "dialog", "transcriptions", "Ses01F_impro01.txt")
    assert f"{tpath}:1: bytes that are not UTF-8; decoded as latin-1" in r.stderr
    check_utf8(os.path.join(data, "text"))


def test_full_disk_one_line_naming_the_list(tree, tmp_path):
    """A write that fails (RLIMIT_FSIZE here, a full disk or a quota elsewhere)."""
    import resource
    import signal

    def limit():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (100, 100))
    data = tmp_path / "data"
    r = subprocess.run([sys.executable, "-m", "emorec.bin.prepare_iemocap", tree, str(data)],
                       cwd=REPO, capture_output=True, text=True, preexec_fn=limit)
    assert r.returncode == 1 and "Traceback" not in r.stderr, r.stderr
    assert re.search(rf"^prepare_iemocap: ERROR: {data}/\S+: File too large$", r.stderr, re.M), r.stderr
