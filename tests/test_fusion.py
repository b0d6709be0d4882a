"""emorec.fusion: w1 search, z-norm, consistency checks, the fuse CLI."""
import numpy as np
import pytest

from emorec import fusion


def _crafted():
    """Two classes; only 0.78 <= w1 <= 0.83 classifies every utterance right.

    u1 (class 0): speech favours 0 by 1, text favours 1 by 3.5 -> right iff 4.5 w1 > 3.5 (w1 > 0.777)
    u2 (class 1): speech favours 0 by 1, text favours 1 by 5   -> right iff 6 w1 < 5     (w1 < 0.833)
    u3, u4: both modalities right.
    """
    sp = np.array([[0, -1], [0, -1], [0, -1], [-1, 0]], dtype=float)
    tx = np.array([[-3.5, 0], [-5, 0], [0, -1], [-1, 0]], dtype=float)
    y = np.array([0, 1, 0, 1])
    return sp, tx, y


def test_w1_search_known_optimum_and_tie_rule():
    sp, tx, y = _crafted()
    w1, ua, uas = fusion.search_w1(sp, tx, y)
    assert ua == pytest.approx(1.0)
    good = fusion.W1_GRID[np.isclose(uas, 1.0)]
    assert good.min() == pytest.approx(0.78) and good.max() == pytest.approx(0.83)
    assert w1 == pytest.approx(0.78)          # the perfect w1 closest to 0.5
    assert len(fusion.W1_GRID) == 101


def test_w1_tie_goes_to_half():
    s = np.array([[0.0, -1.0], [-1.0, 0.0]])
    w1, ua, _ = fusion.search_w1(s, s, np.array([0, 1]))   # every w1 is perfect
    assert w1 == 0.5 and ua == 1.0


def test_znorm_per_class_stats():
    dev = np.array([[1.0, 10.0], [3.0, 30.0], [5.0, 50.0]])
    mu, sd = fusion.znorm_stats(dev)
    assert mu == pytest.approx([3.0, 30.0])
    assert sd == pytest.approx([np.sqrt(8 / 3), 10 * np.sqrt(8 / 3)])
    z = fusion.apply_znorm(dev, mu, sd)
    assert z.mean(0) == pytest.approx([0, 0]) and z.std(0) == pytest.approx([1, 1])
    mu_g, sd_g = fusion.znorm_stats(dev, per_class=False)
    assert mu_g == pytest.approx([dev.mean()] * 2)


def test_znorm_removes_scale_dominance():
    # text scores are 100x larger and wrong on u0: raw equal weights follow text, z-norm does not
    sp = np.array([[0.0, -2.0], [-2.0, 0.0], [0.0, -2.0], [-2.0, 0.0]])
    tx = 100 * np.array([[-0.1, 0.0], [-1.0, 0.0], [0.0, -1.0], [-1.0, 0.0]])
    y = np.array([0, 1, 0, 1])
    raw = fusion.fuse_weighted(sp, tx, 0.5).argmax(1)
    assert raw[0] == 1
    zs = fusion.apply_znorm(sp, *fusion.znorm_stats(sp))
    zt = fusion.apply_znorm(tx, *fusion.znorm_stats(tx))
    assert (fusion.fuse_weighted(zs, zt, 0.5).argmax(1) == y).all()


def _write_fold(root, name, dev, test, classes=("ang", "hap")):
    d = root / name
    for split, (utts, mat) in (("dev", dev), ("test", test)):
        fusion.write_scores(d / f"{split}.logpost.ark", utts, fusion.log_softmax(np.asarray(mat, float)), classes)
    return d


def _labels(path, utts, labels):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{u} {l}\n" for u, l in zip(utts, labels)))


def test_fuse_fold_end_to_end(tmp_path):
    sp, tx, y = _crafted()
    utts = ["s1-a", "s1-b", "s1-c", "s1-d"]
    cls = ["ang", "hap"]
    _labels(tmp_path / "data/dev/utt2emo", utts, [cls[i] for i in y])
    # the modalities' arks hold log-softmax of the crafted scores: per-utterance shifts keep w1 range
    s_dir = _write_fold(tmp_path, "speech", (utts, sp), (utts, sp))
    t_dir = _write_fold(tmp_path, "text", (utts, tx), (utts, tx))
    out = tmp_path / "fusion"
    summ = fusion.fuse_fold(s_dir, t_dir, {m: out / m for m in ("w1", "znorm", "equal_raw")},
                            tmp_path / "data/dev/utt2emo", log=lambda *a: None)
    assert 0.6 <= summ["w1"] <= 0.9
    assert summ["dev_ua_w1"] == pytest.approx(1.0)
    assert (out / "w1/w1.txt").read_text().strip() == f"{summ['w1']:.2f}"
    # what fuse_fold writes reads back: the weight, and the dev statistics of each modality
    assert fusion.read_w1(out / "w1/w1.txt") == pytest.approx(summ["w1"])
    st = fusion.read_znorm_stats(out / "znorm/znorm_stats.txt")
    assert st["classes"] == cls
    a_dev = fusion.read_scores(s_dir / "dev.logpost.ark").mat
    mu, sd = fusion.znorm_stats(a_dev)
    np.testing.assert_allclose(st["speech_mean"], mu, rtol=1e-5)
    np.testing.assert_allclose(st["speech_std"], sd, rtol=1e-5)
    for m in ("w1", "znorm", "equal_raw"):
        f = fusion.read_scores(out / m / "test.logpost.ark")
        assert f.utts == utts and f.classes == cls
        assert np.exp(f.mat).sum(1) == pytest.approx(np.ones(4), abs=1e-5)


def test_fuse_errors_on_mismatch(tmp_path):
    utts = ["s1-a", "s1-b"]
    m = [[0.0, -1.0], [-1.0, 0.0]]
    _labels(tmp_path / "data/dev/utt2emo", utts, ["ang", "hap"])
    s_dir = _write_fold(tmp_path, "speech", (utts, m), (utts, m))
    t_dir = _write_fold(tmp_path, "text", (["s1-a", "s1-c"], m), (utts, m))
    with pytest.raises(ValueError, match="utterance sets differ"):
        fusion.fuse_fold(s_dir, t_dir, {"w1": tmp_path / "o"}, tmp_path / "data/dev/utt2emo")
    t2 = _write_fold(tmp_path, "text2", (utts, m), (utts, m), classes=("hap", "ang"))
    with pytest.raises(ValueError, match="class order differs"):
        fusion.fuse_fold(s_dir, t2, {"w1": tmp_path / "o"}, tmp_path / "data/dev/utt2emo")


def test_fuse_cli_fold_roots(tmp_path):
    from emorec.bin import fuse

    sp, tx, y = _crafted()
    utts = ["s1-a", "s1-b", "s1-c", "s1-d"]
    for k in (1, 2):
        _labels(tmp_path / f"data/fold{k}/dev/utt2emo", utts, [["ang", "hap"][i] for i in y])
        _write_fold(tmp_path / "speech", f"fold{k}", (utts, sp), (utts, sp))
        _write_fold(tmp_path / "text", f"fold{k}", (utts, tx), (utts, tx))
    rc = fuse.main(["--data", str(tmp_path / "data"), str(tmp_path / "speech"), str(tmp_path / "text"),
                    str(tmp_path / "fus")])
    assert rc == 0
    for k in (1, 2):
        assert (tmp_path / f"fus/w1/fold{k}/test.logpost.ark").is_file()
        assert (tmp_path / f"fus/znorm/fold{k}/dev.logpost.ark").is_file()
        assert (tmp_path / f"fus/w1/fold{k}/classes.txt").read_text() == "ang\nhap\n"

    # a rerun skips fused folds made from the same scores (the restart rule); rescoring
    # one fold (other speech scores) makes exactly that fold fused again
    before = {k: (tmp_path / f"fus/w1/fold{k}/test.logpost.ark").stat().st_mtime_ns for k in (1, 2)}
    _write_fold(tmp_path / "speech", "fold2", (utts, 2 * np.asarray(sp)), (utts, 2 * np.asarray(sp)))
    assert fuse.main(["--data", str(tmp_path / "data"), str(tmp_path / "speech"), str(tmp_path / "text"),
                      str(tmp_path / "fus")]) == 0
    after = {k: (tmp_path / f"fus/w1/fold{k}/test.logpost.ark").stat().st_mtime_ns for k in (1, 2)}
    assert after[1] == before[1] and after[2] != before[2]


def test_fusion_file_readers_name_bad_files(tmp_path):
    (tmp_path / "w1.txt").write_text("1.5\n")
    with pytest.raises(ValueError, match="outside"):
        fusion.read_w1(tmp_path / "w1.txt")
    with pytest.raises(FileNotFoundError, match="nope"):
        fusion.read_w1(tmp_path / "nope.txt")
    (tmp_path / "z.txt").write_text("# classes: ang hap\nspeech_mean 0 1\nspeech_std 1 x\n")
    with pytest.raises(ValueError, match=r"z.txt:3"):
        fusion.read_znorm_stats(tmp_path / "z.txt")
