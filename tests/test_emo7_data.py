"""egs/emo7 data side: the 7-class mapping, the split protocols' invariants, seeded
class-balancing augmentation, and local/emo7_merge.sh + local/emo7_splits.sh end to end
(every data dir they make passes utils/validate_data_dir.sh)."""

import hashlib
import subprocess
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from emorec.bin import augment_balance
from emorec.data import emo7
from emorec.fileio import read_kv
from emorec.wave_augment import balance_plan

ROOT = Path(__file__).resolve().parent.parent
RECIPE = ROOT / "egs" / "emo7"


def test_seven_class_mapping():
    assert [emo7.map_label(x) for x in ("angry", "calm", "disgust", "fearful", "happy", "sad",
                                        "surprised")] == list(emo7.CLASSES)
    for dropped in ("neutral", "neu", "xxx", "oth", "fru", "exc"):
        assert emo7.map_label(dropped) is None
    assert emo7.map_label("exc", exc_to_happy=True) == "happy"
    assert {emo7.map_label(x) for x in ("ang", "hap", "sad", "fea", "sur", "dis")} == \
        {"angry", "happy", "sad", "fearful", "surprised", "disgust"}
    kept, dropped = emo7.map_labels({"a": "ang", "b": "neutral", "c": "exc", "d": "calm"})
    assert kept == {"a": "angry", "d": "calm"} and dropped == Counter(neutral=1, exc=1)


def synthetic_lists(seed=0):
    """Five corpora, 2-12 speakers each, 7 classes; no audio."""
    rng = np.random.default_rng(seed)
    utt2emo, utt2corpus, utt2spk = {}, {}, {}
    for corpus, n_spk in (("cremad", 12), ("ravdess", 8), ("savee", 4), ("tess", 2),
                          ("iemocap", 10)):
        for s in range(n_spk):
            spk = f"{corpus}{s:02d}"
            for i in range(int(rng.integers(20, 40))):
                u = f"{spk}-u{i:03d}"
                utt2emo[u] = emo7.CLASSES[int(rng.integers(7))]
                utt2corpus[u] = corpus
                utt2spk[u] = spk
    return utt2emo, utt2corpus, utt2spk


def _cover_once(parts, utt2emo):
    allu = [u for p in parts.values() for u in p]
    assert len(allu) == len(set(allu)) and set(allu) == set(utt2emo)


def test_stratified_split():
    utt2emo, utt2corpus, _ = synthetic_lists()
    parts = emo7.stratified(utt2emo, utt2corpus, seed=3)
    _cover_once(parts, utt2emo)
    assert parts == emo7.stratified(utt2emo, utt2corpus, seed=3)
    assert parts != emo7.stratified(utt2emo, utt2corpus, seed=4)
    n = len(utt2emo)
    assert abs(len(parts["test"]) / n - 0.2) < 0.03
    assert abs(len(parts["valid"]) / n - 0.16) < 0.03
    for c in emo7.CLASSES:  # each class keeps its share in the test part
        share = sum(utt2emo[u] == c for u in parts["test"]) / sum(v == c for v in utt2emo.values())
        assert abs(share - 0.2) < 0.06


def test_speaker_independent_split_shares_no_speaker():
    utt2emo, utt2corpus, utt2spk = synthetic_lists()
    parts = emo7.speaker_independent(utt2emo, utt2corpus, utt2spk, seed=1)
    _cover_once(parts, utt2emo)
    emo7.check_disjoint(parts, utt2spk)
    spk_sets = [{utt2spk[u] for u in parts[p]} for p in emo7.PARTS]
    assert not (spk_sets[0] & spk_sets[1] or spk_sets[0] & spk_sets[2] or spk_sets[1] & spk_sets[2])
    assert all(parts[p] for p in emo7.PARTS)
    with pytest.raises(ValueError, match="in both"):
        emo7.check_disjoint({"train": ["cremad00-u000"], "test": ["cremad00-u001"]}, utt2spk)


def test_leave_one_corpus_out():
    utt2emo, utt2corpus, utt2spk = synthetic_lists()
    folds = emo7.leave_one_corpus_out(utt2emo, utt2corpus, utt2spk, seed=0)
    assert sorted(folds) == sorted(set(utt2corpus.values()))
    for held, fold in folds.items():
        _cover_once(fold, utt2emo)
        assert {utt2corpus[u] for u in fold["test"]} == {held}
        assert held not in {utt2corpus[u] for u in fold["train"] + fold["valid"]}
        emo7.check_disjoint(fold, utt2spk)


def real_shaped_lists():
    """Ids shaped like the real corpora: every CREMA-D actor reads the same sentences,
    RAVDESS two statements, SAVEE's speakers the same codes, TESS's two speakers the same
    words; IEMOCAP sessions of two speakers sharing dialogs, scripted plays in every session."""
    E = emo7.CLASSES
    utt2emo, utt2corpus, utt2spk = {}, {}, {}

    def add(corpus, spk, stem, k):
        u = f"{spk}-{stem}"
        utt2emo[u], utt2corpus[u], utt2spk[u] = E[k % 7], corpus, spk

    for a in range(1001, 1021):
        for j, sent in enumerate(("IEO", "TIE", "IOM", "IWW", "TAI", "MTI", "DFA", "ITS")):
            add("cremad", f"cremad{a}", f"{a}_{sent}_ANG_XX", a + j)
    for a in range(1, 13):
        for st in ("01", "02"):
            for e in range(2, 9):
                add("ravdess", f"ravdess{a:02d}", f"03-01-0{e}-01-{st}-01-{a:02d}", e)
    for spk in ("DC", "JE", "JK", "KL"):
        for j in range(1, 11):
            add("savee", f"savee{spk}", f"a{j:02d}", j)
    for spk in ("OAF", "YAF"):
        for j, w in enumerate(("back", "bar", "base", "bath", "bean", "beg", "bite", "boat", "bone", "book")):
            add("tess", f"tess{spk}", f"{spk}_{w}_angry", j)
    for ses in range(1, 6):
        for g in "FM":
            spk = f"Ses0{ses}{g}"
            for j, dlg in enumerate(("impro01", "impro02", "script01_1", "script02_1", "script03_2")):
                for t in range(3):
                    add("iemocap", spk, f"Ses0{ses}F_{dlg}_{g}{t:03d}", j + t)
    return utt2emo, utt2corpus, utt2spk


def test_speaker_sentence_disjoint_split():
    utt2emo, utt2corpus, utt2spk = real_shaped_lists()
    sent = {u: emo7.sentence_of(u, utt2corpus[u]) for u in utt2emo}
    dialog = {u: emo7.dialog_of(u, utt2corpus[u]) or u for u in utt2emo}
    # the speaker-independent split shares sentences (the finding)
    spk = emo7.speaker_independent(utt2emo, utt2corpus, utt2spk, seed=0)
    with pytest.raises(ValueError, match="is in both"):
        emo7.check_disjoint(spk, sent)
    parts = emo7.speaker_sentence_disjoint(utt2emo, utt2corpus, utt2spk, seed=0)
    assert parts == emo7.speaker_sentence_disjoint(utt2emo, utt2corpus, utt2spk, seed=0)
    allu = [u for p in parts.values() for u in p]
    assert len(allu) == len(set(allu)) and set(allu) < set(utt2emo)
    for key in (utt2spk, sent, dialog):
        emo7.check_disjoint(parts, key)
    for p in emo7.PARTS:                                     # no speaker, sentence, dialog on two sides
        others = [u for q in emo7.PARTS if q != p for u in parts[q]]
        for key in (utt2spk, sent, dialog):
            assert not {key[u] for u in parts[p]} & {key[u] for u in others}
    # IEMOCAP: a session's two speakers stay together; each corpus keeps a part of its data
    iem = {p: {utt2spk[u][:5] for u in parts[p] if utt2corpus[u] == "iemocap"} for p in emo7.PARTS}
    assert sum(len(v) for v in iem.values()) >= 3 and not (iem["train"] & iem["test"])
    kept = Counter(utt2corpus[u] for u in allu)
    total = Counter(utt2corpus.values())
    assert all(0.2 < kept[c] / total[c] <= 1 for c in total), (kept, total)
    assert all(parts[p] for p in emo7.PARTS)
    assert emo7.sentence_of("cremad1001-1001_DFA_ANG_XX", "cremad") == "cremad:DFA"
    assert emo7.sentence_of("Ses01M-Ses01F_script02_1_M003", "iemocap") == "iemocap:script02"
    assert emo7.sentence_of("Ses01M-Ses01F_impro01_M003", "iemocap") == "iemocap:Ses01F_impro01"
    with pytest.raises(ValueError, match="no sentence code"):
        emo7.sentence_of("cremad1001-u001", "cremad")


def test_balance_plan_reaches_target_from_training_only():
    utt2emo = {f"s-{i:03d}": ("a" if i < 30 else "b" if i < 40 else "c") for i in range(43)}
    plan = balance_plan(utt2emo, seed=5)
    counts = Counter(utt2emo.values()) + Counter(utt2emo[c.orig] for c in plan)
    assert set(counts.values()) == {30}
    assert {c.orig for c in plan} <= set(utt2emo)
    assert len({c.utt for c in plan}) == len(plan)
    # round robin: the 3 'c' originals give 27 copies, 9 each
    assert set(Counter(c.orig for c in plan if utt2emo[c.orig] == "c").values()) == {9}
    assert plan == balance_plan(utt2emo, seed=5) and plan != balance_plan(utt2emo, seed=6)
    assert len(balance_plan(utt2emo, seed=5, target=50)) == 3 * 50 - 43


def _write_train_dir(d: Path, n_per_class):
    (d / "wav").mkdir(parents=True)
    rng = np.random.default_rng(0)
    lines = {"wav.scp": {}, "utt2spk": {}, "utt2emo": {}, "utt2corpus": {}}
    for emo, n in n_per_class.items():
        for i in range(n):
            spk = f"tess{'OAF' if i % 2 else 'YAF'}"
            u = f"{spk}-{emo}{i}"
            t = np.arange(16000) / 16000
            x = 0.2 * np.sin(2 * np.pi * rng.uniform(100, 300) * t) * (1 + 0.3 * np.sin(9 * t))
            sf.write(d / "wav" / f"{u}.wav", x, 16000, subtype="PCM_16")
            lines["wav.scp"][u] = str(d / "wav" / f"{u}.wav")
            lines["utt2spk"][u], lines["utt2emo"][u], lines["utt2corpus"][u] = spk, emo, "tess"
    for name, kv in lines.items():
        (d / name).write_text("".join(f"{k} {v}\n" for k, v in sorted(kv.items())))
    spk2utt = {}
    for u, s in sorted(lines["utt2spk"].items()):
        spk2utt.setdefault(s, []).append(u)
    (d / "spk2utt").write_text("".join(f"{s} {' '.join(us)}\n" for s, us in sorted(spk2utt.items())))


def _digest_dir(d: Path):
    h = hashlib.sha256()
    for p in sorted(d.rglob("*")):
        if p.is_file():
            h.update(p.name.encode() + p.read_bytes().replace(str(d).encode(), b""))
    return h.hexdigest()


def test_augmentation_reproducible_with_seed(tmp_path):
    train = tmp_path / "train"
    _write_train_dir(train, {"angry": 6, "sad": 2, "calm": 1})
    outs = []
    for run, seed in (("a", 1), ("b", 1), ("c", 2)):
        dst, wav = tmp_path / run / "train_aug", tmp_path / run / "wav"
        assert augment_balance.main(["--seed", str(seed), str(train), str(dst), str(wav)]) == 0
        outs.append((_digest_dir(tmp_path / run), dst))
    assert outs[0][0] == outs[1][0]   # same seed: byte-identical lists and wavs
    assert outs[0][0] != outs[2][0]
    dst = outs[0][1]
    emo = read_kv(str(dst / "utt2emo"))
    assert Counter(emo.values()) == {"angry": 6, "sad": 6, "calm": 6}
    orig = read_kv(str(dst / "utt2orig"))
    train_utts = set(read_kv(str(train / "utt2emo")))
    assert set(orig.values()) <= train_utts
    for u, o in orig.items():
        assert emo[u] == emo[o] and u.startswith(o)
    aug = read_kv(str(dst / "utt2aug"))
    assert {v.split("=")[0] for u, v in aug.items() if u not in train_utts} <= \
        {"stretch", "pitch", "gain", "noise"}


def test_balance_paper_caps_augments_and_splits_train_and_valid(tmp_path):
    """--balance paper (paper 004, Tables 1-2): the pool of train and valid capped per class,
    augmented up to the cap, split per class into train_aug and valid_aug."""
    from emorec.bin import emo7_balance_paper

    pool = tmp_path / "pool.all"
    _write_train_dir(pool, {"angry": 9, "sad": 3, "calm": 5})
    assert emo7_balance_paper.main(["cap", "--seed", "1", "--per-class", "5", str(pool), str(tmp_path / "pool")]) == 0
    capped = Counter(read_kv(str(tmp_path / "pool/utt2emo")).values())
    assert capped == {"angry": 5, "sad": 3, "calm": 5}                    # majority class capped
    assert augment_balance.main(["--seed", "1", "--target", "5", str(tmp_path / "pool"),
                                 str(tmp_path / "pool_aug"), str(tmp_path / "wav")]) == 0
    assert emo7_balance_paper.main(["split", "--seed", "1", "--valid-per-class", "1", str(tmp_path / "pool_aug"),
                                    str(tmp_path / "train_aug"), str(tmp_path / "valid_aug")]) == 0
    tr, va = (read_kv(str(tmp_path / d / "utt2emo")) for d in ("train_aug", "valid_aug"))
    assert Counter(tr.values()) == {"angry": 4, "sad": 4, "calm": 4}
    assert Counter(va.values()) == {"angry": 1, "sad": 1, "calm": 1}
    assert not set(tr) & set(va)
    assert set(read_kv(str(tmp_path / "valid_aug/utt2orig"))) == set(va)  # copies keep their origin
    assert emo7.cap_per_class({"a": "x", "b": "x"}, 5, 0) == ["a", "b"]
    with pytest.raises(SystemExit):                                       # split needs --valid-per-class
        emo7_balance_paper.main(["split", str(tmp_path / "pool_aug"), str(tmp_path / "a"), str(tmp_path / "b")])


def test_ua_ceiling():
    train = ["angry", "sad", "happy", "disgust", "fearful", "surprised"]        # RAVDESS held out: no calm
    absent, cap = emo7.ua_ceiling(train, list(emo7.CLASSES))
    assert absent == ["calm"] and cap == pytest.approx(6 / 7)
    assert emo7.ua_ceiling(emo7.CLASSES, ["sad"]) == ([], 1.0)


# ------------------------------------------------------------------ end to end
def burst(path: Path, sr: int, speech_s: float, seed: int):
    """0.3 s near-silence, a harmonic burst of ``speech_s`` seconds, 0.3 s near-silence."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(sr * speech_s)) / sr
    f0 = rng.uniform(110, 220)
    v = sum(np.sin(2 * np.pi * h * f0 * t) / h for h in range(1, 12)) * 0.1
    pad = np.zeros(int(0.3 * sr))
    x = np.concatenate([pad, v, pad]) + 0.002 * rng.standard_normal(2 * pad.size + t.size)
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, x, sr, subtype="PCM_16")


def make_trees(root: Path):
    k = 0
    for a in (1001, 1002, 1003, 1004):
        for code, emo in (("DFA", "ANG"), ("IEO", "HAP"), ("TIE", "SAD"), ("ITS", "FEA"), ("IWW", "NEU")):
            k += 1
            burst(root / "CREMA-D" / "AudioWAV" / f"{a}_{code}_{emo}_XX.wav", 16000,
                  0.6 if (a, emo) == (1001, "SAD") else 1.3, k)   # one too short
    for a in (1, 2, 3, 4):
        for e in ("02", "05", "01", "08"):
            k += 1
            burst(root / "RAVDESS" / f"Actor_{a:02d}" / f"03-01-{e}-01-01-01-{a:02d}.wav",
                  48000, 1.3, k)
    for spk in ("DC", "JE", "JK", "KL"):
        for c in ("a01", "su02", "n03", "d04"):
            k += 1
            burst(root / "SAVEE" / "AudioData" / spk / f"{c}.wav", 44100, 1.3, k)
    for spk in ("OAF", "YAF"):
        for folder, e in (("Fear", "fear"), ("Pleasant_surprise", "ps"), ("angry", "angry")):
            for w in ("back", "bite"):
                k += 1
                burst(root / "TESS" / f"{spk}_{folder}" / f"{spk}_{w}_{e}.wav", 24414, 1.3, k)


def test_merge_and_splits_end_to_end(tmp_path, shell_env):
    corpora = tmp_path / "corpora"
    make_trees(corpora)
    data = tmp_path / "data dir"

    def run(*cmd):
        r = subprocess.run(["bash", *cmd], cwd=RECIPE, env=shell_env, capture_output=True,
                           text=True, timeout=600)
        assert r.returncode == 0, r.stdout + r.stderr
        return r

    for script, name in (("crema_d", "CREMA-D"), ("ravdess", "RAVDESS"), ("savee", "SAVEE"),
                         ("tess", "TESS")):
        run(f"local/{script}_data_prep.sh", str(corpora / name), str(data / name.lower()))
    r = run("local/emo7_merge.sh", "--nj", "2", str(data / "emo7"),
            *[str(data / n) for n in ("crema-d", "ravdess", "savee", "tess")])
    all_dir = data / "emo7" / "all"
    emo = read_kv(str(all_dir / "utt2emo"))
    assert "neutral" not in emo.values() and set(emo.values()) <= set(emo7.CLASSES)
    assert "cremad1001-1001_TIE_SAD_XX" not in emo            # 0.6 s of speech
    assert "cremad1002-1002_TIE_SAD_XX" in emo
    assert len(emo) == (20 - 4 - 1) + (16 - 4) + (16 - 4) + 12  # neutral and short dropped
    dur = {u: float(v) for u, v in read_kv(str(all_dir / "utt2dur")).items()}
    assert all(1.0 <= d < 1.6 for d in dur.values())          # silence removed
    for u, w in read_kv(str(all_dir / "wav.scp")).items():
        assert sf.info(w).samplerate == 16000
    assert "surprised" in r.stdout and "total" in r.stdout     # the counts table
    assert (all_dir / "preprocessing").read_text() == "noise_reduction false\n"
    # another --noise-reduction makes data/emo7/all again (the VAD is reused): same utterances,
    # wavs of their own; the same setting again is a no-op
    sources = [str(data / n) for n in ("crema-d", "ravdess", "savee", "tess")]
    r = run("local/emo7_merge.sh", "--nj", "2", "--noise-reduction", "true", str(data / "emo7"), *sources)
    assert "redoing" in r.stdout + r.stderr and "option noise_reduction" in r.stdout + r.stderr
    assert list(read_kv(str(all_dir / "utt2emo"))) == list(emo)
    assert all("/audio/trimmed_nr/" in w for w in read_kv(str(all_dir / "wav.scp")).values())
    assert (all_dir / "preprocessing").read_text() == "noise_reduction true\n"
    r = run("local/emo7_merge.sh", "--nj", "2", "--noise-reduction", "true", str(data / "emo7"), *sources)
    assert "up to date" in r.stdout + r.stderr

    r = run("local/emo7_splits.sh", "--seed", "3", str(all_dir), str(data / "emo7"))
    utt2spk = read_kv(str(all_dir / "utt2spk"))
    utt2corpus = read_kv(str(all_dir / "utt2corpus"))
    protocols = ["strat", "spk", "spksent"] + [f"loco/{c}" for c in ("cremad", "ravdess", "savee", "tess")]
    dirs = []
    for p in protocols:
        parts = {x: list(read_kv(str(data / "emo7" / p / x / "utt2emo")))
                 for x in ("train", "valid", "test")}
        if p == "spksent":           # a subset: no speaker nor sentence on two sides
            emo7.check_disjoint(parts, {u: emo7.sentence_of(u, utt2corpus[u]) for u in emo})
        else:
            _cover_once(parts, emo)
        if p != "strat":
            emo7.check_disjoint(parts, utt2spk)
        if p.startswith("loco/"):
            assert {utt2corpus[u] for u in parts["test"]} == {p.split("/")[1]}
        aug = data / "emo7" / p / "train_aug"
        origin = read_kv(str(aug / "utt2orig"))
        assert set(origin.values()) <= set(parts["train"])    # no copy of valid/test
        assert len(set(Counter(read_kv(str(aug / "utt2emo")).values()).values())) == 1
        dirs += [data / "emo7" / p / x for x in ("train", "valid", "test", "train_aug")]
    # the scripts run utils/validate_data_dir.sh on every dir they make (and fail otherwise)
    validated = r.stdout + r.stderr
    for d in dirs:
        assert f"Successfully validated data-directory {d}\n" in validated
