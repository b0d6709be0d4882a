"""Extract speaker embeddings (the affine output of the embedding layer) over whole
utterances (no cropping; batches of similar length, padding masked).

  python -m emorec.bin.extract_embeddings --model EXP/final.pt --data DIR \
      --out-ark OUT/xvector.1.ark --out-scp OUT/xvector.1.scp [--utt-list LIST] [--device auto]
The scp is written last (through a .tmp name); with --skip-done a job made from the same
model, data and options is not redone (the toolkit's restart rule, emorec.stamp).

Batch size: --max-frames 0 (the default) takes MAX_FRAMES of the device.  On CPU one
utterance at a time is fastest (bench/bench_extract.py: 400-frame utterances, one
thread, batch 1 ~2.3x the utterances per CPU second of batch 32: a larger batch streams
every activation through memory instead of cache); the CUDA value is not measured yet."""
from __future__ import annotations

import argparse
import os
import sys
import time

#: padded frames per batch by device type, for --max-frames 0 (bench/bench_extract.py)
MAX_FRAMES = {"cpu": 400, "cuda": 20000}


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m emorec.bin.extract_embeddings", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True)
    p.add_argument("--data", required=True)
    p.add_argument("--out-ark", required=True)
    p.add_argument("--out-scp", required=True)
    p.add_argument("--utt-list", default=None, help="only these utterances (first column)")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N")
    p.add_argument("--max-frames", type=int, default=0,
                   help=f"padded frames per batch (0: by device, {MAX_FRAMES})")
    p.add_argument("--max-batch", type=int, default=32)
    p.add_argument("--num-threads", type=int, default=0)
    p.add_argument("--amp", default="none", choices=["none", "bf16", "fp16"], help="CUDA only")
    p.add_argument("--skip-done", action="store_true",
                   help="do nothing when --out-scp was made from the same model, data and options")
    a = p.parse_args(argv)
    from emorec.stamp import Stamp

    try:
        stamp = Stamp(a.out_scp, step="extract_embeddings", version=1, outputs=[a.out_ark],
                      inputs=[a.model, a.data] + ([a.utt_list] if a.utt_list else []),
                      options={"ark": os.path.abspath(a.out_ark), "amp": a.amp})
    except FileNotFoundError as e:
        sys.exit(f"extract_embeddings: ERROR: {e}")
    if a.skip_done and stamp.done():
        return 0
    stamp.begin()

    import kaldiio
    from emorec.train.infer import data_keys, load_for_scoring, run_model
    model, meta, device = load_for_scoring(a.model, a.device, a.num_threads)
    keys = data_keys(a.data, a.utt_list)
    t0 = time.time()
    os.makedirs(os.path.dirname(os.path.abspath(a.out_ark)), exist_ok=True)
    tmp_scp = a.out_scp + ".tmp"
    n = 0
    with kaldiio.WriteHelper(f"ark,scp:{a.out_ark},{tmp_scp}") as w:
        for key, emb, _ in run_model(model, a.data, "embedding", keys, device=device,
                                     max_frames=a.max_frames or MAX_FRAMES[device.type], max_batch=a.max_batch, amp=a.amp,
                                     progress=True):
            w(key, emb.numpy())
            n += 1
    # WriteHelper writes in batch order; sort the scp (Kaldi lists are sorted)
    with open(tmp_scp, encoding="utf-8") as f:
        lines = sorted(f)
    with open(tmp_scp, "w", encoding="utf-8") as f:
        f.writelines(lines)
    os.replace(tmp_scp, a.out_scp)
    print(f"extract_embeddings: {n} embeddings of dim {meta['model_args']['emb_dim']} from {a.data} "
          f"in {time.time() - t0:.1f}s on {device} -> {a.out_scp}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    from emorec.bin import run_main
    run_main(main)
