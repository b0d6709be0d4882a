"""egs/emo7 stage 4's glue: the split protocols as numbered folds for the per-fold SSL,
text and joint steps (local/emo7_folds.sh, emorec.bin.make_emo7_folds), transcripts of
augmented copies, utterances without a transcript; and the recipe's stage-4/5 options."""
from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import soundfile as sf

from conftest import ROOT

EMO7 = ROOT / "egs" / "emo7"


def write_part(d: Path, utts):
    """A data dir of 0.5 s tones; utts: {utt: (spk, emo, corpus)}."""
    (d / "wav").mkdir(parents=True)
    lists = {"wav.scp": {}, "utt2spk": {}, "utt2emo": {}, "utt2corpus": {}}
    for i, (u, (spk, emo, corpus)) in enumerate(sorted(utts.items())):
        t = np.arange(8000) / 16000
        sf.write(d / "wav" / f"{u}.wav", 0.2 * np.sin(2 * np.pi * (120 + 10 * i) * t), 16000, subtype="PCM_16")
        lists["wav.scp"][u] = str(d / "wav" / f"{u}.wav")
        lists["utt2spk"][u], lists["utt2emo"][u], lists["utt2corpus"][u] = spk, emo, corpus
    for name, kv in lists.items():
        (d / name).write_text("".join(f"{k} {v}\n" for k, v in sorted(kv.items())))
    spk2utt = {}
    for u, s in sorted(lists["utt2spk"].items()):
        spk2utt.setdefault(s, []).append(u)
    (d / "spk2utt").write_text("".join(f"{s} {' '.join(us)}\n" for s, us in sorted(spk2utt.items())))


def utts_of(corpus, spk, part, n_angry, n_sad):
    return {f"{spk}-{part}{e}{i}": (spk, e, corpus)
            for e, n in (("angry", n_angry), ("sad", n_sad)) for i in range(n)}


def make_protocols(root: Path, run):
    """strat: both corpora in every part; loco/savee: test = savee (no transcripts).
    train_aug by the real augmentation step (sad copied up to angry's count)."""
    parts = {
        "strat": {"train": {**utts_of("cremad", "cremad1001", "tr", 3, 1), **utts_of("savee", "saveeDC", "tr", 1, 1)},
                  "valid": {**utts_of("cremad", "cremad1001", "va", 1, 1), **utts_of("savee", "saveeDC", "va", 1, 0)},
                  "test": {**utts_of("cremad", "cremad1002", "te", 1, 1), **utts_of("savee", "saveeJE", "te", 1, 1)}},
        "loco/savee": {"train": utts_of("cremad", "cremad1001", "tr", 3, 1),
                       "valid": utts_of("cremad", "cremad1002", "va", 1, 1),
                       "test": utts_of("savee", "saveeJE", "te", 1, 1)},
    }
    for p, pp in parts.items():
        for part, utts in pp.items():
            write_part(root / p / part, utts)
        run("python", "-m", "emorec.bin.augment_balance", "--seed", "0", "--ops", "gain",
            str(root / p / "train"), str(root / p / "train_aug"), str(root / "audio" / p))
    ref = {u: f"words of {u}" for pp in parts.values() for us in pp.values() for u in us if u.startswith("cremad")}
    (root / "text.ref").write_text("".join(f"{u} {t}\n" for u, t in sorted(ref.items())))
    return parts, ref


def test_protocols_become_folds_with_transcripts_of_copies(tmp_path, shell_env):
    def run(*cmd, check=True):
        r = subprocess.run(cmd, env=shell_env, capture_output=True, text=True, cwd=EMO7)
        assert not check or r.returncode == 0, r.stdout + r.stderr
        return r

    root = tmp_path / "data dir"
    parts, ref = make_protocols(root, run)
    aug = dict(line.split() for line in (root / "strat/train_aug/utt2orig").read_text().splitlines())
    copies = {u: o for u, o in aug.items() if u != o}
    assert copies  # sad was copied

    # the speech view: every utterance, train = train_aug, dev = valid
    speech = tmp_path / "folds" / "speech"
    run("local/emo7_folds.sh", "--train-name", "train_aug", str(root), "strat loco/savee", str(speech))
    assert (speech / "folds.txt").read_text() == "fold1 strat\nfold2 loco/savee\n"
    keys = lambda d: [line.split()[0] for line in (d / "utt2spk").read_text().splitlines()]  # noqa: E731
    assert keys(speech / "fold1/train") == keys(root / "strat/train_aug")
    assert keys(speech / "fold2/dev") == keys(root / "loco/savee/valid")
    assert keys(speech / "fold2/test") == keys(root / "loco/savee/test")
    assert not (speech / "fold1/train/text").exists()
    assert "up to date; skipping" in run("local/emo7_folds.sh", "--train-name", "train_aug", str(root),
                                         "strat loco/savee", str(speech)).stderr

    # the text view: transcripts (copies take their original's), utterances without one left out
    text = tmp_path / "folds" / "text_ref"
    r = run("local/emo7_folds.sh", "--train-name", "train_aug", "--text", str(root / "text.ref"),
            str(root), "strat", str(text))
    train_text = dict(line.split(" ", 1) for line in (text / "fold1/train/text").read_text().splitlines())
    want = [u for u in keys(root / "strat/train_aug") if aug[u].startswith("cremad")]
    assert sorted(train_text) == sorted(want) and keys(text / "fold1/train") == want
    for u, o in copies.items():
        if o.startswith("cremad"):
            assert train_text[u] == ref[o]
    n_test = len(parts["strat"]["test"])
    assert f"fold1 strat test 2 of {n_test} ({n_test - 2} without transcript dropped)" in \
        (text / "text_coverage.txt").read_text()
    assert "without transcript dropped" in r.stdout

    # a protocol none of whose test utterances has a transcript cannot be a text fold
    r = run("local/emo7_folds.sh", "--text", str(root / "text.ref"), str(root), "strat loco/savee",
            str(tmp_path / "folds" / "bad"), check=False)
    assert r.returncode != 0
    assert "loco/savee/test: none of its 2 utterances has a transcript" in r.stderr
    assert not (tmp_path / "folds" / "bad").exists()


def run_recipe(shell_env, *args, hf_cache=None):
    env = dict(shell_env)
    if hf_cache:
        env["HF_HUB_CACHE"] = str(hf_cache)
    return subprocess.run([str(EMO7 / "run.sh"), *args], capture_output=True, text=True, env=env, timeout=120)


def test_text_source_is_a_checked_list(shell_env):
    for value, message in (("ref whisper", "'whisper' is not one of: ref asr"),
                           ("", "--text-source is empty"),):
        r = run_recipe(shell_env, "--text-source", value, "--stage", "4")
        assert r.returncode != 0 and message in r.stderr, r.stderr
        assert "=== " not in r.stdout
    r = run_recipe(shell_env, "--ssl-train", "valid", "--stage", "4")
    assert r.returncode != 0 and "--ssl-train 'valid': expected one of: train_aug train" in r.stderr
    for value, want in (("ref", "(text: ref)"), ("ref asr", "(text: ref asr, asr pocketsphinx)"),
                        ("asr", "(text: asr, asr pocketsphinx)")):
        r = run_recipe(shell_env, "--text-source", value, "--dry-run", "true")
        assert r.returncode == 0, r.stderr
        assert want in r.stdout and "setup demo" in r.stdout
        assert "pre-trained by ../voxceleb stage 6 with ../voxceleb/conf/hubert_demo.yaml" in r.stdout


def test_paper_setup_fails_naming_a_missing_hubert(shell_env, tmp_path):
    cache = tmp_path / "hf cache"
    snap = cache / "models--bert-base-uncased" / "snapshots" / "0123abc"
    snap.mkdir(parents=True)
    (snap / "config.json").write_text("{}\n")
    corpora = []
    for opt in ("--crema-d", "--ravdess", "--savee", "--tess", "--iemocap"):
        corpora += [opt, str(tmp_path / opt.strip("-"))]
    r = run_recipe(shell_env, *corpora, "--dry-run", "true", hf_cache=cache)
    assert r.returncode != 0
    assert ("encoder 'facebook/hubert-base-ls960' (model.encoder of conf/ssl_paper.yaml) not found"
            in r.stderr), r.stderr
    assert "=== " not in r.stdout


def test_check_encoders_accepts_a_local_dir_and_names_a_missing_one(tmp_path, capsys):
    from transformers import BertConfig, HubertConfig

    from emorec.bin import train_fold

    HubertConfig(num_hidden_layers=1).save_pretrained(tmp_path / "my hubert")
    BertConfig(num_hidden_layers=1).save_pretrained(tmp_path / "my bert")
    conf = str(EMO7 / "conf" / "joint_paper.yaml")
    assert train_fold.main(["--family", "joint", "--config", conf, "--ssl-model", str(tmp_path / "my hubert"),
                           "--text-model", str(tmp_path / "my bert"), "--check-encoders"]) == 0
    out = capsys.readouterr().out
    assert f"encoder {tmp_path / 'my hubert'}" in out and f"text_encoder {tmp_path / 'my bert'}" in out
    assert train_fold.main(["--family", "joint", "--config", conf, "--ssl-model", str(tmp_path / "my hubert"),
                           "--text-model", str(tmp_path / "no bert"), "--check-encoders"]) == 1
    assert f"text encoder '{tmp_path / 'no bert'}' (--text-model) not found" in capsys.readouterr().err
