"""Same command and seed twice on one machine -> identical scores, for the speech
(steps/train_ser.sh) and the text (steps/train_text.sh) models; another seed differs.
This is what makes `run.sh --seeds` spread a property of the seeds, not of the run."""
import subprocess
from pathlib import Path

import pytest
import yaml

from synthetic_data import TINY_TRAIN_CONFIG, make_synthetic_datadir

ROOT = Path(__file__).resolve().parents[1]
TEXT = {"model": {"max_len": 32}, "data": {"batch_size": 8, "eval_batch_size": 16}, "optim": {"lr": 1e-3},
        "train": {"epochs": 2, "seed": 5}}


def _run(cmd):
    r = subprocess.run(["bash", "-c", ". ./path.sh && " + cmd], cwd=ROOT, capture_output=True, text=True,
                       timeout=600)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]


def _scores(exp):
    return (exp / "fold1/test.logpost.ark").read_bytes()


@pytest.fixture(scope="module")
def loso(tmp_path_factory):
    root = tmp_path_factory.mktemp("seed runs")
    for i, s in enumerate(("train", "dev", "test")):
        d = root / f"loso/fold1/{s}"
        make_synthetic_datadir(str(d), num_speakers=3, utts_per_speaker=[6, 2, 2][i], min_frames=15,
                               max_frames=60, dim=32, seed=i, label_file="utt2emo")
        # transcripts for the text model: a word of the class and a running number
        labels = dict(l.split() for l in (d / "utt2emo").read_text().splitlines())
        (d / "text").write_text("".join(f"{u} well the {c} said thing {n}\n"
                                        for n, (u, c) in enumerate(sorted(labels.items()))))
    (root / "speech.yaml").write_text(yaml.safe_dump(TINY_TRAIN_CONFIG))
    (root / "text.yaml").write_text(yaml.safe_dump(TEXT))
    return root


def _speech(root, name, seed):
    exp = root / name
    _run(f'steps/train_ser.sh --nfolds 1 --ngpu 0 --mode scratch --train-config "{root / "speech.yaml"}" '
         f'--train-opts "--seed {seed}" "{root / "loso"}" "{exp}"')
    return _scores(exp)


def _text(root, name, seed):
    exp = root / name
    _run(f'steps/train_text.sh --nfolds 1 --train-config "{root / "text.yaml"}" --train-opts "--seed {seed}" '
         f'--encoder-opts "--hidden-size 32 --num-layers 1 --intermediate-size 64 --mlm-epochs 1 '
         f'--vocab-size 150 --seed {seed}" "{root / "loso"}" "{exp}"')
    return _scores(exp)


def test_speech_same_seed_same_scores(loso):
    a, b = _speech(loso, "ser a", 4), _speech(loso, "ser b", 4)
    assert a == b
    assert _speech(loso, "ser c", 5) != a


def test_text_same_seed_same_scores(loso):
    a, b = _text(loso, "text a", 4), _text(loso, "text b", 4)
    assert a == b
    assert _text(loso, "text c", 5) != a
