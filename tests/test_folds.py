"""Leave-one-session-out folds: isolation, determinism, completeness."""
import os
import subprocess

import pytest

from emorec.data.datadir import write_spk2utt
from emorec.fileio import read_kv, write_kv
from emorec.data.folds import dev_utts, make_folds

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLASSES = ("ang", "hap", "neu", "sad")


@pytest.fixture
def data(tmp_path):
    d = str(tmp_path / "data")
    os.makedirs(d)
    u2s, u2e, wav, text = {}, {}, {}, {}
    for k in range(1, 6):
        for g in "FM":
            spk = f"Ses0{k}{g}"
            for c in CLASSES:
                for i in range(10 + k):
                    u = f"{spk}-Ses0{k}F_impro01_{g}{c}{i:03d}"
                    u2s[u], u2e[u], wav[u], text[u] = spk, c, f"/x/{u}.wav", f"words {i}"
    write_kv(os.path.join(d, "utt2spk"), u2s)
    write_kv(os.path.join(d, "utt2emo"), u2e)
    write_kv(os.path.join(d, "wav.scp"), wav)
    write_kv(os.path.join(d, "text"), text)
    write_spk2utt(d)
    return d


def test_folds_isolation_and_completeness(data, tmp_path):
    out = str(tmp_path / "folds")
    subprocess.run(["bash", "local/make_loso_folds.sh", data, out], cwd=REPO, check=True,
                   capture_output=True)
    everything = set(read_kv(os.path.join(data, "utt2spk")))
    for k in range(1, 6):
        parts = {}
        for p in ("train", "dev", "test"):
            pd = os.path.join(out, f"fold{k}", p)
            u2s = read_kv(os.path.join(pd, "utt2spk"))
            for f in ("wav.scp", "text", "utt2emo"):
                assert set(read_kv(os.path.join(pd, f))) == set(u2s), (k, p, f)
            s2u = read_kv(os.path.join(pd, "spk2utt"))
            assert sorted(u for v in s2u.values() for u in v.split()) == sorted(u2s)
            parts[p] = set(u2s)
            if os.path.exists(os.path.join(REPO, "utils", "validate_data_dir.sh")):
                subprocess.run(["bash", "utils/validate_data_dir.sh", "--no-feats", "--no-wav", pd],
                               cwd=REPO, check=True, capture_output=True)
        sess = f"Ses0{k}"
        assert open(os.path.join(out, f"fold{k}", "test_session")).read().strip() == sess
        assert all(u.startswith(sess) for u in parts["test"])
        assert not any(u.startswith(sess) for u in parts["train"] | parts["dev"])
        assert parts["train"] | parts["dev"] | parts["test"] == everything
        assert not (parts["train"] & parts["dev"]) and not (parts["train"] & parts["test"])
        # dev: stratified, ~10% of every (session, emotion) of the training sessions
        dev_emo = read_kv(os.path.join(out, f"fold{k}", "dev", "utt2emo"))
        for j in range(1, 6):
            if j == k:
                continue
            for c in CLASSES:
                n = sum(1 for u, e in dev_emo.items() if u.startswith(f"Ses0{j}") and e == c)
                assert n == -(-2 * (10 + j) // 10)  # ceil(10% of 2*(10+j))


def test_dev_deterministic_and_shared(data, tmp_path):
    make_folds(data, str(tmp_path / "a"))
    make_folds(data, str(tmp_path / "b"))
    for k in range(1, 6):
        for p in ("train", "dev", "test"):
            for f in ("utt2spk", "wav.scp"):
                a = open(os.path.join(tmp_path, "a", f"fold{k}", p, f), "rb").read()
                b = open(os.path.join(tmp_path, "b", f"fold{k}", p, f), "rb").read()
                assert a == b
    # a session's dev part is the same in every fold where it is not the test session
    d1 = set(read_kv(os.path.join(tmp_path, "a", "fold1", "dev", "utt2spk")))
    d2 = set(read_kv(os.path.join(tmp_path, "a", "fold2", "dev", "utt2spk")))
    assert {u for u in d1 if u.startswith("Ses03")} == {u for u in d2 if u.startswith("Ses03")}


def test_dev_small_groups():
    u2s = {"Ses01F-a": "Ses01", "Ses01F-b": "Ses01", "Ses01F-c": "Ses01"}
    assert len(dev_utts(u2s, {u: "ang" for u in u2s}, 0.1)) == 1
    assert dev_utts({"Ses01F-a": "Ses01"}, {"Ses01F-a": "ang"}, 0.1) == set()
