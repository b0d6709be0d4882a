"""steps/export_model.sh + emorec-infer --model: a package exported from a recipe's fold
models gives the posteriors of the recipe's own scoring path (compute_fbank +
score_posteriors, the text model, the fold's fusion) for the same utterance; several
folds form an ensemble (mean of log-posteriors); run from another directory without
path.sh; without a transcript its ASR (pocketsphinx) transcribes the audio; wav, flac, mp3
and m4a are read."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile
import yaml

from emorec import fusion
from emorec.fileio import read_scores
from emorec.models import text
from conftest import _path_sh_env
from test_infer import SPEECH_CLASSES, T1, TEXT_CLASSES, TINY, _probs, _reference_speech, recipe  # noqa: F401

ROOT = Path(__file__).resolve().parents[1]
SUMMARY = """# IEMOCAP Exp 3 results

## Summary

| system | UA % (mean ± std) | WA % (mean ± std) | UA % pooled | WA % pooled | N test |
| :--- | ---: | ---: | ---: | ---: | ---: |
| `speech_finetune` | 67.64 ± 5.06 | 67.73 ± 4.44 | 67.80 | 67.74 | 496 |
| `text` | 70.19 ± 3.20 | 70.10 ± 3.28 | 70.08 | 70.16 | 496 |
| `fusion_w1` | 87.37 ± 3.46 | 87.29 ± 3.42 | 87.28 | 87.30 | 496 |
| `speech_scratch` | 57.38 ± 9.77 | 57.85 ± 9.51 | 57.66 | 57.66 | 496 |

## Improvised vs scripted test utterances

| system | improvised: UA % / WA % (N) | scripted: UA % / WA % (N) |
| :--- | ---: | ---: |
| `speech_finetune` | 62.56 / 63.25 (200) | 60.20 / 59.63 (296) |
| `text` | 67.78 / 67.00 (200) | 68.98 / 69.59 (296) |
| `fusion_w1` | 84.41 / 84.25 (200) | 82.77 / 82.94 (296) |
"""


def markdown_tables(text):
    """Every table of a markdown text: a list of rows, each a list of cells."""
    tables, cur = [], []
    for line in text.splitlines() + [""]:
        if line.startswith("|"):
            cur.append([c.strip() for c in line.strip().strip("|").split("|")])
        elif cur:
            tables.append(cur)
            cur = []
    return tables


def emorec_infer(args, cwd):
    """The installed console script, run from ``cwd`` without path.sh (no HF_HUB_OFFLINE
    either: the entry point sets it). PYTHONPATH names this checkout only because the venv's
    editable install may point at another checkout."""
    script = Path(sys.executable).parent / "emorec-infer"
    cmd = [str(script)] if script.exists() else [sys.executable, "-m", "emorec.bin.infer"]
    env = {"PATH": "/usr/bin:/bin", "HOME": os.environ.get("HOME", "/root"), "PYTHONPATH": str(ROOT),
           "OMP_NUM_THREADS": "1"}
    return subprocess.run(cmd + [str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=300)


def export(rec, shell_env, out, folds, opts=("--results", "RESULTS.md")):
    r = subprocess.run([str(ROOT / "steps/export_model.sh"), "--folds", folds, *opts,
                        "--trained-on", "tiny test models", "exp/exp3", out], cwd=rec, env=shell_env,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    return rec / out


def test_export_then_infer(recipe, shell_env, tmp_path):  # noqa: F811
    rec = recipe
    (rec / "RESULTS.md").write_text(SUMMARY)
    model = export(rec, shell_env, "model one", "1")
    m = json.loads((model / "manifest.json").read_text())
    assert [s["name"] for s in m["systems"]] == ["speech", "text", "fused"]
    assert m["classes"] == SPEECH_CLASSES and m["asr"] == {"model": "pocketsphinx"}
    readme = (model / "README.md").read_text()
    assert "tiny test models" in readme and "IEMOCAP Exp 3 results" in readme
    assert "| `fusion_w1` | 87.37" in readme and "speech_scratch" not in readme
    # the summary table whole and alone: each system once, every row as wide as its header
    (table,) = markdown_tables(readme)
    assert all(len(row) == len(table[0]) == 6 for row in table)
    assert [row[0] for row in table[2:]] == ["`speech_finetune`", "`text`", "`fusion_w1`"]
    assert table[2][1] == "67.64 ± 5.06"

    # moved elsewhere, run from an unrelated directory: the recipe's posteriors
    moved = tmp_path / "moved model"
    shutil.copytree(model, moved)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    wav = rec / "my clip.wav"
    r = emorec_infer(["--model", moved, "--device", "cpu", "--json", "--transcript", T1, wav], cwd=elsewhere)
    assert r.returncode == 0, r.stderr
    res = json.loads(r.stdout)
    p_s = _probs(res, "speech")
    np.testing.assert_allclose(p_s, _reference_speech(rec), rtol=1e-4, atol=1e-6)
    model_t, tok, _ = text.load_text_classifier(rec / "exp/exp3/text/fold1/model")
    lp_t = text.predict_logposteriors(model_t, tok, [T1], 32)[0].astype(np.float64)
    p_t = np.exp(lp_t[[TEXT_CLASSES.index(c) for c in SPEECH_CLASSES]])
    np.testing.assert_allclose(_probs(res, "text"), p_t, rtol=1e-5, atol=1e-7)
    s = 0.3 * np.log(p_s) + 0.7 * np.log(p_t)
    np.testing.assert_allclose(_probs(res, "fused"), np.exp(s) / np.exp(s).sum(), rtol=1e-5, atol=1e-8)
    assert res["transcript"] == T1 and res["fused"]["method"] == "w1=0.30"

    # two folds: an ensemble, the mean of the folds' log-posteriors renormalised
    shutil.copytree(rec / "exp/exp3/ser_finetune/fold1", rec / "exp/exp3/ser_finetune/fold2")
    shutil.copytree(rec / "exp/exp3/text/fold1", rec / "exp/exp3/text/fold2")
    shutil.copytree(rec / "exp/exp3/fusion/w1/fold1", rec / "exp/exp3/fusion/w1/fold2")
    (rec / "exp/exp3/fusion/w1/fold2/w1.txt").write_text("0.80\n")
    model2 = export(rec, shell_env, "model two", "1 2")
    r = emorec_infer(["--model", model2, "--device", "cpu", "--json", "--transcript", T1, wav], cwd=elsewhere)
    assert r.returncode == 0, r.stderr
    res2 = json.loads(r.stdout)
    np.testing.assert_allclose(_probs(res2, "speech"), p_s, rtol=1e-5)
    np.testing.assert_allclose(_probs(res2, "text"), p_t, rtol=1e-5)
    f1 = fusion.log_softmax((0.3 * np.log(p_s) + 0.7 * np.log(p_t))[None])[0]
    f2 = fusion.log_softmax((0.8 * np.log(p_s) + 0.2 * np.log(p_t))[None])[0]
    mean = (f1 + f2) / 2
    np.testing.assert_allclose(_probs(res2, "fused"), np.exp(mean) / np.exp(mean).sum(), rtol=1e-5)
    assert res2["fused"]["method"] == "w1, 2-fold ensemble"


def test_package_asr_formats_and_errors(recipe, shell_env, tmp_path):  # noqa: F811
    """From a directory under /tmp, without path.sh: wav, flac, mp3 and m4a (made by ffmpeg,
    which tools/install.sh installs), each transcribed by the package's ASR and scored."""
    rec = recipe
    model = rec / "model one"
    if not model.exists():
        (rec / "RESULTS.md").write_text(SUMMARY)
        model = export(rec, shell_env, "model one", "1")
    said = tmp_path / "said clip.wav"
    subprocess.run(["espeak-ng", "-s", "120", "-w", str(said), "I love this wonderful day"], check=True)
    clips = [said]
    for ext in ("flac", "mp3", "m4a"):
        clips.append(said.with_suffix(f".{ext}"))
        subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-i", str(said), str(clips[-1])], check=True)
    r = emorec_infer(["--model", model, "--device", "cpu", "--json"] + clips, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    res = {Path(j["wav"]).suffix: j for j in map(json.loads, r.stdout.splitlines())}
    assert list(res) == [".wav", ".flac", ".mp3", ".m4a"]
    wav = res[".wav"]
    assert wav["transcript"] not in ("", "<unk>")
    for ext, j in res.items():
        assert j["duration_s"] == pytest.approx(wav["duration_s"], abs=0.05), ext  # decoders trim the codec's padding
        assert j["transcript"] and set(j) >= {"speech", "text", "fused"}, ext
        for s in ("speech", "text", "fused"):
            assert sum(j[s]["posteriors"].values()) == pytest.approx(1, abs=1e-6)
    # flac is lossless: the wav's transcript and posteriors exactly
    assert res[".flac"]["transcript"] == wav["transcript"]
    for s in ("speech", "text", "fused"):
        assert res[".flac"][s]["posteriors"] == wav[s]["posteriors"]

    # the table: the file, its transcript, the three systems
    r = emorec_infer(["--model", model, "--device", "cpu", clips[-1]], cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].startswith(str(clips[-1])) and lines[1] == f"transcript: {res['.m4a']['transcript']}"
    assert lines[2].split() == ["class", "speech", "text", "fused(w1=0.30)"]

    assert lines[-1] == f"answer: {res['.m4a']['answer']}"

    # one resident model for a batch: a spoken clip, a tone (no speech: no answer, a
    # warning), a file that cannot be read (an error line), a too-long file (refused)
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF not audio")
    tone = tmp_path / "tone.wav"
    soundfile.write(tone, 0.5 * np.sin(2 * np.pi * 440 * np.arange(48000) / 16000), 16000)
    data = tmp_path / "data dir"
    data.mkdir()
    (data / "wav.scp").write_text(f"u1 {said}\nu2 {tone}\nu3 {bad}\n")
    r = emorec_infer(["--model", model, "--device", "cpu", "--json", "--max-seconds", "4", "--data", data, said],
                     cwd=tmp_path)
    assert r.returncode == 1 and "Traceback" not in r.stderr
    out = [json.loads(ln) for ln in r.stdout.splitlines()]
    assert [o.get("utt") for o in out] == [None, "u1", "u2", "u3"]
    assert out[0]["answer"] in SPEECH_CLASSES and out[0]["warnings"] == []
    assert out[0] | {"utt": "u1"} == out[1]  # the same scores alone and in a batch
    assert out[2]["answer"] is None and out[2]["warnings"] == [
        f"{str(tone)!r}: the ASR recognised no words; the text and fused posteriors rest on an unknown word",
        f"{str(tone)!r}: no speech found (silence, a tone or noise?); no emotion can be told"]
    assert set(out[3]) == {"utt", "wav", "error"} and "cannot decode audio" in out[3]["error"]
    assert str(bad) in r.stderr
    r = emorec_infer(["--model", model, "--device", "cpu", "--json", "--max-seconds", "1", said], cwd=tmp_path)
    assert r.returncode == 1
    assert "of audio is longer than the 1 s limit (--max-seconds)" in json.loads(r.stdout)["error"]
    r = emorec_infer(["--model", tmp_path, bad], cwd=tmp_path)
    assert r.returncode == 1 and "manifest.json: no such file" in r.stderr
    r = emorec_infer(["--model", model, "--fusion", "znorm", bad], cwd=tmp_path)  # not silently ignored
    assert r.returncode == 1 and "drop --fusion" in r.stderr


# one leave-one-session-out fold of spoken utterances: (speaker, espeak-ng speed, set) x sentence
SAID = {"ang": "i hate it damn", "hap": "i love this wonderful day", "neu": "okay it is tuesday at the office",
        "sad": "i miss you and i am sorry"}
SPEAKERS = [("spkA", 150, "train"), ("spkB", 120, "train"), ("spkC", 135, "dev"), ("spkD", 110, "test")]


def _run(cmd, cwd):
    r = subprocess.run(["bash", "-c", cmd], cwd=cwd, env=_path_sh_env() | {"OMP_NUM_THREADS": "1"},
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, f"{cmd}:\n{r.stdout[-2000:]}{r.stderr[-2000:]}"


@pytest.fixture(scope="module")
def steps_recipe(tmp_path_factory):
    """A one-fold recipe made by the recipe's own steps: make_fbank.sh, train_ser.sh,
    train_text.sh, fuse.sh; its test scores are the files the recipe reports from."""
    rec = tmp_path_factory.mktemp("steps recipe")
    for d in ("steps", "utils"):  # as in egs/*/
        (rec / d).symlink_to(ROOT / d)
    (rec / "conf").mkdir()
    shutil.copy(ROOT / "egs/iemocap/conf/fbank.conf", rec / "conf/fbank.conf")
    (rec / "conf/ser.yaml").write_text(yaml.safe_dump(TINY))
    (rec / "conf/text.yaml").write_text(yaml.safe_dump(
        {"model": {"max_len": 32}, "data": {"batch_size": 8, "eval_batch_size": 16}, "optim": {"lr": 1e-3},
         "train": {"epochs": 2, "seed": 5, "log_interval": 1}}))
    loso = rec / "data/loso/fold1"
    for spk, speed, part in SPEAKERS:
        d = loso / part
        d.mkdir(parents=True, exist_ok=True)
        for i, (emo, words) in enumerate(sorted(SAID.items())):
            utt = f"{spk}-{emo}{i}"
            wav = rec / "wav" / f"{utt}.wav"
            wav.parent.mkdir(exist_ok=True)
            subprocess.run(["espeak-ng", "-s", str(speed), "-w", str(wav), words], check=True)
            for f, v in (("wav.scp", wav), ("utt2spk", spk), ("text", words), ("utt2emo", emo)):
                with open(d / f, "a") as fh:
                    fh.write(f"{utt} {v}\n")
    for part in ("train", "dev", "test"):
        d = loso / part
        spk2utt = {}
        for utt, spk in (ln.split() for ln in (d / "utt2spk").read_text().splitlines()):
            spk2utt.setdefault(spk, []).append(utt)
        (d / "spk2utt").write_text("".join(f"{spk} {' '.join(u)}\n" for spk, u in spk2utt.items()))
        _run(f'steps/make_fbank.sh --nj 1 "{d}"', rec)
    _run('steps/train_ser.sh --nfolds 1 --ngpu 0 --mode scratch --train-config conf/ser.yaml '
         'data/loso exp/exp3/ser_scratch', rec)
    _run('steps/train_text.sh --nfolds 1 --ngpu 0 --train-config conf/text.yaml --encoder-opts '
         '"--hidden-size 16 --num-layers 1 --intermediate-size 32 --mlm-epochs 0 --vocab-size 100" '
         'data/loso exp/exp3/text', rec)
    _run("steps/fuse.sh --data data/loso exp/exp3/ser_scratch exp/exp3/text exp/exp3/fusion", rec)
    return rec


@pytest.mark.parametrize("method", ["w1", "znorm"])
def test_export_gives_the_recipe_scores(steps_recipe, shell_env, tmp_path, method):
    """Acceptance of issue 12: export, then emorec-infer --model on a test utterance's
    audio and reference transcript, gives the posteriors in the recipe's own score files
    (exp/.../fold1/test.logpost.ark of the speech, text and fused systems)."""
    rec = steps_recipe
    model = export(rec, shell_env, f"model {method}", "1",
                   ("--speech-system", "ser_scratch", "--fusion", method))
    test = rec / "data/loso/fold1/test"
    utts = [ln.split(" ", 1) for ln in (test / "wav.scp").read_text().splitlines()]
    said = dict(ln.split(" ", 1) for ln in (test / "text").read_text().splitlines())
    args = ["--model", model, "--device", "cpu", "--json"]
    for utt, _ in utts:
        args += ["--transcript", said[utt]]
    r = emorec_infer(args + [wav for _, wav in utts], cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    out = [json.loads(ln) for ln in r.stdout.splitlines()]
    assert len(out) == len(utts) == 4
    exp = rec / "exp/exp3"
    for name, scores in (("speech", exp / "ser_scratch/fold1"), ("text", exp / "text/fold1"),
                         ("fused", exp / f"fusion/{method}/fold1")):
        sc = read_scores(scores / "test.logpost.ark")
        ref = dict(zip(sc.utts, sc.mat))
        for (utt, _), res in zip(utts, out):
            lp = ref[utt][[sc.classes.index(c) for c in res["classes"]]]
            np.testing.assert_allclose(_probs(res, name), np.exp(lp), rtol=1e-4, atol=1e-6,
                                       err_msg=f"{name} {utt}")


def test_export_with_vad_gives_the_recipe_scores(steps_recipe, shell_env, tmp_path):
    """A recipe run with --use-vad true scores the voiced frames only (steps/compute_vad.sh,
    then score_posteriors as steps/train_ser.sh runs it); a package exported with
    --use-vad true gives those speech posteriors."""
    import kaldiio
    import soundfile

    rec = steps_recipe
    test, vad = rec / "data/loso/fold1/test", rec / "data/vad test"
    vad.mkdir()
    wavs = {}
    for utt, path in (ln.split(" ", 1) for ln in (test / "wav.scp").read_text().splitlines()):
        x, sr = soundfile.read(path, dtype="float32")
        pad = np.zeros(sr, np.float32)  # 1 s of silence on each side
        wavs[utt] = tmp_path / f"{utt} padded.wav"
        soundfile.write(wavs[utt], np.concatenate([pad, x, pad]), sr)
    (vad / "wav.scp").write_text("".join(f"{u} {p}\n" for u, p in wavs.items()))
    for f in ("utt2spk", "spk2utt", "utt2emo", "text"):
        shutil.copy(test / f, vad / f)
    _run(f'steps/make_fbank.sh --nj 1 "{vad}" && steps/compute_vad.sh --nj 1 "{vad}" && '
         f'python -m emorec.bin.score_posteriors --model exp/exp3/ser_scratch/fold1/model --data "{vad}" '
         f'--out exp/vad/test.logpost.ark', rec)
    voiced = {u: np.asarray(v).reshape(-1) for u, v in kaldiio.load_scp(str(vad / "vad.scp")).items()}
    assert all(0.3 < v.mean() < 0.7 for v in voiced.values())  # the padding is not speech

    model = export(rec, shell_env, "model vad", "1", ("--speech-system", "ser_scratch", "--use-vad", "true"))
    assert json.loads((model / "manifest.json").read_text())["vad_config"] == "vad.conf"
    assert "--min-pause=500.0" in (model / "vad.conf").read_text().splitlines()
    r = emorec_infer(["--model", model, "--device", "cpu", "--json"] + [a for u in wavs for a in
                                                                          ("--transcript", "okay")] +
                     list(wavs.values()), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    sc = read_scores(rec / "exp/vad/test.logpost.ark")
    ref = dict(zip(sc.utts, sc.mat))
    for utt, res in zip(wavs, map(json.loads, r.stdout.splitlines())):
        lp = ref[utt][[sc.classes.index(c) for c in res["classes"]]]
        np.testing.assert_allclose(_probs(res, "speech"), np.exp(lp), rtol=1e-4, atol=1e-6, err_msg=utt)
