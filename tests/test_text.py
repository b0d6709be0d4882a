"""The text model: a small BERT built offline (emorec.train.text_encoder), fine-tuned through
the training loop (emorec.train.text), saved and reloaded offline (emorec.models.text)."""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import yaml

from emorec.data.text import load_text_set
from emorec.fileio import read_scores
from emorec.models import text
from emorec.train import checkpoint, loop
from emorec.train.config import load_config
from emorec.train.text import SCHEMA, TextFamily
from emorec.train.text_encoder import build_text_encoder, train_wordpiece_tokenizer

ROOT = Path(__file__).resolve().parents[1]
CUES = {"ang": "furious hate damn", "hap": "great love wonderful", "neu": "okay tuesday office",
        "sad": "miss sorry cry"}


def _corpus(n_per_class, start=0):
    rows = []
    for c, words in CUES.items():
        w = words.split()
        for i in range(start, start + n_per_class):
            rows.append((f"s1-{c}_{i:03d}", c, f"well i {w[i % 3]} it and the {w[(i + 1) % 3]} thing"))
    return sorted(rows)


def _write_set(d: Path, rows):
    d.mkdir(parents=True, exist_ok=True)
    (d / "text").write_text("".join(f"{u} {t}\n" for u, _, t in rows))
    (d / "utt2emo").write_text("".join(f"{u} {c}\n" for u, c, _ in rows))


@pytest.fixture(scope="module")
def fold(tmp_path_factory):
    root = tmp_path_factory.mktemp("text fold")  # a space in the path on purpose
    _write_set(root / "data/train", _corpus(6))
    _write_set(root / "data/dev", _corpus(2, 10))
    _write_set(root / "data/test", _corpus(2, 20))
    train_texts = [t for _, _, t in _corpus(6)]
    build_text_encoder(train_texts, root / "enc", vocab_size=200, hidden_size=32, num_layers=1,
                            num_heads=2, intermediate_size=64, max_position=32, mlm_epochs=1, log=lambda *a: None)
    return root


CFG = {"model": {"max_len": 32}, "data": {"batch_size": 8, "eval_batch_size": 16}, "optim": {"lr": 1e-3},
       "train": {"epochs": 2, "seed": 5, "log_interval": 1}}


def _finetune(fold, exp):
    """Fine-tunes through the training loop as emorec.bin.train_fold does; returns the
    selected (best dev UA) model, its tokenizer and a summary of the run."""
    cfg = load_config(SCHEMA, overrides=[f"model.encoder={fold / 'enc'}"] + [
        f"{sec}.{k}={v}" for sec, keys in CFG.items() for k, v in keys.items()])
    sets = {s: load_text_set(fold / "data" / s) for s in ("train", "dev", "test")}
    family = TextFamily(cfg, sets["train"], sets["dev"], sorted(CUES))
    loop.train(cfg, family, str(exp), ngpu=0)
    best, final = checkpoint.load(str(exp / "best.pt")), checkpoint.load(str(exp / "final.pt"))
    model, _ = family.build_model(best)
    model.load_state_dict(best["model"])
    model.eval()
    hist = {"epochs": list(range(1, final["epoch"] + 1)), "best_epoch": best["epoch"]}
    return model, family.tok, hist, sets, cfg


def test_encoder_dir_is_a_plain_bert(fold):
    enc = fold / "enc"
    for f in ("config.json", "model.safetensors", "tokenizer_config.json"):
        assert (enc / f).is_file(), f
    model, tok = text.load_encoder_and_tokenizer(str(enc))
    assert model.config.model_type == "bert" and model.config.num_hidden_layers == 1
    ids = tok("I LOVE it")["input_ids"]
    assert ids[0] == tok.cls_token_id and ids[-1] == tok.sep_token_id
    assert tok.unk_token_id not in ids  # lower-cased words seen in training


def test_missing_model_is_a_clear_offline_error(tmp_path):
    with pytest.raises(OSError, match="offline"):
        text.load_encoder_and_tokenizer(str(tmp_path / "no-such-model"))


def test_finetune_save_reload_offline_identical(fold, tmp_path):
    classes = sorted(CUES)
    model, tok, hist, sets, cfg = _finetune(fold, tmp_path / "run1")
    max_len = cfg["model"]["max_len"]
    assert len(hist["epochs"]) == 2 and hist["best_epoch"] in (1, 2)
    lp = text.predict_logposteriors(model, tok, sets["test"].texts, max_len)
    assert lp.shape == (8, 4) and np.allclose(np.exp(lp).sum(1), 1, atol=1e-5)

    # same seed -> same model
    model2, tok2, _, _, _ = _finetune(fold, tmp_path / "run2")
    assert np.array_equal(lp, text.predict_logposteriors(model2, tok2, sets["test"].texts, max_len))

    out = tmp_path / "model"
    text.save_text_classifier(model, tok, out, classes, max_len)
    np.save(tmp_path / "ref.npy", lp)
    (tmp_path / "texts.txt").write_text("\n".join(sets["test"].texts) + "\n")
    # Reload in a fresh process with the hub offline: identical posteriors.
    code = (
        "import sys, numpy as np\n"
        "from emorec.models import text\n"
        "m, tok, meta = text.load_text_classifier(sys.argv[1])\n"
        "texts = open(sys.argv[2]).read().splitlines()\n"
        "lp = text.predict_logposteriors(m, tok, texts, meta['max_len'])\n"
        "assert meta['classes'] == ['ang', 'hap', 'neu', 'sad'], meta\n"
        "assert np.array_equal(lp, np.load(sys.argv[3])), np.abs(lp - np.load(sys.argv[3])).max()\n"
    )
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", PYTHONPATH=str(ROOT),
               HF_HOME=str(tmp_path / "empty-hf-home"))
    r = subprocess.run([sys.executable, "-c", code, str(out), str(tmp_path / "texts.txt"), str(tmp_path / "ref.npy")],
                       env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]


def test_unknown_config_key_rejected():
    with pytest.raises(ValueError, match="unknown"):
        load_config(SCHEMA, overrides=["optim.lr=1e-3", "optim.learning_rate=2"])


def test_steps_train_text_end_to_end(fold, tmp_path):
    """steps/train_text.sh over a one-fold LOSO dir: the per-fold encoder is built from
    the fold's TRAIN text only, fine-tuned, scored; a rerun skips; a deleted fold redoes."""
    loso = tmp_path / "loso dir"
    loso.mkdir()
    (loso / "fold1").symlink_to(fold / "data")
    cfg = tmp_path / "text test.yaml"
    cfg.write_text(yaml.safe_dump(CFG))
    exp = tmp_path / "exp dir"
    cmd = (f'. ./path.sh && steps/train_text.sh --nfolds 1 --train-config "{cfg}" '
           f'--encoder-opts "--hidden-size 32 --num-layers 1 --intermediate-size 64 --mlm-epochs 1 '
           f'--vocab-size 150" "{loso}" "{exp}"')
    r = subprocess.run(["bash", "-c", cmd], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    model, tok = text.load_encoder_and_tokenizer(str(exp / "encoder/fold1"))
    assert model.config.hidden_size == 32
    # the training transcripts only: a word of the test set that train never has is unknown
    assert tok.convert_tokens_to_ids("zebra") == tok.unk_token_id
    sc = read_scores(exp / "fold1/test.logpost.ark")
    assert sc.classes == ["ang", "hap", "neu", "sad"] and len(sc.utts) == 8
    assert (exp / "fold1/dev.logpost.ark").is_file() and (exp / "fold1/model/text_model.json").is_file()
    assert (exp / "fold1/train_history.json").is_file()
    # a second run skips the fold
    r = subprocess.run(["bash", "-c", cmd], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0
    assert "skipping" in (exp / "log/train.1.log").read_text()
    assert "skipping" in (exp / "log/make_encoder.1.log").read_text()


def test_tokenizer_build_is_deterministic(tmp_path):
    """Two builds from the same text, in two processes, give byte-identical tokenizer files."""
    (tmp_path / "text").write_text("".join(f"{u} {t}\n" for u, _, t in _corpus(6)))
    for run in ("a", "b"):
        r = subprocess.run([sys.executable, "-m", "emorec.bin.make_text_encoder", "--vocab-size", "40",
                            "--hidden-size", "16", "--num-layers", "1", "--num-heads", "2",
                            "--intermediate-size", "32", "--max-position", "32", "--mlm-epochs", "0",
                            str(tmp_path / "text"), str(tmp_path / run)],
                           cwd=ROOT, capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr[-2000:]
    files = sorted(p.name for p in (tmp_path / "a").iterdir() if p.name != "build_info.json")
    assert "tokenizer.json" in files or "vocab.txt" in files
    for f in files:
        assert (tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes(), f
    tok = train_wordpiece_tokenizer(["Well I love it"], vocab_size=40)
    assert tok.unk_token_id not in tok("well i love it")["input_ids"]  # characters cover every word


def test_missing_text_encoder_fails_naming_it(fold, tmp_path):
    """A requested encoder that is not there stops the run with the name; a config without
    one (model.encoder null) and no --text-model too."""
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump(dict(CFG, model={"encoder": "no-such-bert", "max_len": 32})))
    base = [sys.executable, "-m", "emorec.bin.train_fold", "--family", "text", "--config", str(cfg), "--ngpu", "0"]
    r = subprocess.run(base + [str(fold / "data"), str(tmp_path / "exp")], cwd=ROOT, capture_output=True,
                       text=True, timeout=120)
    assert r.returncode != 0 and "no-such-bert" in r.stderr
    assert not (tmp_path / "exp/test.logpost.ark").exists()
    cfg.write_text(yaml.safe_dump(dict(CFG, model={"encoder": None})))
    r = subprocess.run(base + [str(fold / "data"), str(tmp_path / "exp")], cwd=ROOT, capture_output=True,
                       text=True, timeout=120)
    assert r.returncode != 0 and "model.encoder" in r.stderr
