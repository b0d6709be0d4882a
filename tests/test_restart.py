"""The one restart rule (emorec.stamp, utils/lib/stamp.sh; DEVELOPERS.md "Restarts"):
a step skips its work only when its stamp holds today's inputs, options and version.
Per kind of step -- the helper itself, a Python entry point with --skip-done, a shell
step, a local prep script, a training entry point and egs/emo7's data stages -- an
unchanged rerun skips and a changed input, config value or label option redoes the work,
saying which."""
import shutil
import subprocess
from pathlib import Path

import kaldiio
import numpy as np
import pytest
import yaml

from emorec.stamp import Stamp
from synthetic_data import TINY_TRAIN_CONFIG, make_synthetic_datadir

ROOT = Path(__file__).resolve().parents[1]


def _logged():
    lines = []
    return lines, lines.append


# ------------------------------------------------------------------ the helper


def test_stamp_keys_on_inputs_options_and_version(tmp_path):
    lst, big, out = tmp_path / "utt2emo", tmp_path / "feats.ark", tmp_path / "out"
    lst.write_text("a ang\nb sad\n")
    big.write_bytes(b"\0" * 16)
    lines, log = _logged()

    def stamp(version=1, **opts):
        return Stamp(out, step="t", version=version, inputs=[lst, big], options={"lr": 0.1, **opts}, log=log)

    assert not stamp().done() and "no stamp" in lines[-1]
    stamp().begin()
    assert not stamp().done() and "missing" in lines[-1]      # begun, never finished
    out.write_text("result")
    assert stamp().done() and "up to date; skipping" in lines[-1]
    # existence alone never counts: each change is named
    assert not stamp(lr=0.01).done() and "option lr: 0.1 -> 0.01" in lines[-1]
    assert not stamp(version=2).done() and "version 1 -> 2" in lines[-1]
    lst.write_text("a ang\nb hap\n")
    assert not stamp().done() and f"input {lst} changed" in lines[-1]
    lst.write_text("a ang\nb sad\n")          # a list rewritten with the same lines is the same input
    assert stamp().done()
    with pytest.raises(FileNotFoundError, match="nope: missing input"):
        Stamp(out, step="t", version=1, inputs=[tmp_path / "nope"])


def test_begin_keeps_stale_work_only_for_the_same_fingerprint(tmp_path):
    out, ckpt = tmp_path / "final.pt", tmp_path / "epoch_1.pt"
    out.write_text("old")
    ckpt.write_text("resumable")
    Stamp(out, step="t", version=1, options={"lr": 1}).begin(stale=[ckpt])
    assert not out.exists() and not ckpt.exists()        # work of an unknown run: not resumed
    ckpt.write_text("resumable")
    Stamp(out, step="t", version=1, options={"lr": 1}).begin(stale=[ckpt])
    assert ckpt.exists()                                 # same fingerprint: resumed
    Stamp(out, step="t", version=1, options={"lr": 2}).begin(stale=[ckpt])
    assert not ckpt.exists()                             # another: never resumed


def test_audio_behind_a_wav_scp_and_a_producers_stamp_are_inputs(tmp_path):
    """A corpus rebuilt in place leaves its wav.scp unchanged; an scp made again points
    into a new ark with the same offsets: both are other inputs all the same."""
    data = tmp_path / "data"
    data.mkdir()
    wav, scp, out = tmp_path / "a.wav", data / "wav.scp", tmp_path / "out"
    wav.write_bytes(b"RIFF1")
    scp.write_text(f"u1 {wav}\n")
    feats = data / "feats.scp"
    feats.write_text("u1 x.ark:5\n")
    Stamp(feats, step="up", version=1, options={"n": 1}).begin()
    feats.write_text("u1 x.ark:5\n")
    lines, log = _logged()

    def stamp():
        return Stamp(out, step="t", version=1, inputs=[data], log=log)
    stamp().begin()
    out.write_text("x")
    assert stamp().done()
    wav.unlink()
    wav.write_bytes(b"RIFF2 other audio")
    assert not stamp().done() and f"input {wav} changed" in lines[-1]
    stamp().begin()
    out.write_text("x")
    Stamp(feats, step="up", version=1, options={"n": 2}).begin()   # the upstream step redone
    feats.write_text("u1 x.ark:5\n")
    assert not stamp().done() and f"input {feats}.stamp changed" in lines[-1]


# ------------------------------------------------------------------ a Python entry point


def test_entry_point_skip_done(tmp_path, shell_env):
    emb = {f"u{i}": np.random.default_rng(i).normal(size=8).astype(np.float32) for i in range(6)}
    scp = tmp_path / "xvector.scp"
    kaldiio.save_ark(str(tmp_path / "xvector.ark"), emb, scp=str(scp))
    trials = tmp_path / "trials"
    trials.write_text("u0 u1 target\nu2 u3 nontarget\nu4 u5 nontarget\n")
    out = tmp_path / "out"

    def score(*opts):
        r = subprocess.run(["python", "-m", "emorec.bin.score_trials", "--skip-done", "--trials", str(trials),
                            "--emb-scp", str(scp), "--out-dir", str(out), *opts],
                           env=shell_env, capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr
        return r.stderr

    assert "skipping" not in score()
    assert "up to date; skipping" in score()
    assert "option center: false -> true" in score("--center")
    trials.write_text("u0 u1 target\nu2 u3 nontarget\n")
    assert f"input {trials} changed" in score("--center")
    assert "up to date; skipping" in score("--center")


# ------------------------------------------------------------------ a shell step


def test_shell_step_split_data(tmp_path, shell_env):
    data = tmp_path / "data dir"
    data.mkdir()
    (data / "utt2spk").write_text("".join(f"u{i} s{i % 2}\n" for i in range(4)))
    (data / "text").write_text("".join(f"u{i} word{i}\n" for i in range(4)))

    def split():
        r = subprocess.run(["utils/split_data.sh", "--per-utt", str(data), "2"], cwd=ROOT,
                           env=shell_env, capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr
        return r.stderr

    assert "skipping" not in split()
    assert "up to date; skipping" in split()
    (data / "text").write_text("".join(f"u{i} other{i}\n" for i in range(4)))
    assert f"input {data}/text changed" in split()
    assert (data / "split2utt/1/text").read_text() == "u0 other0\nu1 other1\n"
    (data / "utt2emo").write_text("".join(f"u{i} ang\n" for i in range(4)))   # a new list
    assert f"new input {data}/utt2emo" in split()
    assert (data / "split2utt/2/utt2emo").read_text() == "u2 ang\nu3 ang\n"


# ------------------------------------------------------------------ a training entry point


def test_training_entry_point_retrains_on_changed_config_or_labels(tmp_path, shell_env):
    conf = tmp_path / "tiny.yaml"
    conf.write_text(yaml.safe_dump({**TINY_TRAIN_CONFIG, "train": {**TINY_TRAIN_CONFIG["train"], "epochs": 1}}))
    data = tmp_path / "data"
    make_synthetic_datadir(str(data), num_speakers=3, utts_per_speaker=3, min_frames=15, max_frames=40,
                           dim=32, seed=1)
    exp = tmp_path / "exp"

    def train(*opts):
        r = subprocess.run(["python", "-m", "emorec.bin.train", "--config", str(conf), "--data", str(data),
                            "--exp-dir", str(exp), "--ngpu", "0", "--resume", "--skip-done", *opts],
                           env=shell_env, capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, r.stderr[-3000:]
        return r.stdout + r.stderr

    assert "skipping" not in train() and (exp / "final.pt").exists()
    before = (exp / "final.pt").stat().st_mtime_ns
    assert "up to date; skipping" in train() and (exp / "final.pt").stat().st_mtime_ns == before
    log = train("--set", "optim.lr=0.01")
    assert "option config.optim.lr: 0.05 -> 0.01" in log and "epoch 1/1" in log
    assert (exp / "final.pt").stat().st_mtime_ns != before
    labels = (data / "utt2spk").read_text().splitlines()
    (data / "utt2spk").write_text("".join(f"{ln.split()[0]} {'spk000' if i < 5 else 'spk001'}\n"
                                          for i, ln in enumerate(labels)))
    log = train("--set", "optim.lr=0.01")
    assert f"input {data}/utt2spk changed" in log and "epoch 1/1" in log


# ------------------------------------------------------------------ egs/emo7: the data stages


def _recipe(tmp_path: Path) -> Path:
    """egs/emo7 as a fresh clone has it, outside the checkout."""
    rec = tmp_path / "emo7 recipe"
    rec.mkdir()
    shutil.copytree(ROOT / "egs/emo7/conf", rec / "conf")
    for f in ("run.sh", "cmd.sh", "path.sh"):
        shutil.copy2(ROOT / "egs/emo7" / f, rec / f)
    for d in ("steps", "utils", "local"):
        (rec / d).symlink_to(ROOT / d)
    return rec


def test_emo7_rerun_on_other_corpora_or_label_options_redoes_the_data(tmp_path, shell_env):
    """Issue 20: a run on one corpus set, then a rerun in the same folder with other
    corpus roots and label options: the data stages are redone (an unchanged rerun is
    not), and the corpus named comes from the data."""
    from emorec.data import demo_emo7
    from emorec.report import describe_corpus

    sets = {k: tmp_path / f"corpora {k}" for k in "AB"}
    demo_emo7.make(str(sets["A"]), seed=1, size="tiny", log=lambda m: None)
    # its empty wav (as in the real release) is 1 of 13: over the prep's 5% at this size
    (sets["A"] / "CREMA-D/AudioWAV/1002_MTI_SAD_XX.wav").unlink()
    shutil.copytree(sets["A"], sets["B"])   # the same recordings elsewhere: other roots
    rec = _recipe(tmp_path)
    merged = rec / "data/emo7/all"

    def run(k, *opts):
        d = sets[k]
        r = subprocess.run(["./run.sh", "--stage", "0", "--stop-stage", "1", "--nj", "2",
                            "--crema-d", str(d / "CREMA-D"), "--ravdess", str(d / "RAVDESS"),
                            "--savee", str(d / "SAVEE"), "--tess", str(d / "TESS"),
                            "--iemocap", str(d / "IEMOCAP_full_release"), *opts],
                           cwd=rec, env=shell_env, capture_output=True, text=True, timeout=600)
        assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
        return r.stdout + r.stderr

    run("A")
    assert describe_corpus(merged / "corpus_roots").startswith("DEMO")   # the trees say so
    assert f"cremad {sets['A']}/CREMA-D" in describe_corpus(merged / "corpus_roots")
    stamp = (merged / "counts.txt.stamp").read_text()
    n_merged = len((merged / "utt2emo").read_text().splitlines())
    log = run("A")
    assert "emo7_merge: redoing" not in log and "emo7_merge: data/emo7/all/counts.txt is up to date; skipping" in log
    # other corpus roots and label options (the merge's own, and the RAVDESS prep's songs):
    # the data is redone, and named by the roots
    log = run("B", "--exc-to-happy", "true", "--include-song", "true")
    why = log.split("emo7_merge: redoing ")[1].split("\n")[0]
    assert why.startswith('data/emo7/all/counts.txt: option exc_to_happy: "false" -> "true"; new input ')
    assert f"files under {sets['B']}" in why and f"input no longer used: " in why
    assert len((merged / "utt2emo").read_text().splitlines()) > n_merged   # RAVDESS's songs are in
    corpus = describe_corpus(merged / "corpus_roots")
    assert f"cremad {sets['B']}/CREMA-D" in corpus and str(sets["A"]) not in corpus
    assert str(sets["B"]) in (rec / "data/cremad/wav.scp").read_text()
    assert (merged / "counts.txt.stamp").read_text() != stamp
