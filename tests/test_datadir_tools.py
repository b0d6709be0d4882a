"""Kaldi data-dir tools in utils/ on a small hand-made data dir (real wavs, real kaldiio feats)."""
import os
import shutil
import subprocess
from pathlib import Path

import kaldiio
import numpy as np
import pytest
import soundfile as sf

LISTS = ("utt2spk", "spk2utt", "wav.scp", "text", "utt2emo", "feats.scp", "utt2num_frames")


def sh(cmd, env, cwd=None, check=True):
    r = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, env=env, cwd=cwd)
    if check:
        assert r.returncode == 0, r.stdout + r.stderr
    return r


@pytest.fixture
def datadir(tmp_path, shell_env):
    """3 speakers (2, 3, 4 utts) in a dir whose path has a space."""
    d = tmp_path / "data dir" / "train"
    (d / "wav").mkdir(parents=True)
    utts = [f"spk{s}-utt{u}" for s in (1, 2, 3) for u in range(1, s + 2)]
    rng = np.random.default_rng(0)
    with kaldiio.WriteHelper(f"ark,scp:{d}/feats.ark,{d}/feats.scp") as w:
        for i, u in enumerate(utts):
            w(u, rng.standard_normal((5 + i, 8)).astype(np.float32))
    for i, u in enumerate(utts):
        sf.write(d / "wav" / f"{u}.wav", (rng.standard_normal(800) * 0.1).astype(np.float32),
                 16000)
    (d / "wav.scp").write_text("".join(f"{u} {d}/wav/{u}.wav\n" for u in utts))
    (d / "utt2spk").write_text("".join(f"{u} {u.split('-')[0]}\n" for u in utts))
    (d / "text").write_text("".join(f"{u} some words {i}\n" for i, u in enumerate(utts)))
    (d / "utt2emo").write_text("".join(f"{u} {'ang hap neu sad'.split()[i % 4]}\n"
                                       for i, u in enumerate(utts)))
    (d / "utt2num_frames").write_text("".join(f"{u} {5 + i}\n" for i, u in enumerate(utts)))
    spk2utt = sh(["utt2spk_to_spk2utt.pl", d / "utt2spk"], shell_env).stdout
    (d / "spk2utt").write_text(spk2utt)
    return d


def validate(d, env, *opts):
    return sh(["validate_data_dir.sh", *opts, d], env, check=False)


def test_spk2utt_utt2spk_round_trip(datadir, shell_env):
    s2u = (datadir / "spk2utt").read_text()
    assert s2u.splitlines()[0] == "spk1 spk1-utt1 spk1-utt2"
    r = subprocess.run(["spk2utt_to_utt2spk.pl"], input=s2u, capture_output=True, text=True,
                       env=shell_env)
    assert r.stdout == (datadir / "utt2spk").read_text()


def test_filter_scp(datadir, tmp_path, shell_env):
    ids = tmp_path / "ids"
    ids.write_text("spk2-utt1\nspk3-utt4 extra\n")
    out = sh(["filter_scp.pl", ids, datadir / "text"], shell_env).stdout
    assert [l.split()[0] for l in out.splitlines()] == ["spk2-utt1", "spk3-utt4"]
    out = sh(["filter_scp.pl", "--exclude", ids, datadir / "text"], shell_env).stdout
    assert len(out.splitlines()) == 7 and "spk2-utt1" not in out


def test_validate_good(datadir, shell_env):
    r = validate(datadir, shell_env)
    assert r.returncode == 0, r.stderr
    assert "Successfully validated" in r.stdout


@pytest.mark.parametrize("breakage,file,message", [
    ("unsorted", "text", "text:2: not sorted"),
    ("empty_text", "text", "text:4: empty transcript"),
    ("spk2utt", "spk2utt", "spk2utt:1: does not match"),
    ("missing_key", "utt2emo", "utt2emo"),
    ("extra_key", "wav.scp", "wav.scp:10: key \"zzz-utt\" is not in"),
    ("empty_line", "utt2emo", "utt2emo:3: empty line"),
    ("bad_wav", "wav.scp", "wav.scp:2: spk1-utt2"),
    ("bad_feats", "feats.scp", "feats.scp:1: spk1-utt1"),
    ("crlf", "text", "text:1: CRLF line ending"),
    ("crlf", "utt2spk", "utt2spk:1: CRLF line ending"),
    ("missing_m4a", "wav.scp", "wav.scp:3: spk2-utt1: "),
    ("broken_pipe", "wav.scp", "wav.scp:1: spk1-utt1: "),
    ("bad_trial", "trials", "trials:2: utterance \"spk9-utt1\" is not in"),
])
def test_validate_bad(datadir, shell_env, breakage, file, message):
    f = datadir / file
    if not f.exists():
        f.write_text("")
    lines = f.read_text().splitlines(keepends=True)
    if breakage == "unsorted":
        lines[0], lines[1] = lines[1], lines[0]
    elif breakage == "empty_text":
        lines[3] = lines[3].split()[0] + "\n"
    elif breakage == "spk2utt":
        lines[0] = "spk1 spk1-utt1\n"
    elif breakage == "missing_key":
        del lines[4]
    elif breakage == "extra_key":
        lines.append("zzz-utt /nonexistent.wav\n")
    elif breakage == "empty_line":
        lines.insert(2, "\n")
    elif breakage == "bad_wav":
        (datadir / "wav" / "spk1-utt2.wav").write_bytes(b"not a wav file")
    elif breakage == "bad_feats":
        lines[0] = lines[0].split()[0] + " " + str(datadir / "nothere.ark") + ":12\n"
    elif breakage == "crlf":
        lines[0] = lines[0].replace("\n", "\r\n")
    elif breakage == "missing_m4a":      # a pipe is not run in the header check: its input must exist
        lines[2] = lines[2].split()[0] + f" ffmpeg -nostdin -i '{datadir}/no such.m4a' -f wav - |\n"
    elif breakage == "broken_pipe":      # ... and a few pipes are decoded
        lines[0] = lines[0].split()[0] + f" cat '{datadir}/utt2spk' |\n"
    elif breakage == "bad_trial":
        lines = ["spk1-utt1 spk2-utt1 nontarget\n", "spk9-utt1 spk1-utt2 target\n"]
    f.write_text("".join(lines))
    r = validate(datadir, shell_env)
    assert r.returncode != 0
    assert message in r.stderr, r.stderr
    assert str(f) in r.stderr


def test_validate_no_wav_still_checks_the_list(datadir, shell_env):
    wav = (datadir / "wav.scp").read_text().splitlines(keepends=True)
    (datadir / "wav.scp").write_text("".join(reversed(wav[1:])))    # unsorted, spk1-utt1 missing
    r = validate(datadir, shell_env, "--no-wav")
    assert r.returncode != 0
    assert "wav.scp:2: not sorted" in r.stderr and "key \"spk1-utt1\" of" in r.stderr, r.stderr
    for f in (datadir / "wav").iterdir():          # --no-wav reads no audio
        f.write_bytes(b"not audio")
    (datadir / "wav.scp").write_text("".join(wav))
    assert validate(datadir, shell_env, "--no-wav").returncode == 0


def test_validate_audio_header_by_default_full_on_request(datadir, shell_env):
    # every entry a pipe; the one at line 8 yields no audio: the header check runs only
    # a few pipes (lines 1, 4, 7 of 9) and passes it, --audio full runs them all
    wav = [ln.split(None, 1) for ln in (datadir / "wav.scp").read_text().splitlines()]
    wav[7][1] = f"{datadir}/utt2spk"
    (datadir / "wav.scp").write_text("".join(f"{u} cat '{p}' |\n" for u, p in wav))
    assert validate(datadir, shell_env).returncode == 0
    r = validate(datadir, shell_env, "--audio", "full")
    assert r.returncode != 0 and "wav.scp:8: spk3-utt3" in r.stderr, r.stderr
    assert "expected one of: header full" in validate(datadir, shell_env, "--audio", "fast").stderr


def test_validate_options(datadir, shell_env):
    for name, opt in (("feats.scp", "--no-feats"), ("text", "--no-text"), ("wav.scp", "--no-wav")):
        (datadir / name).unlink()
        r = validate(datadir, shell_env)
        assert r.returncode != 0 and opt in r.stderr
    (datadir / "utt2num_frames").unlink()
    r = validate(datadir, shell_env, "--no-feats", "--no-text", "--no-wav")
    assert r.returncode == 0, r.stderr


def test_fix_data_dir_repairs(datadir, shell_env):
    orig = {n: (datadir / n).read_text() for n in LISTS}
    text = orig["text"].splitlines(keepends=True)
    text[3] = text[3].split()[0] + "\n"                       # spk2-utt2: empty transcript
    (datadir / "text").write_text("".join(reversed(text)))    # unsorted
    emo = orig["utt2emo"].splitlines(keepends=True)
    del emo[0]                                                 # spk1-utt1 has no emotion
    (datadir / "utt2emo").write_text("".join(emo + [emo[0]]))  # duplicate key
    (datadir / "spk2utt").write_text("spk9 x\n")
    assert validate(datadir, shell_env).returncode != 0
    r = sh(["fix_data_dir.sh", datadir], shell_env)
    assert "kept 7 of 9" in r.stdout
    r = validate(datadir, shell_env)
    assert r.returncode == 0, r.stderr
    utts = [l.split()[0] for l in (datadir / "utt2spk").read_text().splitlines()]
    assert "spk1-utt1" not in utts and "spk2-utt2" not in utts and len(utts) == 7
    assert (datadir / ".backup" / "text").read_text() == "".join(reversed(text))


@pytest.mark.parametrize("per_utt", [False, True])
def test_split_round_trip(datadir, shell_env, per_utt):
    args = ["split_data.sh"] + (["--per-utt"] if per_utt else []) + [datadir, 3]
    sh(args, shell_env)
    sdir = datadir / ("split3utt" if per_utt else "split3")
    for n in LISTS:
        joined = "".join((sdir / str(k) / n).read_text() for k in (1, 2, 3))
        if n == "spk2utt" and per_utt:   # speakers may straddle parts
            continue
        assert joined == (datadir / n).read_text(), n
    for k in (1, 2, 3):
        r = validate(sdir / str(k), shell_env, "--no-wav")
        assert r.returncode == 0, r.stderr
        if not per_utt:   # by speaker: one speaker per part here
            assert len((sdir / str(k) / "spk2utt").read_text().splitlines()) == 1
    if per_utt:
        assert [len((sdir / str(k) / "utt2spk").read_text().splitlines()) for k in (1, 2, 3)] \
            == [3, 3, 3]
    # a split made from the same lists is reused, even after a touch; another text is split again
    m = (sdir / "1" / "text").stat().st_mtime_ns
    sh(args, shell_env)
    os.utime(datadir / "text")
    sh(args, shell_env)
    assert (sdir / "1" / "text").stat().st_mtime_ns == m
    (datadir / "text").write_text((datadir / "text").read_text().replace(" ", "  ", 1))
    sh(args, shell_env)
    assert (sdir / "1" / "text").stat().st_mtime_ns != m


def test_split_too_few_speakers(datadir, shell_env):
    r = sh(["split_data.sh", datadir, 4], shell_env, check=False)
    assert r.returncode != 0 and "--per-utt" in r.stderr
    sh(["split_data.sh", "--per-utt", datadir, 4], shell_env)


def test_subset_and_combine(datadir, tmp_path, shell_env):
    spks = tmp_path / "spks"
    spks.write_text("spk1\nspk3\n")
    a, b, c = tmp_path / "sub a", tmp_path / "sub b", tmp_path / "sub c"
    sh(["subset_data_dir.sh", "--spk-list", spks, datadir, a], shell_env)
    assert (a / "spk2utt").read_text().split()[0::1][0] == "spk1"
    assert len((a / "text").read_text().splitlines()) == 6
    utts = tmp_path / "utts"
    utts.write_text("spk2-utt1\nspk2-utt3\n")
    sh(["subset_data_dir.sh", "--utt-list", utts, datadir, b], shell_env)
    assert (b / "utt2spk").read_text() == "spk2-utt1 spk2\nspk2-utt3 spk2\n"
    sh(["subset_data_dir.sh", "--first", 3, datadir, c], shell_env)
    assert len((c / "feats.scp").read_text().splitlines()) == 3
    even = tmp_path / "even"
    sh(["subset_data_dir.sh", datadir, 3, even], shell_env)
    assert len((even / "utt2spk").read_text().splitlines()) == 3
    for d in (a, b, c, even):
        assert validate(d, shell_env).returncode == 0
    comb = tmp_path / "comb dir"
    sh(["combine_data.sh", comb, b, a], shell_env)
    r = validate(comb, shell_env)
    assert r.returncode == 0, r.stderr
    assert len((comb / "utt2spk").read_text().splitlines()) == 8
    assert (comb / "spk2utt").read_text().splitlines()[1] == "spk2 spk2-utt1 spk2-utt3"
    r = sh(["combine_data.sh", tmp_path / "dup", a, c], shell_env, check=False)
    assert r.returncode != 0 and "duplicate" in r.stderr


def test_trials_follow_the_utterances(datadir, tmp_path, shell_env):
    """trials (emorec/data/data_files.txt): kept when both sides are, in their order,
    by the shell tools and emorec.data.datadir alike; never split."""
    from emorec.data.datadir import classify_data_files, subset_data_dir
    trials = ["spk3-utt1 spk1-utt1 nontarget", "spk2-utt1 spk2-utt3 target", "spk1-utt2 spk3-utt4 nontarget"]
    (datadir / "trials").write_text("\n".join(trials) + "\n")
    assert classify_data_files(str(datadir))["trials"] == ["trials"]
    assert validate(datadir, shell_env).returncode == 0
    utts = tmp_path / "utts"
    utts.write_text("spk1-utt2\nspk2-utt1\nspk2-utt3\nspk3-utt4\n")
    sh(["subset_data_dir.sh", "--utt-list", utts, datadir, tmp_path / "sub"], shell_env)
    assert (tmp_path / "sub" / "trials").read_text().splitlines() == trials[1:]
    subset_data_dir(str(datadir), str(tmp_path / "py"), ["spk1-utt2", "spk2-utt1", "spk2-utt3", "spk3-utt4"])
    assert (tmp_path / "py" / "trials").read_text() == (tmp_path / "sub" / "trials").read_text()
    (datadir / "utt2emo").write_text("".join(ln for ln in (datadir / "utt2emo").read_text().splitlines(True)
                                             if not ln.startswith("spk2-utt3")))
    sh(["fix_data_dir.sh", datadir], shell_env)
    assert (datadir / "trials").read_text().splitlines() == [trials[0], trials[2]]
    sh(["split_data.sh", datadir, 3], shell_env)
    assert not list((datadir / "split3").glob("*/trials"))
