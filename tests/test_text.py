"""emorec.text: a small BERT built offline, fine-tuned, saved and reloaded offline."""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from emorec import text
from emorec.fileio import read_scores
from emorec.train.infer import pick_device

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
    text.build_text_encoder(train_texts, root / "enc", vocab_size=200, hidden_size=32, num_layers=1,
                            num_heads=2, intermediate_size=64, max_position=32, mlm_epochs=1, log=lambda *a: None)
    return root


CFG = dict(max_len=32, batch_size=8, lr=1e-3, epochs=2, eval_batch_size=16, seed=5)


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
    cfg = text.TrainConfig.from_dict(dict(CFG, text_model=str(fold / "enc")))
    sets = {s: text.load_text_set(fold / "data" / s) for s in ("train", "dev", "test")}
    classes = sorted(CUES)
    model, tok, hist = text.train_text_classifier(cfg, sets["train"], sets["dev"], classes,
                                                  device=pick_device("cpu"), log=lambda *a: None)
    assert len(hist["epochs"]) == 2 and hist["best_epoch"] in (1, 2)
    lp = text.predict_logposteriors(model, tok, sets["test"].texts, cfg.max_len)
    assert lp.shape == (8, 4) and np.allclose(np.exp(lp).sum(1), 1, atol=1e-5)

    # same seed -> same model
    model2, tok2, _ = text.train_text_classifier(cfg, sets["train"], sets["dev"], classes,
                                                 device=pick_device("cpu"), log=lambda *a: None)
    assert np.array_equal(lp, text.predict_logposteriors(model2, tok2, sets["test"].texts, cfg.max_len))

    out = tmp_path / "model"
    text.save_text_classifier(model, tok, out, classes, cfg.max_len)
    np.save(tmp_path / "ref.npy", lp)
    (tmp_path / "texts.txt").write_text("\n".join(sets["test"].texts) + "\n")
    # Reload in a fresh process with the hub offline: identical posteriors.
    code = (
        "import sys, numpy as np\n"
        "from emorec import text\n"
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
        text.TrainConfig.from_dict({"lr": 1e-3, "learning_rate": 2})


def test_steps_train_text_end_to_end(fold, tmp_path):
    """steps/train_text.sh over a one-fold LOSO dir: the per-fold encoder is built from
    the fold's TRAIN text only, fine-tuned, scored; a rerun skips; a deleted fold redoes."""
    loso = tmp_path / "loso dir"
    loso.mkdir()
    (loso / "fold1").symlink_to(fold / "data")
    cfg = tmp_path / "text test.yaml"
    cfg.write_text("".join(f"{k}: {v}\n" for k, v in CFG.items()))
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
