"""Build a small BERT text encoder offline (the demo's stand-in for bert-base-uncased).

Trains a WordPiece tokenizer (``tokenizers``) on TEXT_FILE, creates a small BERT
(BertForMaskedLM: by default 2 layers, hidden 128, 2 heads), optionally pre-trains it
for a few masked-LM epochs on the same text, and saves both with ``save_pretrained``
into OUT_DIR as an ordinary BERT directory (config.json, model.safetensors,
tokenizer.json, tokenizer_config.json, build_info.json).  ``emorec.models.text`` then loads it
with AutoModel/AutoTokenizer exactly as it loads bert-base-uncased.

TEXT_FILE is a Kaldi ``text`` file (``utt transcript``; use --plain for one sentence a
line).  Labels are never read.  Leakage: the recipe builds one encoder per fold from
that fold's TRAIN transcripts only (data/loso/foldK/train/text), so neither the
tokenizer vocabulary nor the MLM weights have seen dev or test text.

OUT_DIR is written as a whole (a temporary dir renamed into place). With --skip-done,
nothing is built when OUT_DIR is up to date by the toolkit's restart rule (emorec.stamp:
OUT_DIR.stamp holds the same TEXT_FILEs and options).
"""
from __future__ import annotations

import argparse
import sys
import time


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--plain", action="store_true", help="TEXT_FILE has one sentence a line (no utt ids)")
    ap.add_argument("--vocab-size", type=int, default=2000)
    ap.add_argument("--hidden-size", type=int, default=128)
    ap.add_argument("--num-layers", type=int, default=2)
    ap.add_argument("--num-heads", type=int, default=2)
    ap.add_argument("--intermediate-size", type=int, default=512)
    ap.add_argument("--max-position", type=int, default=128)
    ap.add_argument("--mlm-epochs", type=int, default=10, help="masked-LM pre-training epochs (0: none)")
    ap.add_argument("--mlm-lr", type=float, default=1e-3)
    ap.add_argument("--mlm-batch-size", type=int, default=32)
    ap.add_argument("--seed", type=int, default=777)
    ap.add_argument("--num-threads", type=int, default=0, help="torch CPU threads (0: torch default)")
    ap.add_argument("--skip-done", action="store_true",
                    help="do nothing when OUT_DIR was built from the same text files and options")
    ap.add_argument("text_file", nargs="+", help="one or more text files")
    ap.add_argument("out_dir")
    a = ap.parse_args(argv)

    from emorec.fileio import read_kv, read_text
    from emorec.stamp import Stamp, options_of

    try:
        stamp = Stamp(a.out_dir, step="make_text_encoder", version=1, inputs=a.text_file,
                      options=options_of(a, "text_file", "out_dir", "num_threads"))
    except FileNotFoundError as e:
        print(f"make_text_encoder: ERROR: {e}", file=sys.stderr)
        return 1
    if a.skip_done and stamp.done():
        return 0
    stamp.begin()
    import torch

    from emorec.runtime import quiet_transformers
    from emorec.train.text_encoder import build_text_encoder

    quiet_transformers()
    if a.num_threads > 0:
        torch.set_num_threads(a.num_threads)
    texts = []
    try:
        for path in a.text_file:
            if a.plain:
                texts += [ln.strip() for ln in read_text(path).splitlines() if ln.strip()]
            else:
                texts += [t for t in read_kv(path, allow_empty_value=True).values() if t]
        t0 = time.time()
        info = build_text_encoder(
            texts, a.out_dir, vocab_size=a.vocab_size, hidden_size=a.hidden_size, num_layers=a.num_layers,
            num_heads=a.num_heads, intermediate_size=a.intermediate_size, max_position=a.max_position,
            mlm_epochs=a.mlm_epochs, mlm_lr=a.mlm_lr, mlm_batch_size=a.mlm_batch_size, seed=a.seed,
        )
    except (OSError, ValueError) as e:
        print(f"make_text_encoder: ERROR: {e}", file=sys.stderr)
        return 1
    print(f"make_text_encoder: {a.out_dir}: {info['num_texts']} sentences, vocab {info['vocab_size']}, "
          f"{a.num_layers} layers x {a.hidden_size}, MLM epochs {a.mlm_epochs} "
          f"(final loss {info['mlm_loss'][-1] if info['mlm_loss'] else float('nan'):.3f}), {time.time() - t0:.1f}s")
    return 0


if __name__ == "__main__":
    from emorec.bin import run_main
    run_main(main)
