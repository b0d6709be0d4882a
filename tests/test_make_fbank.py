"""steps/make_fbank.sh end to end: run.pl / slurm.pl, bad audio, kill + rerun, spaces."""

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import kaldiio
import numpy as np
import pytest
import soundfile as sf

from emorec.audio import load_audio
from emorec.features import Fbank, FbankConfig

ROOT = Path(__file__).resolve().parent.parent
CONF = ROOT / "egs" / "iemocap" / "conf" / "fbank.conf"
MAKE_FBANK = ROOT / "steps" / "make_fbank.sh"
SR = 16000


def make_data(d: Path, n_utt=12, n_spk=3, seed=0, rx=None):
    """A Kaldi data dir of short sine sweeps + noise; rx(utt, path) may rewrite wav.scp entries."""
    (d / "wav").mkdir(parents=True)
    rng = np.random.default_rng(seed)
    wav, u2s = {}, {}
    for i in range(n_utt):
        spk = f"spk{i % n_spk:02d}"
        utt = f"{spk}-utt{i:03d}"
        n = int(SR * rng.uniform(0.2, 0.5))
        t = np.arange(n) / SR
        f0 = rng.uniform(100, 400)
        x = 0.3 * np.sin(2 * np.pi * (f0 + 2000 * t) * t) + 0.03 * rng.standard_normal(n)
        p = d / "wav" / f"{utt}.wav"
        sf.write(p, x, SR)
        wav[utt] = str(p)
        u2s[utt] = spk
    lines = sorted(f"{u} {rx(u, p) if rx else p}\n" for u, p in wav.items())
    (d / "wav.scp").write_text("".join(lines))
    (d / "utt2spk").write_text("".join(sorted(f"{u} {s}\n" for u, s in u2s.items())))
    return wav


def run_make_fbank(data: Path, env, *opts, check=True, cwd=None):
    r = subprocess.run(["bash", str(MAKE_FBANK), "--fbank-config", str(CONF), *opts, str(data)],
                       env=env, cwd=cwd or data.parent, capture_output=True, text=True,
                       timeout=300)
    if check and r.returncode != 0:
        logs = "".join(p.read_text() for p in sorted((data / "log").glob("*.log")))
        pytest.fail(f"make_fbank.sh failed ({r.returncode}):\n{r.stdout}{r.stderr}\n{logs}")
    return r


def read_feats(data: Path):
    return {k: np.array(v) for k, v in kaldiio.load_scp(str(data / "feats.scp")).items()}


def check_complete(data: Path, wav: dict, expect=None):
    keys = [ln.split(" ", 1)[0] for ln in (data / "feats.scp").read_text().splitlines()]
    assert keys == sorted(keys, key=lambda k: k.encode())  # LC_ALL=C order
    expect = sorted(wav) if expect is None else expect
    assert keys == expect
    feats = read_feats(data)
    fb = Fbank(FbankConfig.from_file(str(CONF)))
    u2nf = dict(ln.split() for ln in (data / "utt2num_frames").read_text().splitlines())
    for utt in keys:
        m = feats[utt]
        assert m.dtype == np.float32 and m.ndim == 2 and m.shape[1] == 128
        assert int(u2nf[utt]) == m.shape[0]
        np.testing.assert_allclose(m, fb(load_audio(wav[utt])), atol=1e-4)
    return feats


def test_run_pl_nj4_path_with_space(tmp_path, shell_env):
    data = tmp_path / "my data" / "train set"
    wav = make_data(data)
    r = run_make_fbank(data, shell_env, "--nj", "4", "--cmd", "run.pl")
    assert "succeeded" in r.stdout
    feats = check_complete(data, wav)
    logs = sorted((data / "log").glob("make_fbank_train set.*.log"))
    assert len(logs) == 4
    assert all(p.read_text().rstrip().splitlines()[-1].startswith("# Ended (code 0)") for p in logs)
    arks = {v.rsplit(":", 1)[0] for v in
            (ln.split(" ", 1)[1] for ln in (data / "feats.scp").read_text().splitlines())}
    assert arks == {str(data / "data" / f"raw_fbank_train set.{j}.ark") for j in range(1, 5)}
    # rerun: every job is complete and skipped; same features
    before = (data / "feats.scp").read_text()
    run_make_fbank(data, shell_env, "--nj", "4")
    assert all("up to date; skipping" in p.read_text() for p in logs)
    assert (data / "feats.scp").read_text() == before
    assert (data / ".backup" / "feats.scp").read_text() == before
    assert all(np.array_equal(feats[k], v) for k, v in read_feats(data).items())


def test_corrupt_wav_is_logged_and_dropped(tmp_path, shell_env):
    # 44 utterances, 2 jobs of 22: one bad file is 4.5% of its job (< 5%): dropped.
    data = tmp_path / "d"
    wav = make_data(data, n_utt=44, n_spk=4)
    bad = "spk01-utt005"
    Path(wav[bad]).write_bytes(b"RIFF\x10\x00\x00\x00WAVEjunk" * 20)
    r = run_make_fbank(data, shell_env, "--nj", "2")
    assert "1 of 44 utterances got no features" in r.stdout
    check_complete(data, wav, expect=sorted(set(wav) - {bad}))
    logs = "".join(p.read_text() for p in (data / "log").glob("make_fbank_d.*.log"))
    warn = [ln for ln in logs.splitlines() if ln.startswith("WARNING")]
    assert len(warn) == 1
    assert warn[0].startswith(f"WARNING: {data}/split2/")
    assert f": {bad}: " in warn[0] and wav[bad] in warn[0] and "cannot decode" in warn[0]
    # within the 5%, the data dir drops it too and stays valid for the stages after
    for f in ("utt2spk", "wav.scp", "spk2utt"):
        assert bad not in (data / f).read_text(), f
    subprocess.run(["bash", str(ROOT / "utils" / "validate_data_dir.sh"), "--no-text", str(data)],
                   env=shell_env, check=True, capture_output=True)


def test_more_than_5_percent_bad_fails(tmp_path, shell_env):
    data = tmp_path / "d"
    wav = make_data(data, n_utt=12, n_spk=2)
    os.remove(wav["spk00-utt002"])
    Path(wav["spk01-utt007"]).write_bytes(b"")
    r = run_make_fbank(data, shell_env, "--nj", "2", check=False)
    assert r.returncode != 0
    assert not (data / "feats.scp").exists()
    logs = "".join(p.read_text() for p in (data / "log").glob("*.log"))
    assert "no such file" in logs and "empty file" in logs
    assert "ERROR: compute_fbank: 1 of 6 utterances" in logs
    # the failed jobs left no scp a rerun would trust
    assert not list((data / "data").glob("*.scp"))
    assert not list((data / "data").glob("*.tmp"))


@pytest.mark.parametrize("conf_text,problem", [
    ("--num-mel-bins=128\n--fft-size=100\n", "fft_size 100 is smaller than the window"),
    ("--num-mel-bin=128\n", ":1: unknown option --num-mel-bin"),
])
def test_bad_config_fails_naming_file_and_problem(tmp_path, shell_env, conf_text, problem):
    """No check up front: the jobs fail, and make_fbank.sh prints why, naming the file."""
    data = tmp_path / "d"
    make_data(data, n_utt=4, n_spk=2)
    conf = tmp_path / "my fbank.conf"
    conf.write_text(conf_text)
    r = subprocess.run(["bash", str(MAKE_FBANK), "--nj", "2", "--fbank-config", str(conf), str(data)],
                       env=shell_env, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert r.returncode != 0
    assert f"ERROR: compute_fbank: {conf}" in r.stderr and problem in r.stderr
    assert not (data / "feats.scp").exists() and not list((data / "data").glob("*.scp"))


def _session_pids(sid: int):
    pids = []
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                fields = (p / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[3]) == sid and fields[0] != "Z":  # session id; zombies are dead
                pids.append(int(p.name))
    return pids


def _kill_session(sid: int):
    """SIGKILL every process of the session started for make_fbank.sh (all ours)."""
    for _ in range(3):
        pids = _session_pids(sid)
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if not pids:
            return
        time.sleep(0.2)


def test_kill_and_rerun(tmp_path, shell_env):
    flag = tmp_path / "slow.flag"
    flag.touch()
    slow = "spk00-utt000"  # first utterance: job 1 of the per-utterance split

    def rx(utt, p):
        if utt != slow:
            return p
        return f"if [ -e '{flag}' ]; then sleep 300; fi; cat '{p}' |"

    data = tmp_path / "killed"
    wav = make_data(data, rx=rx)
    clean = tmp_path / "clean"
    make_data(clean)
    proc = subprocess.Popen(["bash", str(MAKE_FBANK), "--fbank-config", str(CONF), "--nj", "4",
                             str(data)], env=shell_env, cwd=tmp_path, start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    fdir = data / "data"
    try:
        deadline = time.time() + 150
        while time.time() < deadline:
            done = [j for j in range(1, 5) if (fdir / f"raw_fbank_killed.{j}.scp").exists()]
            if done == [2, 3, 4] and (fdir / "raw_fbank_killed.1.ark.tmp").exists():
                break
            assert proc.poll() is None, proc.stdout.read().decode()
            time.sleep(0.5)
        else:
            pytest.fail("jobs 2-4 did not finish in time")
        # kill -9 of the run's process group: the jobs (own groups) must die with it
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        deadline = time.time() + 10
        while _session_pids(proc.pid) and time.time() < deadline:
            time.sleep(0.1)
        assert not _session_pids(proc.pid), "jobs outlived the run that started them"
    finally:
        _kill_session(proc.pid)
        proc.wait()
    # killed mid-way: job 1 has only its tmp ark; nothing trusts it
    assert not (data / "feats.scp").exists()
    assert not (fdir / "raw_fbank_killed.1.scp").exists()
    assert not (fdir / "raw_fbank_killed.1.ark").exists()
    assert (fdir / "raw_fbank_killed.1.ark.tmp").exists()
    mtimes = {j: (fdir / f"raw_fbank_killed.{j}.ark").stat().st_mtime_ns for j in (2, 3, 4)}

    flag.unlink()
    run_make_fbank(data, shell_env, "--nj", "4")
    logs = {j: (data / "log" / f"make_fbank_killed.{j}.log").read_text() for j in range(1, 5)}
    assert "skipping" not in logs[1] and "3 of 3 utterances done" in logs[1]
    assert all("up to date; skipping" in logs[j] for j in (2, 3, 4))
    assert all((fdir / f"raw_fbank_killed.{j}.ark").stat().st_mtime_ns == mtimes[j]
               for j in (2, 3, 4))
    assert not list(fdir.glob("*.tmp"))
    feats = check_complete(data, wav)

    run_make_fbank(clean, shell_env, "--nj", "4")
    ref = read_feats(clean)
    assert sorted(ref) == sorted(feats)
    for k in ref:
        np.testing.assert_array_equal(feats[k], ref[k])


def test_sigterm_removes_tmp_files(tmp_path, shell_env):
    import sys
    wav = tmp_path / "a.wav"
    sf.write(wav, np.zeros(SR // 2), SR)
    scp = tmp_path / "wav.scp"
    scp.write_text(f"u1 {wav}\nu2 sleep 60; cat '{wav}' |\n")
    out = tmp_path / "out"
    p = subprocess.Popen([sys.executable, "-m", "emorec.bin.compute_fbank", "--batch-seconds", "0",
                          str(scp), str(out / "f.ark"), str(out / "f.scp")], env=shell_env,
                         stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 60
    while not (out / "f.ark.tmp").exists() and time.time() < deadline:
        time.sleep(0.2)
    time.sleep(1.0)
    p.send_signal(signal.SIGTERM)
    _, err = p.communicate(timeout=90)
    assert p.returncode == 128 + signal.SIGTERM, err
    assert "killed by signal" in err
    # no output, temporary or final: only the stamp of the run begun, which alone never counts
    assert not out.exists() or [p.name for p in out.iterdir()] == ["f.scp.stamp"]


def test_slurm_vs_run_pl_identical(tmp_path, shell_env, slurm):
    cluster = slurm
    a, b = tmp_path / "runpl", tmp_path / "slurm"
    wav = make_data(a)
    make_data(b)
    run_make_fbank(a, shell_env, "--nj", "4", "--cmd", "run.pl")
    run_make_fbank(b, cluster.env, "--nj", "4", "--cmd", "slurm.pl")
    fa, fb = check_complete(a, wav), read_feats(b)
    assert sorted(fa) == sorted(fb)
    for k in fa:
        np.testing.assert_array_equal(fa[k], fb[k])
    for j in range(1, 5):
        assert (b / "log" / f"make_fbank_slurm.{j}.log").read_text().rstrip() \
            .splitlines()[-1].startswith("# Ended (code 0)")


def test_unsorted_utt2spk_rejected_even_with_contiguous_speakers(tmp_path, shell_env):
    data = tmp_path / "d"
    make_data(data, n_utt=4, n_spk=1)
    lines = (data / "utt2spk").read_text().splitlines()
    lines[1], lines[2] = lines[2], lines[1]  # one speaker: contiguous, but out of order
    (data / "utt2spk").write_text("\n".join(lines) + "\n")
    r = run_make_fbank(data, shell_env, "--nj", "1", check=False)
    assert r.returncode == 1 and not (data / "feats.scp").exists()
    assert f"{data}/utt2spk is not sorted" in r.stderr and f"{data}/utt2spk:3: disorder: {lines[2]}" in r.stderr
