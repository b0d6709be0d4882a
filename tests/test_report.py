"""emorec.report: RESULTS.md tables and confusion PNGs from crafted systems."""
import subprocess
from pathlib import Path

import numpy as np
import pytest

from emorec import report
from emorec.fileio import write_scores
from emorec.fusion import log_softmax

ROOT = Path(__file__).resolve().parents[1]
CLASSES = ["ang", "hap", "neu", "sad"]


def _system(root: Path, name: str, preds_per_fold, labels_per_fold):
    for k, (pred, lab) in enumerate(zip(preds_per_fold, labels_per_fold), 1):
        utts = [f"Ses0{k}F-u{i:03d}" for i in range(len(lab))]
        mat = np.full((len(lab), 4), -3.0)
        mat[np.arange(len(lab)), pred] = 0.0
        for split in ("dev", "test"):
            write_scores(root / name / f"fold{k}" / f"{split}.logpost.ark", utts, log_softmax(mat), CLASSES)


@pytest.fixture()
def exp(tmp_path):
    data = tmp_path / "data/loso"
    # fold1: 6 utts (imbalanced), fold2: 4 utts
    labs = [np.array([0, 0, 0, 0, 1, 2]), np.array([1, 2, 3, 3])]
    for k, lab in enumerate(labs, 1):
        d = data / f"fold{k}/test"
        d.mkdir(parents=True)
        d.joinpath("utt2emo").write_text("".join(f"Ses0{k}F-u{i:03d} {CLASSES[c]}\n" for i, c in enumerate(lab)))
    _system(tmp_path / "exp", "text", [np.array([0, 0, 0, 0, 0, 2]), np.array([1, 2, 3, 0])], labs)
    _system(tmp_path / "exp", "fusion/w1", [labs[0], labs[1]], labs)
    (tmp_path / "exp/fusion/w1/fold1/w1.txt").write_text("0.94\n")
    (tmp_path / "exp/fusion/w1/fold2/w1.txt").write_text("0.90\n")
    return tmp_path


def test_evaluate_system_hand_computed(exp):
    s = report.evaluate_system("text", exp / "exp/text", exp / "data/loso")
    # fold1: recalls ang 4/4, hap 0/1, neu 1/1 -> UA 2/3, WA 5/6; fold2: hap, neu 1, sad 1/2 -> UA 5/6, WA 3/4
    assert [f.ua for f in s.folds] == pytest.approx([2 / 3, 5 / 6])
    assert [f.wa for f in s.folds] == pytest.approx([5 / 6, 3 / 4])
    assert s.ua_mean == pytest.approx(0.75)
    assert s.ua_std == pytest.approx(np.std([2 / 3, 5 / 6], ddof=1))
    assert s.cm.sum() == 10 and s.cm[0, 0] == 4 and s.cm[3, 0] == 1


def test_report_cli_writes_results_and_pngs(exp):
    out = exp / "out dir/RESULTS.md"
    # run from the repo root (path.sh, utils/); a relative system dir is looked up below EXP_ROOT
    cmd = (f'. ./path.sh && steps/report.sh --data "{exp / "data/loso"}" --systems "text=text fusion_w1=fusion/w1" '
           f'--ablations text_again=text "{exp / "exp"}" "{out}"')
    r = subprocess.run(["bash", "-c", cmd], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    md = out.read_text()
    assert "| `text` | 75.00 ± 11.79 |" in md
    assert "70.33" in md and "76.07" in md            # paper Table 2 beside ours
    assert "0.94" in md and "fold2: 0.90" in md       # chosen w1 per fold
    assert "## Ablations" in md and "`text_again`" in md
    assert "| **ang** | 4 (100.0%) |" in md           # text confusion, fold sums
    pngs = sorted((out.parent / "plots").glob("*.png"))
    assert [p.name for p in pngs] == ["confusion_fusion_w1.png", "confusion_text.png", "confusion_text_again.png"]
    for p in pngs:
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_report_discovers_systems(exp):
    from emorec.bin import report as cli

    out = exp / "auto/RESULTS.md"
    assert cli.main(["--data", str(exp / "data/loso"), str(exp / "exp"), str(out)]) == 0
    md = out.read_text()
    assert "`fusion_w1`" in md and "`text`" in md


def test_report_label_errors(exp):
    (exp / "data/loso/fold2/test/utt2emo").write_text("Ses02F-u000 hap\n")
    with pytest.raises(ValueError, match="no label"):
        report.evaluate_system("text", exp / "exp/text", exp / "data/loso")
