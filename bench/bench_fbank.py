"""Filterbank speed at the shipped settings, side by side with the plain torchaudio way.

Usage: python bench/bench_fbank.py [--repeats 5] [--utts-3s 250] [--utts-60s 12]

Settings: egs/voxceleb/conf/fbank.conf (FFT 1024, 128 mels, 25/10 ms, povey).  The
baseline is what one would write without emorec: soundfile + torchaudio.compliance.
kaldi.fbank + kaldiio, one thread; torchaudio cannot use another FFT size than 512 for
a 25 ms window, so it runs at FFT 512 (half emorec's FFT work) -- a comparison that
favours the baseline.

1. Whole process, as steps/make_fbank.sh runs one job: `python -m emorec.bin.compute_fbank`
   vs the baseline script, CPU seconds of the child process (os.wait4), wav read to
   ark/scp written, `import` included, on data dirs of 3 s and of 60 s utterances, each
   at two job sizes (N and 4N utterances); the difference between the sizes gives the
   cost per utterance without start-up (the ratio a very large job tends to).
   Goal (issue 13): >= 2x on both utterance lengths, for the 4N job.
2. In process (start-up excluded): emorec Fbank.compute_many (FFT 1024, and 512 for
   equal work) vs kaldi.fbank per utterance.
3. Physical estimate: FLOPs per second of audio at the shipped settings over the
   measured single-core float32 GEMM rate, as seconds of audio per CPU second.
All variants interleaved, --repeats rounds, median and min printed.  Writes
bench/results/bench_fbank.txt too.
"""
from __future__ import annotations

import argparse
import math
import os
import statistics
import subprocess
import sys
import tempfile

import numpy as np
import soundfile as sf
from threadpoolctl import threadpool_limits

from benchlib import FBANK_CONF as CONF, ROOT, Report, cpu_seconds, interleaved, stats, verdict
from emorec.features import Fbank, FbankConfig, mel_banks  # noqa: E402

GOAL = 2.0

BASELINE = '''\
import sys
import kaldiio
import soundfile as sf
import torch
import torchaudio.compliance.kaldi as K

torch.set_num_threads(1)
wav_scp, ark, scp = sys.argv[1:4]
kw = %r
with kaldiio.WriteHelper(f"ark,scp:{ark},{scp}") as writer, open(wav_scp) as f:
    for line in f:
        utt, path = line.split(None, 1)
        x, sr = sf.read(path.strip(), dtype="float32")
        writer(utt, K.fbank(torch.from_numpy(x * 32768.0)[None], **kw).numpy())
'''


def speechlike(n, seed=0, sr=16000):
    rng = np.random.default_rng(seed)
    t = np.arange(n) / sr
    x = np.convolve(rng.standard_normal(n), [0.9, -1.8, 1.0], "same") * 0.02
    x *= 1.2 + np.sin(2 * np.pi * 3 * t)
    x += 0.2 * np.sin(2 * np.pi * (150 + 300 * np.sin(2 * np.pi * 0.5 * t)) * t)
    return (x + 0.01 * rng.standard_normal(n)).astype(np.float32)


def make_scp(tmp, seconds, count, sr=16000):
    wavs = os.path.join(tmp, f"wav{seconds}")
    os.makedirs(wavs, exist_ok=True)
    lines = []
    for i in range(count):
        p = os.path.join(wavs, f"u{i:04d}.wav")
        sf.write(p, speechlike(int(seconds * sr), seed=i), sr, subtype="PCM_16")
        lines.append(f"spk-u{i:04d} {p}\n")
    scp = os.path.join(tmp, f"wav_{seconds}s_{count}.scp")
    with open(scp, "w") as f:
        f.writelines(lines)
    return scp


def child_cpu(cmd):
    """-> a measurement: CPU seconds (user + system) of one run of cmd."""
    def run():
        p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        _, status, ru = os.wait4(p.pid, 0)
        err = p.stderr.read().decode()
        p.stderr.close()
        p.returncode = os.waitstatus_to_exitcode(status)
        if p.returncode:
            raise RuntimeError(f"{cmd} failed ({p.returncode}): {err}")
        return ru.ru_utime + ru.ru_stime
    return run


def gemm_gflops(repeats):
    """Single-core float32 GEMM rate (GFLOP/s), the core's practical arithmetic peak."""
    a = np.random.default_rng(0).standard_normal((512, 512)).astype(np.float32)
    with threadpool_limits(1, user_api="blas"):
        times = interleaved({"gemm": cpu_seconds(lambda: [a @ a for _ in range(20)])}, repeats)
    return 20 * 2 * 512 ** 3 / min(times["gemm"]) / 1e9


def flops_per_audio_second(cfg: FbankConfig) -> dict:
    """Arithmetic one second of audio needs at these settings (the minimum, not what
    any implementation does): real FFT ~2.5 N log2 N, framing (DC removal, pre-emphasis,
    window) ~5 per sample, power 3 per bin, the mel product 2 per nonzero weight."""
    n, w = cfg.padded_window_size, cfg.window_size
    frames = 1000.0 / cfg.frame_shift
    nnz = int((mel_banks(cfg) > 0).sum())
    per_frame = {"fft": 2.5 * n * math.log2(n), "framing": 5.0 * w,
                 "power": 3.0 * (n // 2 + 1), "mel": 2.0 * nnz, "log": cfg.num_mel_bins}
    return {k: v * frames for k, v in per_frame.items()}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--utts-3s", type=int, default=250, help="N for the 3 s data dir (4N too)")
    ap.add_argument("--utts-60s", type=int, default=12, help="N for the 60 s data dir (4N too)")
    args = ap.parse_args()
    rep = Report("bench_fbank")
    cfg = FbankConfig.from_file(CONF)
    cfg512 = FbankConfig.from_file(CONF, fft_size=512)
    kw = cfg512.torchaudio_kwargs()
    rep.print(f"settings: {os.path.relpath(CONF, ROOT)} (FFT {cfg.padded_window_size}, "
              f"{cfg.num_mel_bins} mels); baseline torchaudio at FFT {cfg512.padded_window_size}; "
              f"one thread each; {args.repeats} interleaved rounds")

    mel_banks(cfg)  # warm the bank cache, as every job after the first finds it
    ok_all = True
    with tempfile.TemporaryDirectory() as tmp:
        script = os.path.join(tmp, "baseline_fbank.py")
        with open(script, "w") as f:
            f.write(BASELINE % (kw,))
        env_py = [sys.executable]
        rep.print("\n1. whole process, wav read to ark/scp written (CPU s per job)")
        for seconds, n in ((3, args.utts_3s), (60, args.utts_60s)):
            res = {}
            variants = {}
            for count in (n, 4 * n):
                scp = make_scp(tmp, seconds, count)
                out = os.path.join(tmp, f"out_{seconds}_{count}")
                variants[("emorec", count)] = child_cpu(
                    env_py + ["-m", "emorec.bin.compute_fbank", "--config", CONF, scp,
                              out + "_e.ark", out + "_e.scp"])
                variants[("baseline", count)] = child_cpu(
                    env_py + [script, scp, out + "_b.ark", out + "_b.scp"])
            res = interleaved(variants, args.repeats)
            med = {k: statistics.median(v) for k, v in res.items()}
            for (who, count), v in res.items():
                rep.print(f"  {seconds:2d} s x {count:4d} utts  {who:8s}  {stats(v)}  "
                          f"({count * seconds / statistics.median(v):6.0f} s audio / CPU s)")
            big = med[("baseline", 4 * n)] / med[("emorec", 4 * n)]
            small = med[("baseline", n)] / med[("emorec", n)]
            marginal = ((med[("baseline", 4 * n)] - med[("baseline", n)])
                        / (med[("emorec", 4 * n)] - med[("emorec", n)]))
            per_utt = (med[("emorec", 4 * n)] - med[("emorec", n)]) / (3 * n)
            start = med[("emorec", n)] - n * per_utt
            rep.print(f"  {seconds} s utts: baseline/emorec {small:.2f}x ({n} utts), {big:.2f}x "
                      f"({4 * n} utts); per utterance without start-up {marginal:.2f}x "
                      f"(emorec start-up ~{start:.2f} CPU s, then {seconds / per_utt:.0f} s audio / CPU s)")
            verdict(rep, f"whole-process job of {4 * n} x {seconds} s utterances >= {GOAL:g}x "
                         f"the soundfile+torchaudio+kaldiio script", f"{big:.2f}x", big >= GOAL)
            verdict(rep, f"per-utterance cost without start-up, {seconds} s utterances, "
                         f">= {GOAL:g}x (the limit of a very large job)", f"{marginal:.2f}x",
                    marginal >= GOAL)
            ok_all &= big >= GOAL

    rep.print("\n2. in process, start-up excluded (CPU s for the whole set)")
    import torch
    import torchaudio.compliance.kaldi as K

    torch.set_num_threads(1)
    ours, ours512 = Fbank(cfg), Fbank(cfg512)
    with threadpool_limits(1, user_api="blas"):
        for seconds, n in ((3, 100), (60, 5)):
            utts = [speechlike(seconds * 16000, seed=i) for i in range(n)]
            tens = [torch.from_numpy(u * 32768.0)[None] for u in utts]
            res = interleaved({
                "torchaudio kaldi.fbank (FFT 512)": cpu_seconds(
                    lambda: [K.fbank(t, **kw) for t in tens]),
                "emorec compute_many (FFT 1024)": cpu_seconds(lambda: ours.compute_many(utts)),
                "emorec compute_many (FFT 512)": cpu_seconds(lambda: ours512.compute_many(utts)),
            }, args.repeats)
            for name, v in res.items():
                rep.print(f"  {seconds:2d} s x {n:3d} utts  {name:32s} {stats(v)}  "
                          f"({n * seconds / statistics.median(v):6.0f} s audio / CPU s)")
            base = statistics.median(res["torchaudio kaldi.fbank (FFT 512)"])
            r, r512 = (base / statistics.median(res[f"emorec compute_many (FFT {n_fft})"])
                       for n_fft in (1024, 512))
            rep.print(f"  {seconds} s utts: torchaudio/emorec {r:.2f}x at the shipped FFT 1024, "
                      f"{r512:.2f}x at torchaudio's FFT 512")
        d = np.abs(ours512(utts[0]) - K.fbank(tens[0], **kw).numpy())
        rep.print(f"  values at FFT 512: max |emorec - torchaudio| = {d.max():.1e} "
                  f"(float32 FFT rounding; tests/test_features.py holds the bounds)")
        speed = 60 * 5 / statistics.median(res["emorec compute_many (FFT 1024)"])

    rep.print("\n3. physical estimate")
    flops = flops_per_audio_second(cfg)
    total = sum(flops.values())
    gf = gemm_gflops(args.repeats)
    bound = gf * 1e9 / total
    rep.print(f"  {total / 1e6:.2f} MFLOP per second of audio ("
              + ", ".join(f"{k} {v / 1e6:.2f}" for k, v in flops.items())
              + f"); single-core float32 GEMM {gf:.0f} GFLOP/s")
    rep.print(f"  estimate {bound:.0f} s audio / CPU s; emorec in process {speed:.0f} "
              f"({100 * speed / bound:.0f}% of it: the FFT and the elementwise passes are "
              f"memory-bound, far from GEMM speed)")
    rep.print(f"\nall whole-process goals: {'PASS' if ok_all else 'FAIL'}")
    rep.close()


if __name__ == "__main__":
    main()
