"""Shared pytest fixtures for the emorec test suite.

Fixtures:
  emorec_root  -- pathlib.Path of the checkout.
  shell_env    -- a dict environment like path.sh's (utils/ and steps/ on PATH,
                  PYTHONPATH = checkout, LC_ALL=C, offline HF), for subprocess.run.
  slurm        -- session-scoped: starts the real local single-node Slurm cluster
                  once (tests/slurm/start_slurm.sh) and returns a SlurmCluster with
                  .conf (path of slurm.conf) and .env (shell_env + SLURM_CONF).
                  When `sinfo` answers already (a cluster is reachable, as any user),
                  that cluster is used; else skips with a reason when not root or
                  Slurm/munge are not installed, and fails when they are installed
                  but the local cluster does not come up.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _path_sh_env() -> dict:
    env = dict(os.environ)
    venv_bin = str(Path(sys.executable).parent)
    path = [str(ROOT / "utils"), str(ROOT / "steps"), venv_bin]
    env["PATH"] = os.pathsep.join(path + [env.get("PATH", "/usr/bin:/bin")])
    env["EMOREC_ROOT"] = str(ROOT)
    pp = env.get("PYTHONPATH")
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + pp if pp else "")
    env["LC_ALL"] = "C"
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONIOENCODING"] = "UTF-8"
    env["HF_HUB_OFFLINE"] = "1"
    env["TRANSFORMERS_OFFLINE"] = "1"
    env["HF_DATASETS_OFFLINE"] = "1"
    env["EMOREC_PATH_SH"] = str(ROOT)
    return env


@pytest.fixture(scope="session")
def emorec_root() -> Path:
    return ROOT


@pytest.fixture
def shell_env() -> dict:
    return _path_sh_env()


@dataclass
class SlurmCluster:
    conf: Path
    env: dict = field(default_factory=dict)


def _cluster_answers() -> bool:
    """A Slurm cluster is reachable from here (``sinfo`` answers), whoever we are."""
    if shutil.which("sinfo") is None:
        return False
    try:
        return subprocess.run(["sinfo", "-h"], capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def _slurm_skip_reason() -> str | None:
    if os.name != "posix" or os.geteuid() != 0:
        return ("no Slurm cluster answers (sinfo) and starting the local one needs root "
                "(slurmd runs the jobs)")
    missing = [b for b in ("munged", "slurmctld", "slurmd", "sbatch", "squeue", "sinfo")
               if shutil.which(b) is None and not Path("/usr/sbin", b).exists()]
    if missing:
        return ("Slurm/munge not installed (missing %s); apt-get install slurm-wlm munge"
                % ", ".join(missing))
    return None


@pytest.fixture(scope="session")
def slurm() -> SlurmCluster:
    if _cluster_answers():      # a cluster is there already (a login node, or the local one)
        conf = os.environ.get("SLURM_CONF", "")
        return SlurmCluster(conf=Path(conf), env=dict(_path_sh_env(), **({"SLURM_CONF": conf} if conf else {})))
    reason = _slurm_skip_reason()
    if reason:
        pytest.skip(reason)
    script = ROOT / "tests" / "slurm" / "start_slurm.sh"
    try:
        proc = subprocess.run(["bash", str(script), "--wait", "90"], capture_output=True,
                              text=True, timeout=180)
    except subprocess.TimeoutExpired:
        pytest.fail("tests/slurm/start_slurm.sh did not finish in 180 s")
    if proc.returncode != 0:
        pytest.fail("tests/slurm/start_slurm.sh failed (exit %d):\n%s%s"
                    % (proc.returncode, proc.stdout, proc.stderr))
    conf = None
    for line in proc.stdout.splitlines():
        if line.startswith("SLURM_CONF="):
            conf = Path(line.split("=", 1)[1])
    assert conf is not None and conf.is_file(), proc.stdout
    os.environ["SLURM_CONF"] = str(conf)   # for the whole session, like a real cluster
    env = _path_sh_env()
    env["SLURM_CONF"] = str(conf)
    return SlurmCluster(conf=conf, env=env)
