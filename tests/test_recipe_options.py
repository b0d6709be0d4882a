"""egs/*/run.sh options: checked before any stage runs, --setup, --dry-run, --help.

Every case runs the real recipe script; "nothing written" compares the recipe
directories before and after (names and modification times).
"""
import os
import subprocess

import pytest

from conftest import ROOT

IEMOCAP = ROOT / "egs" / "iemocap"
VOXCELEB = ROOT / "egs" / "voxceleb"


def snapshot():
    out = {}
    for recipe in (IEMOCAP, VOXCELEB):
        for dirpath, dirnames, filenames in os.walk(recipe, followlinks=False):
            dirnames[:] = [d for d in dirnames if not os.path.islink(os.path.join(dirpath, d))]
            for n in filenames + dirnames:
                p = os.path.join(dirpath, n)
                out[p] = os.lstat(p).st_mtime_ns
    return out


@pytest.fixture
def hf_cache(tmp_path):
    """An empty Hugging Face cache; .add(name) puts a snapshot of NAME in it."""
    class Cache:
        path = tmp_path / "hf cache" / "hub"

        def add(self, name):
            snap = self.path / f"models--{name.replace('/', '--')}" / "snapshots" / "0123abc"
            snap.mkdir(parents=True)
            (snap / "config.json").write_text("{}\n")
    Cache.path.mkdir(parents=True)
    return Cache()


@pytest.fixture
def recipe(shell_env, hf_cache):
    def run(script, *args):
        env = dict(shell_env, HF_HUB_CACHE=str(hf_cache.path))
        before = snapshot()
        r = subprocess.run([str(script), *args], capture_output=True, text=True, env=env, timeout=120)
        r.wrote = sorted(set(snapshot().items()) ^ set(before.items()))
        return r
    return run


@pytest.mark.parametrize("args, message", [
    (["--ser-modes", "probe", "finetune", "--stage", "6", "--stop-stage", "6"], "unexpected argument 'finetune'"),
    (["positional"], "unexpected argument 'positional'"),
    (["--stage=abc"], "option --stage: expected an integer, got 'abc'"),
    (["--stop-stage", "6x"], "option --stop-stage: expected an integer, got '6x'"),
    (["--exp-set", "4"], "--exp-set '4': expected one of: 1 2 3"),
    (["--setup", "papr"], "--setup 'papr': expected one of: paper demo"),
    (["--ser-modes", "probe tune"], "'tune' is not one of: scratch probe finetune"),
    (["--dry-run", "yes"], "expected 'true' or 'false', got 'yes'"),
    (["--no-such-option", "1"], "invalid option --no-such-option"),
    (["--iemocap-root", "/nonexistent/IEMOCAP"], "--iemocap-root /nonexistent/IEMOCAP: no such directory"),
    (["--stage", "3", "--stop-stage", "1"], "--stage 3 is after --stop-stage 1: no stage would run"),
])
def test_iemocap_bad_options_fail_before_any_work(recipe, args, message):
    r = recipe(IEMOCAP / "run.sh", *args)
    assert r.returncode != 0
    assert message in r.stderr.strip().splitlines()[-1], r.stderr   # last: the header does not hide it
    assert "=== " not in r.stdout            # no stage banner: no stage started
    assert r.wrote == []


@pytest.mark.parametrize("args, message", [
    (["--setup", "both"], "--setup 'both': expected one of: paper demo"),
    (["--num-avg", "three"], "expected an integer, got 'three'"),
    (["stage3"], "unexpected argument 'stage3'"),
])
def test_voxceleb_bad_options_fail_before_any_work(recipe, args, message):
    r = recipe(VOXCELEB / "run.sh", *args)
    assert r.returncode != 0 and message in r.stderr, r.stderr
    assert r.wrote == []


def test_help_lists_every_option_with_its_default(recipe):
    r = recipe(IEMOCAP / "run.sh", "--help")
    assert r.returncode == 0, r.stderr
    assert "stage 4: BERT text models per fold" in r.stdout      # the header
    lines = r.stdout.splitlines()
    for opt, default in [("--stage", "0"), ("--stop-stage", "6"), ("--setup", ""), ("--ngpu", "1"),
                         ("--exp-set", "3"), ("--ser-modes", "finetune probe scratch"), ("--dry-run", "false"),
                         ("--text-model", ""), ("--seed", "777")]:
        assert any(ln.split()[:1] == [opt] and ln.endswith(f"[{default}]") for ln in lines), (opt, r.stdout)
    assert "--train-cmd" not in r.stdout        # cmd.sh's exported settings are not options
    text_source = next(ln for ln in lines if ln.startswith("  --text-source "))
    assert "(--asr-model's: what exists at use time; systems named *_asr" in text_source   # whole
    assert "$exp" not in r.stdout
    assert r.wrote == []


def test_iemocap_paper_dry_run_names_every_paper_config(recipe, hf_cache, tmp_path):
    hf_cache.add("bert-base-uncased")
    iemocap = tmp_path / "corpora" / "IEMOCAP full release"
    vox1 = tmp_path / "corpora" / "VoxCeleb1"
    iemocap.mkdir(parents=True)
    vox1.mkdir(parents=True)
    r = recipe(IEMOCAP / "run.sh", "--iemocap-root", str(iemocap), "--voxceleb-root", str(vox1),
               "--dry-run", "true", "--stop-stage", "7")
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert "setup paper" in out                           # the default with a corpus root
    stage = {ln.split(":")[0].strip(): ln for ln in out.splitlines() if ln.startswith("stage ")}
    assert str(iemocap) in stage["stage 0"]
    assert "../voxceleb/exp/resnet_paper/avg_model.pt" in stage["stage 2"]
    assert f"VoxCeleb1 {vox1}" in out and "config conf/train_paper.yaml" in out and "-> exp/resnet_paper" in out
    assert "config conf/ser_paper.yaml" in stage["stage 3"]
    assert "config conf/text_paper.yaml" in stage["stage 4"]
    assert f"encoder bert-base-uncased (Hugging Face cache {hf_cache.path})" in stage["stage 4"]
    assert "conf/ser_paper.yaml" in stage["stage 7"]
    assert "demo" not in out.replace("--dry-run", "")
    assert r.wrote == []


def test_iemocap_demo_dry_run(recipe):
    r = recipe(IEMOCAP / "run.sh", "--dry-run", "true")
    assert r.returncode == 0, r.stderr
    assert "setup demo" in r.stdout and "conf/ser_demo.yaml" in r.stdout and "conf/train_demo.yaml" in r.stdout
    assert "encoder built per fold" in r.stdout
    assert r.wrote == []


def test_missing_text_encoder_fails_naming_it(recipe, hf_cache, tmp_path, shell_env):
    iemocap = tmp_path / "IEMOCAP"
    iemocap.mkdir()
    r = recipe(IEMOCAP / "run.sh", "--iemocap-root", str(iemocap), "--speaker-model", str(IEMOCAP / "run.sh"))
    assert r.returncode != 0
    assert "text encoder 'bert-base-uncased' (model.encoder of conf/text_paper.yaml) not found" in r.stderr
    assert str(hf_cache.path) in r.stderr and "models--bert-base-uncased" in r.stderr
    assert r.wrote == []
    # the step itself, as the issue ran it: the config's encoder is used, never the demo BERT
    env = dict(shell_env, HF_HUB_CACHE=str(hf_cache.path))
    s = subprocess.run([str(ROOT / "steps/train_text.sh"), "--train-config", str(IEMOCAP / "conf/text_paper.yaml"),
                        str(tmp_path / "loso"), str(tmp_path / "exp")], capture_output=True, text=True, env=env)
    assert s.returncode != 0 and "text encoder 'bert-base-uncased'" in s.stderr
    assert not (tmp_path / "exp").exists()
    s = subprocess.run([str(ROOT / "steps/train_text.sh"), "--text-model", str(tmp_path / "my bert"),
                        "--train-config", str(IEMOCAP / "conf/text_demo.yaml"),
                        str(tmp_path / "loso"), str(tmp_path / "exp")], capture_output=True, text=True, env=env)
    assert s.returncode != 0 and f"text encoder '{tmp_path / 'my bert'}' (--text-model) not found" in s.stderr


def test_real_iemocap_needs_a_speaker_model_source(recipe, tmp_path):
    r = recipe(IEMOCAP / "run.sh", "--iemocap-root", str(tmp_path), "--stage", "5")
    assert r.returncode != 0 and "--voxceleb-root DIR" in r.stderr and "--speaker-model CKPT" in r.stderr
    assert r.wrote == []
