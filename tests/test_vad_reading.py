"""VAD frame selection on the training/scoring read path (emorec.data.dataset):
a data dir with vad.scp is read through it, one without is read whole."""
import os

import kaldiio
import numpy as np
import pytest

from emorec.data.dataset import FeatureReader, read_num_frames, select_voiced
from emorec.train.infer import iterate_batches
from synthetic_data import make_synthetic_datadir


@pytest.fixture
def vad_dir(tmp_path):
    d = str(tmp_path / "data dir")
    feats = make_synthetic_datadir(d, num_speakers=2, utts_per_speaker=3, min_frames=20, max_frames=60, dim=8)
    rng = np.random.default_rng(0)
    vad = {k: (rng.random(v.shape[0]) < 0.6).astype(np.float32) for k, v in feats.items()}
    silent = sorted(feats)[0]
    vad[silent][:] = 0                       # no voiced frame: the utterance is kept whole
    kaldiio.save_ark(os.path.join(d, "vad.ark"), vad, scp=os.path.join(d, "vad.scp"))
    return d, feats, vad, silent


def test_reader_selects_voiced_frames(vad_dir):
    d, feats, vad, silent = vad_dir
    reader = FeatureReader.of_dir(d)
    nf = read_num_frames(d, reader)
    for k, x in feats.items():
        want = x if k == silent else x[vad[k] > 0.5]
        np.testing.assert_array_equal(reader[k], want)
        assert nf[k] == want.shape[0]
    # the scoring path reads through it too
    seen = {}
    for keys, x, lengths, _ in iterate_batches(d, max_frames=1000, max_batch=4):
        seen.update(zip(keys, lengths.tolist()))
    assert seen == nf
    # without vad.scp: every frame
    os.remove(os.path.join(d, "vad.scp"))
    reader = FeatureReader.of_dir(d)
    assert reader.vad_scp is None
    assert all(reader[k].shape == x.shape for k, x in feats.items())


def test_vad_mismatch_and_missing_utterance(vad_dir):
    d, feats, vad, _ = vad_dir
    x = np.zeros((10, 3), dtype=np.float32)
    assert select_voiced(x, np.ones(11)).shape == (10, 3)     # one frame off: tolerated
    with pytest.raises(ValueError, match="VAD has 13 frames, the features 10"):
        select_voiced(x, np.ones(13), "vad.scp: u1")
    first = sorted(feats)[0]
    kaldiio.save_ark(os.path.join(d, "vad2.ark"), {first: vad[first]}, scp=os.path.join(d, "vad.scp"))
    reader = FeatureReader.of_dir(d)
    with pytest.raises(KeyError, match="no VAD for utterance"):
        reader[sorted(feats)[1]]
    np.testing.assert_array_equal(reader[first], feats[first])   # its VAD is all silence
