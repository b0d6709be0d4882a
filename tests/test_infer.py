"""emorec-infer: posteriors of a 44.1 kHz stereo wav with tiny models trained the real way
(emorec.bin.train, a small BERT, emorec.fusion.fuse_fold), checked against
compute_fbank + score_posteriors and against fusion computed by hand."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import kaldiio
import numpy as np
import pytest
import soundfile
import torch
import yaml

from emorec import fusion
from emorec.models import text
from emorec.train import checkpoint, families
from emorec.train.text_encoder import build_text_encoder
from emorec.bin import infer
from synthetic_data import make_synthetic_datadir

torch.set_num_threads(1)
ROOT = Path(__file__).resolve().parents[1]
SPEECH_CLASSES = ["ang", "hap", "neu", "sad"]
TEXT_CLASSES = ["sad", "neu", "hap", "ang"]  # another order on purpose: mapped by name
TINY = {
    "model": {"blocks": [1, 1, 1, 1], "channels": 4, "emb_dim": 16, "pooling": "stats"},
    "data": {"chunk_sizes": [20], "batch_size": 4, "num_workers": 0},
    "augment": {"policy": "conservative", "copies": 0},
    "optim": {"lr": 0.05},
    "train": {"epochs": 1, "seed": 3, "num_threads": 1},
}
T1 = "i love this wonderful day"
T2 = "i hate it damn"


def _env():
    """path.sh's environment (as tests/conftest.py's shell_env) for module-scoped fixtures."""
    env = dict(os.environ, LC_ALL="C", HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", OMP_NUM_THREADS="1",
               PYTHONIOENCODING="UTF-8")
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "/usr/bin:/bin")])
    return env


def _py(args, cwd, check=True):
    r = subprocess.run([sys.executable, "-m"] + [str(a) for a in args], cwd=cwd, env=_env(),
                       capture_output=True, text=True, timeout=120)
    if check and r.returncode != 0:
        raise AssertionError(f"{args} failed ({r.returncode}):\n{r.stderr[-3000:]}")
    return r


def _recipe_infer(args, cwd, check=True):
    """emorec-infer through the recipe's wrapper, which fills the model paths from its layout."""
    r = subprocess.run(["bash", str(ROOT / "local/iemocap_infer.sh")] + [str(a) for a in args], cwd=cwd,
                       env=_env(), capture_output=True, text=True, timeout=120)
    if check and r.returncode != 0:
        raise AssertionError(f"{args} failed ({r.returncode}):\n{r.stderr[-3000:]}")
    return r


# the explicit paths of fold 1's models (what local/iemocap_infer.sh fills in)
FOLD1 = ["--speech-model", "exp/exp3/ser_finetune/fold1/model", "--fbank-config", "conf/fbank.conf",
         "--text-model", "exp/exp3/text/fold1/model", "--fusion-dir", "exp/exp3/fusion/w1/fold1"]


@pytest.fixture(scope="module")
def recipe(tmp_path_factory):
    """A recipe dir (with a space in its path) holding what stages 3-5 leave for fold 1."""
    rec = tmp_path_factory.mktemp("infer recipe")
    (rec / "conf").mkdir()
    shutil.copy(ROOT / "egs/iemocap/conf/fbank.conf", rec / "conf/fbank.conf")
    exp = rec / "exp/exp3"

    # speech: 1 epoch of emorec.bin.train on random 128-dim features, best.pt by dev UA
    data = rec / "data train"
    make_synthetic_datadir(str(data), num_speakers=4, utts_per_speaker=2, min_frames=20,
                           max_frames=40, dim=128, seed=2)
    keys = sorted(ln.split()[0] for ln in open(data / "utt2spk"))
    (data / "utt2emo").write_text("".join(f"{k} {SPEECH_CLASSES[i % 4]}\n" for i, k in enumerate(keys)))
    (rec / "tiny.yaml").write_text(yaml.safe_dump(TINY))
    _py(["emorec.bin.train", "--config", "tiny.yaml", "--data", data, "--labels", data / "utt2emo",
         "--dev-data", data, "--exp-dir", exp / "ser_finetune/fold1/train"], cwd=rec)
    # the model dir the resnet family saves (emorec.bin.train_fold)
    families.save_checkpoint("resnet", checkpoint.load(str(exp / "ser_finetune/fold1/train/best.pt")),
                             exp / "ser_finetune/fold1/model")

    # text: a small BERT + a classification head, saved as steps/train_text.sh does
    texts = [T1, T2, "okay it is tuesday at the office", "i miss you and i am sorry"] * 2
    build_text_encoder(texts, rec / "enc", vocab_size=100, hidden_size=16, num_layers=1, num_heads=2,
                            intermediate_size=32, max_position=32, mlm_epochs=0, log=lambda *a: None)
    enc, tok = text.load_encoder_and_tokenizer(str(rec / "enc"))
    torch.manual_seed(0)
    model = text.TextClassifier(enc, len(TEXT_CLASSES))
    torch.nn.init.normal_(model.head.weight, std=2.0)  # posteriors far from uniform
    text.save_text_classifier(model, tok, exp / "text/fold1/model", TEXT_CLASSES, max_len=32)

    # fusion: emorec.fusion.fuse_fold on random dev/test scores -> w1.txt, znorm_stats.txt
    rng = np.random.default_rng(0)
    utts = [f"u{i:02d}" for i in range(12)]
    for sysd in ("sp", "tx"):
        for s in ("dev", "test"):
            lp = fusion.log_softmax(rng.normal(0, 2, (len(utts), 4)))
            fusion.write_scores(rec / "scores" / sysd / f"{s}.logpost.ark", utts, lp, SPEECH_CLASSES)
    (rec / "scores/utt2emo").write_text("".join(f"{u} {SPEECH_CLASSES[i % 4]}\n" for i, u in enumerate(utts)))
    fusion.fuse_fold(rec / "scores/sp", rec / "scores/tx",
                     {m: exp / "fusion" / m / "fold1" for m in ("w1", "znorm")}, rec / "scores/utt2emo",
                     log=lambda *a: None)
    (exp / "fusion/w1/fold1/w1.txt").write_text("0.30\n")  # random dev scores tie at 0.5; avoid symmetry

    # the audio: 1.2 s of 44.1 kHz stereo
    sr = 44100
    t = np.arange(int(1.2 * sr)) / sr
    left = 0.3 * np.sin(2 * np.pi * 220 * t * (1 + t)) + 0.05 * rng.normal(size=t.size)
    right = 0.2 * np.sin(2 * np.pi * 330 * t) + 0.05 * rng.normal(size=t.size)
    soundfile.write(rec / "my clip.wav", np.stack([left, right], 1).astype(np.float32), sr)
    return rec


def _reference_speech(rec):
    """compute_fbank (resampling to 16 kHz) + score_posteriors on the same wav."""
    d = rec / "ref data"
    d.mkdir(exist_ok=True)
    (d / "wav.scp").write_text(f"clip {rec / 'my clip.wav'}\n")
    _py(["emorec.bin.compute_fbank", "--config", "conf/fbank.conf", "--num-threads", "1", d / "wav.scp",
         d / "feats.ark", d / "feats.scp"], cwd=rec)
    out = rec / "ref post/post.ark"
    _py(["emorec.bin.score_posteriors", "--model", "exp/exp3/ser_finetune/fold1/model", "--data", d,
         "--out", out, "--device", "cpu", "--num-threads", "1"], cwd=rec)
    assert (out.parent / "classes.txt").read_text().split() == SPEECH_CLASSES
    return np.exp(dict(kaldiio.load_ark(str(out)))["clip"].astype(np.float64))


def _probs(res, system):
    return np.array([res[system]["posteriors"][c] for c in res["classes"]])


def test_infer_speech_text_fused(recipe):
    rec = recipe
    wav = str(rec / "my clip.wav")
    common = ["--", "--device", "cpu", "--num-threads", "1"]

    # speech only, JSON: equals compute_fbank + score_posteriors
    r = _recipe_infer(common + ["--json", wav], cwd=rec)
    lines = r.stdout.strip().splitlines()
    assert len(lines) == 1
    res = json.loads(lines[0])
    assert res["classes"] == SPEECH_CLASSES and set(res) >= {"speech", "wav"}
    assert "text" not in res and "fused" not in res
    assert res["duration_s"] == pytest.approx(1.2, abs=1e-3)
    p_s = _probs(res, "speech")
    assert p_s.sum() == pytest.approx(1, abs=1e-9)
    np.testing.assert_allclose(p_s, _reference_speech(rec), rtol=1e-4, atol=1e-6)
    assert res["speech"]["argmax"] == SPEECH_CLASSES[int(p_s.argmax())]

    # with transcripts (two wavs, one per transcript), w1 fusion
    tf = rec / "t2.txt"
    tf.write_text(T2 + "\n")
    r = _recipe_infer(common + ["--json", "--transcript-file", rec / "t1.txt", "--transcript-file", tf, wav, wav],
                      cwd=rec, check=False)
    assert r.returncode == 1 and "t1.txt" in r.stderr  # a missing transcript file is named
    (rec / "t1.txt").write_text(T1)
    r = _recipe_infer(common + ["--json", "--transcript-file", rec / "t1.txt", "--transcript-file", tf, wav, wav],
                      cwd=rec)
    res1, res2 = [json.loads(ln) for ln in r.stdout.strip().splitlines()]
    w1 = float((rec / "exp/exp3/fusion/w1/fold1/w1.txt").read_text())
    assert w1 == 0.3
    assert res1["fused"]["w1"] == w1 and res1["fused"]["method"] == f"w1={w1:.2f}"
    model, tok, meta = text.load_text_classifier(rec / "exp/exp3/text/fold1/model")
    lp_t_ref = text.predict_logposteriors(model, tok, [T1, T2], 32).astype(np.float64)
    order = [TEXT_CLASSES.index(c) for c in SPEECH_CLASSES]
    for res, lp_ref in zip((res1, res2), lp_t_ref):
        for s in ("speech", "text", "fused"):
            assert _probs(res, s).sum() == pytest.approx(1, abs=1e-9), s
        np.testing.assert_allclose(_probs(res, "speech"), p_s, rtol=1e-6)
        p_t = _probs(res, "text")
        np.testing.assert_allclose(p_t, np.exp(lp_ref[order]), rtol=1e-5, atol=1e-7)
        s = w1 * np.log(p_s) + (1 - w1) * np.log(p_t)
        np.testing.assert_allclose(_probs(res, "fused"), np.exp(s) / np.exp(s).sum(), rtol=1e-6, atol=1e-9)
    assert res1["transcript"] == T1 and not np.allclose(_probs(res1, "text"), _probs(res2, "text"))

    # the table
    r = _recipe_infer(common + ["--transcript", T1, wav], cwd=rec)
    out = r.stdout
    assert wav in out and f"fused(w1={w1:.2f})" in out and out.count("\n") >= 7
    for c in SPEECH_CLASSES:
        assert f"\n{c} " in out
    argmax = [ln for ln in out.splitlines() if ln.startswith("argmax")][0].split()
    assert argmax[1:] == [res1["speech"]["argmax"], res1["text"]["argmax"], res1["fused"]["argmax"]]


def test_infer_znorm_and_errors(recipe, capsys, monkeypatch):
    rec = recipe
    monkeypatch.chdir(rec)
    wav = str(rec / "my clip.wav")
    assert infer.main(FOLD1 + ["--json", "--device", "cpu", "--fusion", "znorm",
                               "--fusion-dir", "exp/exp3/fusion/znorm/fold1", "--transcript", T1, wav]) == 0
    res = json.loads(capsys.readouterr().out)
    st = fusion.read_znorm_stats(rec / "exp/exp3/fusion/znorm/fold1/znorm_stats.txt")
    assert st["classes"] == SPEECH_CLASSES
    ls, lt = np.log(_probs(res, "speech")), np.log(_probs(res, "text"))
    s = 0.5 * (ls - st["speech_mean"]) / st["speech_std"] + 0.5 * (lt - st["text_mean"]) / st["text_std"]
    np.testing.assert_allclose(_probs(res, "fused"), np.exp(s) / np.exp(s).sum(), rtol=1e-6, atol=1e-9)

    # models whose classes differ
    model, tok, meta = text.load_text_classifier(rec / "exp/exp3/text/fold1/model")
    other = rec / "other text"
    text.save_text_classifier(model, tok, other, ["ang", "hap", "neu", "fru"], max_len=32)
    assert infer.main(FOLD1 + ["--device", "cpu", "--text-model", str(other), "--transcript", T1, wav]) == 1
    err = capsys.readouterr().err
    assert "classes differ" in err and "fru" in err and str(other) in err

    # missing models / fusion files are named
    r = _recipe_infer(["--fold", "2", "--", "--device", "cpu", wav], cwd=rec, check=False)
    assert r.returncode == 1
    assert "exp/exp3/ser_finetune/fold2/model" in r.stderr
    assert infer.main(FOLD1 + ["--device", "cpu", "--fusion-dir", "nowhere", "--transcript", T1, wav]) == 1
    assert "nowhere/w1.txt" in capsys.readouterr().err
    assert infer.main(FOLD1 + ["--device", "cpu", "--transcript", T1, "--transcript", T2, wav]) == 1
    assert "2 transcripts for 1 wavs" in capsys.readouterr().err

    # an unreadable wav: named, the others are still scored, exit 1
    bad = rec / "bad clip.wav"
    bad.write_bytes(b"RIFF not really a wav")
    r = _py(["emorec.bin.infer"] + FOLD1 + ["--device", "cpu", "--num-threads", "1", "--json",
                                            str(rec / "no such.wav"), str(bad), wav], cwd=rec, check=False)
    assert r.returncode == 1
    assert "no such.wav" in r.stderr and "no such file" in r.stderr and "bad clip.wav" in r.stderr
    lines = [json.loads(ln) for ln in r.stdout.strip().splitlines()]  # one line per file, failed ones too
    assert [j["wav"] for j in lines] == [str(rec / "no such.wav"), str(bad), wav]
    assert "no such file" in lines[0]["error"] and "cannot decode audio" in lines[1]["error"]
    assert "error" not in lines[2] and "warnings" in lines[2]


def test_infer_bad_transcript_file_and_input_warnings(recipe, capsys, monkeypatch):
    rec = recipe
    monkeypatch.chdir(rec)
    wav = str(rec / "my clip.wav")
    # a transcript file in Latin-1: one line naming the file and line, no traceback
    latin = rec / "latin1 transcript.txt"
    latin.write_bytes("okay\ncaf\xe9 au lait\n".encode("latin-1"))
    assert infer.main(FOLD1 + ["--device", "cpu", "--transcript-file", str(latin), wav]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{latin}:2:" in err and "not UTF-8" in err

    # 8 kHz audio and near-silent audio: scored, with one warning line each naming the wav
    rng = np.random.default_rng(5)
    low, quiet = rec / "phone clip.wav", rec / "quiet clip.wav"
    t = np.arange(8000) / 8000
    soundfile.write(low, (0.3 * np.sin(2 * np.pi * 300 * t) + 0.05 * rng.normal(size=t.size)).astype(np.float32), 8000)
    soundfile.write(quiet, (1e-4 * rng.normal(size=16000)).astype(np.float32), 16000)
    # (--min-speech 0: no speech check, which these synthetic clips would fail too)
    assert infer.main(FOLD1 + ["--device", "cpu", "--json", "--min-speech", "0", str(low), str(quiet), wav]) == 0
    out = capsys.readouterr()
    lines = [json.loads(ln) for ln in out.out.strip().splitlines()]
    assert [j["wav"] for j in lines] == [str(low), str(quiet), wav]
    warns = out.err.strip().splitlines()
    assert len(warns) == 2 and all(w.startswith("emorec-infer: warning: ") for w in warns)
    assert [j["warnings"] for j in lines] == [[warns[0].split(": warning: ", 1)[1]],
                                              [warns[1].split(": warning: ", 1)[1]], []]
    assert str(low) in warns[0] and "8000 Hz audio upsampled to 16000 Hz" in warns[0]
    assert str(quiet) in warns[1] and "near-silent" in warns[1]
