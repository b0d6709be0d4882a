"""Filterbank throughput: emorec.features vs torchaudio.compliance.kaldi.fbank, side by side.

Usage: python bench/bench_fbank.py [--seconds 60] [--repeats 5] [--threads 1]

Generates ~60 s of speech-like audio at 16 kHz, extracts 128-dim log-mel features
with both under the same settings (25/10 ms, povey, preemphasis 0.97, dither 0,
FFT 512 -- torchaudio cannot use another FFT size for a 400-sample window), and
prints seconds of audio per CPU second (time.process_time, best of --repeats) and the
ratio, for one long signal and for 3 s utterances; then emorec's default (FFT 1024)
and the end-to-end compute_fbank throughput (wav reading + extraction + kaldiio ark/scp
writing, in process).  Runs in well under a minute.
"""

import argparse
import os
import sys
import tempfile
import time

import numpy as np
import soundfile as sf
import torch
import torchaudio.compliance.kaldi as K

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from emorec.features import Fbank, FbankConfig  # noqa: E402

SR = 16000


def speechlike(n, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(n) / SR
    x = np.convolve(rng.standard_normal(n), [0.9, -1.8, 1.0], "same") * 0.02
    x *= 1.2 + np.sin(2 * np.pi * 3 * t)
    x += 0.2 * np.sin(2 * np.pi * (150 + 300 * np.sin(2 * np.pi * 0.5 * t)) * t)
    return (x + 0.01 * rng.standard_normal(n)).astype(np.float32)


def best_cpu(fn, repeats):
    fn()  # warm-up
    best = float("inf")
    for _ in range(repeats):
        t0 = time.process_time()
        fn()
        best = min(best, time.process_time() - t0)
    return best


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    total = args.seconds
    x = speechlike(int(total * SR))
    utts = [x[i:i + 3 * SR] for i in range(0, x.size, 3 * SR)]
    cfg512 = FbankConfig(fft_size=512)
    kw = cfg512.torchaudio_kwargs()
    ours512, ours1024 = Fbank(cfg512), Fbank(FbankConfig())
    xt = torch.from_numpy(x * cfg512.wave_scale)[None]
    ut = [torch.from_numpy(u * cfg512.wave_scale)[None] for u in utts]

    d = np.abs(ours512(x) - K.fbank(xt, **kw).numpy())
    print(f"audio: {total:.0f} s at {SR} Hz, 128 mel bins, torch threads={args.threads}; "
          f"max |emorec - torchaudio| (fft 512, float32) = {d.max():.2e}, mean {d.mean():.1e}")
    d64 = np.abs(Fbank(cfg512, dtype=torch.float64)(x) - K.fbank(xt.double(), **kw).numpy())
    print(f"float64: max |emorec - torchaudio| = {d64.max():.1e} (the float32 gap is FFT rounding "
          f"in low-energy channels, torchaudio float32 vs float64 differs as much)")
    print(f"{'case':44s} {'audio s / CPU s':>16s}")
    rows = [
        ("torchaudio kaldi.fbank, 1 x 60 s (fft 512)", lambda: K.fbank(xt, **kw)),
        ("emorec Fbank,           1 x 60 s (fft 512)", lambda: ours512(x)),
        ("torchaudio kaldi.fbank, 3 s utts (fft 512)", lambda: [K.fbank(u, **kw) for u in ut]),
        ("emorec Fbank,           3 s utts (fft 512)", lambda: [ours512(u) for u in utts]),
        ("emorec compute_many,    3 s utts (fft 512)", lambda: ours512.compute_many(utts)),
        ("emorec Fbank default,   1 x 60 s (fft 1024)", lambda: ours1024(x)),
        ("emorec compute_many,    3 s utts (fft 1024)", lambda: ours1024.compute_many(utts)),
    ]
    speed = {}
    for name, fn in rows:
        speed[name] = total / best_cpu(fn, args.repeats)
        print(f"{name:44s} {speed[name]:16.0f}")
    r1 = speed[rows[1][0]] / speed[rows[0][0]]
    r2 = speed[rows[3][0]] / speed[rows[2][0]]
    r3 = speed[rows[4][0]] / speed[rows[2][0]]
    print(f"ratio emorec / torchaudio (same settings): 1 x 60 s {r1:.2f}x, "
          f"3 s utts {r2:.2f}x, 3 s utts batched {r3:.2f}x")

    from emorec.bin import compute_fbank
    with tempfile.TemporaryDirectory() as tmp:
        lines = []
        for i, u in enumerate(utts):
            p = os.path.join(tmp, f"u{i:03d}.wav")
            sf.write(p, u, SR, subtype="PCM_16")
            lines.append(f"utt{i:03d} {p}\n")
        scp = os.path.join(tmp, "wav.scp")
        with open(scp, "w") as f:
            f.writelines(lines)
        conf = os.path.join(tmp, "fbank.conf")
        with open(conf, "w") as f:
            f.write(FbankConfig().to_kaldi_conf())
        argv = ["--config", conf, "--num-threads", str(args.threads), scp,
                os.path.join(tmp, "f.ark"), os.path.join(tmp, "f.scp")]
        import contextlib
        import io
        err = io.StringIO()

        def run():
            with contextlib.redirect_stderr(err):
                assert compute_fbank.main(argv) == 0

        e2e = total / best_cpu(run, max(1, args.repeats // 2))
        print(f"{'compute_fbank end-to-end (read+fft1024+ark)':44s} {e2e:16.0f}")


if __name__ == "__main__":
    main()
