"""The CNN families of paper 004's Table 8 (emorec.train.spectro: mobilenet, cnn1d): each
trains through emorec.bin.train_fold on separable synthetic audio and scores its test part
well above chance; the saved model loads through the registry and gives the same
posteriors; ImageNet weights are looked up offline only."""
from pathlib import Path

import numpy as np
import pytest
import soundfile
import yaml

from emorec.bin import train_fold
from emorec.fileio import read_scores
from emorec.train import families

CLASSES = ["high", "low", "noise"]


def _audio(kind, rng, seconds):
    t = np.arange(int(16000 * seconds)) / 16000
    if kind == "noise":
        return 0.3 * rng.standard_normal(t.size)
    f = (2500 if kind == "high" else 250) * rng.uniform(0.9, 1.1)
    return 0.5 * np.sin(2 * np.pi * f * t) + 0.02 * rng.standard_normal(t.size)


@pytest.fixture(scope="module")
def fold(tmp_path_factory):
    root = tmp_path_factory.mktemp("cnn fold")
    rng = np.random.default_rng(0)
    for part, n in (("train", 8), ("dev", 3), ("test", 3)):
        d = root / "fold1" / part
        d.mkdir(parents=True)
        wav, emo = [], []
        for c in CLASSES:
            for i in range(n):
                u = f"s{i % 2}-{part}{c}{i:02d}"
                p = root / "audio" / f"{u}.wav"
                p.parent.mkdir(exist_ok=True)
                soundfile.write(p, _audio(c, rng, rng.uniform(0.6, 1.2)).astype(np.float32), 16000)
                wav.append(f"{u} {p}")
                emo.append(f"{u} {c}")
        (d / "wav.scp").write_text("\n".join(sorted(wav)) + "\n")
        (d / "utt2emo").write_text("\n".join(sorted(emo)) + "\n")
    return root


CONFIGS = {
    "mobilenet": {"model": {"num_mel_bins": 32, "width_mult": 0.25}, "optim": {"lr": 3e-3},
                  "train": {"epochs": 20}},
    "cnn1d": {"model": {"num_mel_bins": 32, "frames": 60, "width": 0.125, "hidden": [32, 16], "dropout": 0.2},
              "optim": {"lr": 1e-2}, "train": {"epochs": 10}},
}


@pytest.mark.parametrize("family", sorted(CONFIGS))
def test_family_learns_separable_audio_and_reloads_with_the_same_posteriors(fold, tmp_path, family):
    cfg = tmp_path / "c.yaml"
    c = CONFIGS[family]
    cfg.write_text(yaml.safe_dump({**c, "data": {"batch_size": 8, "max_seconds": 0.5},
                                   "train": {**c["train"], "num_threads": 1, "seed": 1}}))
    exp = tmp_path / "exp"
    assert train_fold.main(["--family", family, "--config", str(cfg), "--ngpu", "0", str(fold / "fold1"),
                            str(exp)]) == 0
    sc = read_scores(exp / "test.logpost.ark")
    truth = [u.split("-")[1][4:-2] for u in sc.utts]
    pred = [sc.classes[i] for i in sc.mat.argmax(1)]
    acc = np.mean([p == t for p, t in zip(pred, truth)])
    assert acc >= 0.6, (acc, pred, truth)  # chance: 1/3
    predictor = families.load(exp / "model")
    assert families.family_of(exp / "model") == family and predictor.classes == CLASSES
    utts, lp = predictor.score_dir(fold / "fold1" / "test")
    assert utts == sc.utts
    np.testing.assert_allclose(lp, sc.mat, atol=1e-5)


def test_named_imagenet_weights_that_are_missing_fail_naming_where(tmp_path, monkeypatch):
    from emorec.models.spectro import MobileNetClassifier

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch home"))
    with pytest.raises(FileNotFoundError, match="torch home"):
        MobileNetClassifier(3, 32, pretrained_weights="imagenet")
    with pytest.raises(FileNotFoundError, match="no such file"):
        MobileNetClassifier(3, 32, pretrained_weights=str(tmp_path / "mobilenet_v2.pth"))


@pytest.fixture(scope="module")
def cnn1d_exp(fold, tmp_path_factory):
    """A recipe's exp dir holding one epoch of a cnn1d model of fold 1."""
    exp = tmp_path_factory.mktemp("cnn1d") / "exp dir"
    exp.mkdir()
    cfg = exp.parent / "c.yaml"
    cfg.write_text(yaml.safe_dump({**CONFIGS["cnn1d"], "train": {"epochs": 1, "num_threads": 1}}))
    assert train_fold.main(["--family", "cnn1d", "--config", str(cfg), "--ngpu", "0", str(fold / "fold1"),
                            str(exp / "cnn1d/fold1")]) == 0
    return exp


def test_one_system_package_scores_as_its_model_and_scores_a_data_dir(fold, cnn1d_exp, tmp_path, shell_env):
    """steps/export_model.sh --system: any family's system as a package (its preprocessing,
    ASR, classes); emorec-infer's loader scores a recording as the fold's model scored it;
    steps/score_package.sh scores a data dir through it."""
    import subprocess

    from emorec.package import load_package

    exp = cnn1d_exp
    root = Path(__file__).resolve().parents[1]
    roots = tmp_path / "corpus_roots"  # what the data prep wrote: the corpus is named from it
    roots.write_text("cremad demo /c/CREMA-D\ntess demo /c/TESS\n")
    for trim in ("false", "true"):
        r = subprocess.run([str(root / "steps/export_model.sh"), "--system", "cnn1d", "--folds", "1",
                            "--trim-silence", trim, "--corpus-roots", str(roots), str(exp),
                            str(tmp_path / f"model {trim}")], env=shell_env,
                           capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, r.stderr
    pkg = load_package(tmp_path / "model false")
    manifest = pkg.manifest
    assert manifest["systems"][0]["family"] == "cnn1d" and manifest["classes"] == CLASSES
    assert manifest["corpus"] == "demo" and manifest["trained_on"].startswith("DEMO (synthetic, not the real corpus)")
    assert [s["step"] for s in manifest["preprocessing"]] == ["resample", "noise_reduction"]
    assert [s["step"] for s in load_package(tmp_path / "model true").manifest["preprocessing"]][-1] == \
        "silence_removal"
    sc = read_scores(exp / "cnn1d/fold1/test.logpost.ark")
    wavs = dict(ln.split(" ", 1) for ln in (fold / "fold1/test/wav.scp").read_text().splitlines())
    res = pkg.score(wavs[sc.utts[0]])
    assert res.speech is not None and res.text is None and res.fused is None
    np.testing.assert_allclose(res.speech, sc.mat[0], atol=1e-5)

    r = subprocess.run([str(root / "steps/score_package.sh"), str(tmp_path / "model false"),
                        str(fold / "fold1/test"), str(tmp_path / "scored")], env=shell_env, capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    scored = read_scores(tmp_path / "scored/scores.ark")
    assert scored.utts == sc.utts
    np.testing.assert_allclose(scored.mat, sc.mat, atol=1e-5)
    assert (tmp_path / "scored/summary.txt").read_text().startswith("UA ")

    # emorec-serve serves the one-system package: its posteriors as the "speech" system
    import json
    import socket
    import sys
    import time
    import urllib.request

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "emorec.bin.serve", "--model", str(tmp_path / "model false"),
                             "--host", "127.0.0.1", "--port", str(port), "--device", "cpu"], env=shell_env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        body = Path(wavs[sc.utts[0]]).read_bytes()
        head = (b'--b\r\nContent-Disposition: form-data; name="audio"; filename="a.wav"\r\n'
                b"Content-Type: application/octet-stream\r\n\r\n")
        req = urllib.request.Request(f"http://127.0.0.1:{port}/api/score", data=head + body + b"\r\n--b--\r\n",
                                     headers={"Content-Type": "multipart/form-data; boundary=b"})
        for _ in range(240):
            try:
                with urllib.request.urlopen(req, timeout=60) as r:
                    out = json.load(r)
                break
            except OSError:
                assert proc.poll() is None, "emorec-serve exited"
                time.sleep(0.5)
        else:
            raise AssertionError("emorec-serve did not answer within 120 s")
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert list(out["systems"]) == ["speech"]
    got = [out["systems"]["speech"]["posteriors"][c] for c in CLASSES]
    np.testing.assert_allclose(got, np.exp(sc.mat[0]), atol=1e-5)


def test_the_package_reduces_noise_as_the_recipe_s_stage_1_does(cnn1d_exp, tmp_path):
    """A package exported with noise reduction (egs/emo7 --noise-reduction) runs the recipe's
    preprocessing on each recording: resample, noise reduction with the VAD's non-speech as
    the noise profile, silence removal. What it scores is what stage 1
    (emorec.bin.trim_silence --noise-reduction) writes for the same recording (to 16-bit
    rounding): the white noise above the voice band drops by 10 dB or more, the voice band
    keeps its level; without the step the package scores the noisy speech."""
    import kaldiio
    from test_emo7_vad import bursts_in_noise

    from emorec.bin import trim_silence
    from emorec.inference import read_recording
    from emorec.package import export_system, load_package
    from emorec.vad import Vad

    x, _ = bursts_in_noise(3, snr_db=10.0)
    src = tmp_path / "src"
    src.mkdir()
    soundfile.write(src / "a.wav", x, 16000, subtype="FLOAT")
    (src / "wav.scp").write_text(f"s1-a {src / 'a.wav'}\n")
    (src / "utt2spk").write_text("s1-a s1\n")
    (src / "spk2utt").write_text("s1 s1-a\n")
    with kaldiio.WriteHelper(f"ark,scp:{src / 'vad.ark'},{src / 'vad.scp'}") as w:
        w("s1-a", Vad()(x))
    assert trim_silence.main(["--noise-reduction", str(src), str(tmp_path / "trimmed"), str(tmp_path / "wav")]) == 0
    stage1, _ = soundfile.read(tmp_path / "wav" / "s1-a.wav")

    kept = {}
    for nr in (True, False):
        pkg = load_package(export_system(cnn1d_exp, tmp_path / f"model nr {nr}", "cnn1d", ["1"], noise_reduction=nr,
                                         trim_silence=True, log=lambda m: None))
        assert [(s["step"], s.get("enabled")) for s in pkg.manifest["preprocessing"]][1] == ("noise_reduction", nr)
        kept[nr], seconds, warnings = pkg.audio(read_recording(str(src / "a.wav")))
        assert seconds == pytest.approx(x.size / 16000) and warnings == []
    assert kept[True].shape == kept[False].shape == stage1.shape and stage1.size < x.size
    np.testing.assert_allclose(kept[True], stage1, atol=1.5 / 2 ** 15)

    def band_db(y, lo, hi):  # power in [lo, hi) Hz
        spec = np.abs(np.fft.rfft(y)) ** 2
        f = np.fft.rfftfreq(y.size, 1 / 16000)
        return 10 * np.log10(spec[(f >= lo) & (f < hi)].sum())
    assert band_db(kept[True], 6500, 8000) < band_db(kept[False], 6500, 8000) - 10
    assert abs(band_db(kept[True], 100, 1000) - band_db(kept[False], 100, 1000)) < 1.5


def test_imagenet_weights_from_the_torch_hub_cache_initialise_the_trunk(tmp_path, monkeypatch):
    """A checkpoint in torchvision's layout (1000 ImageNet classes) in the local torch hub
    cache: its trunk is loaded, the classifier is new (the emotion classes)."""
    import torch

    from emorec.models.spectro import MobileNetClassifier, MobileNetV2

    src = MobileNetV2(1000, width_mult=0.25)
    hub = tmp_path / "torch home" / "hub" / "checkpoints"
    hub.mkdir(parents=True)
    torch.save(src.state_dict(), hub / "mobilenet_v2-b0353104.pth")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch home"))
    m = MobileNetClassifier(7, 32, width_mult=0.25, pretrained_weights="imagenet")
    own = m.net.state_dict()
    assert all(torch.equal(v, own[k]) for k, v in src.state_dict().items() if not k.startswith("classifier."))
    assert own["classifier.1.weight"].shape == (7, src.last_channel)
    with pytest.raises(ValueError, match="not MobileNetV2 weights of width 1.0"):
        MobileNetClassifier(7, 32, width_mult=1.0, pretrained_weights=str(hub / "mobilenet_v2-b0353104.pth"))
