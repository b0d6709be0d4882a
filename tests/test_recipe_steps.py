"""Training stages as the recipes run them: steps/train_speaker.sh through the real
local Slurm, and steps/train_ser.sh over leave-one-session-out folds (transfer from a
speaker checkpoint, reruns that redo only what is missing)."""
import subprocess
from pathlib import Path

import pytest
import torch
import yaml

from synthetic_data import TINY_TRAIN_CONFIG, make_synthetic_datadir
from emorec.fileio import read_scores

ROOT = Path(__file__).resolve().parents[1]
TINY = TINY_TRAIN_CONFIG


def _run(cmd, env, cwd=ROOT):
    r = subprocess.run(["bash", "-c", cmd], cwd=cwd, env=env, capture_output=True, text=True,
                       timeout=600)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    return r


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    root = tmp_path_factory.mktemp("recipe steps")  # a space on purpose
    conf = root / "tiny.yaml"
    conf.write_text(yaml.safe_dump(TINY))
    make_synthetic_datadir(str(root / "spk data"), num_speakers=4, utts_per_speaker=5,
                           min_frames=15, max_frames=60, dim=32, seed=1)
    for k in (1, 2):
        for i, s in enumerate(("train", "dev", "test")):
            make_synthetic_datadir(str(root / f"loso/fold{k}/{s}"), num_speakers=3,
                                   utts_per_speaker=[6, 2, 2][i], min_frames=15, max_frames=60,
                                   dim=32, seed=10 * k + i, label_file="utt2emo")
    return root, conf


def test_train_speaker_through_slurm(work, slurm, emorec_root):
    from test_queue import recipe_slurm_conf

    root, conf = work
    exp = root / "exp/spk slurm"
    (root / "slurm.conf").write_text(recipe_slurm_conf(slurm, emorec_root)[0])  # the recipes' own
    _run(f'steps/train_speaker.sh --cmd slurm.pl --ngpu 0 "{conf}" "{root / "spk data"}" "{exp}"',
         dict(slurm.env, EMOREC_SLURM_CONF=str(root / "slurm.conf")))
    ck = torch.load(exp / "final.pt", map_location="cpu", weights_only=True)
    assert ck["classes"] == [f"spk{s:03d}" for s in range(4)]
    log = (exp / "log/train.log").read_text()
    assert log.rstrip().splitlines()[-1].startswith("# Ended (code 0)")
    assert "epoch 2/2" in log
    sbatch = (exp / "log/q/train.sh").read_text().splitlines()[2]   # CPUs: the loader workers + 1
    assert "--cpus-per-task=%d" % (yaml.safe_load(open(conf))["data"]["num_workers"] + 1) in sbatch


def test_train_ser_folds_transfer_and_reruns(work, shell_env):
    root, conf = work
    spk = root / "exp/spk"
    _run(f'steps/train_speaker.sh --ngpu 0 "{conf}" "{root / "spk data"}" "{spk}"', shell_env)
    # a rerun trains nothing: emorec.bin.train --skip-done decides it (no check in the shell)
    before = (spk / "final.pt").stat().st_mtime_ns
    _run(f'steps/train_speaker.sh --ngpu 0 "{conf}" "{root / "spk data"}" "{spk}"', shell_env)
    assert "skipping" in (spk / "log/train.log").read_text() and (spk / "final.pt").stat().st_mtime_ns == before
    exp = root / "exp/ser finetune"
    cmd = (f'steps/train_ser.sh --nfolds 2 --ngpu 0 --mode finetune --speaker-model "{spk}/final.pt" '
           f'--train-config "{conf}" "{root / "loso"}" "{exp}"')
    _run(cmd, shell_env)
    src = torch.load(spk / "final.pt", map_location="cpu", weights_only=True)["model"]
    for k in (1, 2):
        sc = read_scores(exp / f"fold{k}/test.logpost.ark")
        assert sc.classes == ["spk000", "spk001", "spk002"] and len(sc.utts) == 6
        assert (exp / f"fold{k}/dev.logpost.ark").is_file()
        log = (exp / f"log/train.{k}.log").read_text()
        assert "transfer finetune" in log
        ser = torch.load(exp / f"fold{k}/train/final.pt", map_location="cpu", weights_only=True)["model"]
        assert (exp / f"fold{k}/model/family.json").is_file()
        # heads are new (4 speakers -> 3 emotions); the trunk started from the speaker model
        assert ser["classifier.weight"].shape[0] == 3 and src["classifier.weight"].shape[0] == 4

    # a rerun trains and scores nothing
    mtimes = {p: p.stat().st_mtime_ns for p in exp.glob("fold*/**/*.pt")}
    _run(cmd, shell_env)
    assert {p: p.stat().st_mtime_ns for p in exp.glob("fold*/**/*.pt")} == mtimes
    for k in (1, 2):
        assert "skipping" in (exp / f"log/train.{k}.log").read_text()

    # deleting one fold's scores redoes that fold's scoring only (its training is done: resumed, no epoch)
    (exp / "fold2/test.logpost.ark").unlink()
    before = (exp / "fold1/test.logpost.ark").stat().st_mtime_ns
    epochs = {p: p.stat().st_mtime_ns for p in exp.glob("fold2/train/epoch_*.pt")}
    _run(cmd, shell_env)
    assert (exp / "fold2/test.logpost.ark").is_file()
    assert (exp / "fold1/test.logpost.ark").stat().st_mtime_ns == before
    assert epochs and {p: p.stat().st_mtime_ns for p in exp.glob("fold2/train/epoch_*.pt")} == epochs


def test_train_ser_needs_a_speaker_model_to_transfer(work, shell_env):
    root, conf = work
    r = subprocess.run(["bash", "-c", f'steps/train_ser.sh --nfolds 2 --mode probe '
                        f'--train-config "{conf}" "{root / "loso"}" "{root / "exp/x"}"'],
                       cwd=ROOT, env=shell_env, capture_output=True, text=True, timeout=60)
    assert r.returncode != 0 and "--speaker-model" in r.stderr
