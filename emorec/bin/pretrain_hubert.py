"""Pre-train a small HuBERT offline (the demo's stand-in for facebook/hubert-base-ls960).

  python -m emorec.bin.pretrain_hubert --config conf/hubert_demo.yaml [--set section.key=value ...] \
      TRAIN_DATA_DIR WORK_DIR

HuBERT's first iteration (emorec.train.ssl_pretrain): k-means (scikit-learn) over the MFCC
frames of every utterance of TRAIN_DATA_DIR/wav.scp gives frame targets, then masked
prediction of those targets through the one training loop. Labels are never read.
Leakage: the recipe pre-trains one encoder per fold on that fold's TRAIN audio only
(data/.../foldK/train), so neither the k-means nor the weights have heard dev or test.

Writes into WORK_DIR:
  kmeans.npz    standardisation and centroids, and the utterances they were fitted on
                (reused on a rerun when the utterances are the same)
  train/        the loop's checkpoints (resumed after a kill), TensorBoard
  model/        the HubertModel directory (config.json, model.safetensors,
                preprocessor_config.json, pretrain_info.json), written last: a rerun
                does nothing when it was made from the same TRAIN_DATA_DIR and config
                (emorec.stamp: WORK_DIR/model.stamp); another fingerprint starts afresh
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", help="YAML config (schema: emorec.train.ssl_pretrain)")
    ap.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                    help="config override (repeatable)")
    ap.add_argument("--ngpu", type=int, default=1, help="0: CPU; 1: CUDA when visible")
    ap.add_argument("--num-threads", type=int, default=0, help="torch CPU threads (0: train.num_threads)")
    ap.add_argument("train_data_dir")
    ap.add_argument("work_dir")
    a = ap.parse_args(argv)

    from emorec.train import ssl_pretrain
    from emorec.train.config import ConfigError, load_config

    try:
        cfg = load_config(ssl_pretrain.SCHEMA, a.config, a.set)
    except ConfigError as e:
        print(f"pretrain_hubert: ERROR: {e}", file=sys.stderr)
        return 1
    if a.num_threads > 0:
        cfg["train"]["num_threads"] = a.num_threads
    work = Path(a.work_dir)
    from emorec.stamp import Stamp, config_options

    try:
        stamp = Stamp(work / "model", step="pretrain_hubert", version=1, inputs=[a.train_data_dir],
                      options={"config": config_options(cfg)})
    except FileNotFoundError as e:
        print(f"pretrain_hubert: ERROR: {e}", file=sys.stderr)
        return 1
    if stamp.done():
        return 0
    stamp.begin(stale=[work / "train", work / "kmeans.npz"])

    import numpy as np
    import torch

    from emorec.data.waveform import SAMPLE_RATE, load_wave_set
    from emorec.runtime import quiet_transformers
    from emorec.train import checkpoint, loop

    quiet_transformers()
    if cfg["train"]["num_threads"]:
        torch.set_num_threads(cfg["train"]["num_threads"])
    try:
        t0 = time.time()
        wset = load_wave_set(a.train_data_dir, labels=False)
        feats = ssl_pretrain.training_frames(wset, cfg["kmeans"]["n_mfcc"])
        km_path = work / "kmeans.npz"
        km = dict(np.load(km_path)) if km_path.is_file() else None
        if km is None or list(km["utts"]) != wset.utts:
            km = ssl_pretrain.fit_kmeans(feats, cfg["kmeans"], cfg["train"]["seed"])
            ssl_pretrain.save_kmeans(km_path, km, wset.utts)
        targets = ssl_pretrain.assign(feats, km)
        print(f"pretrain_hubert: {a.train_data_dir}: {len(wset.utts)} utterances, "
              f"{sum(len(f) for f in feats)} MFCC frames -> {cfg['kmeans']['n_clusters']} k-means targets "
              f"({time.time() - t0:.1f}s)")
        family = ssl_pretrain.HubertPretrainFamily(cfg, wset, targets)
        loop.train(cfg, family, str(work / "train"), resume=True, ngpu=a.ngpu)
        final = checkpoint.load(str(work / "train" / "final.pt"))
        model, _ = family.build_model(final)
        model.load_state_dict(final["model"])
        info = {"train_data_dir": str(a.train_data_dir), "utterances": len(wset.utts),
                "hours": float(wset.num_samples.sum() / SAMPLE_RATE / 3600), "epochs": final["epoch"],
                "final_masked_loss": final["metrics"]["loss"], "final_masked_acc": final["metrics"]["acc"],
                "seconds": round(time.time() - t0, 1), "config": cfg}
        ssl_pretrain.save_encoder(model, work / "model", info)
    except (OSError, ValueError) as e:
        print(f"pretrain_hubert: ERROR: {e}", file=sys.stderr)
        return 1
    print(f"pretrain_hubert: {work}/model: masked-prediction loss {info['final_masked_loss']:.3f} "
          f"acc {info['final_masked_acc']:.3f} after {info['epochs']} epochs; {info['seconds']}s in all")
    return 0


if __name__ == "__main__":
    from emorec.bin import run_main
    run_main(main)
