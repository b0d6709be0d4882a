"""The one training loop: the speech ResNet and the BERT text model train through it, and
each, killed with SIGKILL mid-run and restarted, ends with the weights of an
uninterrupted run. Also the strict config schema every family's YAML goes through."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml

from emorec.train import speech, text
from emorec.train.config import ConfigError, load_config
from emorec.train.text_encoder import build_text_encoder
from synthetic_data import make_synthetic_datadir

ROOT = Path(__file__).resolve().parents[1]
WORDS = {"ang": "furious hate", "hap": "great love", "sad": "miss cry"}


def _text_fold(root: Path):
    for part, n, start in (("train", 8, 0), ("dev", 2, 20), ("test", 2, 40)):
        d = root / part
        d.mkdir(parents=True)
        rows = [(f"s1-{c}_{i:03d}", c, f"i {WORDS[c].split()[i % 2]} it {i}") for c in WORDS
                for i in range(start, start + n)]
        rows.sort()
        (d / "text").write_text("".join(f"{u} {t}\n" for u, _, t in rows))
        (d / "utt2emo").write_text("".join(f"{u} {c}\n" for u, c, _ in rows))
    texts = [ln.split(" ", 1)[1] for ln in (root / "train/text").read_text().splitlines()]
    build_text_encoder(texts, root / "enc", vocab_size=60, hidden_size=16, num_layers=1, num_heads=2,
                       intermediate_size=32, max_position=32, mlm_epochs=0, log=lambda *a: None)


@pytest.fixture(scope="module")
def families(tmp_path_factory):
    root = tmp_path_factory.mktemp("loop")
    make_synthetic_datadir(str(root / "feats"), num_speakers=3, utts_per_speaker=6, min_frames=12,
                           max_frames=40, dim=16)
    (root / "speech.yaml").write_text(yaml.safe_dump({
        "model": {"blocks": [1, 1, 1, 1], "channels": 4, "emb_dim": 8},
        "data": {"chunk_sizes": [10, 20], "batch_size": 4, "num_workers": 0},
        "augment": {"policy": "conservative"}, "train": {"epochs": 6, "num_threads": 1, "log_interval": 2}}))
    _text_fold(root / "text")
    (root / "text.yaml").write_text(yaml.safe_dump({
        "model": {"max_len": 16}, "data": {"batch_size": 4}, "optim": {"lr": 1e-3},
        "train": {"epochs": 6, "seed": 3, "num_threads": 1, "keep_checkpoints": 0, "log_interval": 2}}))
    return root


def _command(root: Path, family: str, exp: Path):
    if family == "speech":
        return [sys.executable, "-m", "emorec.bin.train", "--config", str(root / "speech.yaml"),
                "--data", str(root / "feats"), "--exp-dir", str(exp), "--resume", "--ngpu", "0"]
    return [sys.executable, "-m", "emorec.bin.train_fold", "--family", "text", "--config", str(root / "text.yaml"), "--ngpu", "0",
            "--text-model", str(root / "text/enc"), str(root / "text"), str(exp)]


def _train_dir(family: str, exp: Path) -> Path:
    return exp if family == "speech" else exp / "train"


@pytest.mark.parametrize("family", ["speech", "text"])
def test_kill_and_resume_through_the_one_loop(families, family, tmp_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    ref, exp = tmp_path / "ref", tmp_path / "killed"
    r = subprocess.run(_command(families, family, ref), cwd=ROOT, env=env, capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "step 2/" in r.stderr and "ETA" in r.stderr          # progress lines of the loop
    assert (_train_dir(family, ref) / "tensorboard").is_dir()

    p = subprocess.Popen(_command(families, family, exp), cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    first = _train_dir(family, exp) / "epoch_1.pt"
    deadline = time.time() + 240
    while not first.exists() and time.time() < deadline and p.poll() is None:
        time.sleep(0.01)
    os.kill(p.pid, signal.SIGKILL)
    p.wait()
    assert first.exists() and not (_train_dir(family, exp) / "final.pt").exists(), "killed too late"
    r = subprocess.run(_command(families, family, exp), cwd=ROOT, env=env, capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "resuming from" in r.stderr
    a = torch.load(_train_dir(family, ref) / "final.pt", weights_only=True)
    b = torch.load(_train_dir(family, exp) / "final.pt", weights_only=True)
    assert a["epoch"] == b["epoch"] == 6 and b["family"] == ("resnet" if family == "speech" else "text")
    for k, v in a["model"].items():
        assert torch.equal(v, b["model"][k]), k


def test_resume_skips_a_truncated_checkpoint(families, tmp_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    cmd = _command(families, "speech", tmp_path) + ["--stop-after-epochs", "2"]
    assert subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, timeout=300).returncode == 0
    last = tmp_path / "epoch_2.pt"
    last.write_bytes(last.read_bytes()[:100])
    r = subprocess.run(_command(families, "speech", tmp_path), cwd=ROOT, env=env, capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    assert f"skipping {last}" in r.stderr and "epoch 1 done" in r.stderr


def test_config_schema_is_strict(tmp_path):
    ok = load_config(speech.SCHEMA, overrides=["optim.lr=0.5", "augment.policy=aggressive"])
    assert ok["optim"]["lr"] == 0.5 and ok["augment"]["policy"] == "aggressive"
    for bad, words in ((["augment.polcy=aggressive"], "augment.polcy"),
                       (["augment.policy=agressive"], "augment.policy"),
                       (["optim.lr=abc"], "optim.lr"),
                       (["train.epochs=2.5"], "train.epochs")):
        with pytest.raises(ConfigError, match=words):
            load_config(speech.SCHEMA, overrides=bad)
    y = tmp_path / "my conf.yaml"
    y.write_text("train:\n  epochs: \"8x\"\n")
    with pytest.raises(ConfigError, match=r"my conf\.yaml: 'train\.epochs' must be an integer"):
        load_config(text.SCHEMA, str(y))
    y.write_text("optim:\n  lr: 1e-3\n")        # YAML reads this as a string: still a number
    assert load_config(text.SCHEMA, str(y))["optim"]["lr"] == 1e-3
    r = subprocess.run([sys.executable, "-m", "emorec.bin.train", "--config", str(y), "--data", "x",
                        "--exp-dir", str(tmp_path / "e"), "--set", "optim.lr=abc"],
                       cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)), capture_output=True, text=True)
    assert r.returncode == 1 and "optim.lr" in r.stderr and "Traceback" not in r.stderr


def test_compile_option_defaults_off_on_cpu():
    """train.compile: null (the default) compiles only on CUDA for a family of fixed batch
    shapes; on CPU the model keeps its layout and cuDNN is left alone; true/false decide."""
    from emorec.models import ResNetClassifier
    from emorec.train.loop import _fast_path

    cfg = load_config(speech.SCHEMA)
    assert cfg["train"]["compile"] is None
    with pytest.raises(ConfigError, match="train.compile"):
        load_config(speech.SCHEMA, overrides=["train.compile=sometimes"])
    model = ResNetClassifier(3, in_dim=16, blocks=[1, 1, 1, 1], channels=4, emb_dim=8)
    cudnn = torch.backends.cudnn.benchmark
    cpu = torch.device("cpu")
    assert speech.ResNetFamily.fixed_shapes
    assert _fast_path(model, speech.ResNetFamily, cpu, cfg["train"]) is False
    assert torch.backends.cudnn.benchmark == cudnn
    assert model.trunk.stem[0].weight.is_contiguous()
    for value in (True, False):
        on = load_config(speech.SCHEMA, overrides=[f"train.compile={str(value).lower()}"])
        assert _fast_path(model, speech.ResNetFamily, cpu, on["train"]) is value
