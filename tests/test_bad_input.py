"""Bad input named in one line (file and problem), nothing left behind, no network:
a corrupt --init-from checkpoint, an unknown class set, non-UTF-8 transcripts, a
truncated wav, entry points started without path.sh."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
import yaml

from emorec.audio import load_audio
from synthetic_data import make_synthetic_datadir

ROOT = Path(__file__).resolve().parents[1]
TINY = {
    "model": {"blocks": [1, 1, 1, 1], "channels": 4, "emb_dim": 16, "pooling": "stats"},
    "data": {"chunk_sizes": [20, 30], "batch_size": 4, "num_workers": 0},
    "train": {"epochs": 1, "seed": 1, "num_threads": 1},
}


def _truncated(path: Path):
    torch.save({"model": {"w": torch.zeros(1000)}}, path)
    b = path.read_bytes()
    path.write_bytes(b[: len(b) // 2])


def _random(path: Path):
    path.write_bytes(np.random.default_rng(0).bytes(4096))


def _empty(path: Path):
    path.write_bytes(b"")


@pytest.mark.parametrize("corrupt", [_truncated, _random, _empty], ids=["truncated", "random", "empty"])
def test_corrupt_init_checkpoint_one_line_naming_it(tmp_path, shell_env, corrupt):
    data = tmp_path / "data"
    make_synthetic_datadir(str(data), num_speakers=2, utts_per_speaker=2, min_frames=12,
                           max_frames=30, dim=32, seed=1)
    conf = tmp_path / "tiny.yaml"
    conf.write_text(yaml.safe_dump(TINY))
    ckpt = tmp_path / "speaker model.pt"
    corrupt(ckpt)
    exp = tmp_path / "exp"
    r = subprocess.run([sys.executable, "-m", "emorec.bin.train", "--config", str(conf),
                        "--data", str(data), "--exp-dir", str(exp), "--ngpu", "0",
                        "--init-from", str(ckpt)],
                       env=shell_env, capture_output=True, text=True, timeout=240)
    assert r.returncode == 1
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in r.stderr, r.stderr
    assert lines[0].startswith(f"train: ERROR: --init-from {ckpt}: not a readable checkpoint")
    assert not exp.exists()


def test_unknown_class_set_leaves_nothing(tmp_path, shell_env):
    data = tmp_path / "data" / "exp4" / "all"
    (tmp_path / "corpus" / "Session1").mkdir(parents=True)
    r = subprocess.run(["bash", "local/iemocap_data_prep.sh", "--exp", "4", str(tmp_path / "corpus"),
                        str(data)], cwd=ROOT, env=shell_env, capture_output=True, text=True)
    assert r.returncode != 0 and "--exp '4': expected one of: 0 1 2 3" in r.stderr
    assert not (tmp_path / "data").exists()


def recipe_copy(tmp_path: Path) -> Path:
    """egs/iemocap as a fresh clone has it (run.sh, cmd.sh, conf/, links), outside the
    checkout so that a run leaves nothing in it."""
    recipe = tmp_path / "egs" / "iemocap"
    shutil.copytree(ROOT / "egs" / "iemocap" / "conf", recipe / "conf")
    for f in ("run.sh", "cmd.sh"):
        shutil.copy2(ROOT / "egs" / "iemocap" / f, recipe / f)
    (recipe / "path.sh").write_text(f'. "{ROOT}/path.sh"\n')
    for d in ("steps", "utils", "local"):
        (recipe / d).symlink_to(ROOT / d)
    return recipe


def test_recipe_rejects_unknown_exp_set_before_any_work(tmp_path, shell_env):
    recipe = recipe_copy(tmp_path)
    before = set(os.listdir(recipe))
    r = subprocess.run(["./run.sh", "--exp-set", "4", "--demo-dir", str(tmp_path / "no demo")],
                       cwd=recipe, env=shell_env, capture_output=True, text=True, timeout=60)
    assert r.returncode != 0 and "--exp-set '4': expected one of: 1 2 3" in r.stderr
    assert set(os.listdir(recipe)) == before and not (tmp_path / "no demo").exists()


@pytest.fixture(scope="module")
def tiny_corpus(tmp_path_factory):
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng not installed")
    out = tmp_path_factory.mktemp("demo") / "demo corpus"
    subprocess.run(["bash", "local/make_demo_corpus.sh", "--seed", "0", "--size", "tiny", str(out)],
                   cwd=ROOT, check=True, capture_output=True, text=True)
    return out / "IEMOCAP_full_release"


def _selected_wavs(corpus: Path):
    """The wavs of the turns Exp 3 selects, from a clean prep of the corpus."""
    from emorec.data import iemocap
    _, lists = iemocap.prepare(str(corpus), 3)
    return sorted(lists["wav.scp"].items())


def _run_stages_0_1(recipe: Path, corpus: Path, env):
    return subprocess.run(["./run.sh", "--stage", "0", "--stop-stage", "1", "--nj", "2",
                           "--iemocap-root", str(corpus)],
                          cwd=recipe, env=env, capture_output=True, text=True, timeout=600)


def test_recipe_drops_bad_wavs_within_the_share_and_goes_on(tiny_corpus, tmp_path, shell_env):
    corpus = tmp_path / "IEMOCAP_full_release"
    shutil.copytree(tiny_corpus, corpus)
    wavs = _selected_wavs(corpus)
    n = len(wavs)
    assert 2 <= 0.05 * n, n
    (junk_utt, junk), (short_utt, short) = wavs[3], wavs[n // 2]
    Path(junk).write_bytes(b"RIFF\x10\x00\x00\x00WAVEjunk" * 20)     # unreadable header
    sf.write(short, np.full(100, 0.1, dtype=np.float32), 16000)       # readable, < 1 frame
    recipe = recipe_copy(tmp_path)
    r = _run_stages_0_1(recipe, corpus, shell_env)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    out = r.stdout + r.stderr
    assert "unreadable wav" in out and junk in out                       # stage 0 names it
    assert f"1 of {n - 1} utterances got no features" in out and short_utt in out  # stage 1
    data = recipe / "data" / "exp3"
    for f in ("utt2spk", "wav.scp", "text", "utt2emo", "feats.scp", "utt2num_frames"):
        keys = [ln.split()[0] for ln in (data / "all" / f).read_text().splitlines()]
        assert len(keys) == n - 2 and junk_utt not in keys and short_utt not in keys, f
    folds = sorted((data / "loso").glob("fold*/test/utt2spk"))
    assert sum(len(p.read_text().splitlines()) for p in folds) == n - 2


def test_recipe_fails_naming_the_count_beyond_the_share(tiny_corpus, tmp_path, shell_env):
    corpus = tmp_path / "IEMOCAP_full_release"
    shutil.copytree(tiny_corpus, corpus)
    wavs = _selected_wavs(corpus)
    n_bad = int(0.05 * len(wavs)) + 1
    for _, w in wavs[:n_bad]:
        Path(w).write_bytes(b"")
    r = _run_stages_0_1(recipe_copy(tmp_path), corpus, shell_env)
    assert r.returncode != 0
    assert f"{n_bad} of {len(wavs)} selected utterances dropped" in r.stderr


def _text_fold(root: Path, bad_line: int):
    """A fold whose train/text has latin-1 bytes on line ``bad_line`` (0: none)."""
    for s in ("train", "dev", "test"):
        d = root / s
        d.mkdir(parents=True)
        rows = [(f"s1-u{i}", ["ang", "neu"][i % 2], "well i like it") for i in range(4)]
        (d / "utt2emo").write_text("".join(f"{u} {c}\n" for u, c, _ in rows))
        lines = [f"{u} {t}".encode() for u, _, t in rows]
        if s == "train" and bad_line:
            lines[bad_line - 1] = b"s1-u%d the caf\xe9 is open" % (bad_line - 1)
        (d / "text").write_bytes(b"\n".join(lines) + b"\n")
    return root


def test_non_utf8_text_named_with_file_and_line(tmp_path, shell_env):
    fold = _text_fold(tmp_path / "fold", bad_line=2)
    exp = tmp_path / "exp"
    r = subprocess.run([sys.executable, "-m", "emorec.bin.train_fold", "--family", "text", "--text-model",
                        str(tmp_path / "no model"), str(fold), str(exp)],
                       env=shell_env, capture_output=True, text=True, timeout=240)
    assert r.returncode == 1
    assert f"train_fold (text): ERROR: {fold}/train/text:2: bytes that are not UTF-8" in r.stderr
    assert not list(exp.glob("*.ark"))


# A socket guard: the entry point runs under an audit hook that records every name
# lookup and every connection to a network address.
GUARD = r"""
import runpy, sys
touched = sys.argv[1]
def hook(event, args):
    if event in ("socket.getaddrinfo", "socket.gethostbyname") or (
            event == "socket.connect" and isinstance(args[1], tuple)):
        with open(touched, "a") as f:
            f.write(f"{event} {args[1] if event == 'socket.connect' else args[0]}\n")
        raise OSError("network access refused by the test's socket guard")
sys.addaudithook(hook)
sys.argv = sys.argv[2:]
runpy.run_module(sys.argv[0], run_name="__main__", alter_sys=True)
"""


def test_entry_point_without_path_sh_touches_no_network(tmp_path, shell_env):
    env = {k: v for k, v in shell_env.items()
           if k not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE")}
    env["HF_HOME"] = str(tmp_path / "empty hf home")   # bert-base-uncased is not cached
    fold = _text_fold(tmp_path / "fold", bad_line=0)
    touched = tmp_path / "network.log"
    r = subprocess.run([sys.executable, "-c", GUARD, str(touched), "emorec.bin.train_fold", "--family", "text",
                        "--text-model", "bert-base-uncased", str(fold), str(tmp_path / "exp")],
                       env=env, capture_output=True, text=True, timeout=240)
    assert not touched.exists(), touched.read_text()
    assert r.returncode == 1
    assert "cannot load text model 'bert-base-uncased' offline" in r.stderr


def test_truncated_wav_read_short_with_a_warning(tmp_path, caplog):
    path = tmp_path / "cut short.wav"
    sf.write(path, np.full(16000, 0.1, dtype=np.float32), 16000, subtype="PCM_16")
    whole = path.read_bytes()
    with caplog.at_level("WARNING", logger="emorec.audio"):
        assert load_audio(str(path)).size == 16000
    assert not caplog.records
    path.write_bytes(whole[:len(whole) - 2 * 16000 + 2 * 6000])   # header + 6000 samples
    with caplog.at_level("WARNING", logger="emorec.audio"):
        assert load_audio(str(path)).size == 6000
    assert len(caplog.records) == 1
    msg = caplog.records[0].getMessage()
    assert repr(str(path)) in msg and "truncated" in msg and "6000 samples" in msg


def _wav_dir(root: Path, labels=("ang", "hap")) -> Path:
    """A 2-utterance data dir (wav.scp utt2spk spk2utt utt2emo) with real audio."""
    root.mkdir(parents=True)
    utts = [f"s1-u{i}" for i in range(len(labels))]
    for u in utts:
        sf.write(root / f"{u}.wav", np.zeros(8000, dtype=np.float32), 16000)
    (root / "wav.scp").write_text("".join(f"{u} {root / u}.wav\n" for u in utts))
    (root / "utt2spk").write_text("".join(f"{u} s1\n" for u in utts))
    (root / "spk2utt").write_text("s1 " + " ".join(utts) + "\n")
    (root / "utt2emo").write_text("".join(f"{u} {c}\n" for u, c in zip(utts, labels)))
    return root


def _latin1_line(path: Path, n: int):
    lines = path.read_bytes().split(b"\n")
    lines[n - 1] = lines[n - 1].replace(b".wav", b"\xe9.wav").replace(b"ang", b"\xe4ng")
    path.write_bytes(b"\n".join(lines))


def _validate(d: Path, env, *opts):
    return subprocess.run(["bash", "utils/validate_data_dir.sh", "--no-feats", "--no-text", *opts, str(d)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("name", ["wav.scp", "utt2emo"])
def test_validate_data_dir_names_non_utf8_line(tmp_path, shell_env, name):
    d = _wav_dir(tmp_path / "d")
    _latin1_line(d / name, 1)
    r = _validate(d, shell_env)
    assert r.returncode == 1 and "Traceback" not in r.stderr, r.stderr
    assert f"{d}/{name}:1: bytes that are not UTF-8" in r.stderr


def test_unknown_label_rejected_by_validation_and_fold_making(tmp_path, shell_env):
    """A label outside the recipe's class set would silently become a class."""
    d = _wav_dir(tmp_path / "d", labels=("ang", "hapy"))
    assert _validate(d, shell_env).returncode == 0  # without the class set: nothing to check against
    r = _validate(d, shell_env, "--classes", "ang hap neu sad")
    assert r.returncode == 1
    assert f"{d}/utt2emo:2: label 'hapy' of 's1-u1' is not one of the classes ang hap neu sad" in r.stderr
    r = subprocess.run(["bash", "local/make_loso_folds.sh", "--classes", "ang hap neu sad", str(d),
                        str(tmp_path / "folds")], cwd=ROOT, env=shell_env, capture_output=True, text=True)
    assert r.returncode == 1 and f"{d}/utt2emo:2: label 'hapy'" in r.stderr
    assert not list((tmp_path / "folds").glob("fold*"))
    _latin1_line(d / "utt2emo", 1)
    r = subprocess.run(["bash", "local/make_loso_folds.sh", "--classes", "ang hap neu sad", str(d),
                        str(tmp_path / "folds")], cwd=ROOT, env=shell_env, capture_output=True, text=True)
    assert r.returncode == 1 and f"{d}/utt2emo:1: bytes that are not UTF-8" in r.stderr


def test_fbank_job_names_non_utf8_wav_scp_line(tmp_path, shell_env):
    d = _wav_dir(tmp_path / "d")
    _latin1_line(d / "wav.scp", 2)
    r = subprocess.run([sys.executable, "-m", "emorec.bin.compute_fbank", str(d / "wav.scp"),
                        str(tmp_path / "f.ark"), str(tmp_path / "f.scp")],
                       env=shell_env, capture_output=True, text=True, timeout=120)
    at = len(f"s1-u1 {d}/s1-u1")
    assert r.returncode == 1 and r.stderr.strip().splitlines() == [
        f"compute_fbank: ERROR: {d}/wav.scp:2: bytes that are not UTF-8 (b'\\xe9' at byte {at} of the line)"]
    assert not [p for p in tmp_path.glob("f.*") if p.suffix != ".stamp"]  # (a begun stamp is no output)


def test_classes_txt_and_text_encoder_input_not_utf8_named(tmp_path, shell_env):
    scores = tmp_path / "s"
    scores.mkdir()
    (scores / "dev.ark").write_text("s1-u0  [ -0.1 -2.3 ]\n")
    (scores / "classes.txt").write_bytes(b"ang\nh\xe4p\n")
    from emorec.fileio import DataDirError, read_scores
    with pytest.raises(DataDirError, match=rf"^{scores}/classes.txt:2: bytes that are not UTF-8"):
        read_scores(scores / "dev.ark")
    text = tmp_path / "text"
    text.write_bytes(b"s1-u0 hello\ns1-u1 caf\xe9 au lait\n")
    r = subprocess.run([sys.executable, "-m", "emorec.bin.make_text_encoder", str(text), str(tmp_path / "enc")],
                       env=shell_env, capture_output=True, text=True, timeout=240)
    assert r.returncode == 1 and "surrogates" not in r.stderr
    assert f"make_text_encoder: ERROR: {text}:2: bytes that are not UTF-8" in r.stderr


def test_train_ser_prints_the_failed_jobs_error_line(tmp_path, shell_env):
    for s in ("train", "dev", "test"):
        d = tmp_path / "folds" / "fold1" / s
        d.mkdir(parents=True)
        (d / "feats.scp").write_text("s1-u0 /nonexistent.ark:5\n")
        (d / "utt2emo").write_text("s1-u0 ang\n")
    conf = tmp_path / "ser.yaml"
    conf.write_text("train:\n  epochs: 1\n")
    # a typo only the job sees (the step reads the config itself for the job's resources)
    r = subprocess.run(["bash", "steps/train_ser.sh", "--nfolds", "1", "--ngpu", "0", "--mode", "scratch",
                        "--train-opts", "--set train.epochz=1",
                        "--train-config", str(conf), str(tmp_path / "folds"), str(tmp_path / "exp")],
                       cwd=ROOT, env=shell_env, capture_output=True, text=True, timeout=240)
    assert r.returncode == 1
    assert f"train_fold.sh: train failed; see {tmp_path}/exp/log/train.*.log" in r.stderr
    assert "train_fold (resnet): ERROR: --set" in r.stderr and "epochz" in r.stderr
