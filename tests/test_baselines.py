"""Classical baselines of paper 004: selection on valid only, scores in the toolkit's
score format, and the steps/train_baselines.sh job array."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import kaldiio
import numpy as np
import pytest
import yaml

from emorec import metrics
from emorec.baselines import CLASSIFIERS, PROB_FLOOR, grid_points, log_posteriors, select_on_valid
from emorec.bin import train_baselines
from emorec.fileio import read_scores

CONFIG = Path(__file__).resolve().parent.parent / "egs" / "emo7" / "conf" / "baselines.yaml"
CLASSES = ["angry", "calm", "happy", "sad"]


def blobs(n_per_class, classes, seed, dim=6, spread=0.6):
    """Separable Gaussian blobs, one per class (centres fixed across calls)."""
    rng = np.random.default_rng(seed)
    centres = np.random.default_rng(123).normal(0, 3, size=(len(CLASSES), dim))
    x, y = [], []
    for c in classes:
        k = CLASSES.index(c)
        x.append(centres[k] + spread * rng.standard_normal((n_per_class, dim)))
        y += [k] * n_per_class
    return np.concatenate(x), np.array(y)


@pytest.mark.parametrize("name", sorted(CLASSIFIERS))
def test_every_classifier_beats_chance_on_separable_data(name):
    config = yaml.safe_load(CONFIG.read_text())
    x_tr, y_tr = blobs(30, CLASSES, seed=1)
    x_va, y_va = blobs(10, CLASSES, seed=2)
    x_te, y_te = blobs(10, CLASSES, seed=3)
    sel = select_on_valid(name, config[name], x_tr, y_tr, x_va, y_va, len(CLASSES), seed=0)
    logp = log_posteriors(sel.model, sel.present, x_te, len(CLASSES))
    assert logp.shape == (40, 4)
    np.testing.assert_allclose(np.exp(logp).sum(1), 1.0, atol=1e-6)
    ua = metrics.unweighted_accuracy(y_te, logp.argmax(1), 4)
    assert ua > 0.8, f"{name}: test UA {ua} on separable blobs (chance 0.25)"
    assert len(sel.grid_ua) == len(grid_points(config[name])) and sel.valid_ua == max(sel.grid_ua)


def knn_trap():
    """1-D data where k=1 is right on valid and k=5 on test: a lone 'calm' training point
    at 2.5 inside the 'angry' region decides k=1 alone."""
    x_tr = np.array([0, 1, 2, 3, 4, 2.5, 10, 11, 12, 13, 14], dtype=float)[:, None]
    y_tr = np.array([0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1])
    x_probe = np.array([[2.45], [1.0], [12.0]])
    y_valid = np.array([1, 0, 1])   # the probe at 2.45 is 'calm' in valid ...
    y_test = np.array([0, 0, 1])    # ... and 'angry' in test
    return x_tr, y_tr, x_probe, y_valid, y_test


def test_knn_k_is_chosen_on_valid_not_test():
    x_tr, y_tr, x_probe, y_valid, y_test = knn_trap()
    spec = {"grid": {"n_neighbors": [5, 1]}}
    sel = select_on_valid("knn", spec, x_tr, y_tr, x_probe, y_valid, 2, seed=0)
    assert sel.params == {"n_neighbors": 1}
    assert sel.grid_ua == [0.75, 1.0] and sel.valid_ua == 1.0
    pred = log_posteriors(sel.model, sel.present, x_probe, 2).argmax(1)
    # the chosen k=1 is worse on test than k=5 would have been: test took no part
    assert metrics.weighted_accuracy(y_test, pred) == pytest.approx(2 / 3)
    k5 = select_on_valid("knn", {"grid": {"n_neighbors": [5]}}, x_tr, y_tr, x_probe, y_valid, 2, seed=0)
    assert metrics.weighted_accuracy(y_test, log_posteriors(k5.model, k5.present, x_probe, 2).argmax(1)) == 1.0


def write_part(d: Path, utts, x, y, vectors: dict):
    d.mkdir(parents=True, exist_ok=True)
    (d / "utt2emo").write_text("".join(f"{u} {CLASSES[k]}\n" for u, k in sorted(zip(utts, y))))
    (d / "utt2spk").write_text("".join(f"{u} {u.split('-')[0]}\n" for u in sorted(utts)))
    vectors.update({u: v.astype(np.float32) for u, v in zip(utts, x)})


def make_split(root: Path, split: str, vectors: dict, train_classes=CLASSES, seed=0):
    for offset, (part, n, cls) in enumerate((("train", 20, train_classes), ("valid", 6, CLASSES),
                                             ("test", 6, CLASSES))):
        x, y = blobs(n, cls, seed=seed + offset)
        utts = [f"s{i % 3}-{split.replace('/', '_')}-{part}-{i:03d}" for i in range(len(y))]
        write_part(root / split / part, utts, x, y, vectors)


def test_train_baselines_writes_the_score_format(tmp_path):
    vectors = {}
    make_split(tmp_path / "data", "strat", vectors)
    scp = tmp_path / "vec" / "handcrafted.scp"
    scp.parent.mkdir()
    kaldiio.save_ark(str(tmp_path / "vec" / "v.ark"), vectors, scp=str(scp))
    exp = tmp_path / "exp"
    argv = ["--config", str(CONFIG), "--vectors", str(scp), "--classifiers", "knn naive_bayes",
            "--skip-done", str(tmp_path / "data"), "strat", str(exp)]
    assert train_baselines.main(argv) == 0
    for clf in ("knn", "naive_bayes"):
        out = exp / clf / "strat"
        for part in ("valid", "test"):
            sc = read_scores(out / f"{part}.logpost.ark")
            assert sc.classes == CLASSES
            labelled = [line.split()[0] for line in (tmp_path / "data/strat" / part / "utt2emo").open()]
            assert sc.utts == sorted(labelled)
            np.testing.assert_allclose(np.exp(sc.mat).sum(1), 1.0, atol=1e-5)
        rec = yaml.safe_load((out / "selected.yaml").read_text())
        assert rec["classifier"] == clf and 0 <= rec["valid_ua"] <= 1
    assert yaml.safe_load((exp / "knn/strat/selected.yaml").read_text())["params"]["n_neighbors"] in \
        yaml.safe_load(CONFIG.read_text())["knn"]["grid"]["n_neighbors"]
    # a rerun with the same inputs trains nothing
    stamp = (exp / "knn/strat/test.logpost.ark").stat().st_mtime_ns
    assert train_baselines.main(argv) == 0
    assert (exp / "knn/strat/test.logpost.ark").stat().st_mtime_ns == stamp


def test_class_absent_from_train_gets_the_floor(tmp_path):
    """Leave-one-corpus-out: the held-out corpus can own a class (RAVDESS's calm)."""
    vectors = {}
    make_split(tmp_path / "data", "loco/ravdess", vectors, train_classes=["angry", "happy", "sad"])
    scp = tmp_path / "v.scp"
    kaldiio.save_ark(str(tmp_path / "v.ark"), vectors, scp=str(scp))
    assert train_baselines.main(["--config", str(CONFIG), "--vectors", str(scp), "--classifiers", "logreg",
                                 "--classes", " ".join(CLASSES), str(tmp_path / "data"), "loco/ravdess",
                                 str(tmp_path / "exp")]) == 0
    sc = read_scores(tmp_path / "exp/logreg/loco/ravdess/test.logpost.ark")
    assert np.allclose(sc.mat[:, CLASSES.index("calm")], np.log(PROB_FLOOR))


def test_missing_vectors_follow_the_5_percent_rule(tmp_path, capsys):
    vectors = {}
    make_split(tmp_path / "data", "spk", vectors)
    dropped = sorted(u for u in vectors if "-test-" in u)[:2]   # 2 of 24 test utterances
    for u in dropped:
        del vectors[u]
    scp = tmp_path / "v.scp"
    kaldiio.save_ark(str(tmp_path / "v.ark"), vectors, scp=str(scp))
    argv = ["--config", str(CONFIG), "--vectors", str(scp), "--classifiers", "naive_bayes",
            str(tmp_path / "data"), "spk", str(tmp_path / "exp")]
    assert train_baselines.main(argv) == 1
    err = capsys.readouterr().err
    assert "2 of 24 utterances of" in err and dropped[0] in err and "more than 5%" in err
    assert not (tmp_path / "exp/naive_bayes/spk/test.logpost.ark").exists()


def add_augmented(split_dir: Path, fs: str, seed: int):
    """train_aug = train + one copy of each training utterance ('<utt>-aug1', same id in
    every split but other values), its vectors in SPLIT/augmented/<fs>.scp."""
    train = split_dir / "train"
    lines = train.joinpath("utt2emo").read_text().splitlines()
    rng = np.random.default_rng(seed)
    copies = {f"{line.split()[0]}-aug1": rng.normal(size=6).astype(np.float32) for line in lines}
    aug = split_dir / "train_aug"
    aug.mkdir()
    extra = [f"{line.split()[0]}-aug1 {line.split()[1]}" for line in lines]
    aug.joinpath("utt2emo").write_text("".join(f"{x}\n" for x in sorted(lines + extra)))
    (split_dir / "augmented").mkdir()
    kaldiio.save_ark(str(split_dir / "augmented" / f"{fs}.ark"), copies,
                     scp=str(split_dir / "augmented" / f"{fs}.scp"))
    return copies


def test_train_baselines_step_runs_every_feature_set_and_split(tmp_path, shell_env, emorec_root):
    root = tmp_path / "my data"
    vec_dir = root / "all"
    for fs, seed in (("handcrafted", 0), ("egemaps", 50)):
        vectors = {}
        for split in ("strat", "loco/a", "loco/b"):
            make_split(root, split, vectors, seed=seed)
        vec_dir.mkdir(parents=True, exist_ok=True)
        kaldiio.save_ark(str(vec_dir / f"{fs}.ark"), vectors, scp=str(vec_dir / f"{fs}.scp"))
    for k, split in enumerate(("strat", "loco/a", "loco/b")):
        add_augmented(root / split, "handcrafted", seed=k)
    exp = tmp_path / "exp dir"
    cmd = ["bash", str(emorec_root / "steps/train_baselines.sh"), "--classifiers", "knn logreg",
           "--splits", "strat loco/a loco/b", "--vector-dirs", "all", "--feature-sets", "handcrafted",
           "--split-vector-dirs", "augmented", "--train-name", "train_aug",
           "--baseline-config", str(CONFIG), str(root), str(exp)]
    r = subprocess.run(cmd, env=shell_env, capture_output=True, text=True, cwd=root)
    assert r.returncode == 0, r.stdout + r.stderr
    for clf in ("knn", "logreg"):
        for split in ("strat", "loco/a", "loco/b"):
            assert (exp / "handcrafted" / clf / split / "test.logpost.ark").is_file()
    logs = sorted((exp / "handcrafted" / "log").glob("train_baselines.*.log"))
    assert len(logs) == 3 and all("# Ended (code 0)" in p.read_text() for p in logs)
    assert "train 160 (train_aug)" in logs[0].read_text()
    # a vector scp that repeats an utterance of another one is an error, not an override
    r = subprocess.run(cmd[:-2] + ["--vector-dirs", "all all", str(root), str(exp)],
                       env=shell_env, capture_output=True, text=True, cwd=root)
    assert r.returncode != 0
    assert "also has a vector in" in logs[0].read_text()


def test_report_names_the_corpus_and_labels_the_paper_column(tmp_path):
    from emorec.bin import report_baselines

    data = tmp_path / "data"
    for fs, seed in (("handcrafted", 0), ("egemaps", 50)):
        vectors = {}
        for split in ("strat", "loco/a", "loco/b"):
            make_split(data, split, vectors, seed=seed)
        kaldiio.save_ark(str(tmp_path / f"{fs}.ark"), vectors, scp=str(tmp_path / f"{fs}.scp"))
        for split in ("strat", "loco/a", "loco/b"):
            assert train_baselines.main(["--config", str(CONFIG), "--vectors", str(tmp_path / f"{fs}.scp"),
                                         "--classifiers", "knn naive_bayes", "--classes", " ".join(CLASSES),
                                         str(data), split, str(tmp_path / "exp" / fs)]) == 0
    for part in data.glob("**/utt2emo"):
        corpus = "cremad" if "loco/a" in str(part) else "tess"
        (part.parent / "utt2corpus").write_text("".join(f"{line.split()[0]} {corpus}\n"
                                                        for line in part.read_text().splitlines()))
    out = tmp_path / "RESULTS.md"
    common = ["--data", str(data), "--protocols", "strat loco", "--classifiers", "knn naive_bayes",
              "--paper-table", str(CONFIG.parent / "paper004_table6.tsv"),
              str(tmp_path / "exp"), str(out)]
    roots = tmp_path / "corpus_roots"   # as the data preps record them
    roots.write_text("cremad demo /x/demo/CREMA-D\ntess demo /x/demo/TESS\n")
    assert report_baselines.main(["--corpus-roots", str(roots)] + common) == 0
    md = out.read_text()
    assert "- corpus: DEMO (synthetic, not the real corpus): cremad /x/demo/CREMA-D, tess /x/demo/TESS" in md
    assert "**Not comparable**" in md
    strat, loco = md.split("## Leave one corpus out")[0], md.split("## Leave one corpus out")[1]
    assert "62.94" in strat and "56.72" in strat and "62.94" not in loco     # paper: strat only
    assert "| `knn` |" in strat and "| `naive_bayes` |" in loco and " ± " in loco
    # the best system is the highest validation UA, never the highest test UA
    vua = {(fs, clf): np.mean([yaml.safe_load((tmp_path / "exp" / fs / clf / f / "selected.yaml").read_text())
                               ["valid_ua"] for f in ("loco/a", "loco/b")])
           for fs in ("handcrafted", "egemaps") for clf in ("knn", "naive_bayes")}
    fs, clf = max(vua, key=vua.get)
    assert f"Best by validation UA: `{fs}/{clf}`" in loco
    pngs = sorted((tmp_path / "plots").glob("confusion_*.png"))
    assert len(pngs) == 2 and all(p.stat().st_size > 1000 for p in pngs)
    assert "tess" in md and f"`{data / 'loco'}`: utterances per part" in md    # the counts tables
    assert "| a | 80 | 24 | 24 |" in md
    roots.write_text("cremad real /data/CREMA-D\ntess real /data/TESS\n")
    assert report_baselines.main(["--corpus-roots", str(roots)] + common) == 0
    assert "Not comparable" not in out.read_text() and "- corpus: real: cremad /data/CREMA-D" in out.read_text()


def test_a_split_whose_train_aug_needs_no_copies_trains_on_train(tmp_path, shell_env, emorec_root):
    """Issue 10: a protocol whose training part is balanced already gets a train_aug without
    augmented copies (utt2orig maps each utterance to itself) and no augmented/ vectors; the
    step trains that split on its train part, and the other splits on their train_aug."""
    root = tmp_path / "data"
    vectors = {}
    for split in ("strat", "spk"):
        make_split(root, split, vectors)
    (root / "all").mkdir()
    kaldiio.save_ark(str(root / "all" / "handcrafted.ark"), vectors, scp=str(root / "all" / "handcrafted.scp"))
    add_augmented(root / "strat", "handcrafted", seed=0)
    shutil.copytree(root / "spk" / "train", root / "spk" / "train_aug")
    utts = [line.split()[0] for line in (root / "spk/train/utt2emo").read_text().splitlines()]
    (root / "spk/train_aug/utt2orig").write_text("".join(f"{u} {u}\n" for u in utts))
    exp = tmp_path / "exp"
    cmd = ["bash", str(emorec_root / "steps/train_baselines.sh"), "--classifiers", "logreg",
           "--splits", "strat spk", "--vector-dirs", "all", "--feature-sets", "handcrafted",
           "--split-vector-dirs", "augmented", "--train-name", "train_aug",
           "--baseline-config", str(CONFIG), str(root), str(exp)]
    r = subprocess.run(cmd, env=shell_env, capture_output=True, text=True, cwd=root)
    assert r.returncode == 0, r.stdout + r.stderr
    for split in ("strat", "spk"):
        assert (exp / "handcrafted/logreg" / split / "test.logpost.ark").is_file()
    strat_log, spk_log = ((exp / "handcrafted/log" / f"train_baselines.{k}.log").read_text() for k in (1, 2))
    assert "train 160 (train_aug)" in strat_log
    assert "holds no augmented copies" in spk_log and "train 80 (train)" in spk_log
    # a split WITH copies still needs their vectors: the missing scp is named
    (root / "strat/augmented/handcrafted.scp").unlink()
    shutil.rmtree(exp)
    r = subprocess.run(cmd, env=shell_env, capture_output=True, text=True, cwd=root)
    assert r.returncode != 0
    assert "augmented/handcrafted.scp: no such vector scp" in r.stderr


def test_report_table8_seeds_significance_ceiling_and_overlap(tmp_path):
    """Table 8 systems with two seeds: mean ± std over seeds, UA before WA, paired tests at
    the utterance and speaker level; the UA ceiling of a protocol whose training part lacks
    a class; the transcript-overlap table."""
    import json

    from emorec.bin import report_baselines
    from emorec.fileio import write_scores

    data, vectors = tmp_path / "data", {}
    make_split(data, "strat", vectors, train_classes=CLASSES[:3])        # no `sad` in training
    kaldiio.save_ark(str(tmp_path / "h.ark"), vectors, scp=str(tmp_path / "h.scp"))
    assert train_baselines.main(["--config", str(CONFIG), "--vectors", str(tmp_path / "h.scp"),
                                 "--classifiers", "knn", "--classes", " ".join(CLASSES),
                                 str(data), "strat", str(tmp_path / "exp" / "handcrafted")]) == 0
    for part in data.glob("**/utt2emo"):
        (part.parent / "utt2corpus").write_text("".join(f"{line.split()[0]} cremad\n"
                                                        for line in part.read_text().splitlines()))
    test = dict(line.split() for line in (data / "strat/test/utt2emo").read_text().splitlines())
    utts = sorted(test)
    all_dir = tmp_path / "all"
    all_dir.mkdir()
    (all_dir / "utt2corpus").write_text("".join(f"{u} cremad\n" for u in utts))
    (all_dir / "utt2emo").write_text((data / "strat/test/utt2emo").read_text())
    folds = tmp_path / "folds"
    (folds / "fold1/test").mkdir(parents=True)
    (folds / "fold1/train").mkdir()
    (folds / "folds.txt").write_text("fold1 strat\n")
    (folds / "fold1/test/utt2emo").write_text((data / "strat/test/utt2emo").read_text())
    (folds / "fold1/test/text").write_text("".join(f"{u} line {i % 2}\n" for i, u in enumerate(utts)))
    (folds / "fold1/train/text").write_text("x-1 LINE 0\n")
    y = np.array([CLASSES.index(test[u]) for u in utts])
    for seed, n_right in (("seed1", 20), ("seed2", 12)):
        pred = y.copy()
        pred[n_right:] = (y[n_right:] + 1) % 4
        mat = np.full((len(utts), 4), -4.0)
        mat[np.arange(len(utts)), pred] = 0.0
        d = tmp_path / "exp/ssl" / seed / "fold1"
        write_scores(d / "test.logpost.ark", utts, mat - np.log(np.exp(mat).sum(1, keepdims=True)), CLASSES)
        d.joinpath("train_history.json").write_text(json.dumps({"best_dev_ua": 0.5}))
    out = tmp_path / "RESULTS.md"
    roots = tmp_path / "corpus_roots"
    roots.write_text("cremad demo /x/demo/CREMA-D\n")
    assert report_baselines.main(
        ["--data", str(data), "--protocols", "strat", "--classifiers", "knn", "--feature-sets", "handcrafted",
         "--paper-table", str(CONFIG.parent / "paper004_table6.tsv"), "--corpus-roots", str(roots),
         "--all-dir", str(all_dir), "--ssl-systems", f"hubert={tmp_path / 'exp/ssl'}:{folds}",
         "--table8", str(CONFIG.parent / "paper004_table8.tsv"), "--seeds", "1 2", "--overlap-folds", str(folds),
         str(tmp_path / "exp"), str(out)]) == 0
    md = out.read_text()
    uas, was = [], []
    for n_right in (20, 12):
        pred = y.copy()
        pred[n_right:] = (y[n_right:] + 1) % 4
        uas.append(100 * np.mean([np.mean(pred[y == c] == c) for c in set(y)]))
        was.append(100 * n_right / len(y))
    assert (f"| `hubert` | {np.mean(uas):.2f} ± {np.std(uas, ddof=1):.2f} / "
            f"{np.mean(was):.2f} ± {np.std(was, ddof=1):.2f} |") in md
    assert "| system | strat UA / WA |" in md and "seeds: 1 2" in md
    assert "`sad` never in training, UA at most 75.00%" in md
    assert "p (speakers)" in md and "`hubert` − `baseline handcrafted/knn`" in md
    assert "| strat | 12 of 24 | 50.00 |" in md                      # "line 0" seen in train


def test_table9_section_reads_the_package_scores_and_says_ravdess_was_trained_on(tmp_path):
    """Paper 004's Table 9 counterpart: the deployed model's RAVDESS score, labelled as not
    held out (RAVDESS is in its training data) and pointing at the honest loco/ravdess row."""
    from emorec.bin.report_baselines import table9_section

    (tmp_path / "summary.txt").write_text("UA 41.50\nWA 43.25\nutterances 168\n")
    md = "\n".join(table9_section(tmp_path, demo=True))
    assert "| exported model (`steps/export_model.sh --system`), scored as deployed | 41.50 | 43.25 | 168 |" in md
    assert "RAVDESS is in this model's training data" in md and "`loco/ravdess`" in md
    assert "not comparable" in md
    assert "not comparable" not in "\n".join(table9_section(tmp_path, demo=False))
