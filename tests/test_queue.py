"""utils/run.pl and utils/slurm.pl, the latter against the real local Slurm cluster."""
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest


def run(cmd, env, cwd, timeout=120):
    return subprocess.run([str(c) for c in cmd], capture_output=True, text=True, env=env,
                          cwd=cwd, timeout=timeout)


def check_log(path: Path, code=0, cmd_contains=None):
    text = path.read_text()
    lines = text.splitlines()
    assert lines[0].startswith("# "), text
    if cmd_contains:
        assert cmd_contains in lines[0], text
    assert lines[1].startswith("# Started at "), text
    assert re.search(r"^# Accounting: time=\d+ threads=\d+$", text, re.M), text
    assert re.match(r"# Ended \(code %d\) at " % code, lines[-1]), text
    return text


def max_overlap(intervals):
    events = sorted([(s, 1) for s, e in intervals] + [(e, -1) for s, e in intervals],
                    key=lambda x: (x[0], x[1]))
    cur = best = 0
    for _, d in events:
        cur += d
        best = max(best, cur)
    return best


STAMP = 'echo "$(date +%s.%N) $(sleep {s}; date +%s.%N)" > "{d}/stamp.JOB"'

# ---------------------------------------------------------------- run.pl


def test_run_pl_array_logs_and_substitution(tmp_path, shell_env, emorec_root):
    r = run([emorec_root / "utils/run.pl", "JOB=1:4", "log/x.JOB.log", "echo", "task", "JOB",
             "|", "tr", "a-z", "A-Z"], shell_env, tmp_path)
    assert r.returncode == 0, r.stderr
    for j in range(1, 5):
        text = check_log(tmp_path / f"log/x.{j}.log", cmd_contains=f"echo task {j}")
        assert f"TASK {j}\n" in text


def test_run_pl_single_job_and_failure(tmp_path, shell_env, emorec_root):
    r = run([emorec_root / "utils/run.pl", "one.log", "echo", "hi"], shell_env, tmp_path)
    assert r.returncode == 0 and "hi\n" in check_log(tmp_path / "one.log")
    r = run([emorec_root / "utils/run.pl", "JOB=1:4", "log/f.JOB.log", "bash", "-c",
             "echo out; exit $(( JOB == 3 ? 7 : 0 ))"], shell_env, tmp_path)
    assert r.returncode != 0
    assert "1 / 4 failed" in r.stderr and "log/f.3.log" in r.stderr
    check_log(tmp_path / "log/f.3.log", code=7)
    check_log(tmp_path / "log/f.2.log", code=0)


@pytest.mark.parametrize("max_jobs", [1, 2])
def test_run_pl_max_jobs_run(tmp_path, shell_env, emorec_root, max_jobs):
    r = run([emorec_root / "utils/run.pl", "--max-jobs-run", max_jobs, "JOB=1:4",
             "log/s.JOB.log", "bash", "-c", STAMP.format(s=0.3, d=tmp_path)], shell_env, tmp_path)
    assert r.returncode == 0, r.stderr
    iv = [tuple(map(float, (tmp_path / f"stamp.{j}").read_text().split())) for j in range(1, 5)]
    assert max_overlap(iv) <= max_jobs
    if max_jobs == 2:
        assert max_overlap(iv) == 2   # it did run jobs in parallel


def test_run_pl_paths_with_spaces_and_options(tmp_path, shell_env, emorec_root):
    d = tmp_path / "my dir"
    r = run([emorec_root / "utils/run.pl", "--gpu", "1", "--mem", "2G", "--num-threads", "3",
             "--time", "1:00:00", "JOB=1:2", d / "log dir/a.JOB.log", "printf", "%s.",
             d / "it's JOB", ">", d / "out.JOB"], shell_env, tmp_path)
    assert r.returncode == 0, r.stderr
    for j in (1, 2):
        assert (d / f"out.{j}").read_text() == f"{d}/it's {j}."
        assert "threads=3" in check_log(d / f"log dir/a.{j}.log")


def test_run_pl_gpu_jobs_say_what_cuda_sees(tmp_path, shell_env, emorec_root):
    """Here torch sees no CUDA device: the log says so first; --require-gpu true fails the jobs."""
    r = run([emorec_root / "utils/run.pl", "--gpu", "1", "w.log", "echo", "ran"], shell_env, tmp_path)
    assert r.returncode == 0, r.stderr
    lines = check_log(tmp_path / "w.log").splitlines()
    assert lines[2].startswith("# GPUs: asked for 1, CUDA sees 0") and "runs on CPU" in lines[2]
    r = run([emorec_root / "utils/run.pl", "--gpu", "1", "--require-gpu", "true", "JOB=1:2", "n.JOB.log",
             "echo", "ran"], shell_env, tmp_path)
    assert r.returncode != 0 and "2 / 2 failed" in r.stderr
    assert "\nran\n" not in check_log(tmp_path / "n.1.log", code=1)
    r = run([emorec_root / "utils/run.pl", "--nodes", "2", "x.log", "true"], shell_env, tmp_path)
    assert r.returncode != 0 and "slurm.pl --nodes N" in r.stderr
    # the line under a GPU stage's banner (egs/*/run.sh): only for jobs run here
    banner = [sys.executable, "-m", "emorec.bin.check_gpu", "--asked", "1", "--banner"]
    r = run(banner + ["run.pl --gpu 1"], shell_env, tmp_path)
    assert r.returncode == 0 and "CUDA sees 0" in r.stdout and "runs on CPU" in r.stdout
    assert run(banner + ["slurm.pl --gpu 1"], shell_env, tmp_path).stdout == ""


def test_run_pl_log_needs_job_for_arrays(tmp_path, shell_env, emorec_root):
    r = run([emorec_root / "utils/run.pl", "JOB=1:2", "x.log", "true"], shell_env, tmp_path)
    assert r.returncode != 0 and "x.log" in r.stderr


# A job that is not idempotent: run twice (or by two live copies) it appends twice.
TWICE_JOB = 'echo "start JOB $$" >> trace; sleep 2; echo "result JOB" >> out.JOB; echo "end JOB" >> trace'


def _wait_for(pred, timeout=30):
    deadline = time.time() + timeout
    while not pred() and time.time() < deadline:
        time.sleep(0.05)
    assert pred()


@pytest.mark.parametrize("kill_group", [True, False], ids=["group", "run_pl_only"])
def test_run_pl_jobs_die_with_the_run_and_rerun_once(tmp_path, shell_env, emorec_root,
                                                     kill_group):
    """kill -9 of the run (its whole process group, or run.pl alone) mid-job takes the
    jobs with it; an immediate rerun then runs each job once, with the clean outputs."""
    cmd = [str(emorec_root / "utils/run.pl"), "JOB=1:2", "log/t.JOB.log", "bash", "-c", TWICE_JOB]
    p = subprocess.Popen(cmd, env=shell_env, cwd=tmp_path, start_new_session=True,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    trace = tmp_path / "trace"
    _wait_for(lambda: trace.exists() and trace.read_text().count("start") == 2)
    (os.killpg if kill_group else os.kill)(p.pid, signal.SIGKILL)
    p.wait()
    r = run(cmd, shell_env, tmp_path)
    assert r.returncode == 0, r.stderr
    time.sleep(3)   # longer than a job: an orphan of the first run would have finished now
    for j in (1, 2):
        assert (tmp_path / f"out.{j}").read_text() == f"result {j}\n"
        assert trace.read_text().count(f"end {j}\n") == 1
        check_log(tmp_path / f"log/t.{j}.log", cmd_contains=f"start {j}")


def test_run_pl_refuses_a_job_another_live_job_is_writing(tmp_path, shell_env, emorec_root):
    cmd = [str(emorec_root / "utils/run.pl"), "--lock-wait", "1", "JOB=1:1", "log/t.JOB.log",
           "bash", "-c", TWICE_JOB]
    first = subprocess.Popen(cmd, env=shell_env, cwd=tmp_path, stderr=subprocess.PIPE, text=True)
    trace = tmp_path / "trace"
    _wait_for(lambda: trace.exists() and "start" in trace.read_text())
    r = run(cmd, shell_env, tmp_path)
    assert r.returncode != 0
    assert "job 1 not started: another live job" in r.stderr and "log/t.1.log.lock" in r.stderr
    assert first.wait(timeout=30) == 0
    assert (tmp_path / "out.1").read_text() == "result 1\n"
    check_log(tmp_path / "log/t.1.log", cmd_contains="start 1")   # not truncated by the refusal

# ---------------------------------------------------------------- slurm.pl


def slurm_pl(emorec_root, *args):
    return [emorec_root / "utils/slurm.pl", *args]


def test_slurm_array(slurm, tmp_path, emorec_root):
    r = run(slurm_pl(emorec_root, "JOB=1:4", "exp/log/a.JOB.log", "echo", "task", "JOB", ">",
                     "exp/out.JOB"), slurm.env, tmp_path)
    assert r.returncode == 0, r.stderr
    for j in range(1, 5):
        assert (tmp_path / f"exp/out.{j}").read_text() == f"task {j}\n"
        check_log(tmp_path / f"exp/log/a.{j}.log", cmd_contains=f"task {j}")
    script = (tmp_path / "exp/log/q/a.sh").read_text()
    assert "--array=1-4" in script and "sbatch" in script


def test_slurm_failing_task(slurm, tmp_path, emorec_root):
    r = run(slurm_pl(emorec_root, "JOB=1:3", "log/f.JOB.log", "bash", "-c",
                     "exit $(( JOB == 2 ? 5 : 0 ))"), slurm.env, tmp_path)
    assert r.returncode != 0
    assert "1 / 3 failed" in r.stderr and "log/f.2.log" in r.stderr
    check_log(tmp_path / "log/f.2.log", code=5)
    check_log(tmp_path / "log/f.3.log", code=0)


def test_slurm_paths_with_spaces_env_and_cwd(slurm, tmp_path, emorec_root):
    d = tmp_path / "a dir"
    d.mkdir()
    env = dict(slurm.env, EMOREC_TEST_VAR="exported value")
    r = run(slurm_pl(emorec_root, "JOB=2:3", "log x/t.JOB.log", "bash", "-c",
                     'printf "%s|%s|%s" "$EMOREC_TEST_VAR" "$PWD" JOB > "out file.JOB"'),
            env, d)
    assert r.returncode == 0, r.stderr
    for j in (2, 3):
        assert (d / f"out file.{j}").read_text() == f"exported value|{d}|{j}"
        check_log(d / f"log x/t.{j}.log")
    assert not (d / "log x/t.1.log").exists()


def test_slurm_option_mapping_from_config(slurm, tmp_path, emorec_root):
    conf = tmp_path / "conf" / "my slurm.conf"
    conf.parent.mkdir()
    conf.write_text(
        "command sbatch --export=ALL  # comment\n"
        "option mem=* --mem-per-cpu=$0\n"
        "option mem=0\n"
        "option num_threads=* --cpus-per-task=$0\n"
        "option time=* --time=$0\n"
        "default gpu=0\n"
        "option gpu=0\n"
        "option gpu=* --comment=gpus:$0\n"
        "option max_jobs_run=* --array=...%$0\n")
    r = run(slurm_pl(emorec_root, "--config", conf, "--num-threads", "2", "--mem", "100M",
                     "--time", "7", "--gpu", "1", "--max-jobs-run", "1", "JOB=1:2",
                     "log/o.JOB.log", "bash", "-c",
                     'echo "cpus=$SLURM_CPUS_PER_TASK mem=$SLURM_MEM_PER_CPU"; '
                     'scontrol show job "$SLURM_JOB_ID"'), slurm.env, tmp_path)
    assert r.returncode == 0, r.stderr
    text = check_log(tmp_path / "log/o.1.log")
    assert "threads=2" in text
    assert "cpus=2 mem=100" in text
    assert "TimeLimit=00:07:00" in text and "Comment=gpus:1" in text
    script = (tmp_path / "log/q/o.sh").read_text()
    for opt in ("--cpus-per-task=2", "--mem-per-cpu=100M", "--time=7", "--comment=gpus:1",
                "--array=1-2%1"):
        assert opt in script

    # the config's GPU mapping: no GPU gres on this test node, so sbatch must refuse,
    # and the error shows the sbatch command line with the mapped options
    conf.write_text("command sbatch --export=ALL\ndefault gpu=0\noption gpu=0\n"
                    "option gpu=* --gres=gpu:$0 --partition=gpu\n")
    r = run(slurm_pl(emorec_root, "--config", conf, "--gpu", "1", "log/g.log", "true"),
            slurm.env, tmp_path)
    assert r.returncode != 0
    assert "--gres=gpu:1 --partition=gpu" in r.stderr
    assert "--gres=gpu:1 --partition=gpu" in (tmp_path / "log/q/g.sh").read_text()
    r = run(slurm_pl(emorec_root, "--config", conf, "--mem", "1G", "log/m.log", "true"),
            slurm.env, tmp_path)
    assert r.returncode != 0 and "--mem" in r.stderr   # not in that config


def recipe_slurm_conf(slurm, emorec_root):
    """egs/iemocap/conf/slurm.conf with its partitions replaced by the test cluster's."""
    part = subprocess.run(["sinfo", "-h", "-o", "%P"], capture_output=True, text=True,
                          env=slurm.env).stdout.split()[0].rstrip("*")
    text = (emorec_root / "egs/iemocap/conf/slurm.conf").read_text()
    assert "--partition=cpu" in text and "--gres=gpu:$0 --partition=gpu" in text
    return text.replace("--partition=cpu", f"--partition={part}"), part


def test_slurm_recipe_conf_maps_a_jobs_needs(slurm, tmp_path, emorec_root):
    """The recipes' conf/slurm.conf, found through EMOREC_SLURM_CONF (cmd.sh exports it):
    CPUs, --mem per job (not per CPU), --time, the CPU partition; a GPU job names the GPU
    partition and its log says what CUDA sees, and --require-gpu true stops it."""
    text, part = recipe_slurm_conf(slurm, emorec_root)
    conf = tmp_path / "caller conf" / "slurm.conf"
    conf.parent.mkdir()
    conf.write_text(text)
    env = dict(slurm.env, EMOREC_SLURM_CONF=str(conf))
    r = run(slurm_pl(emorec_root, "--num-threads", "2", "--mem", "50M", "--time", "5", "log/d.log",
                     "bash", "-c", 'scontrol show job "$SLURM_JOB_ID"'), env, tmp_path)
    assert r.returncode == 0, r.stderr
    out = check_log(tmp_path / "log/d.log")
    assert f"Partition={part}" in out and "NumCPUs=2" in out and "TimeLimit=00:05:00" in out
    assert "MinMemoryNode=50M" in out   # per job (node), not per CPU
    script = (tmp_path / "log/q/d.sh").read_text()
    for opt in ("--cpus-per-task=2", "--mem=50M", "--time=5", f"--partition={part}"):
        assert opt in script
    assert "--mem-per-cpu" not in script
    r = run(slurm_pl(emorec_root, "log/e.log", "true"), env, tmp_path)    # the defaults
    assert r.returncode == 0 and "--mem=4G" in (tmp_path / "log/q/e.sh").read_text()
    # a GPU job: the GPU partition and gres (this node has none: sbatch refuses it, naming them)
    r = run(slurm_pl(emorec_root, "--gpu", "1", "log/g.log", "true"), env, tmp_path)
    assert r.returncode != 0 and "--gres=gpu:1 --partition=gpu" in r.stderr
    # on a node without a GPU the log says so; --require-gpu true fails the job
    conf.write_text(text.replace("--gres=gpu:$0 --partition=gpu", "--comment=gpus:$0"))
    r = run(slurm_pl(emorec_root, "--gpu", "1", "log/w.log", "echo", "ran"), env, tmp_path)
    assert r.returncode == 0, r.stderr
    out = check_log(tmp_path / "log/w.log")
    assert re.search(r"^# GPUs: asked for 1, CUDA sees 0.*the job runs on CPU$", out, re.M), out
    assert "ran\n" in out
    r = run(slurm_pl(emorec_root, "--gpu", "1", "--require-gpu", "true", "log/n.log", "echo", "ran"),
            env, tmp_path)
    assert r.returncode != 0 and "log/n.log" in r.stderr
    out = check_log(tmp_path / "log/n.log", code=1)
    assert "asked for 1, CUDA sees 0" in out and "--require-gpu true" in out and "\nran\n" not in out


def _assert_gone_from_queue(slurm, jobid, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        q = subprocess.run(["squeue", "-h", "-j", jobid], capture_output=True, text=True,
                           env=slurm.env)
        if not q.stdout.strip():
            break
        time.sleep(0.5)
    assert not q.stdout.strip(), q.stdout


def test_slurm_sigterm_cancels_the_array(slurm, tmp_path, emorec_root):
    p = subprocess.Popen([str(c) for c in slurm_pl(emorec_root, "JOB=1:2", "log/k.JOB.log",
                                                     "sleep", "60")],
                         env=slurm.env, cwd=tmp_path, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 30
    while not (tmp_path / "log/k.1.log").exists() and time.time() < deadline:
        time.sleep(0.2)
    assert (tmp_path / "log/k.1.log").exists()
    script = (tmp_path / "log/q/k.sh").read_text()
    p.send_signal(signal.SIGTERM)
    _, err = p.communicate(timeout=30)
    assert p.returncode != 0 and "cancelled" in err
    jobid = re.search(r"Slurm job (\d+)", err).group(1)
    _assert_gone_from_queue(slurm, jobid)
    assert "sleep 60" in script


def test_slurm_kill_9_cancels_the_array(slurm, tmp_path, emorec_root):
    """kill -9 of the process group running slurm.pl leaves no task of its array behind."""
    p = subprocess.Popen([str(c) for c in slurm_pl(emorec_root, "JOB=1:2", "log/k.JOB.log",
                                                     "sleep", "60")],
                         env=slurm.env, cwd=tmp_path, start_new_session=True,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    log = tmp_path / "log/k.1.log"
    _wait_for(lambda: log.exists() and re.search(r"Slurm job (\d+)_", log.read_text()))
    jobid = re.search(r"Slurm job (\d+)_", log.read_text()).group(1)
    os.killpg(p.pid, signal.SIGKILL)
    p.wait()
    _assert_gone_from_queue(slurm, jobid)


def test_slurm_refuses_a_task_another_live_job_is_writing(slurm, tmp_path, emorec_root):
    cmd = [str(c) for c in slurm_pl(emorec_root, "--lock-wait", "1", "JOB=1:1", "log/t.JOB.log",
                                    "bash", "-c", TWICE_JOB)]
    first = subprocess.Popen(cmd, env=slurm.env, cwd=tmp_path, stderr=subprocess.PIPE, text=True)
    trace = tmp_path / "trace"
    _wait_for(lambda: trace.exists() and "start" in trace.read_text())
    r = run(cmd, slurm.env, tmp_path)
    assert r.returncode != 0
    assert "task 1 not started: another live job" in r.stderr and "log/t.1.log.lock" in r.stderr
    assert first.wait(timeout=60) == 0
    assert (tmp_path / "out.1").read_text() == "result 1\n"
    check_log(tmp_path / "log/t.1.log", cmd_contains="start 1")
