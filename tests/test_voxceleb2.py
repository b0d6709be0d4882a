"""VoxCeleb1 + VoxCeleb2 dev through the voxceleb recipe's data and feature stages.

Tiny trees in the real layouts: VoxCeleb1 wavs (wav/idXXXXX/<video>/NNNNN.wav, the cleaned
Vox1-O and Vox1-E lists) and VoxCeleb2 m4a made with ffmpeg (dev/aac/... and a test/aac/
that must stay out). The recipe (a copy of egs/voxceleb with the toolkit's
steps/utils/local) runs stages 0-1 for real; then the cleaned Vox1-O trials are scored
with steps/score_trials.sh on mean-filterbank embeddings (a stand-in for the trained
ResNet, which the recipe tests elsewhere train).
"""
import os
import shutil
import subprocess

import kaldiio
import numpy as np
import pytest
import soundfile as sf

from conftest import ROOT, _path_sh_env
from emorec.fileio import read_kv

pytestmark = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg not installed")

VOX1 = {"id10270": ["x6uYqmx31kE", "8jEAjG6SegY"], "id10271": ["-a_b-cd1234"], "id10300": ["zzzzzzzzzzz"]}
VOX2_DEV = {"id00012": ["21Uxsk56VDQ", "_abc-DEF12"], "id00015": ["0fijmz4vTVU"]}
VOX2_TEST = {"id09999": ["testvideo01"]}


def tone(seconds, freq, seed):
    rng = np.random.default_rng(seed)
    t = np.arange(int(16000 * seconds)) / 16000
    return (0.3 * np.sin(2 * np.pi * freq * t) + 0.05 * rng.standard_normal(t.size)).astype(np.float32)


@pytest.fixture(scope="module")
def corpora(tmp_path_factory):
    top = tmp_path_factory.mktemp("corpora")
    vox1, vox2 = top / "Vox Celeb1", top / "VoxCeleb2"
    seed = 0
    for spk, videos in VOX1.items():
        for v in videos:
            for n in (1, 2):
                p = vox1 / "wav" / spk / v / f"{n:05d}.wav"
                p.parent.mkdir(parents=True, exist_ok=True)
                seed += 1
                sf.write(p, tone(1.0, 100 + 40 * int(spk[-2:]), seed), 16000)
    (vox1 / "veri_test2.txt").write_text(
        "1 id10270/x6uYqmx31kE/00001.wav id10270/8jEAjG6SegY/00002.wav\n"
        "0 id10270/x6uYqmx31kE/00002.wav id10271/-a_b-cd1234/00001.wav\n"
        "1 id10271/-a_b-cd1234/00001.wav id10271/-a_b-cd1234/00002.wav\n"
        "0 id10271/-a_b-cd1234/00002.wav id10270/8jEAjG6SegY/00001.wav\n")
    (vox1 / "list_test_all2.txt").write_text(      # Vox1-E: all of VoxCeleb1
        "1 id10300/zzzzzzzzzzz/00001.wav id10300/zzzzzzzzzzz/00002.wav\n"
        "0 id10300/zzzzzzzzzzz/00001.wav id10270/x6uYqmx31kE/00001.wav\n")
    for sub, spks in (("dev/aac", VOX2_DEV), ("test/aac", VOX2_TEST)):
        for spk, videos in spks.items():
            for v in videos:
                for n in (1, 2):
                    p = vox2 / sub / spk / v / f"{n:05d}.m4a"
                    p.parent.mkdir(parents=True, exist_ok=True)
                    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i",
                                    f"sine=frequency={200 + 30 * n}:duration=1.2:sample_rate=44100",
                                    "-c:a", "aac", "-ac", "2", str(p)], check=True)
    return vox1, vox2


@pytest.fixture(scope="module")
def recipe(corpora, tmp_path_factory):
    """A copy of egs/voxceleb (its own data/ and exp/), stages 0-1 run on the corpora."""
    vox1, vox2 = corpora
    r = tmp_path_factory.mktemp("recipe") / "voxceleb"
    r.mkdir()
    for name in ("run.sh", "cmd.sh", "path.sh"):
        shutil.copy2(ROOT / "egs/voxceleb" / name, r / name)
    shutil.copytree(ROOT / "egs/voxceleb/conf", r / "conf")
    for name in ("steps", "utils", "local"):
        os.symlink(ROOT / name, r / name)
    env = _path_sh_env()
    p = subprocess.run([str(r / "run.sh"), "--nj", "2", "--stop-stage", "1", "--voxceleb-root", str(vox1),
                        "--voxceleb2-root", str(vox2)], capture_output=True, text=True, env=env, timeout=600)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    p.data = r / "data"
    return p


def test_voxceleb2_m4a_prep(recipe):
    d = recipe.data / "voxceleb2_dev"
    wav = read_kv(d / "wav.scp")
    assert sorted(set(read_kv(d / "utt2spk").values())) == ["id00012", "id00015"]   # dev only
    assert len(wav) == 6
    rx = wav["id00012-_abc-DEF12-00002"]
    assert rx.startswith("ffmpeg ") and rx.endswith("|") and "dev/aac/id00012/_abc-DEF12/00002.m4a" in rx
    assert "setup paper" in recipe.stdout and "=== " in recipe.stdout       # banners per stage


def test_features_of_m4a_and_combined_training_set(recipe):
    feats = kaldiio.load_scp(str(recipe.data / "voxceleb2_dev" / "feats.scp"))
    m = feats["id00015-0fijmz4vTVU-00001"]
    assert m.shape[1] == 128 and 110 <= m.shape[0] <= 120          # 1.2 s at 10 ms
    train = read_kv(recipe.data / "voxceleb1_2_train" / "utt2spk")
    assert sorted(set(train.values())) == ["id00012", "id00015", "id10300"]   # Vox1-O speakers out
    assert len(read_kv(recipe.data / "voxceleb1_2_train" / "feats.scp")) == len(train) == 8
    test = set(read_kv(recipe.data / "voxceleb_test" / "utt2spk").values())
    assert test == {"id10270", "id10271"}
    assert len(read_kv(recipe.data / "voxceleb1_all" / "feats.scp")) == 8      # for Vox1-E
    assert len((recipe.data / "vox1_e" / "trials").read_text().splitlines()) == 2


def test_vox1_o_cleaned_trials_scored(recipe, shell_env, tmp_path):
    test = recipe.data / "voxceleb_test"
    emb = tmp_path / "emb"
    with kaldiio.WriteHelper(f"ark,scp:{emb}.ark,{emb}.scp") as w:
        for utt, m in kaldiio.load_scp_sequential(str(test / "feats.scp")):
            w(utt, m.mean(axis=0))
    out = tmp_path / "scores vox1_o"
    p = subprocess.run([str(ROOT / "steps/score_trials.sh"), str(test / "trials"), f"{emb}.scp", str(out)],
                       capture_output=True, text=True, env=shell_env)
    assert p.returncode == 0, p.stderr
    res = (out / "results.txt").read_text()
    assert "trials: 4" in res and "EER:" in res
    assert len((out / "scores").read_text().splitlines()) == 4


def test_results_one_section_per_experiment(tmp_path, shell_env):
    """The parameter count comes from the checkpoint: a rerun that finds the model up to
    date has rewritten the training log with one line (the main job's rerun once stopped
    here, silently)."""
    import torch

    from emorec.models.resnet import count_parameters
    from emorec.train.families import family_class

    exp = tmp_path / "exp" / "resnet_demo"
    (exp / "log").mkdir(parents=True)
    (exp / "log" / "train.log").write_text("LOG: train: exp/resnet_demo/final.pt is up to date; skipping\n")
    args = {"blocks": [1, 1, 1, 1], "channels": 4, "emb_dim": 8, "in_dim": 16, "num_classes": 3, "pooling": "stats"}
    model = family_class("resnet").build_from_args(args)
    torch.save({"family": "resnet", "model_args": args, "model": model.state_dict(), "epoch": 2},
               exp / "avg_model.pt")
    n_params = count_parameters(model)
    data = tmp_path / "data"
    data.mkdir()
    (data / "spk2utt").write_text("a a-1\nb b-1\n")
    scores = tmp_path / "scores"
    scores.mkdir()
    out = tmp_path / "RESULTS.md"

    def write(setup, eer, command):
        (scores / "results.txt").write_text(f"trials: 10 (target 5, nontarget 5, skipped 0)\nEER: {eer}\nminDCF(p_target=0.01): 0.5000\n")
        subprocess.run([str(ROOT / "local/voxceleb_results.sh"), "--setup", setup, "--corpus", "demo",
                        "--command", command, str(exp / "avg_model.pt"), "conf/x.yaml", str(data), str(out),
                        f"Vox1-O (cleaned)={scores}"], check=True, capture_output=True, env=shell_env)
        return out.read_text()

    write("demo", "5.00%", "./run.sh --seed 1")
    write("paper", "2.00%", "./run.sh --voxceleb-root /c/Vox\\ 1")
    md = write("demo", "4.00%", "./run.sh --seed 2")      # replaces its own section only
    assert md.count("## setup demo, corpus demo") == 1 and md.count("## setup paper, corpus demo") == 1
    assert "4.00%" in md and "5.00%" not in md and "2.00%" in md
    assert "    ./run.sh --voxceleb-root /c/Vox\\ 1" in md    # quoted as run, pasteable
    assert f"| {n_params} | 10 | 4.00% | 0.5000 |" in md
