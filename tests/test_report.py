"""emorec.report: RESULTS.md tables, significance, breakdowns and confusion PNGs from crafted systems."""
import subprocess
from pathlib import Path

import numpy as np
import pytest

from emorec import report
from emorec.fileio import write_scores
from emorec.fusion import log_softmax

ROOT = Path(__file__).resolve().parents[1]
CLASSES = ["ang", "hap", "neu", "sad"]
PAPER = ROOT / "egs/iemocap/conf/paper000_table2.tsv"
# fold1: 6 utts (imbalanced), fold2: 4 utts
LABELS = [np.array([0, 0, 0, 0, 1, 2]), np.array([1, 2, 3, 3])]


def _utt(k, i):
    dialog = "impro01" if i % 2 == 0 else "script01_1"
    return f"Ses0{k}F-Ses0{k}F_{dialog}_F{i:03d}"


def _system(root: Path, name: str, preds_per_fold, drop=()):
    for k, pred in enumerate(preds_per_fold, 1):
        keep = [i for i in range(len(pred)) if (k, i) not in drop]
        mat = np.full((len(pred), 4), -3.0)
        mat[np.arange(len(pred)), pred] = 0.0
        for split in ("dev", "test"):
            write_scores(root / name / f"fold{k}" / f"{split}.logpost.ark", [_utt(k, i) for i in keep],
                         log_softmax(mat[keep]), CLASSES)


@pytest.fixture()
def exp(tmp_path):
    data = tmp_path / "data/loso"
    for k, lab in enumerate(LABELS, 1):
        d = data / f"fold{k}/test"
        d.mkdir(parents=True)
        d.joinpath("utt2emo").write_text("".join(f"{_utt(k, i)} {CLASSES[c]}\n" for i, c in enumerate(lab)))
        # test transcripts: "line i"; fold k's training data holds lines 0 and 1 only
        d.joinpath("text").write_text("".join(f"{_utt(k, i)} Line  {i}\n" for i in range(len(lab))))
        (data / f"fold{k}/train").mkdir()
        (data / f"fold{k}/train/text").write_text("Ses09F-a line 0\nSes09F-b LINE 1\n")
    _system(tmp_path / "exp", "text", [np.array([0, 0, 0, 0, 0, 2]), np.array([1, 2, 3, 0])])
    _system(tmp_path / "exp", "fusion/w1", [LABELS[0], LABELS[1]])
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
    # improvised (even i) / scripted (odd i) test utterances, pooled over folds
    ua, wa, n = s.pooled_on(report.is_improvised)
    assert n == 5 and wa == pytest.approx(4 / 5)          # f1: 0 0 0 right; f2: 1 3 right -> ... 4 of 5
    ua, wa, n = s.pooled_on(report.is_scripted)
    assert n == 5 and wa == pytest.approx(4 / 5)


def test_unscored_test_utterances_are_errors(exp, monkeypatch):
    monkeypatch.setattr(report, "MAX_MISSING_FRAC", 0.3)  # tiny folds: 1 of 4 is over Kaldi's 5%
    # fold2's sad utterance (i=2, correct) and fold1's hap (i=4, wrong anyway) lose their scores
    _system(exp / "exp", "text2", [np.array([0, 0, 0, 0, 0, 2]), np.array([1, 2, 3, 0])], drop={(2, 2), (1, 4)})
    s = report.evaluate_system("text2", exp / "exp/text2", exp / "data/loso")
    assert s.n_missing == 2 and [f.n for f in s.folds] == [6, 4]
    assert s.folds[0].ua == pytest.approx(2 / 3)              # unchanged: the dropped one was an error
    assert s.folds[1].ua == pytest.approx((1 + 1 + 0) / 3)    # sad: 0 of 2 now
    assert s.folds[1].wa == pytest.approx(2 / 4)
    assert s.cm.sum() == 8                                    # the confusion holds scored utterances


def _roots(exp, kind="real"):
    """The corpus_roots file a data prep writes (emorec.data.datadir.write_corpus_roots)."""
    path = exp / "corpus_roots"
    path.write_text(f"iemocap {kind} /data/x\n")
    return str(path)


def test_report_cli_writes_results_and_pngs(exp):
    out = exp / "out dir/RESULTS.md"
    # run from the repo root (path.sh, utils/); a relative system dir is looked up below EXP_ROOT
    cmd = (f'. ./path.sh && steps/report.sh --data "{exp / "data/loso"}" --corpus-roots "{_roots(exp)}" '
           f'--systems "text=text fusion_w1=fusion/w1" --paper-table "{PAPER}" '
           f'--ablations text_again=text "{exp / "exp"}" "{out}"')
    r = subprocess.run(["bash", "-c", cmd], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    md = out.read_text()
    assert "- corpus: real: iemocap /data/x" in md   # from the data prep's corpus_roots
    assert "| `text` | 75.00 ± 11.79 |" in md
    assert "70.33" in md and "76.07" in md and "NOT comparable" not in md  # paper numbers beside ours
    assert "fold2: 0.90" in md                                             # chosen w1 per fold
    assert "## Significance" in md and "`text` − `fusion_w1`" in md
    assert "| fold1 | 2 of 6 | 33.33 |" in md                               # verbatim up to case/spacing
    assert "| all | 4 of 10 | 40.00 |" in md                               # lines 0 and 1 of each fold
    assert "## Ablations" in md and "`text_again`" in md
    assert "| **ang** | 4 (100.0%) |" in md                                  # text confusion, fold sums
    pngs = sorted((out.parent / "plots").glob("*.png"))
    assert [p.name for p in pngs] == ["confusion_fusion_w1.png", "confusion_text.png", "confusion_text_again.png"]
    assert md.index("UA % (mean ± std)") < md.index("WA % (mean ± std)")
    for p in pngs:
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # the corpus must be named
    r = subprocess.run(["bash", "-c", cmd.replace(f'--corpus-roots "{_roots(exp)}" ', "")], cwd=ROOT,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode != 0 and "--corpus-roots is required" in r.stderr


def test_report_seeds_spread_and_significance(exp):
    from emorec.bin import report as cli

    seeds = exp / "seeds"
    good = [LABELS[0], LABELS[1]]
    bad = [np.array([1, 1, 1, 1, 1, 1]), np.array([0, 0, 0, 0])]
    for s, shift in (("seed1", 0), ("seed2", 1)):
        _system(seeds / s, "a", good if shift == 0 else [LABELS[0], np.array([1, 2, 3, 0])])
        _system(seeds / s, "b", bad)
    out = exp / "s/RESULTS.md"
    assert cli.main(["--data", str(exp / "data/loso"), "--corpus-roots", _roots(exp, "demo"), "--seeds", "1 2",
                     "--system", "a=a", "--system", "b=b", str(seeds), str(out)]) == 0
    md = out.read_text()
    s = report.evaluate_system("a", "a", exp / "data/loso", {"seed1": seeds / "seed1/a", "seed2": seeds / "seed2/a"})
    assert len(s.folds) == 4 and s.ua_mean == pytest.approx((1 + 1 + 1 + 5 / 6) / 4)
    assert s.seed_ua_std == pytest.approx(np.std([1.0, (1 + 5 / 6) / 2], ddof=1))
    assert f"| `a` | {100 * s.ua_mean:.2f} ± {100 * s.ua_std:.2f} | " in md
    assert "seeds seed1 seed2" in md
    sig = report.significance([s, report.evaluate_system("b", "b", exp / "data/loso",
                                                         {"seed1": seeds / "seed1/b", "seed2": seeds / "seed2/b"})])
    (a, b, d, p, significant), = sig
    assert d > 0.5 and significant and p < 0.05
    # two test speakers (Ses01F, Ses02F), a better on each: every redraw of speakers keeps a ahead
    (*_, d_spk, p_spk, sig_spk), = report.significance(
        [s, report.evaluate_system("b", "b", exp / "data/loso", {"seed1": seeds / "seed1/b", "seed2": seeds / "seed2/b"})],
        level="speaker")
    assert d_spk == d and p_spk == 0.0
    assert "p (speakers)" in md and "| `a` − `b` | UA |" in md


def test_demo_design_ceiling_and_paper_not_comparable(exp, tmp_path):
    from emorec.bin import report as cli

    # words tell ang from hap but not neu from sad; prosody tells {ang,hap} | neu | sad
    pool = {"ang": "ang", "hap": "hap", "neu": "neu", "sad": "neu"}
    arousal = {"ang": "high", "hap": "high", "neu": "mid", "sad": "low"}
    lines = []
    for k, lab in enumerate(LABELS, 1):
        for i, c in enumerate(lab):
            e = CLASSES[c]
            lines.append(f"{_utt(k, i).split('-', 1)[1]} {e} {pool[e]} {arousal[e]}\n")
    design = tmp_path / "design.tsv"
    design.write_text("".join(lines))
    s = report.evaluate_system("text", exp / "exp/text", exp / "data/loso")
    ceil = dict((n, (ua, wa)) for n, ua, wa in report.design_ceiling(s, report.read_design(design)))
    # 10 test utts: ang 4, hap 2, neu 2, sad 2.  Words: neu/sad share a cue -> one of them lost: UA 3/4
    assert ceil["words alone (text cue)"][0] == pytest.approx(0.75)
    # prosody: ang/hap share "high" -> P(high|ang) = P(high|hap) = 1, tie -> the first class (ang): UA 3/4
    assert ceil["prosody alone (speech cue)"][0] == pytest.approx(0.75)
    assert ceil["both cues (fusion)"] == pytest.approx((1.0, 1.0))
    out = exp / "d/RESULTS.md"
    assert cli.main(["--data", str(exp / "data/loso"), "--corpus-roots", _roots(exp, "demo"),
                     "--system", "text=text", "--paper-table", str(PAPER), "--demo-design", str(design),
                     str(exp / "exp"), str(out)]) == 0
    md = out.read_text()
    assert "paper UA % (real corpus; NOT comparable)" in md
    assert "| design ceiling: both cues (fusion) | 100.00 | 100.00 |" in md
    design.write_text(lines[0])
    assert cli.main(["--data", str(exp / "data/loso"), "--corpus-roots", _roots(exp, "demo"), "--system", "text=text",
                     "--demo-design", str(design), str(exp / "exp"), str(out)]) == 1


def test_w1_flatness(exp):
    # speech scores predict ang everywhere, text the truth: any w1 < 0.5 gives the truth
    for k, lab in enumerate(LABELS, 1):
        utts = [_utt(k, i) for i in range(len(lab))]
        sp = np.full((len(lab), 4), -2.0)
        sp[:, 0] = -0.1
        tx = np.full((len(lab), 4), -2.0)
        tx[np.arange(len(lab)), lab] = -0.1
        write_scores(exp / f"exp/ser/fold{k}/test.logpost.ark", utts, sp, CLASSES)
        write_scores(exp / f"exp/txt/fold{k}/test.logpost.ark", utts, tx, CLASSES)
        grid = np.round(np.arange(0, 101) / 100, 2)
        (exp / f"exp/fusion/w1/fold{k}/w1_search.txt").write_text(
            "".join(f"{w:.2f} {1.0 if w < 0.5 else 0.5:.6f}\n" for w in grid))
    fus = report.evaluate_system("fusion_w1", exp / "exp/fusion/w1", exp / "data/loso")
    rows = report.w1_flatness(fus, {"": exp / "exp/ser"}, {"": exp / "exp/txt"}, exp / "data/loso")
    assert [(r[1], r[2], r[3]) for r in rows] == [("fold1", 50, 101), ("fold2", 50, 101)]
    assert all(r[5] == pytest.approx(1.0) and r[6] == pytest.approx(1.0) for r in rows)
    # chosen w1 0.94 / 0.90 (w1.txt): all ang -> fold1 UA 1/3
    assert rows[0][7] == pytest.approx(1 / 3)


def test_paper_table_errors(tmp_path):
    t = report.read_paper_table(PAPER)
    assert t.key_of("fusion_znorm") == "fusion_equal" and t.rows["text"].ua == pytest.approx(70.33)
    bad = tmp_path / "p.tsv"
    bad.write_text("# source: x\nkey\t1\tnot-a-number\t\tlabel\n")
    with pytest.raises(ValueError, match=r"p.tsv:2: UA/WA"):
        report.read_paper_table(bad)
    bad.write_text("key\t1\t2\t\tlabel\n")
    with pytest.raises(ValueError, match="source"):
        report.read_paper_table(bad)


def test_report_discovers_systems(exp):
    from emorec.bin import report as cli

    out = exp / "auto/RESULTS.md"
    assert cli.main(["--data", str(exp / "data/loso"), "--corpus-roots", _roots(exp, "demo"), str(exp / "exp"), str(out)]) == 0
    md = out.read_text()
    assert "`fusion_w1`" in md and "`text`" in md


def test_report_label_errors(exp):
    (exp / "data/loso/fold2/test/utt2emo").write_text(f"{_utt(2, 0)} hap\n")
    with pytest.raises(ValueError, match="no label"):
        report.evaluate_system("text", exp / "exp/text", exp / "data/loso")


def test_quoted_config_that_is_not_there_fails_naming_it(exp):
    """A config path with spaces arrives in pieces: the report fails naming the piece
    instead of writing RESULTS.md with '(missing)' configs."""
    cfg = exp / "my conf.yaml"
    cfg.write_text("train: {}\n")
    out = exp / "cfg/RESULTS.md"
    cmd = (f'. ./path.sh && steps/report.sh --data "{exp / "data/loso"}" --corpus-roots "{_roots(exp)}" '
           f'--systems "text=text" --quote-configs "{cfg}" "{exp / "exp"}" "{out}"')
    r = subprocess.run(["bash", "-c", cmd], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode != 0 and not out.exists()
    assert f"{exp}/my: no such config" in (exp / "exp/log/report.log").read_text()


def test_plot_titles_in_words_with_the_corpus_and_seeds():
    t = report.plot_title("fusion_w1_asr", "demo corpus", 0.5, 0.25, n_seeds=2)
    assert t.startswith("late fusion of speech and text, weight w1 chosen on dev (ASR transcripts) (demo corpus)")
    assert "UA 50.00%, WA 25.00% (pooled, mean of 2 seeds)" in t
    assert report.system_words("egemaps/knn") == "k nearest neighbours on eGeMAPS functionals"
    assert report.system_words("my_system") == "my_system"


def test_corpus_kind_of_the_data_prep_record(tmp_path):
    """demo, real or mixed from corpus_roots (the page's warning and the reports' labels
    rest on it); a record naming no corpus is an error naming the file."""
    from emorec.report import corpus_kind, describe_corpus

    roots = tmp_path / "corpus_roots"
    for text, kind in (("a demo /d/A\nb demo /d/B\n", "demo"), ("a real /r/A\n", "real"),
                       ("a demo /d/A\nb real /r/B\n", "mixed")):
        roots.write_text(text)
        assert corpus_kind(roots) == kind
    assert describe_corpus(roots).startswith("MIXED, demo and real trees: a (demo) /d/A, b (real) /r/B")
    roots.write_text("")
    with pytest.raises(ValueError, match="corpus_roots: names no corpus"):
        corpus_kind(roots)
