"""VoxCeleb1/2 layouts, trials conversion, split by trial speakers."""
import os
import subprocess

import pytest

from emorec.data import voxceleb
from emorec.fileio import read_kv

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def touch(p):
    os.makedirs(os.path.dirname(p), exist_ok=True)
    open(p, "wb").close()


@pytest.fixture
def vox1(tmp_path):
    root = tmp_path / "Vox 1"  # a space in the path
    for spk, vid, n in [("id10270", "x6uYqmx31kE", 2), ("id10270", "8jEAjG6SegY", 8),
                        ("id10271", "-a_b-cd1234", 1), ("id10300", "zzzzzzzzzzz", 3)]:
        for i in range(1, n + 1):
            touch(str(root / "wav" / spk / vid / f"{i:05d}.wav"))
    touch(str(root / "wav" / "id10270" / "x6uYqmx31kE" / "._00001.wav"))
    (root / "veri_test2.txt").write_text(
        "1 id10270/x6uYqmx31kE/00001.wav id10270/8jEAjG6SegY/00008.wav\n"
        "0 id10270/x6uYqmx31kE/00002.wav id10271/-a_b-cd1234/00001.wav\n")
    return str(root)


def prep(root, data, *opts, check=True):
    return subprocess.run(["bash", "local/voxceleb_data_prep.sh", *opts, root, data], cwd=REPO,
                          capture_output=True, text=True, check=check)


def test_vox1_layout_and_trials(vox1, tmp_path):
    data = str(tmp_path / "data" / "voxceleb")
    prep(vox1, data)
    wav = read_kv(os.path.join(data, "wav.scp"))
    u2s = read_kv(os.path.join(data, "utt2spk"))
    assert len(wav) == 14
    assert wav["id10270-x6uYqmx31kE-00001"] == os.path.join(vox1, "wav", "id10270", "x6uYqmx31kE",
                                                            "00001.wav")
    assert u2s["id10271--a_b-cd1234-00001"] == "id10271"
    keys = [ln.split()[0].encode() for ln in open(os.path.join(data, "utt2spk"))]
    assert keys == sorted(keys)
    assert open(os.path.join(data, "trials")).read().splitlines() == [
        "id10270-x6uYqmx31kE-00001 id10270-8jEAjG6SegY-00008 target",
        "id10270-x6uYqmx31kE-00002 id10271--a_b-cd1234-00001 nontarget"]


def test_split_by_trial_speakers(vox1, tmp_path):
    data = str(tmp_path / "data" / "voxceleb")
    prep(vox1, data, "--test-spk-from-trials", "true")
    tr = read_kv(data + "_train/utt2spk")
    te = read_kv(data + "_test/utt2spk")
    assert set(tr.values()) == {"id10300"} and set(te.values()) == {"id10270", "id10271"}
    assert len(open(data + "_test/trials").read().splitlines()) == 2
    assert not os.path.exists(data + "_train/trials")


def test_vox2_layout(tmp_path):
    root = tmp_path / "vox2"
    touch(str(root / "dev" / "aac" / "id00012" / "21Uxsk56VDQ" / "00001.m4a"))
    touch(str(root / "dev" / "aac" / "id00012" / "21Uxsk56VDQ" / "._00001.m4a"))
    data = str(tmp_path / "d")
    prep(str(root), data)
    wav = read_kv(os.path.join(data, "wav.scp"))
    p = os.path.join(str(root), "dev", "aac", "id00012", "21Uxsk56VDQ", "00001.m4a")
    assert wav == {"id00012-21Uxsk56VDQ-00001":
                   f"ffmpeg -nostdin -loglevel error -i {p} -ac 1 -ar 16000 -f wav - |"}
    assert not os.path.exists(os.path.join(data, "trials"))


def test_malformed_and_unknown_trials(vox1, tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_text("1 id10270/x6uYqmx31kE/00001.wav id10270/8jEAjG6SegY/00008.wav\n"
                   "2 id10270/x6uYqmx31kE/00001.wav\n")
    r = prep(vox1, str(tmp_path / "d1"), "--trials", str(bad), check=False)
    assert r.returncode != 0 and f"{bad}:2:" in r.stderr
    bad.write_text("0 id10270/x6uYqmx31kE/00001.wav id19999/abc/00001.wav\n")
    r = prep(vox1, str(tmp_path / "d2"), "--trials", str(bad), check=False)
    assert r.returncode != 0 and f"{bad}:1:" in r.stderr and "not in the data" in r.stderr
    with pytest.raises(voxceleb.TrialsError, match=":1: bad utterance path"):
        bad.write_text("1 a.wav b.wav\n")
        voxceleb.convert_trials(str(bad))
