"""Training across nodes: torchrun agents meeting in a c10d rendezvous (emorec.bin.train
--nnodes, emorec.train.distributed.torchrun_command) and slurm.pl --nodes, which starts one
agent per node with srun."""
import re
import socket
import subprocess
import sys

import pytest
import torch
import yaml

from synthetic_data import TINY_TRAIN_CONFIG, make_synthetic_datadir


def _load(p):
    return torch.load(p, map_location="cpu", weights_only=True)


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp("multinode")
    data = root / "train data"
    make_synthetic_datadir(str(data), num_speakers=4, utts_per_speaker=6, min_frames=12,
                           max_frames=70, dim=32, seed=1)
    conf = root / "tiny.yaml"
    conf.write_text(yaml.safe_dump(TINY_TRAIN_CONFIG))
    return root, data, conf


def _train_args(conf, data, exp, *more):
    return [sys.executable, "-m", "emorec.bin.train", "--config", str(conf), "--data", str(data),
            "--exp-dir", str(exp), "--resume", "--skip-done", *map(str, more)]


def test_two_node_job_gives_the_weights_of_one_node(tiny, shell_env):
    """Two torchrun agents on this machine (--nnodes 2 --ngpu 1, gloo, a c10d rendezvous on
    localhost) train the same weights as one agent with two processes (--ngpu 2); a killed
    2-node run resumes from its last epoch to the same weights."""
    root, data, conf = tiny
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
    assert a["epoch"] == b["epoch"] == TINY_TRAIN_CONFIG["train"]["epochs"]
    assert a["model"].keys() == b["model"].keys()
    for k in a["model"]:
        assert torch.equal(a["model"][k], b["model"][k]), k


def test_several_nodes_need_a_rendezvous(tiny, shell_env):
    root, data, conf = tiny
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


def test_slurm_script_of_a_multi_node_training(slurm, tiny, tmp_path, emorec_root):
    """steps/train_speaker.sh --nnodes 3 --ngpu 2 through slurm.pl: one sbatch job of 3 nodes,
    one task per node, srun starting the torchrun agent (emorec.bin.train --nnodes 3) on each,
    the rendezvous on the first host of the job's node list. This one-node test cluster
    cannot give 3 nodes: sbatch refuses the job, after slurm.pl wrote its script."""
    _, data, conf = tiny
    env = _recipe_conf(slurm, emorec_root, tmp_path)
    exp = tmp_path / "my exp"
    r = subprocess.run([str(emorec_root / "steps/train_speaker.sh"), "--cmd", "slurm.pl", "--ngpu", "2",
                        "--nnodes", "3", "--time", "2-00:00:00", str(conf), str(data), str(exp)],
                       env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode != 0 and "--nodes=3" in r.stderr
    script = (exp / "log/q/train.sh").read_text()
    sbatch = script.splitlines()[2]
    workers = TINY_TRAIN_CONFIG["data"]["num_workers"]
    for opt in ("--nodes=3", "--ntasks-per-node=1", "--gres=gpu:2 --partition=gpu",
                f"--cpus-per-task={2 * (workers + 1)}", f"--mem={2 * (4 + workers)}G", "--time=2-00:00:00"):
        assert opt in sbatch, (opt, sbatch)
    assert 'scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1' in script
    assert "srun --nodes=3 --ntasks-per-node=1" in script
    assert "python -m emorec.bin.train" in script and "--ngpu 2 --nnodes 3" in script


def test_slurm_one_node_training_through_srun(slurm, tiny, tmp_path, emorec_root, shell_env):
    """A real run: slurm.pl --nodes 1 starts the torchrun agent with srun; its two processes
    meet in the c10d rendezvous on the node scontrol names, and train the weights of the same
    run started here without Slurm."""
    root, data, conf = tiny
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
