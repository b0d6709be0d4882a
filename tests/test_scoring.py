"""Embedding extraction and trial scoring end to end (steps/extract_embeddings.sh,
steps/score_trials.sh) on small synthetic data; paths with spaces."""
import itertools
import subprocess
import sys

import kaldiio
import numpy as np
import torch

from emorec.data.dataset import normalise
from synthetic_data import make_synthetic_datadir
from emorec.models import ResNetClassifier
from emorec.train import checkpoint

torch.set_num_threads(1)


def _trials(keys, path):
    with open(path, "w") as f:
        for a, b in itertools.combinations(keys, 2):
            f.write(f"{a} {b} {'target' if a.split('-')[0] == b.split('-')[0] else 'nontarget'}\n")


def test_extract_and_score_end_to_end(tmp_path, shell_env):
    root = shell_env["EMOREC_ROOT"]
    data = tmp_path / "test data"
    feats = make_synthetic_datadir(str(data), num_speakers=3, utts_per_speaker=4, min_frames=5,
                                   max_frames=120, dim=32, seed=2)
    keys = sorted(feats)
    _trials(keys, data / "trials")
    torch.manual_seed(0)
    m = ResNetClassifier(3, in_dim=32, blocks=[1, 1, 1, 1], channels=4, emb_dim=16).eval()
    model = tmp_path / "my model.pt"
    checkpoint.atomic_save({"format": checkpoint.FORMAT, "epoch": 1, "model": checkpoint.cpu_state_dict(m),
                            "model_args": m.args, "classes": ["a", "b", "c"], "config": {}, "family": "resnet"},
                           str(model))
    xv = tmp_path / "xvectors test"
    r = subprocess.run(["bash", "steps/extract_embeddings.sh", "--nj", "2", "--max-frames", "300",
                        str(model), str(data), str(xv)], cwd=root, env=shell_env, capture_output=True,
                       text=True, timeout=180)
    assert r.returncode == 0, r.stdout + r.stderr
    emb = {k: np.asarray(v) for k, v in kaldiio.load_scp(str(xv / "xvector.scp")).items()}
    assert sorted(emb) == keys
    assert (xv / "xvector.1.scp").exists() and (xv / "xvector.2.scp").exists()
    with torch.no_grad():                       # whole utterances, one at a time == batched job
        for k in keys:
            ref = m.extract(torch.from_numpy(normalise(feats[k]))[None])[0].numpy()
            np.testing.assert_allclose(emb[k], ref, rtol=1e-4, atol=1e-5)
    # rerun: made from the same model and features, skipped
    r = subprocess.run(["bash", "steps/extract_embeddings.sh", str(model), str(data), str(xv)],
                       cwd=root, env=shell_env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and "xvector.scp is up to date; skipping" in r.stderr

    out = tmp_path / "scores dir"
    r = subprocess.run(["bash", "steps/score_trials.sh", str(data / "trials"), str(xv / "xvector.scp"),
                        str(out)], cwd=root, env=shell_env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    lines = (out / "scores").read_text().splitlines()
    assert len(lines) == 66
    u1, u2, s = lines[0].split()
    unit = {k: v / np.linalg.norm(v) for k, v in emb.items()}
    assert abs(float(s) - float(unit[u1] @ unit[u2])) < 1e-5
    res = (out / "results.txt").read_text()
    assert "EER:" in res and "minDCF(p_target=0.01):" in res and "target 18, nontarget 48" in res
    # a rerun keeps results.txt (not older than the trials and the scp): the restart rule
    before = (out / "results.txt").stat().st_mtime_ns
    r = subprocess.run(["bash", "steps/score_trials.sh", str(data / "trials"), str(xv / "xvector.scp"),
                        str(out)], cwd=root, env=shell_env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and "skipping" in r.stderr and "EER:" in r.stdout
    assert (out / "results.txt").stat().st_mtime_ns == before


def test_score_trials_separable_embeddings_give_zero_eer(tmp_path, shell_env):
    rng = np.random.default_rng(0)
    emb = {f"s{s}-u{u}": np.eye(4)[s] + 0.01 * rng.normal(size=4) for s in range(4) for u in range(3)}
    kaldiio.save_ark(str(tmp_path / "e.ark"), {k: v.astype(np.float32) for k, v in emb.items()},
                     scp=str(tmp_path / "e.scp"))
    _trials(sorted(emb), tmp_path / "trials")
    r = subprocess.run([sys.executable, "-m", "emorec.bin.score_trials", "--trials", str(tmp_path / "trials"),
                        "--emb-scp", str(tmp_path / "e.scp"), "--out-dir", str(tmp_path / "o")],
                       env=shell_env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    res = (tmp_path / "o" / "results.txt").read_text()
    assert "EER: 0.00%" in res and "minDCF(p_target=0.01): 0.0000" in res
    # a trial list mostly about missing utterances is an error (> 5% missing)
    with open(tmp_path / "trials", "a") as f:
        f.writelines(f"x{i} y{i} target\n" for i in range(10))
    r = subprocess.run([sys.executable, "-m", "emorec.bin.score_trials", "--trials", str(tmp_path / "trials"),
                        "--emb-scp", str(tmp_path / "e.scp"), "--out-dir", str(tmp_path / "o2")],
                       env=shell_env, capture_output=True, text=True, timeout=60)
    assert r.returncode != 0 and "5%" in r.stderr
