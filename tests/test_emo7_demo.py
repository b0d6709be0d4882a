"""The egs/emo7 demo corpora: same seed -> identical bytes; the release layouts and
quirks that the data prep must handle are there, and the prep scripts read them."""

import hashlib
import subprocess
from pathlib import Path

import soundfile as sf

from emorec.data import demo_emo7
from emorec.fileio import read_kv

ROOT = Path(__file__).resolve().parent.parent


def tree_digest(root: Path):
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        if p.is_file():
            h.update(str(p.relative_to(root)).encode() + b"\0" + p.read_bytes())
    return h.hexdigest()


def test_demo_emo7_reproducible_and_real_layouts(tmp_path, shell_env):
    a, b = tmp_path / "a", tmp_path / "b b"
    demo_emo7.make(str(a), seed=3, size="tiny", log=lambda m: None)
    demo_emo7.make(str(b), seed=3, size="tiny", log=lambda m: None)
    assert tree_digest(a) == tree_digest(b)
    rates = {"CREMA-D/AudioWAV/1001_*.wav": 16000, "RAVDESS/Actor_01/*.wav": 48000,
             "SAVEE/AudioData/DC/*.wav": 44100, "SAVEE/ALL/KL_*.wav": 44100,
             "TESS/YAF_pleasant_surprised/*_ps.wav": 24414}
    for pattern, sr in rates.items():
        files = [p for p in a.glob(pattern) if not p.name.startswith("._")]
        assert files, pattern
        assert {sf.info(p).samplerate for p in files} == {sr}
    for d in ("OAF_Fear", "YAF_fear", "OAF_Pleasant_surprise", "YAF_pleasant_surprised"):
        assert (a / "TESS" / d).is_dir()
    assert list(a.glob("RAVDESS/Actor_0*/03-02-*.wav"))        # song files
    assert list(a.rglob("._*")) and (a / "CREMA-D" / "README.txt").exists()
    assert (a / "CREMA-D" / "AudioWAV" / "1002_MTI_SAD_XX.wav").stat().st_size == 0
    assert (a / "IEMOCAP_full_release" / "Session5").is_dir()

    data = tmp_path / "data"
    logs = ""
    for script, name in (("crema_d", "CREMA-D"), ("ravdess", "RAVDESS"), ("savee", "SAVEE"),
                         ("tess", "TESS")):
        r = subprocess.run(["bash", f"local/{script}_data_prep.sh", "--max-drop-frac", "0.1",
                            str(a / name), str(data / name)], cwd=ROOT / "egs" / "emo7",
                           env=shell_env, capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, r.stdout + r.stderr
        logs += r.stderr
        emo = read_kv(str(data / name / "utt2emo"))
        assert len(set(emo.values())) == {"CREMA-D": 6, "RAVDESS": 8}.get(name, 7)
    assert "1002_MTI_SAD_XX.wav': empty file (0 bytes); dropped" in logs
