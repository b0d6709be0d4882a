"""Train a ResNet classifier (speaker or emotion) on random chunks of Kaldi features.

  python -m emorec.bin.train --config conf/train.yaml --data data/train --labels data/train/utt2spk \
      --exp-dir exp/resnet [--dev-data DIR --dev-labels FILE] [--resume] [--ngpu N] [--nnodes N] [--seed S] \
      [--init-from CKPT --transfer scratch|probe|finetune] [--set optim.lr=0.01 ...]

All hyper-parameters come from the YAML (schema: emorec.train.speech, emorec.train.config);
--set overrides them; an unknown key or a wrongly typed value fails naming it.
--ngpu: 0 = CPU; 1 = one process (CUDA when available, else CPU); N > 1 = N processes
under torchrun with DDP (nccl on CUDA, gloo on CPU, i.e. N CPU processes without GPUs).
--nnodes N: one such torchrun agent on each of N nodes (slurm.pl --nodes N starts them with
srun and sets the c10d rendezvous on the first node, EMOREC_RDZV_ENDPOINT); world size
N x max(ngpu, 1).
--resume continues from the newest intact EXP/epoch_N.pt (model, optimizer, RNG states).
Outputs: EXP/epoch_N.pt, EXP/best.pt (with dev data), EXP/final.pt, EXP/tensorboard/,
EXP/config.yaml.
"""
from __future__ import annotations

import argparse
import os
import sys


def get_parser():
    p = argparse.ArgumentParser(prog="python -m emorec.bin.train", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", required=True, help="training YAML")
    p.add_argument("--data", required=True, help="training data dir (feats.scp, utt2num_frames)")
    p.add_argument("--labels", default=None, help="utt -> label list (default DATA/utt2spk)")
    p.add_argument("--exp-dir", required=True)
    p.add_argument("--dev-data", default=None, help="dev data dir: evaluated on whole segments "
                   "every epoch; best.pt keeps the best unweighted accuracy")
    p.add_argument("--dev-labels", default=None, help="default DEV_DATA/<basename of --labels>")
    p.add_argument("--resume", action="store_true")
    p.add_argument("--ngpu", type=int, default=1)
    p.add_argument("--nnodes", type=int, default=1, help="nodes, each running --ngpu processes")
    p.add_argument("--seed", type=int, default=None, help="overrides train.seed")
    p.add_argument("--init-from", default=None, help="checkpoint whose trunk initialises the model")
    p.add_argument("--transfer", default=None, choices=["scratch", "probe", "finetune"],
                   help="default: finetune with --init-from, else scratch")
    p.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                   help="config override (repeatable)")
    p.add_argument("--skip-done", action="store_true",
                   help="do nothing when EXP/final.pt was trained from the same data, config and options")
    p.add_argument("--stop-after-epochs", type=int, default=None,
                   help="stop (without final.pt) once this many epochs are done; for tests")
    return p


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    args = get_parser().parse_args(argv)
    from emorec.fileio import atomic_write_text
    from emorec.stamp import Stamp, config_options
    from emorec.train import checkpoint, loop, speech
    from emorec.train.config import ConfigError, dump_config, load_config

    try:
        cfg = load_config(speech.SCHEMA, args.config, args.set)
    except ConfigError as e:
        print(f"train: ERROR: {e}", file=sys.stderr)
        return 1
    if args.seed is not None:
        cfg["train"]["seed"] = args.seed
    labels = args.labels or os.path.join(args.data, "utt2spk")
    dev_labels = args.dev_labels
    if args.dev_data and not dev_labels:
        dev_labels = os.path.join(args.dev_data, os.path.basename(labels))
    transfer = args.transfer or ("finetune" if args.init_from else "scratch")
    if transfer != "scratch" and not args.init_from and not args.resume:
        print(f"train: ERROR: --transfer {transfer} needs --init-from CKPT", file=sys.stderr)
        return 1
    if args.init_from:  # a bad --init-from fails in one line, before EXP is created
        try:
            checkpoint.load(args.init_from)
        except (OSError, ValueError) as e:
            print(f"train: ERROR: --init-from {e}", file=sys.stderr)
            return 1
    try:
        stamp = Stamp(os.path.join(args.exp_dir, "final.pt"), step="train", version=1,
                      inputs=[p for p in (args.data, labels, args.dev_data, dev_labels, args.init_from) if p],
                      options={"config": config_options(cfg), "transfer": transfer})
    except FileNotFoundError as e:
        print(f"train: ERROR: {e}", file=sys.stderr)
        return 1
    if args.skip_done and stamp.done():
        return 0
    launch = None
    if (args.ngpu > 1 or args.nnodes > 1) and "LOCAL_RANK" not in os.environ:
        # this command again under torchrun, one process per GPU (or CPU process) and node;
        # a missing rendezvous fails here, before anything is written
        from emorec.train.distributed import torchrun_command

        launch = torchrun_command("emorec.bin.train", argv, max(args.ngpu, 1), args.nnodes)
    if int(os.environ.get("RANK", "0")) == 0:  # another fingerprint: no resuming its checkpoints
        stamp.begin(stale=[os.path.join(args.exp_dir, "best.pt")]
                    + [c for _, c in checkpoint.epoch_checkpoints(args.exp_dir)])
    if launch:
        os.environ.setdefault("OMP_NUM_THREADS", "1")
        os.execvp(launch[0], launch)
    if int(os.environ.get("RANK", "0")) == 0:
        atomic_write_text(os.path.join(args.exp_dir, "config.yaml"), dump_config(cfg))
    family = speech.ResNetFamily.for_run(cfg, args.exp_dir, args.resume, data=args.data, labels=labels,
                                         dev_data=args.dev_data, dev_labels=dev_labels,
                                         init_from=args.init_from, transfer=transfer)
    loop.train(cfg, family, args.exp_dir, resume=args.resume, ngpu=args.ngpu,
               stop_after_epochs=args.stop_after_epochs)
    return 0


if __name__ == "__main__":
    from emorec.bin import run_main
    run_main(main)
