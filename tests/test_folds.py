"""Cross-validation folds: isolation, speaker-disjoint dev, script-disjoint and random protocols."""
import os
import subprocess

import pytest

from emorec.data.datadir import write_spk2utt
from emorec.fileio import read_kv, write_kv
from emorec.data.folds import make_folds, utt_play

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
                    dialog = ("impro01", "script01_1", "script02_2")[i % 3]
                    u = f"{spk}-Ses0{k}F_{dialog}_{g}{c}{i:03d}"
                    u2s[u], u2e[u], wav[u], text[u] = spk, c, f"/x/{u}.wav", f"words {i}"
    write_kv(os.path.join(d, "utt2spk"), u2s)
    write_kv(os.path.join(d, "utt2emo"), u2e)
    write_kv(os.path.join(d, "wav.scp"), wav)
    write_kv(os.path.join(d, "text"), text)
    write_spk2utt(d)
    return d


def _parts(out, k):
    return {p: set(read_kv(os.path.join(out, f"fold{k}", p, "utt2spk"))) for p in ("train", "dev", "test")}


def test_folds_isolation_and_completeness(data, tmp_path):
    out = str(tmp_path / "folds")
    subprocess.run(["bash", "local/make_loso_folds.sh", data, out], cwd=REPO, check=True,
                   capture_output=True)
    everything = set(read_kv(os.path.join(data, "utt2spk")))
    dev_speakers = []
    for k in range(1, 6):
        for p in ("train", "dev", "test"):
            pd = os.path.join(out, f"fold{k}", p)
            u2s = read_kv(os.path.join(pd, "utt2spk"))
            for f in ("wav.scp", "text", "utt2emo"):
                assert set(read_kv(os.path.join(pd, f))) == set(u2s), (k, p, f)
            s2u = read_kv(os.path.join(pd, "spk2utt"))
            assert sorted(u for v in s2u.values() for u in v.split()) == sorted(u2s)
            if os.path.exists(os.path.join(REPO, "utils", "validate_data_dir.sh")):
                subprocess.run(["bash", "utils/validate_data_dir.sh", "--no-feats", "--no-wav", pd],
                               cwd=REPO, check=True, capture_output=True)
        parts = _parts(out, k)
        sess = f"Ses0{k}"
        assert open(os.path.join(out, f"fold{k}", "test_set")).read().strip() == sess
        assert all(u.startswith(sess) for u in parts["test"])
        assert not any(u.startswith(sess) for u in parts["train"] | parts["dev"])
        assert parts["train"] | parts["dev"] | parts["test"] == everything
        assert not (parts["train"] & parts["dev"]) and not (parts["train"] & parts["test"])
        dev_speakers.append({u.split("-")[0] for u in parts["dev"]})
    # one whole speaker per fold, rotating over sessions and genders
    assert dev_speakers == [{"Ses02F"}, {"Ses03M"}, {"Ses04F"}, {"Ses05M"}, {"Ses01F"}]


@pytest.mark.parametrize("script_disjoint", [False, True])
def test_dev_and_train_share_no_speaker(data, tmp_path, script_disjoint):
    out = str(tmp_path / "folds")
    make_folds(data, out, script_disjoint=script_disjoint)
    for k in range(1, 6):
        spk = {p: set(read_kv(os.path.join(out, f"fold{k}", p, "utt2spk")).values())
               for p in ("train", "dev", "test")}
        assert spk["dev"] and spk["train"] and spk["test"]
        assert not spk["dev"] & spk["train"], k
        assert not spk["dev"] & spk["test"] and not spk["train"] & spk["test"], k


def test_script_disjoint_no_play_on_both_sides(data, tmp_path):
    out = str(tmp_path / "folds")
    make_folds(data, out, script_disjoint=True)
    for k in range(1, 6):
        parts = _parts(out, k)
        plays = {p: {utt_play(u) for u in us} - {None} for p, us in parts.items()}
        assert plays["test"] and plays["train"]
        assert not plays["test"] & (plays["train"] | plays["dev"]), k
        # improvised utterances stay on both sides
        assert all(any("impro" in u for u in parts[p]) for p in ("train", "test"))
    # every play is tested in some fold
    tested = set()
    for k in range(1, 6):
        tested |= {utt_play(u) for u in _parts(out, k)["test"]} - {None}
    assert tested == {1, 2}


def test_random5_protocol(data, tmp_path):
    out = str(tmp_path / "folds")
    make_folds(data, out, protocol="random5")
    everything = set(read_kv(os.path.join(data, "utt2spk")))
    emo = read_kv(os.path.join(data, "utt2emo"))
    tests = []
    for k in range(1, 6):
        parts = _parts(out, k)
        assert parts["train"] | parts["dev"] | parts["test"] == everything
        assert not (parts["train"] & parts["test"]) and not (parts["dev"] & parts["test"])
        n_test = len(parts["test"])
        assert abs(n_test - len(everything) / 5) <= len(CLASSES)  # stratified 20%
        for c in CLASSES:
            n_c = sum(1 for u in parts["test"] if emo[u] == c)
            assert abs(n_c - sum(1 for e in emo.values() if e == c) / 5) <= 1
        tests.append(parts["test"])
    assert set().union(*tests) == everything and sum(map(len, tests)) == len(everything)


def test_folds_deterministic(data, tmp_path):
    make_folds(data, str(tmp_path / "a"))
    make_folds(data, str(tmp_path / "b"))
    for k in range(1, 6):
        for p in ("train", "dev", "test"):
            for f in ("utt2spk", "wav.scp"):
                a = open(os.path.join(tmp_path, "a", f"fold{k}", p, f), "rb").read()
                b = open(os.path.join(tmp_path, "b", f"fold{k}", p, f), "rb").read()
                assert a == b


def test_unknown_protocol(data, tmp_path):
    with pytest.raises(ValueError, match="unknown fold protocol"):
        make_folds(data, str(tmp_path / "x"), protocol="kfold")
