"""emorec.metrics against hand-computed cases."""
import numpy as np
import pytest

from emorec import metrics


def test_confusion_matrix_rows_are_true_class():
    y = [0, 0, 1, 2, 2, 2]
    p = [0, 1, 1, 2, 0, 2]
    cm = metrics.confusion_matrix(y, p, 3)
    assert cm.tolist() == [[1, 1, 0], [0, 1, 0], [1, 0, 2]]
    assert cm.dtype == np.int64


def test_ua_differs_from_wa_under_imbalance():
    # 8 of class 0 (all right), 2 of class 1 (all wrong, predicted 0)
    y = np.array([0] * 8 + [1] * 2)
    p = np.zeros(10, dtype=int)
    assert metrics.weighted_accuracy(y, p) == pytest.approx(0.8)
    assert metrics.unweighted_accuracy(y, p) == pytest.approx(0.5)  # (1 + 0) / 2


def test_ua_hand_computed_three_classes():
    # recalls: class0 2/3, class1 1/1, class2 1/4 -> UA = (2/3 + 1 + 1/4) / 3; WA = 4/8
    y = [0, 0, 0, 1, 2, 2, 2, 2]
    p = [0, 0, 1, 1, 2, 0, 0, 1]
    assert metrics.unweighted_accuracy(y, p, 3) == pytest.approx((2 / 3 + 1 + 0.25) / 3)
    assert metrics.weighted_accuracy(y, p) == pytest.approx(0.5)


def test_ua_ignores_classes_absent_from_reference():
    # class 3 never occurs in y_true (but is predicted once): mean over classes 0 and 1 only
    y = [0, 0, 1, 1]
    p = [0, 3, 1, 1]
    assert metrics.unweighted_accuracy(y, p, num_classes=4) == pytest.approx((0.5 + 1.0) / 2)
    rec = metrics.per_class_recall(y, p, 4)
    assert np.isnan(rec[2]) and np.isnan(rec[3])


def test_label_errors():
    with pytest.raises(ValueError):
        metrics.unweighted_accuracy([0, 1], [0])
    with pytest.raises(ValueError):
        metrics.confusion_matrix([0, 5], [0, 1], 3)


def test_eer_perfect_separation():
    eer, thr = metrics.compute_eer([0.1, 0.2, 0.3, 0.4], [0, 0, 1, 1])
    assert eer == pytest.approx(0.0)
    assert 0.2 < thr <= 0.3


def test_eer_exact_crossing():
    # sorted: .1 non, .2 tar, .3 non, .4 tar: at t=.3 P_miss = 1/2, P_fa = 1/2
    eer, thr = metrics.compute_eer([0.1, 0.3, 0.2, 0.4], [0, 0, 1, 1])
    assert eer == pytest.approx(0.5)
    assert thr == pytest.approx(0.3)


def test_eer_interpolated():
    # 3 targets (2, 4, 5), 2 non-targets (1, 3). ROC points (t: P_miss, P_fa):
    # 3: (1/3, 1/2), 4: (1/3, 0) -> the curves cross 1/3 of the way: EER = 1/3, t = 3 + 1/3
    eer, thr = metrics.compute_eer([1, 2, 3, 4, 5], [0, 1, 0, 1, 1])
    assert eer == pytest.approx(1 / 3)
    assert thr == pytest.approx(10 / 3)


def test_eer_symmetric_random_is_half():
    rng = np.random.default_rng(0)
    s = rng.normal(size=20000)
    lab = rng.integers(0, 2, size=20000)
    eer, _ = metrics.compute_eer(s, lab)
    assert abs(eer - 0.5) < 0.02


def test_min_dcf_hand_computed():
    s, lab = [1, 2, 3, 4, 5], [0, 1, 0, 1, 1]
    # p=0.5: DCF = .5 Pm + .5 Pfa, minimum at (1/3, 0): 1/6, normalised by 0.5 -> 1/3
    assert metrics.compute_min_dcf(s, lab, p_target=0.5) == pytest.approx(1 / 3)
    # p=0.01: 0.01 Pm + 0.99 Pfa, minimum 0.01/3 at (1/3, 0), normalised by 0.01 -> 1/3
    assert metrics.compute_min_dcf(s, lab, p_target=0.01) == pytest.approx(1 / 3)
    # costs: c_miss=10, p=0.5: 5 Pm + .5 Pfa; points (0,1)=.5 (0,.5)=.25 ... -> .25 / min(5,.5)=.5
    assert metrics.compute_min_dcf(s, lab, p_target=0.5, c_miss=10) == pytest.approx(0.5)
    assert metrics.compute_min_dcf([0.1, 0.2, 0.3, 0.4], [0, 0, 1, 1]) == pytest.approx(0.0)


def test_verification_input_errors():
    with pytest.raises(ValueError):
        metrics.compute_eer([1, 2], [1, 1])
    with pytest.raises(ValueError):
        metrics.compute_min_dcf([1, 2], [0, 2])


def test_unscored_utterances_count_as_errors():
    y = [0, 0, 1, 1]
    p = [0, metrics.NO_DECISION, 1, metrics.NO_DECISION]
    assert metrics.unweighted_accuracy(y, p, 2) == pytest.approx(0.5)
    assert metrics.weighted_accuracy(y, p) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="outside"):
        metrics.unweighted_accuracy(y, [0, -2, 1, 1], 2)


def test_paired_bootstrap_significance():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 4, 400)
    good = np.where(rng.random(400) < 0.8, y, (y + 1) % 4)     # ~80% right
    bad = np.where(rng.random(400) < 0.4, y, (y + 1) % 4)      # ~40% right
    delta, p = metrics.paired_bootstrap(y, good, bad, 4, "ua", n_boot=500)
    assert delta == pytest.approx(metrics.unweighted_accuracy(y, good, 4) - metrics.unweighted_accuracy(y, bad, 4))
    assert delta > 0.3 and p < 0.01
    # a system against itself differs by nothing, never significantly
    delta, p = metrics.paired_bootstrap(y, good, good, 4, "wa", n_boot=200)
    assert delta == 0 and p == 1.0
    # two systems differing on two utterances out of 400: not significant
    near = good.copy()
    near[:2] = (y[:2] + 2) % 4
    assert metrics.paired_bootstrap(y, good, near, 4, "ua", n_boot=500)[1] > 0.05
    # seeds: (S, N) predictions, the metric averaged over seeds
    two = np.stack([good, bad])
    delta, _ = metrics.paired_bootstrap(y, two, bad, 4, "wa", n_boot=100)
    assert delta == pytest.approx((metrics.weighted_accuracy(y, good) + metrics.weighted_accuracy(y, bad)) / 2
                                  - metrics.weighted_accuracy(y, bad))


def test_speaker_bootstrap_one_speaker_carries_the_difference():
    # 10 speakers x 40 utterances; a and b agree everywhere except on speaker 0, where a
    # is always right and b always wrong: many utterances, one speaker of evidence.
    rng = np.random.default_rng(1)
    spk = np.repeat(np.arange(10), 40)
    y = rng.integers(0, 4, spk.size)
    b = np.where(rng.random(spk.size) < 0.6, y, (y + 1) % 4)
    a = b.copy()
    a[spk == 0] = y[spk == 0]
    b[spk == 0] = (y[spk == 0] + 1) % 4
    for metric in ("ua", "wa"):
        d_utt, p_utt = metrics.paired_bootstrap(y, a, b, 4, metric, n_boot=1000)
        d_spk, p_spk = metrics.paired_bootstrap(y, a, b, 4, metric, n_boot=1000, groups=spk)
        assert d_utt == d_spk > 0.05
        assert p_utt < 0.01 < 0.2 < p_spk       # P*(speaker 0 not drawn) = 0.9**10 = 0.35
    # the same total difference spread over every speaker is significant at both levels
    a2 = b.copy()
    for s in range(10):
        idx = np.flatnonzero((spk == s) & (b != y))[:4]
        a2[idx] = y[idx]
    assert metrics.paired_bootstrap(y, a2, b, 4, "wa", n_boot=1000, groups=spk)[1] < 0.01


def test_speaker_bootstrap_strata_keep_each_strata_speaker_count():
    # speakers 0-2 in corpus A (10 utterances each), 3-4 in corpus B (5 each)
    groups = np.repeat(np.arange(5), [10, 10, 10, 5, 5])
    strata = np.repeat(["A", "B"], [30, 10])
    w = metrics._cluster_weights(groups, strata, groups.size, 300, np.random.default_rng(0))
    assert np.all(w[:, :30].sum(axis=1) == 30) and np.all(w[:, 30:].sum(axis=1) == 10)
    assert np.all(w[:, :10] == w[:, [0]])                  # a speaker is drawn whole
    with pytest.raises(ValueError, match="spans two strata"):
        metrics._cluster_weights(groups, np.repeat(["A", "B"], [25, 15]), groups.size, 3,
                                 np.random.default_rng(0))
    with pytest.raises(ValueError, match="strata need groups"):
        metrics.paired_bootstrap([0, 1], [0, 1], [0, 1], 2, strata=["A", "A"])
