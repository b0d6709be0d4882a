"""Training entry point: kill-and-resume reproducibility, DDP on CPU (one node, and across
nodes), transfer learning, dev model selection, posterior scoring, checkpoint averaging."""
import os
import re
import signal
import socket
import subprocess
import sys
import time

import kaldiio
import numpy as np
import pytest
import torch
import yaml

from synthetic_data import make_synthetic_datadir

torch.set_num_threads(1)

TINY = {
    "model": {"blocks": [1, 1, 1, 1], "channels": 4, "emb_dim": 16, "pooling": "stats"},
    "data": {"chunk_sizes": [20, 30], "batch_size": 4, "num_workers": 0},
    "augment": {"policy": "conservative", "copies": 1},
    "optim": {"lr": 0.05, "lr_trunk": 0.001, "weight_decay": 0.0001},
    "sched": {"hold_epochs": 1, "halve_every": 1},
    "train": {"epochs": 3, "seed": 11, "num_threads": 1},
}


def _load(p):
    return torch.load(p, map_location="cpu", weights_only=True)


def _train(env, *args, check=True):
    cmd = [sys.executable, "-m", "emorec.bin.train"] + [str(a) for a in args]
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=240)
    if check and r.returncode != 0:
        raise AssertionError(f"{cmd} failed:\n{r.stderr[-3000:]}")
    return r


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("train")
    data = root / "train data"
    make_synthetic_datadir(str(data), num_speakers=4, utts_per_speaker=6, min_frames=12,
                           max_frames=70, dim=32, seed=1)
    # an "emotion" labelling of the same utterances: 3 classes
    keys = sorted(ln.split()[0] for ln in open(data / "utt2spk"))
    with open(data / "utt2emo", "w") as f:
        for i, k in enumerate(keys):
            f.write(f"{k} {['ang', 'neu', 'sad'][i % 3]}\n")
    conf = root / "tiny.yaml"
    conf.write_text(yaml.safe_dump(TINY))
    return root, data, conf


def _assert_same_tensors(a, b):
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


def test_kill_and_resume_matches_uninterrupted_run(setup, shell_env):
    root, data, conf = setup
    ref, cut = root / "ref", root / "cut"
    _train(shell_env, "--config", conf, "--data", data, "--exp-dir", ref)
    # killed with SIGKILL once epoch 1 is on disk (maybe during epoch 2 or its checkpoint)
    p = subprocess.Popen([sys.executable, "-m", "emorec.bin.train", "--config", str(conf),
                          "--data", str(data), "--exp-dir", str(cut), "--set", "data.num_workers=2"],
                         env=shell_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    t0 = time.time()
    while not (cut / "epoch_1.pt").exists() and p.poll() is None and time.time() - t0 < 120:
        time.sleep(0.05)
    p.send_signal(signal.SIGKILL)
    p.wait()
    assert not (cut / "final.pt").exists() or p.returncode == 0
    (cut / "final.pt").unlink(missing_ok=True)
    # a clean stop after epoch 1 of a fresh run, then resume, is covered too
    stop = root / "stop"
    _train(shell_env, "--config", conf, "--data", data, "--exp-dir", stop, "--stop-after-epochs", "1")
    assert (stop / "epoch_1.pt").exists() and not (stop / "epoch_2.pt").exists()
    assert not (stop / "final.pt").exists()
    for exp in (cut, stop):
        _train(shell_env, "--config", conf, "--data", data, "--exp-dir", exp, "--resume",
               "--set", "data.num_workers=1")
        a, b = _load(ref / "final.pt"), _load(exp / "final.pt")
        assert a["epoch"] == b["epoch"] == 3
        _assert_same_tensors(a["model"], b["model"])
        oa, ob = _load(ref / "epoch_3.pt")["optimizer"], _load(exp / "epoch_3.pt")["optimizer"]
        for k in oa["state"]:
            assert torch.equal(oa["state"][k]["momentum_buffer"], ob["state"][k]["momentum_buffer"])
    # checkpoint contents and LR schedule (hold 1 epoch, then halved every epoch)
    ck = _load(ref / "epoch_3.pt")
    assert [_load(ref / f"epoch_{e}.pt")["metrics"]["lr"] for e in (1, 2, 3)] == [0.05, 0.025, 0.0125]
    assert ck["classes"] == ["spk000", "spk001", "spk002", "spk003"]
    assert isinstance(ck["config"], dict) and ck["model_args"]["channels"] == 4
    assert (ref / "tensorboard").is_dir() and (ref / "config.yaml").exists()
    assert not list(ref.glob("*.tmp"))


def test_ddp_two_cpu_processes(setup, shell_env):
    root, data, conf = setup
    exp = root / "ddp"
    r = _train(shell_env, "--config", conf, "--data", data, "--exp-dir", exp, "--ngpu", "2",
               "--set", "train.epochs=1")
    assert "world 2" in r.stderr, r.stderr[-2000:]
    ck = _load(exp / "epoch_1.pt")
    assert ck["epoch"] == 1 and (exp / "final.pt").exists()
    # each rank ran half of the 12 batches (24 utts x 2 appearances / batch 4)
    assert "6 batches/epoch/rank" in r.stderr


def test_transfer_probe_finetune_and_posteriors(setup, shell_env):
    root, data, conf = setup
    src = root / "src"
    _train(shell_env, "--config", conf, "--data", data, "--exp-dir", src, "--set", "train.epochs=1")
    src_ck = _load(src / "final.pt")
    common = ["--config", conf, "--data", data, "--labels", data / "utt2emo", "--set", "train.epochs=2",
              "--init-from", src / "final.pt"]

    probe = root / "probe"
    _train(shell_env, *common, "--exp-dir", probe, "--transfer", "probe", "--dev-data", data)
    ck = _load(probe / "final.pt")
    assert ck["classes"] == ["ang", "neu", "sad"] and ck["transfer"] == "probe"
    assert ck["model"]["classifier.weight"].shape == (3, 16)
    for k, v in src_ck["model"].items():
        if k.startswith("trunk."):
            assert torch.equal(v, ck["model"][k]), k           # conv weights and BN stats frozen
    assert not torch.equal(ck["model"]["embedding.fc.weight"], src_ck["model"]["embedding.fc.weight"])
    best = _load(probe / "best.pt")
    assert best["metrics"]["dev_ua"] >= 0 and "optimizer" not in best

    fine = root / "fine"
    _train(shell_env, *common, "--exp-dir", fine, "--transfer", "finetune")
    ck = _load(fine / "epoch_1.pt")
    assert [g["lr"] for g in ck["optimizer"]["param_groups"]] == [0.001, 0.05]
    assert not torch.equal(ck["model"]["trunk.stem.0.weight"], src_ck["model"]["trunk.stem.0.weight"])

    # init-from without --transfer is finetune; a mismatched trunk is an error
    r = _train(shell_env, "--config", conf, "--data", data, "--exp-dir", root / "bad", "--init-from",
               src / "final.pt", "--set", "model.channels=8", "--set", "train.epochs=1")
    assert "model.channels = 4 taken from" in r.stderr

    # posteriors: natural-log softmax, text ark, classes.txt
    out = root / "post" / "posteriors.ark"
    subprocess.run([sys.executable, "-m", "emorec.bin.score_posteriors", "--model", str(probe / "best.pt"),
                    "--data", str(data), "--out", str(out)], env=shell_env, check=True,
                   capture_output=True, timeout=120)
    post = dict(kaldiio.load_ark(str(out)))
    assert len(post) == 24
    for v in post.values():
        assert v.shape == (3,) and abs(np.exp(v).sum() - 1) < 1e-4
    assert (out.parent / "classes.txt").read_text().split() == ["ang", "neu", "sad"]
    assert out.read_text().startswith("spk000-utt000  [ ")

    # --skip-done (the restart rule): scores of the same model are kept, another model rescores
    score = [sys.executable, "-m", "emorec.bin.score_posteriors", "--skip-done", "--model", str(probe / "best.pt"),
             "--data", str(data), "--out", str(out)]
    before = out.stat().st_mtime_ns
    r = subprocess.run(score, env=shell_env, check=True, capture_output=True, text=True, timeout=120)
    assert "skipping" in r.stderr and out.stat().st_mtime_ns == before
    ck = torch.load(probe / "best.pt", weights_only=True)
    torch.save({**ck, "epoch": ck["epoch"] + 1}, probe / "best.pt")
    r = subprocess.run(score, env=shell_env, check=True, capture_output=True, text=True, timeout=120)
    assert "skipping" not in r.stderr and out.stat().st_mtime_ns > before
    r = subprocess.run(score + ["--data", str(data)], env=shell_env, capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 2 and "2 --data but 1 --out" in r.stderr


def test_average_model(setup, shell_env):
    root, data, conf = setup
    exp = root / "avg"
    _train(shell_env, "--config", conf, "--data", data, "--exp-dir", exp, "--set", "train.epochs=2")
    subprocess.run(["bash", "steps/average_model.sh", "--num", "2", str(exp), str(exp / "avg2.pt")],
                   env=shell_env, check=True, capture_output=True, timeout=120,
                   cwd=shell_env["EMOREC_ROOT"])
    avg = _load(exp / "avg2.pt")
    e1, e2 = _load(exp / "epoch_1.pt")["model"], _load(exp / "epoch_2.pt")["model"]
    k = "trunk.stem.0.weight"
    torch.testing.assert_close(avg["model"][k], (e1[k] + e2[k]) / 2)
    assert avg["averaged"] == ["epoch_1.pt", "epoch_2.pt"]

    # a rerun keeps the average, even after a touch; another epoch checkpoint makes it average again
    def average():
        return subprocess.run(["bash", "steps/average_model.sh", "--num", "2", str(exp), str(exp / "avg2.pt")],
                              env=shell_env, check=True, capture_output=True, text=True, timeout=120,
                              cwd=shell_env["EMOREC_ROOT"])
    before = (exp / "avg2.pt").stat().st_mtime_ns
    assert "up to date" in average().stderr and (exp / "avg2.pt").stat().st_mtime_ns == before
    os.utime(exp / "epoch_2.pt", ns=(before + 10**9, before + 10**9))
    assert "up to date" in average().stderr and (exp / "avg2.pt").stat().st_mtime_ns == before
    ck = _load(exp / "epoch_2.pt")
    ck["model"][k] = ck["model"][k] + 1                                # another epoch 2
    torch.save(ck, exp / "epoch_2.pt")
    assert "up to date" not in average().stderr and (exp / "avg2.pt").stat().st_mtime_ns > before


# ---------------------------------------------------------------- across nodes
# emorec.bin.train --nnodes: torchrun agents meeting in a c10d rendezvous
# (emorec.train.distributed.torchrun_command); slurm.pl --nodes starts one per node with srun.

def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _train_args(conf, data, exp, *more):
    return [sys.executable, "-m", "emorec.bin.train", "--config", str(conf), "--data", str(data),
            "--exp-dir", str(exp), "--resume", "--skip-done", "--set", "train.epochs=2", *map(str, more)]


def test_two_node_job_gives_the_weights_of_one_node(setup, shell_env):
    """Two torchrun agents on this machine (--nnodes 2 --ngpu 1, gloo, a c10d rendezvous on
    localhost) train the same weights as one agent with two processes (--ngpu 2); a killed
    2-node run resumes from its last epoch to the same weights."""
    root, data, conf = setup
    one = root / "one node"
    r = subprocess.run(_train_args(conf, data, one, "--ngpu", 2), env=shell_env,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "world 2" in r.stderr

    two = root / "two nodes"
    env = dict(shell_env, EMOREC_RDZV_ENDPOINT=f"localhost:{_free_port()}", EMOREC_RDZV_ID="t1")

    def two_agents(*more):
        agents = [subprocess.Popen(_train_args(conf, data, two, "--ngpu", 1, "--nnodes", 2, *more),
                                   env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
                  for _ in range(2)]
        outs = [a.communicate(timeout=300)[0] for a in agents]
        assert [a.returncode for a in agents] == [0, 0], "\n".join(o[-3000:] for o in outs)
        return "".join(outs)

    out = two_agents("--stop-after-epochs", 1)   # then a fresh rendezvous resumes it
    assert "world 2" in out and (two / "epoch_1.pt").exists() and not (two / "final.pt").exists()
    env["EMOREC_RDZV_ID"] = "t2"
    two_agents()
    a, b = _load(one / "final.pt"), _load(two / "final.pt")
    assert a["epoch"] == b["epoch"] == 2
    assert a["model"].keys() == b["model"].keys()
    for k in a["model"]:
        assert torch.equal(a["model"][k], b["model"][k]), k


def test_several_nodes_need_a_rendezvous(setup, shell_env):
    root, data, conf = setup
    env = {k: v for k, v in shell_env.items() if not k.startswith("EMOREC_RDZV")}
    r = subprocess.run(_train_args(conf, data, root / "x", "--nnodes", 2), env=env,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode != 0
    assert "--nnodes 2 needs a rendezvous endpoint" in r.stderr and "slurm.pl --nodes 2" in r.stderr
    assert not (root / "x").exists()


def _recipe_conf(slurm, emorec_root, tmp_path):
    from test_queue import recipe_slurm_conf

    conf = tmp_path / "slurm.conf"
    conf.write_text(recipe_slurm_conf(slurm, emorec_root)[0])
    return dict(slurm.env, EMOREC_SLURM_CONF=str(conf))


def test_slurm_script_of_a_multi_node_training(slurm, setup, tmp_path, emorec_root):
    """steps/train_speaker.sh --nnodes 3 --ngpu 2 through slurm.pl: one sbatch job of 3 nodes,
    one task per node, srun starting the torchrun agent (emorec.bin.train --nnodes 3) on each,
    the rendezvous on the first host of the job's node list. This one-node test cluster
    cannot give 3 nodes: sbatch refuses the job, after slurm.pl wrote its script."""
    _, data, conf = setup
    env = _recipe_conf(slurm, emorec_root, tmp_path)
    exp = tmp_path / "my exp"
    r = subprocess.run([str(emorec_root / "steps/train_speaker.sh"), "--cmd", "slurm.pl", "--ngpu", "2",
                        "--nnodes", "3", "--time", "2-00:00:00", str(conf), str(data), str(exp)],
                       env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode != 0 and "--nodes=3" in r.stderr
    script = (exp / "log/q/train.sh").read_text()
    sbatch = script.splitlines()[2]
    workers = TINY["data"]["num_workers"]
    for opt in ("--nodes=3", "--ntasks-per-node=1", "--gres=gpu:2 --partition=gpu",
                f"--cpus-per-task={2 * (workers + 1)}", f"--mem={2 * (4 + workers)}G", "--time=2-00:00:00"):
        assert opt in sbatch, (opt, sbatch)
    assert 'scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1' in script
    assert "srun --nodes=3 --ntasks-per-node=1" in script
    assert "python -m emorec.bin.train" in script and "--ngpu 2 --nnodes 3" in script


def test_slurm_one_node_training_through_srun(slurm, setup, tmp_path, emorec_root, shell_env):
    """A real run: slurm.pl --nodes 1 starts the torchrun agent with srun; its two processes
    meet in the c10d rendezvous on the node scontrol names, and train the weights of the same
    run started here without Slurm."""
    root, data, conf = setup
    env = _recipe_conf(slurm, emorec_root, tmp_path)
    exp = tmp_path / "exp"
    train = [sys.executable, "-m", "emorec.bin.train", "--config", str(conf), "--data", str(data),
             "--set", "train.epochs=1", "--ngpu", "2"]
    r = subprocess.run([str(emorec_root / "utils/slurm.pl"), "--nodes", "1", "--num-threads", "2",
                        "--mem", "1G", str(tmp_path / "log/train.log"), *train, "--exp-dir", str(exp)],
                       env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    log = (tmp_path / "log/train.log").read_text()
    assert r.returncode == 0, r.stderr + log[-3000:]
    assert "world 2" in log and re.search(r"^# 1 node\(s\) \S+, one task each \(srun\); rendezvous \S+:\d+$", log, re.M)
    ref = tmp_path / "ref"
    r = subprocess.run(train + ["--exp-dir", str(ref)], env=shell_env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    a, b = _load(ref / "final.pt")["model"], _load(exp / "final.pt")["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)
