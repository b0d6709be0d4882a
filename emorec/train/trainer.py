"""Generic classifier trainer (speaker recognition; emotion recognition with transfer).

One call of :func:`train` runs the epochs from the last checkpoint (``resume``) or
from scratch / from a transferred trunk, writes EXP/epoch_N.pt after every epoch
(atomically; older ones kept unless train.keep_checkpoints), EXP/best.pt (best dev UA,
when dev data are given) and EXP/final.pt (model only) at the end.
Reproducibility: same seed + same device/threads => an interrupted-and-resumed run
ends with bit-identical weights to an uninterrupted one (see emorec.data.dataset).
"""
from __future__ import annotations

import logging
import math
import os
import random
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

from emorec.augment import get_policies
from emorec.data.dataset import (ChunkBatchSampler, ChunkDataset, FeatureReader,
                                 collate_chunks, load_labels, make_worker_init,
                                 read_num_frames)
from emorec.fileio import read_kv
from emorec.models import build_model, count_parameters
from emorec.train import checkpoint, distributed
from emorec.train.config import dump_config
from emorec.train.infer import autocast_ctx, run_model
from emorec.train.schedule import set_epoch_lr

log = logging.getLogger("emorec.train")

TRANSFER_MODES = ("scratch", "probe", "finetune")


def _seed_all(seed: int):
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _training_set(data_dir, labels_path, classes):
    reader = FeatureReader.of_dir(data_dir)
    utt2lab, classes = load_labels(labels_path, classes)
    feats_keys = read_kv(os.path.join(data_dir, "feats.scp"))
    keys = sorted(k for k in feats_keys if k in utt2lab)
    missing = len(feats_keys) - len(keys)
    if missing:
        log.warning("%d utterances of %s/feats.scp have no label in %s (skipped)",
                    missing, data_dir, labels_path)
    if not keys:
        raise ValueError(f"no labelled utterances in {data_dir} (labels {labels_path})")
    nf = read_num_frames(data_dir, reader)
    return reader, keys, [utt2lab[k] for k in keys], [nf[k] for k in keys], classes


def unweighted_accuracy(y_true, y_pred, num_classes):
    rec = []
    for c in range(num_classes):
        m = y_true == c
        if m.any():
            rec.append(float((y_pred[m] == c).mean()))
    return float(np.mean(rec)) if rec else float("nan")


def evaluate(model, data_dir, labels_path, classes, device, cfg):
    utt2lab, _ = load_labels(labels_path, classes)
    keys = sorted(k for k in read_kv(os.path.join(data_dir, "feats.scp")) if k in utt2lab)
    ys, ps, loss = [], [], 0.0
    for _, logit, y in run_model(model, data_dir, "logits", keys, [utt2lab[k] for k in keys], device,
                                 cfg["data"]["eval_max_frames"], cfg["data"]["eval_max_batch"],
                                 cfg["train"]["amp"]):
        loss += float(F.cross_entropy(logit[None], torch.tensor([y])))
        ys.append(y)
        ps.append(int(logit.argmax()))
    ys, ps = np.array(ys), np.array(ps)
    n = max(len(ys), 1)
    return {"loss": loss / n, "acc": float((ys == ps).mean()) if len(ys) else float("nan"),
            "ua": unweighted_accuracy(ys, ps, len(classes)), "n": len(ys)}


def _transfer_init(model, init_from: str):
    """Copies the trunk (everything but embedding + classifier) from a checkpoint."""
    src = checkpoint.load(init_from)["model"]
    own = model.state_dict()
    trunk = {k: v for k, v in src.items() if k.startswith("trunk.")}
    if not trunk:
        raise ValueError(f"{init_from}: no trunk parameters")
    for k, v in trunk.items():
        if k not in own or own[k].shape != v.shape:
            raise ValueError(f"{init_from}: trunk tensor {k} {tuple(v.shape)} does not fit the model "
                             f"({tuple(own[k].shape) if k in own else 'absent'})")
    missing = [k for k in own if k.startswith("trunk.") and k not in trunk]
    if missing:
        raise ValueError(f"{init_from}: trunk tensors missing: {missing[:5]}")
    model.load_state_dict(trunk, strict=False)
    return len(trunk)


def train(cfg: dict, data: str, labels: str, exp_dir: str, dev_data: str | None = None,
          dev_labels: str | None = None, resume: bool = False, ngpu: int = 1,
          init_from: str | None = None, transfer: str = "scratch",
          stop_after_epochs: int | None = None) -> str | None:
    """Trains; returns the path of final.pt (None when stopped early)."""
    tcfg, dcfg, ocfg = cfg["train"], cfg["data"], cfg["optim"]
    if transfer not in TRANSFER_MODES:
        raise ValueError(f"--transfer must be one of {TRANSFER_MODES}")
    if transfer != "scratch" and not init_from and not resume:
        raise ValueError(f"--transfer {transfer} needs --init-from CKPT")
    use_cuda = ngpu > 0 and torch.cuda.is_available()
    world, rank, device = distributed.setup(use_cuda)
    main = rank == 0
    logging.basicConfig(level=logging.INFO if main else logging.WARNING,
                        format=f"%(asctime)s [%(name)s{'' if world == 1 else f' rank {rank}'}] %(message)s",
                        stream=sys.stderr)
    if tcfg.get("num_threads"):
        torch.set_num_threads(int(tcfg["num_threads"]))
    seed = int(tcfg["seed"])
    os.makedirs(exp_dir, exist_ok=True)
    amp = tcfg["amp"] if device.type == "cuda" else "none"

    # ---- resume point
    start_epoch, ck = 0, None
    if resume:
        cks = checkpoint.epoch_checkpoints(exp_dir)
        if cks:
            ck = checkpoint.load(cks[-1][1], map_location="cpu")
            start_epoch = int(ck["epoch"])
            transfer = ck.get("transfer", transfer)
            log.info("resuming from %s (epoch %d done)", cks[-1][1], start_epoch)
        else:
            log.info("--resume: no checkpoint in %s, starting from scratch", exp_dir)

    # ---- data
    classes = ck["classes"] if ck is not None else dcfg.get("classes")
    reader, keys, ys, nf, classes = _training_set(data, labels, classes)
    in_dim = int(reader[keys[0]].shape[1])
    policies = get_policies(cfg["augment"])
    active = any(p.active for p in policies)
    copies = int(cfg["augment"].get("copies", 0)) if active else 0
    sampler = ChunkBatchSampler(nf, int(dcfg["batch_size"]), dcfg["chunk_sizes"], seed=seed,
                                copies=copies, augment=active, rank=rank, world_size=world,
                                n_policies=len(policies))
    dataset = ChunkDataset(reader, keys, ys, cfg["augment"])
    if len(sampler) == 0:
        raise ValueError(f"{data}: fewer utterances than one batch per rank")

    # ---- model
    _seed_all(seed)
    margs = dict(num_classes=len(classes), in_dim=in_dim, **cfg["model"])
    if ck is not None:
        margs = ck["model_args"]
    elif init_from:
        src_args = checkpoint.load(init_from)["model_args"]
        for k in ("in_dim", "blocks", "channels"):
            if margs.get(k) != src_args[k]:
                log.info("transfer: model.%s = %s taken from %s (config said %s)", k, src_args[k],
                         init_from, margs.get(k))
            margs[k] = src_args[k]
    model = build_model(margs)
    if init_from and ck is None and transfer != "scratch":
        n = _transfer_init(model, init_from)
        log.info("transfer %s: %d trunk tensors from %s; embedding and classifier re-initialised "
                 "(%d classes)", transfer, n, init_from, len(classes))
    if transfer == "probe":
        model.freeze_trunk(True)
    model.to(device)

    trunk_ids = {id(p) for p in model.trunk.parameters()}
    head = [p for p in model.parameters() if id(p) not in trunk_ids and p.requires_grad]
    if transfer == "finetune":
        groups = [{"params": list(model.trunk.parameters()), "base_lr": float(ocfg["lr_trunk"])},
                  {"params": head, "base_lr": float(ocfg["lr"])}]
    else:
        groups = [{"params": [p for p in model.parameters() if p.requires_grad],
                   "base_lr": float(ocfg["lr"])}]
    for g in groups:
        g["lr"] = g["base_lr"]
    optimizer = torch.optim.SGD(groups, lr=float(ocfg["lr"]), momentum=float(ocfg["momentum"]),
                                weight_decay=float(ocfg["weight_decay"]), nesterov=bool(ocfg["nesterov"]))
    scaler = torch.amp.GradScaler("cuda", enabled=(amp == "fp16"))
    best = {"ua": -1.0, "epoch": 0}
    if ck is not None:
        model.load_state_dict(ck["model"])
        optimizer.load_state_dict(ck["optimizer"])
        if ck.get("scaler"):
            scaler.load_state_dict(ck["scaler"])
        sampler.load_state_dict(ck["sampler"])
        checkpoint.set_rng_state(ck["rng"])
        best = ck.get("best", best)

    if main:
        log.info("config:\n%s", dump_config(cfg))
        log.info("model %s: %d parameters (%d trainable): trunk %d, embedding %d, classifier %d; "
                 "%d classes, %d training segments, %d batches/epoch/rank, world %d, device %s, amp %s",
                 margs, count_parameters(model), count_parameters(model, True),
                 count_parameters(model.trunk), count_parameters(model.embedding),
                 count_parameters(model.classifier), len(classes), len(keys), len(sampler), world,
                 device, amp)
    net = model
    if world > 1:
        net = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None)

    writer = None
    if main:
        try:
            from torch.utils.tensorboard import SummaryWriter
            writer = SummaryWriter(os.path.join(exp_dir, "tensorboard"))
        except Exception as e:  # tensorboard is optional at run time
            log.warning("no TensorBoard logging: %s", e)

    epochs = int(tcfg["epochs"])
    clip = float(tcfg.get("grad_clip") or 0)
    cfg_plain = yaml_safe(cfg)
    stopped = False
    for epoch in range(start_epoch, epochs):
        t0 = time.time()
        lr = set_epoch_lr(optimizer, epoch, cfg["sched"])
        sampler.set_epoch(epoch)
        nw = int(dcfg["num_workers"])
        loader = torch.utils.data.DataLoader(
            dataset, batch_sampler=sampler, num_workers=nw, collate_fn=collate_chunks,
            worker_init_fn=make_worker_init(seed, epoch, rank), pin_memory=device.type == "cuda",
            prefetch_factor=4 if nw > 0 else None)
        net.train()
        tot_loss = tot_correct = tot_n = 0.0
        wait = 0.0
        from tqdm import tqdm
        bar = tqdm(total=len(sampler), desc=f"epoch {epoch + 1}/{epochs}", leave=False,
                   disable=not (main and sys.stderr.isatty()))
        tw = time.time()
        for step, (x, y) in enumerate(loader):
            wait += time.time() - tw
            x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
            with autocast_ctx(device, amp):
                logits = net(x)
            loss = F.cross_entropy(logits.float(), y)
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            if clip > 0:
                scaler.unscale_(optimizer)
                torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
            scaler.step(optimizer)
            scaler.update()
            n = y.shape[0]
            tot_loss += float(loss.detach()) * n
            tot_correct += float((logits.detach().argmax(-1) == y).sum())
            tot_n += n
            bar.update(1)
            bar.set_postfix(loss=f"{tot_loss / tot_n:.3f}", acc=f"{tot_correct / tot_n:.3f}")
            if writer is not None and (step + 1) % int(tcfg["log_interval"]) == 0:
                writer.add_scalar("train/step_loss", float(loss), epoch * len(sampler) + step)
            tw = time.time()
        bar.close()
        tot_loss, tot_correct, tot_n = distributed.all_reduce_sum([tot_loss, tot_correct, tot_n], device)
        elapsed = time.time() - t0
        metrics = {"loss": tot_loss / max(tot_n, 1), "acc": tot_correct / max(tot_n, 1), "lr": lr,
                   "time": elapsed, "data_wait": wait / max(elapsed, 1e-9)}
        msg = (f"epoch {epoch + 1}/{epochs} loss {metrics['loss']:.4f} acc {metrics['acc']:.4f} "
               f"lr {lr:.3g} time {elapsed:.1f}s data-wait {100 * metrics['data_wait']:.0f}%")
        if main and dev_data:
            dev = evaluate(model, dev_data, dev_labels or os.path.join(dev_data, "utt2spk"),
                           classes, device, cfg)
            metrics.update({f"dev_{k}": v for k, v in dev.items()})
            msg += f" dev loss {dev['loss']:.4f} acc {dev['acc']:.4f} UA {dev['ua']:.4f}"
        if main:
            log.info(msg)
            if writer is not None:
                for k, v in metrics.items():
                    writer.add_scalar(("dev/" + k[4:]) if k.startswith("dev_") else f"train/{k}", v, epoch + 1)
                writer.flush()
            state = {
                "format": checkpoint.FORMAT, "epoch": epoch + 1,
                "model": checkpoint.cpu_state_dict(model), "model_args": margs,
                "classes": list(classes), "config": cfg_plain, "transfer": transfer,
                "optimizer": optimizer.state_dict(), "scaler": scaler.state_dict(),
                "sampler": sampler.state_dict(), "rng": checkpoint.get_rng_state(),
                "metrics": metrics, "best": best,
            }
            if dev_data and not math.isnan(metrics["dev_ua"]) and metrics["dev_ua"] > best["ua"]:
                best = {"ua": metrics["dev_ua"], "epoch": epoch + 1}
                state["best"] = best
                checkpoint.atomic_save(checkpoint.model_only(state), os.path.join(exp_dir, "best.pt"))
                log.info("best dev UA so far: %.4f (epoch %d) -> best.pt", best["ua"], epoch + 1)
            checkpoint.atomic_save(state, os.path.join(exp_dir, f"epoch_{epoch + 1}.pt"))
            checkpoint.prune(exp_dir, int(tcfg.get("keep_checkpoints") or 0))
        distributed.barrier()
        if stop_after_epochs is not None and epoch + 1 >= stop_after_epochs and epoch + 1 < epochs:
            log.info("stopping after epoch %d (--stop-after-epochs)", epoch + 1)
            stopped = True
            break

    final = os.path.join(exp_dir, "final.pt")
    if main and not stopped:
        cks = checkpoint.epoch_checkpoints(exp_dir)
        last = checkpoint.load(cks[-1][1]) if cks else None
        if last is None:
            raise RuntimeError(f"{exp_dir}: no epoch checkpoint to finalise")
        checkpoint.atomic_save(checkpoint.model_only(last), final)
        log.info("wrote %s (epoch %d)%s", final, last["epoch"],
                 f"; best dev UA {best['ua']:.4f} at epoch {best['epoch']}" if dev_data else "")
    if writer is not None:
        writer.close()
    distributed.barrier()
    distributed.cleanup()
    return None if stopped else final


def yaml_safe(obj):
    """Plain python (dict/list/str/int/float/bool/None) copy of a config."""
    if isinstance(obj, dict):
        return {str(k): yaml_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [yaml_safe(v) for v in obj]
    if obj is None or isinstance(obj, (str, int, float, bool)):
        return obj
    return str(obj)


__all__ = ["train", "evaluate", "TRANSFER_MODES"]
