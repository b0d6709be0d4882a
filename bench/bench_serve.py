"""Load on emorec-serve (emorec/serve.py): N concurrent clients uploading short spoken
clips while a prober fetches the page, then a 10-minute file among the short ones (refused
by the default --max-seconds 60; and with the cap raised to 700 s).

Usage: python bench/bench_serve.py [--clients 4] [--requests 500] [--workers 2] [--work DIR]

Builds a small packaged model first (a 1-epoch tiny ResNet on synthetic features, a tiny
BERT, a w1 fusion; exported by steps/export_model.sh; ASR pocketsphinx), then starts
emorec-serve on a free port of 127.0.0.1. Prints per phase: upload latency p50/p95,
requests/s, `GET /` latency p50/p95 while scoring, the resident memory (RSS) of the
server and its worker processes before and after; and the goals, PASS/FAIL:
  * `GET /` under 100 ms at p95 while uploads are scored;
  * RSS growth (server + workers) under 50 MB over --requests uploads (after 10 of warm-up).
Writes bench/results/bench_serve.txt."""
from __future__ import annotations

import argparse
import concurrent.futures
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

from benchlib import ROOT, Report, verdict

sys.path.insert(0, os.path.join(ROOT, "tests"))
from synthetic_data import TINY_TRAIN_CONFIG, make_synthetic_datadir  # noqa: E402

CLASSES = ["ang", "hap", "neu", "sad"]
SENTENCES = ["i love this wonderful day", "i hate it damn", "okay it is tuesday", "i miss you"]


def run(cmd, **kw):
    subprocess.run([str(c) for c in cmd], check=True, **kw)


def build_model(work: str) -> str:
    """A small package of one fold, the way a recipe's stage 6 exports one."""
    import numpy as np
    import torch
    import yaml

    from emorec import fusion
    from emorec.models import text
    from emorec.train import checkpoint, families
    from emorec.train.text_encoder import build_text_encoder

    exp = os.path.join(work, "exp")
    data = os.path.join(work, "data")
    make_synthetic_datadir(data, num_speakers=4, utts_per_speaker=2, min_frames=20, max_frames=40, dim=128)
    keys = sorted(ln.split()[0] for ln in open(os.path.join(data, "utt2spk")))
    with open(os.path.join(data, "utt2emo"), "w") as f:
        f.writelines(f"{k} {CLASSES[i % 4]}\n" for i, k in enumerate(keys))
    cfg = os.path.join(work, "tiny.yaml")
    with open(cfg, "w") as f:
        yaml.safe_dump({**TINY_TRAIN_CONFIG, "train": {**TINY_TRAIN_CONFIG["train"], "epochs": 1}}, f)
    run([sys.executable, "-m", "emorec.bin.train", "--config", cfg, "--data", data, "--labels",
         os.path.join(data, "utt2emo"), "--dev-data", data, "--exp-dir", os.path.join(exp, "ser_finetune/fold1")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    # the fold's model dir, as steps/train_fold.sh saves the selected model (emorec.train.families)
    fold = os.path.join(exp, "ser_finetune/fold1")
    families.save_checkpoint("resnet", checkpoint.load(os.path.join(fold, "best.pt")), os.path.join(fold, "model"))
    build_text_encoder(SENTENCES * 2, os.path.join(work, "enc"), vocab_size=100, hidden_size=16, num_layers=1,
                       num_heads=2, intermediate_size=32, max_position=32, mlm_epochs=0, log=lambda *a: None)
    enc, tok = text.load_encoder_and_tokenizer(os.path.join(work, "enc"))
    torch.manual_seed(0)
    text.save_text_classifier(text.TextClassifier(enc, 4), tok, os.path.join(exp, "text/fold1/model"), CLASSES,
                              max_len=32)
    rng = np.random.default_rng(0)
    utts = [f"u{i:02d}" for i in range(12)]
    scores = os.path.join(work, "scores")
    for sysd in ("sp", "tx"):
        for s in ("dev", "test"):
            fusion.write_scores(os.path.join(scores, sysd, f"{s}.logpost.ark"), utts,
                                fusion.log_softmax(rng.normal(0, 2, (12, 4))), CLASSES)
    with open(os.path.join(scores, "utt2emo"), "w") as f:
        f.writelines(f"{u} {CLASSES[i % 4]}\n" for i, u in enumerate(utts))
    fusion.fuse_fold(os.path.join(scores, "sp"), os.path.join(scores, "tx"),
                     {"w1": os.path.join(exp, "fusion/w1/fold1")}, os.path.join(scores, "utt2emo"), log=lambda *a: None)
    shutil.copy(os.path.join(ROOT, "egs/iemocap/conf/fbank.conf"), os.path.join(work, "fbank.conf"))
    model = os.path.join(work, "model")
    run([os.path.join(ROOT, "steps/export_model.sh"), "--folds", "1", "--fusion", "w1", "--fbank-config",
         os.path.join(work, "fbank.conf"), "--trained-on", "synthetic bench features (not speech)", exp, model],
        stdout=subprocess.DEVNULL)
    return model


def clips(work: str):
    """(short spoken wav, 10-minute wav of the same looped) as bytes."""
    import numpy as np
    import soundfile

    short = os.path.join(work, "short.wav")
    run(["espeak-ng", "-s", "150", "-w", short, "i love this wonderful day"])
    wave, sr = soundfile.read(short, dtype="float32")
    reps = int(np.ceil(600 * sr / wave.size))
    long_path = os.path.join(work, "ten minutes.wav")
    soundfile.write(long_path, np.tile(wave, reps)[:600 * sr], sr, subtype="PCM_16")
    return open(short, "rb").read(), open(long_path, "rb").read()


def rss_mb(pid: int) -> float:
    """Resident memory of ``pid`` and all its descendants, MB."""
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            with open(f"/proc/{p}/status") as f:
                total += next(int(ln.split()[1]) for ln in f if ln.startswith("VmRSS:"))
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as f:
                    todo += [int(c) for c in f.read().split()]
        except (OSError, StopIteration):
            pass
    return total / 1024


def post(url: str, name: str, data: bytes):
    """(status, seconds) of one upload."""
    head = (f'--b\r\nContent-Disposition: form-data; name="audio"; filename="{name}"\r\n'
            f"Content-Type: application/octet-stream\r\n\r\n").encode()
    req = urllib.request.Request(url + "api/score", data=head + data + b"\r\n--b--\r\n",
                                 headers={"Content-Type": "multipart/form-data; boundary=b"})
    t0 = time.perf_counter()
    try:
        with urllib.request.urlopen(req, timeout=900) as r:
            r.read()
            status = r.status
    except urllib.error.HTTPError as e:
        status = e.code
    return status, time.perf_counter() - t0


class Prober(threading.Thread):
    """Fetches the page every 100 ms; ``times``: seconds per fetch (a failure counts as 10 s)."""

    def __init__(self, url):
        super().__init__(daemon=True)
        self.url, self.times, self.stop = url, [], threading.Event()

    def run(self):
        while not self.stop.is_set():
            t0 = time.perf_counter()
            try:
                urllib.request.urlopen(self.url, timeout=10).read()
                self.times.append(time.perf_counter() - t0)
            except OSError:
                self.times.append(10.0)
            self.stop.wait(0.1)


def pct(values, q):
    v = sorted(values)
    return v[min(len(v) - 1, int(round(q / 100 * (len(v) - 1))))]


def start_server(model, port, workers, max_seconds, log):
    cmd = [sys.executable, "-m", "emorec.bin.serve", "--model", model, "--port", str(port), "--device", "cpu",
           "--workers", str(workers), "--queue", "64", "--max-seconds", str(max_seconds), "--timeout", "600",
           "--max-mb", "40"]  # the 10-minute wav (25 MB) is refused by its duration, not its size
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    for _ in range(600):
        if proc.poll() is not None:
            raise SystemExit(f"emorec-serve exited ({proc.returncode}); see {log.name}")
        try:
            urllib.request.urlopen(url, timeout=2).read()
            return proc, url
        except OSError:
            time.sleep(0.5)
    raise SystemExit("emorec-serve did not start within 5 minutes")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def phase(rep, url, jobs, clients):
    """Run ``jobs`` ([(name, bytes)]) with ``clients`` threads while the prober fetches the page."""
    prober = Prober(url)
    prober.start()
    t0 = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(clients) as ex:
        out = list(ex.map(lambda j: (j[0],) + post(url, *j), jobs))
    wall = time.perf_counter() - t0
    prober.stop.set()
    prober.join()
    short = [s for n, st, s in out if n == "short.wav" and st == 200]
    rep.print(f"  {len(out)} uploads in {wall:.1f} s: {len(out) / wall:.2f} requests/s; statuses "
              + ", ".join(f"{st}: {sum(1 for _, x, _ in out if x == st)}" for st in sorted({x for _, x, _ in out})))
    if short:
        rep.print(f"  short uploads scored: latency p50 {pct(short, 50):.2f} s, p95 {pct(short, 95):.2f} s")
    for n, st, s in out:
        if n != "short.wav":
            rep.print(f"  {n}: status {st} after {s:.1f} s")
    rep.print(f"  GET / while scoring ({len(prober.times)} fetches): p50 {1000 * pct(prober.times, 50):.1f} ms, "
              f"p95 {1000 * pct(prober.times, 95):.1f} ms, max {1000 * max(prober.times):.1f} ms")
    return prober.times


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--requests", type=int, default=500)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--work", default=None, help="work dir (default: a temporary one, removed)")
    a = ap.parse_args()
    work = a.work or tempfile.mkdtemp(prefix="bench_serve.")
    os.makedirs(work, exist_ok=True)
    rep = Report("bench_serve")
    rep.print(f"# {a.clients} clients, {a.requests} uploads of a short spoken clip, {a.workers} worker(s)")
    try:
        model = os.path.join(work, "model")
        if not os.path.isdir(model):
            model = build_model(work)
        short, ten_min = clips(work)
        rep.print(f"# short clip {len(short) / 1024:.0f} KB, 10-minute wav {len(ten_min) / 2**20:.1f} MB")
        with open(os.path.join(work, "server.log"), "w") as log:
            proc, url = start_server(model, free_port(), a.workers, 60, log)
            try:
                rep.print("warm-up: 10 short uploads")
                phase(rep, url, [("short.wav", short)] * 10, a.clients)
                before = rss_mb(proc.pid)
                rep.print(f"phase 1: {a.requests} short uploads, {a.clients} clients (after 10 of warm-up); "
                          f"RSS before {before:.0f} MB")
                probes = phase(rep, url, [("short.wav", short)] * a.requests, a.clients)
                after = rss_mb(proc.pid)
                rep.print(f"  RSS after {after:.0f} MB")
                rep.print("phase 2: the 10-minute wav among 16 short ones (default --max-seconds 60)")
                probes += phase(rep, url, [("short.wav", short)] * 8 + [("ten minutes.wav", ten_min)]
                                + [("short.wav", short)] * 8, a.clients)
            finally:
                proc.terminate()
                proc.wait(timeout=60)
            proc, url = start_server(model, free_port(), a.workers, 700, log)
            try:
                rep.print("phase 3: the same with --max-seconds 700 (the 10-minute wav is scored)")
                r0 = rss_mb(proc.pid)
                probes3 = phase(rep, url, [("short.wav", short)] * 8 + [("ten minutes.wav", ten_min)]
                                + [("short.wav", short)] * 8, a.clients)
                rep.print(f"  RSS before {r0:.0f} MB, after {rss_mb(proc.pid):.0f} MB")
            finally:
                proc.terminate()
                proc.wait(timeout=60)
        p95 = pct(probes + probes3, 95)
        verdict(rep, "GET / p95 < 100 ms while scoring (phases 1-3)", f"{1000 * p95:.1f} ms", p95 < 0.1)
        verdict(rep, f"RSS growth < 50 MB over {a.requests} uploads", f"{after - before:+.1f} MB",
                after - before < 50)
    finally:
        rep.close()
        if not a.work:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
