"""SpecAugment: policy bounds (Padi et al. 2021 Table 1) over many draws."""
import numpy as np
import pytest

from collections import Counter

from emorec.augment import POLICIES, SpecAugmentPolicy, draw_masks, get_policies, get_policy, spec_augment
from emorec.data.dataset import ChunkBatchSampler, ChunkDataset, normalise
from emorec.train import speech
from emorec.train.config import load_config


def test_policies_match_table1():
    c, a = POLICIES["conservative"], POLICIES["aggressive"]
    assert (c.F, c.W, c.p, c.n_freq, c.n_time) == (15, 50, 0.2, 2, 2)
    assert (a.F, a.W, a.p, a.n_freq, a.n_time) == (27, 70, 0.2, 2, 2)
    assert not POLICIES["none"].active
    assert get_policy({"policy": "aggressive", "copies": 2}) == a
    assert get_policy({"policy": "conservative", "F": 5}).F == 5


@pytest.mark.parametrize("name", ["conservative", "aggressive"])
@pytest.mark.parametrize("T", [10, 37, 120, 300, 1000])
def test_mask_bounds_over_many_draws(name, T):
    pol = POLICIES[name]
    rng = np.random.default_rng(1)
    nu = 128
    widths_f, widths_t = [], []
    for _ in range(2000):
        fm, tm = draw_masks(pol, T, nu, rng)
        assert len(fm) == 2 and len(tm) == 2
        for f0, f in fm:
            assert 0 <= f <= pol.F and 0 <= f0 <= nu - f
            widths_f.append(f)
        for t0, t in tm:
            assert 0 <= t <= min(pol.W, int(pol.p * T)) and 0 <= t0 <= T - t
            widths_t.append(t)
    # the full range U[0, F] / U[0, min(W, pT)] is used
    assert min(widths_f) == 0 and max(widths_f) == pol.F
    assert max(widths_t) == min(pol.W, int(pol.p * T))


def test_p_bounds_time_masks_on_short_inputs():
    pol = POLICIES["aggressive"]
    rng = np.random.default_rng(0)
    for T in (1, 4, 5, 24):
        for _ in range(300):
            _, tm = draw_masks(pol, T, 128, rng)
            assert all(t <= int(0.2 * T) for _, t in tm)
    # T < 5 -> no time masking at all
    x = np.ones((4, 128), np.float32)
    y = spec_augment(x, SpecAugmentPolicy(F=0, W=70, p=0.2), np.random.default_rng(0))
    assert (y == 1).all()


def test_spec_augment_applies_at_most_two_bands_each_with_value_zero():
    pol = POLICIES["conservative"]
    rng = np.random.default_rng(3)
    masked_any = False
    for _ in range(200):
        x = np.random.default_rng(0).normal(size=(200, 128)).astype(np.float32) + 5
        y = spec_augment(x, pol, rng)
        assert y.shape == x.shape and (x > 0).all()        # input untouched
        zc = np.where((y == 0).all(axis=0))[0]
        zr = np.where((y == 0).all(axis=1))[0]
        # zeroed columns: at most 2 runs, total width <= 2F; rows: <= 2 runs of <= min(W, pT)
        for idx, maxw in ((zc, pol.F), (zr, min(pol.W, int(pol.p * 200)))):
            if len(idx):
                runs = np.split(idx, np.where(np.diff(idx) > 1)[0] + 1)
                assert len(runs) <= 2
                assert len(idx) <= 2 * maxw
                masked_any = True
        # every zero lies in a zeroed row or column
        z = y == 0
        z[:, zc] = False
        z[zr, :] = False
        assert not z.any()
    assert masked_any


def test_none_policy_is_identity():
    x = np.random.default_rng(0).normal(size=(50, 128)).astype(np.float32)
    np.testing.assert_array_equal(spec_augment(x, "none", np.random.default_rng(0)), x)
    with pytest.raises(ValueError):
        get_policy("nope")


def test_one_copy_per_policy_and_two_of_one():
    """Paper 003's "two augmented copies": both readings (README, design notes)."""
    both = {"policy": ["conservative", "aggressive"], "copies": 2}
    assert get_policies(both) == [POLICIES["conservative"], POLICIES["aggressive"]]
    assert get_policies({"policy": "conservative", "copies": 2}) == [POLICIES["conservative"]]
    with pytest.raises(ValueError, match="multiple of the number of policies"):
        get_policies({"policy": ["conservative", "aggressive"], "copies": 3})
    # one copy per policy: every utterance gets one chunk of each policy per epoch
    s = ChunkBatchSampler([100] * 8, 4, [50], seed=3, copies=2, augment=True, n_policies=2)
    per_utt = Counter((i, a % 2) for b in s for i, _, _, a in b if a >= 0)
    assert set(per_utt) == {(i, p) for i in range(8) for p in (0, 1)} and set(per_utt.values()) == {1}

    # the speech config schema takes both readings
    cfg = load_config(speech.SCHEMA, overrides=["augment.policy=[conservative, aggressive]", "augment.copies=2"])
    assert get_policies(cfg["augment"]) == get_policies(both)
    x = np.random.default_rng(0).standard_normal((100, 128)).astype(np.float32)
    ds = ChunkDataset({"u": x}, ["u"], [0], both)  # any mapping serves as the feature reader
    for seed in (10, 11):  # even: conservative, odd: aggressive
        want = spec_augment(normalise(x)[:60], get_policies(both)[seed % 2], np.random.default_rng(seed))
        np.testing.assert_array_equal(ds[(0, 60, 0, seed)][0].numpy(), want)
