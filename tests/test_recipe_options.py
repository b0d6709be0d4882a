"""egs/*/run.sh options: checked before any stage runs, --setup, --dry-run, --help.

Every case runs the real recipe script; "nothing written" compares the recipe
directories before and after (names and modification times).
"""
import os
import subprocess
import sys

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
    hf_cache.add("facebook/hubert-base-ls960")
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
    assert f"encoder facebook/hubert-base-ls960 (Hugging Face cache {hf_cache.path})" in stage["stage 4"]
    assert "of the config" not in out
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


EMO7 = ROOT / "egs" / "emo7"


def _corpus_args(tmp_path, recipe):
    if recipe == "iemocap":
        (tmp_path / "IEMOCAP").mkdir()
        return ["--iemocap-root", str(tmp_path / "IEMOCAP"), "--voxceleb-root", str(tmp_path)]
    args = []
    for opt in ("--crema-d", "--ravdess", "--savee", "--tess", "--iemocap"):
        (tmp_path / opt.strip("-")).mkdir()
        args += [opt, str(tmp_path / opt.strip("-"))]
    return args


IMAGENET = "model.pretrained_weights file 'imagenet' (model.pretrained_weights of conf/mobilenet_paper.yaml)"


@pytest.mark.parametrize("recipe_name, extra, missing", [
    ("iemocap", ["--text-source", "ref asr", "--asr-model", "openai/whisper-small"],
     ["text encoder 'bert-base-uncased' (model.encoder of conf/text_paper.yaml)",
      "encoder 'facebook/hubert-base-ls960' (model.encoder of conf/ssl_paper.yaml)",
      "encoder 'facebook/hubert-base-ls960' (model.encoder of conf/joint_paper.yaml)",
      "text encoder 'bert-base-uncased' (model.text_encoder of conf/joint_paper.yaml)",
      "ASR model 'openai/whisper-small' (--asr-model)"]),
    ("iemocap", ["--setup", "demo", "--ssl-model", "microsoft/wavlm-base-plus", "--stage", "4"],
     ["encoder 'microsoft/wavlm-base-plus' (--ssl-model)"]),
    ("emo7", [],
     ["text encoder 'bert-base-uncased' (model.encoder of conf/text_paper.yaml)",
      "encoder 'facebook/hubert-base-ls960' (model.encoder of conf/ssl_paper.yaml)",
      "encoder 'facebook/hubert-base-ls960' (model.encoder of conf/joint_paper.yaml)",
      "text encoder 'bert-base-uncased' (model.text_encoder of conf/joint_paper.yaml)",
      IMAGENET]),
    ("emo7", ["--text-source", "asr", "--asr-model", "openai/whisper-small", "--text-model", "my bert"],
     ["text encoder 'my bert' (--text-model)",
      "encoder 'facebook/hubert-base-ls960' (model.encoder of conf/ssl_paper.yaml)",
      "encoder 'facebook/hubert-base-ls960' (model.encoder of conf/joint_paper.yaml)",
      "ASR model 'openai/whisper-small' (--asr-model)", IMAGENET]),
])
@pytest.mark.parametrize("dry_run", ["true", "false"])
def test_preflight_names_every_missing_model(shell_env, tmp_path, recipe_name, extra, missing, dry_run):
    """With an empty Hugging Face cache (HF_HOME an empty dir) every pretrained model the setup
    would load is named, with where it was looked for and how to fetch it, before any work."""
    hf_home = tmp_path / "empty hf home"
    hf_home.mkdir()
    env = {k: v for k, v in shell_env.items() if not k.startswith("HF_HUB_CACHE")}
    env["HF_HOME"] = str(hf_home)
    env["TORCH_HOME"] = str(hf_home)  # an empty torch hub cache too (ImageNet weights)
    script = (IEMOCAP if recipe_name == "iemocap" else EMO7) / "run.sh"
    before = snapshot()
    r = subprocess.run([str(script), *_corpus_args(tmp_path, recipe_name), *extra, "--dry-run", dry_run],
                       capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode != 0
    errors = [ln for ln in r.stderr.splitlines() if ln.startswith("check_models: ERROR: ")]
    assert len(errors) == len(missing), r.stderr
    for want, line in zip(missing, errors):
        assert want + " not found" in line
        if want == IMAGENET:
            assert f"torch hub cache {hf_home / 'hub' / 'checkpoints'}" in line
        else:
            assert str(hf_home / "hub") in line and "huggingface-cli download" in line
    assert f"{len(missing)} of the {len(missing)} pretrained models this run loads are missing" in r.stderr
    assert "stage 0" not in r.stdout and "=== " not in r.stdout
    assert sorted(set(snapshot().items()) ^ set(before.items())) == []


def test_check_models_names_a_missing_weight_file(shell_env, tmp_path):
    """A config key ending in "weights" names a file (e.g. ImageNet weights of a CNN)."""
    conf = tmp_path / "cnn.yaml"
    conf.write_text(f"model:\n  imagenet_weights: {tmp_path / 'mobilenet.pt'}\n  channels: 4\n")
    cmd = [sys.executable, "-m", "emorec.bin.check_models", "--config", str(conf)]
    r = subprocess.run(cmd, capture_output=True, text=True, env=shell_env)
    assert r.returncode != 0
    assert f"model.imagenet_weights file '{tmp_path / 'mobilenet.pt'}' (model.imagenet_weights of {conf})" \
        " not found: no such file" in r.stderr
    (tmp_path / "mobilenet.pt").write_bytes(b"x")
    r = subprocess.run(cmd, capture_output=True, text=True, env=shell_env)
    assert r.returncode == 0 and f"file {tmp_path / 'mobilenet.pt'}" in r.stdout


def test_one_cmd_sh_for_a_recipe_and_the_recipes_it_runs(recipe, tmp_path, shell_env):
    """egs/iemocap stage 2 runs ../voxceleb/run.sh: the job runners (and the slurm.conf) are
    those of the cmd.sh of the recipe started, whatever the called recipe's cmd.sh says."""
    r = recipe(IEMOCAP / "run.sh", "--dry-run", "true", "--stop-stage", "2")
    assert r.returncode == 0, r.stderr
    jobs = [ln.strip() for ln in r.stdout.splitlines() if ln.strip().startswith("jobs: ")]
    assert jobs == [f'jobs: train_cmd="run.pl" cuda_cmd="run.pl --gpu 1" (set by {IEMOCAP}/cmd.sh)'] * 2
    # the cluster example of a caller's cmd.sh, then the called recipe's own cmd.sh
    caller = tmp_path / "my recipe"
    caller.mkdir()
    text = (IEMOCAP / "cmd.sh").read_text()
    assert 'export cuda_cmd="slurm.pl --gpu 1 --require-gpu true"' in text
    (caller / "cmd.sh").write_text(text.replace('"run.pl"', '"slurm.pl"')
                                   .replace('"run.pl --gpu 1"', '"slurm.pl --gpu 1 --require-gpu true"'))
    out = subprocess.run(["bash", "-c", f'cd "{caller}" && . ./cmd.sh && cd "{VOXCELEB}" && . ./cmd.sh && '
                          'echo "$train_cmd|$cuda_cmd|$EMOREC_SLURM_CONF"'],
                         capture_output=True, text=True, env=shell_env).stdout
    assert out == f"slurm.pl|slurm.pl --gpu 1 --require-gpu true|{caller}/conf/slurm.conf\n"
