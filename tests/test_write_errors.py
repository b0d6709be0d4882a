"""Failures of the system, not of the code: a write that fails (a full disk, a quota,
RLIMIT_FSIZE here, which any user can set) and a truncated checkpoint are ONE line
``PROG: ERROR: PATH: reason`` and exit 1; the traceback only with --verbose."""
import resource
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
import yaml

from synthetic_data import make_synthetic_datadir

TINY = {
    "model": {"blocks": [1, 1, 1, 1], "channels": 4, "emb_dim": 16, "pooling": "stats"},
    "data": {"chunk_sizes": [20, 30], "batch_size": 4, "num_workers": 0},
    "train": {"epochs": 1, "seed": 1, "num_threads": 1},
}


def _file_size_limit(nbytes: int):
    """preexec_fn: writes beyond ``nbytes`` fail with EFBIG (SIGXFSZ ignored), as on a full disk."""
    def limit():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (nbytes, nbytes))
    return limit


def _run(args, env, limit=None):
    return subprocess.run([sys.executable, "-m", *args], env=env, capture_output=True, text=True,
                          timeout=300, preexec_fn=_file_size_limit(limit) if limit else None)


def _one_error_line(r, prefix: str):
    assert r.returncode == 1, r.stderr
    errors = [ln for ln in r.stderr.splitlines() if "ERROR" in ln]
    assert "Traceback" not in r.stderr and errors == [errors[0]], r.stderr
    assert errors[0].startswith(prefix), r.stderr
    return errors[0]


def test_fbank_job_full_disk_one_line_naming_the_ark(tmp_path, shell_env):
    wav_scp = tmp_path / "wav.scp"
    with open(wav_scp, "w") as f:
        for i in range(8):
            sf.write(tmp_path / f"u{i}.wav", np.full(16000, 0.01 * (i + 1), dtype=np.float32), 16000)
            f.write(f"s1-u{i} {tmp_path}/u{i}.wav\n")
    out = tmp_path / "out dir"
    args = ["emorec.bin.compute_fbank", str(wav_scp), str(out / "raw.ark"), str(out / "raw.scp")]
    r = _run(args, shell_env, limit=100_000)
    _one_error_line(r, f"compute_fbank: ERROR: {out}/raw.ark.tmp: File too large")
    # no partial output (the job's begun stamp, which no rerun takes for done, aside)
    assert not [p for p in out.glob("*") if p.suffix != ".stamp"]
    r = _run(args + ["--verbose"], shell_env, limit=100_000)
    assert r.returncode == 1 and "Traceback" in r.stderr


def test_training_checkpoint_and_scoring_writes_named(tmp_path, shell_env):
    data = tmp_path / "data"
    make_synthetic_datadir(str(data), num_speakers=2, utts_per_speaker=3, min_frames=12,
                           max_frames=30, dim=32, seed=1)
    conf = tmp_path / "tiny.yaml"
    conf.write_text(yaml.safe_dump(TINY))
    train = ["emorec.bin.train", "--config", str(conf), "--data", str(data), "--ngpu", "0"]
    r = _run(train + ["--exp-dir", str(tmp_path / "full")], shell_env, limit=20_000)
    line = _one_error_line(r, f"train: ERROR: {tmp_path}/full/epoch_1.pt: cannot write the checkpoint")
    assert "unexpected pos" not in line
    r = _run(train + ["--exp-dir", str(tmp_path / "exp")], shell_env)
    assert r.returncode == 0, r.stderr
    model = tmp_path / "exp" / "final.pt"
    score = ["emorec.bin.score_posteriors", "--model", str(model), "--data", str(data),
             "--out", str(tmp_path / "scores" / "dev.ark")]
    r = _run(score, shell_env, limit=40)
    _one_error_line(r, f"score_posteriors: ERROR: {tmp_path}/scores/")


def test_truncated_checkpoint_named_without_traceback(tmp_path, shell_env):
    ckpt = tmp_path / "epoch_3.pt"
    torch.save({"model": {"w": torch.zeros(1000)}}, ckpt)
    ckpt.write_bytes(ckpt.read_bytes()[:700])
    r = _run(["emorec.bin.average_model", "--out", str(tmp_path / "avg.pt"), str(ckpt)], shell_env)
    _one_error_line(r, f"average_model: ERROR: {ckpt}: not a readable checkpoint")
    data = Path(tmp_path / "data")
    make_synthetic_datadir(str(data), num_speakers=1, utts_per_speaker=2, dim=32, seed=1)
    r = _run(["emorec.bin.score_posteriors", "--model", str(ckpt), "--data", str(data),
              "--out", str(tmp_path / "s.ark")], shell_env)
    _one_error_line(r, f"score_posteriors: ERROR: {ckpt}: not a readable checkpoint")
    assert not (tmp_path / "avg.pt").exists() and not (tmp_path / "s.ark").exists()
