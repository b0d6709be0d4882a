"""The one training loop; every model family plugs into it (WeSpeaker's executor, shared).

A *model family* (emorec.train.families: the protocol and the registry) gives the loop
its name, classes, build_model(ckpt) (ckpt: the checkpoint resumed from, None for a
fresh start: the family then initialises, e.g. transfers a trunk), param_groups,
train_batches(epoch, rank, world) (deterministic for (seed, epoch): resuming needs only
the epoch number), forward -> logits [N, C] against targets [N] (a target of -100 is
ignored in accuracy and counts, so a family can return flattened frame logits:
emorec.train.ssl_pretrain), loss(logits, targets), evaluate (dev loss/acc/UA or None),
describe and extra_state (more plain values to keep in every checkpoint); nothing else.

The loop owns: seeding, the device and DDP, the optimiser (optim.name) and the LR
schedule (sched, in optimiser steps), gradient accumulation (train.accum_steps batches per
optimiser step), mixed precision (train.amp, CUDA only), torch.compile, cuDNN autotuning
and channels-last on CUDA (train.compile, family.fixed_shapes), gradient clipping, one
progress line every train.log_interval steps (loss, LR, throughput, ETA), TensorBoard
(EXP/tensorboard), checkpoints and resume.

Outputs: EXP/epoch_N.pt after every epoch (model, optimiser, RNG states; written
atomically; older ones pruned to train.keep_checkpoints), EXP/best.pt (best dev UA, ties
to the earlier epoch), EXP/final.pt (the last epoch's model), all plain dicts loadable
with torch.load(weights_only=True). Resuming (resume=True) continues from the newest
intact epoch checkpoint; a truncated one is named and skipped. Same seed and device
=> a killed-and-resumed run ends with bit-identical weights to an uninterrupted one.
"""
from __future__ import annotations

import json
import logging
import math
import os
import sys
import time

import torch

from emorec.runtime import seed_everything
from emorec.train import checkpoint, distributed
from emorec.train.config import dump_config
from emorec.train.infer import autocast_ctx
from emorec.train.schedule import lr_factor

log = logging.getLogger("emorec.train")


def _optimizer(groups, ocfg):
    for g in groups:
        g["lr"] = g["base_lr"]
    if ocfg["name"] == "adamw":
        return torch.optim.AdamW(groups, lr=ocfg["lr"], weight_decay=ocfg["weight_decay"])
    return torch.optim.SGD(groups, lr=ocfg["lr"], momentum=ocfg["momentum"],
                           weight_decay=ocfg["weight_decay"], nesterov=ocfg["nesterov"])


def _set_lr(optimizer, sched, epoch, step, steps_per_epoch, epochs) -> float:
    f = lr_factor(sched, epoch, step, steps_per_epoch, epochs)
    for g in optimizer.param_groups:
        g["lr"] = max(g["base_lr"] * f, sched["min_lr"])
    return optimizer.param_groups[-1]["lr"]


def cuda_fast_path(model):
    """cuDNN autotunes each convolution shape once; 4-D weights go channels-last (the
    layout of cuDNN's tensor-core kernels). For fixed batch shapes (bench/bench_resnet.py)."""
    torch.backends.cudnn.benchmark = True
    return model.to(memory_format=torch.channels_last)


def _fast_path(model, family, device, tcfg) -> bool:
    """``cuda_fast_path`` on CUDA for a family whose batches come in a few fixed shapes
    (``family.fixed_shapes``: one per chunk size). Returns whether to compile the model
    (``train.compile``; null: on in exactly that case; variable shapes would recompile)."""
    fixed = device.type == "cuda" and getattr(family, "fixed_shapes", False)
    if fixed:
        cuda_fast_path(model)
    return fixed if tcfg["compile"] is None else tcfg["compile"]


def _tensorboard(exp_dir):
    try:
        from torch.utils.tensorboard import SummaryWriter
        return SummaryWriter(os.path.join(exp_dir, "tensorboard"))
    except Exception as e:  # tensorboard is optional at run time
        log.warning("no TensorBoard logging: %s", e)
        return None


def _setup_logging(rank, world):
    logging.basicConfig(level=logging.INFO if rank == 0 else logging.WARNING,
                        format=f"%(asctime)s [%(name)s{'' if world == 1 else f' rank {rank}'}] %(message)s",
                        stream=sys.stderr)


def run_epoch(net, family, batches, optimizer, scaler, device, amp, cfg, epoch, epochs,
              global_step, writer=None) -> dict:
    """One pass over the training batches; returns loss/acc sums and timing."""
    tcfg = cfg["train"]
    clip, interval = tcfg["grad_clip"], max(1, tcfg["log_interval"])
    accum = max(1, tcfg["accum_steps"])
    n_batches = len(batches)
    n_updates = math.ceil(n_batches / accum)  # optimiser steps this epoch: the LR schedule's unit
    net.train()
    tot_loss = tot_correct = tot_n = 0.0
    wait = 0.0
    t0 = tw = time.time()
    for step, (inputs, y) in enumerate(batches):
        wait += time.time() - tw
        if step % accum == 0:
            lr = _set_lr(optimizer, cfg["sched"], epoch, step // accum, n_updates, epochs)
            optimizer.zero_grad(set_to_none=True)
        y = y.to(device, non_blocking=True)
        with autocast_ctx(device, amp):
            logits = family.forward(net, inputs, device)
        loss = family.loss(logits, y)
        scaler.scale(loss / accum).backward()
        if (step + 1) % accum == 0 or step + 1 == n_batches:
            if clip > 0:
                scaler.unscale_(optimizer)
                torch.nn.utils.clip_grad_norm_(net.parameters(), clip)
            scaler.step(optimizer)
            scaler.update()
        n = int((y != -100).sum())
        loss_value = loss.item()
        tot_loss += loss_value * n
        tot_correct += float((logits.detach().argmax(-1) == y).sum())
        tot_n += n
        if (step + 1) % interval == 0 or step + 1 == n_batches:
            elapsed = time.time() - t0
            rate = (step + 1) / max(elapsed, 1e-9)
            eta = (n_batches - step - 1) / max(rate, 1e-9)
            log.info("epoch %d/%d step %d/%d loss %.4f lr %.3g %.1f items/s data-wait %.0f%% ETA %.0fs",
                     epoch + 1, epochs, step + 1, n_batches, tot_loss / tot_n, lr, tot_n / max(elapsed, 1e-9),
                     100 * wait / max(elapsed, 1e-9), eta)
            if writer is not None:
                writer.add_scalar("train/step_loss", loss_value, global_step + step + 1)
                writer.add_scalar("train/lr", lr, global_step + step + 1)
        tw = time.time()
    elapsed = time.time() - t0
    return {"loss_sum": tot_loss, "correct": tot_correct, "n": tot_n, "time": elapsed,
            "data_wait": wait / max(elapsed, 1e-9), "lr": optimizer.param_groups[-1]["lr"]}


def train(cfg: dict, family, exp_dir: str, resume: bool = False, ngpu: int = 1,
          stop_after_epochs: int | None = None) -> str | None:
    """Trains ``family`` with ``cfg``; returns the path of final.pt (None when stopped early)."""
    tcfg = cfg["train"]
    use_cuda = ngpu > 0 and torch.cuda.is_available()
    world, rank, device = distributed.setup(use_cuda)
    main = rank == 0
    _setup_logging(rank, world)
    if tcfg["num_threads"]:
        torch.set_num_threads(tcfg["num_threads"])
    os.makedirs(exp_dir, exist_ok=True)
    amp = tcfg["amp"] if device.type == "cuda" else "none"

    ck = checkpoint.latest_intact(exp_dir, log) if resume else None
    if resume and ck is None:
        log.info("--resume: no checkpoint in %s, starting from scratch", exp_dir)
    start_epoch = int(ck["epoch"]) if ck is not None else 0
    if ck is not None:
        log.info("resuming from %s (epoch %d done)", ck["path"], start_epoch)

    seed_everything(tcfg["seed"])
    model, model_args = family.build_model(ck)
    model.to(device)
    optimizer = _optimizer(family.param_groups(model, cfg["optim"]), cfg["optim"])
    scaler = torch.amp.GradScaler("cuda", enabled=(amp == "fp16"))
    best = {"ua": -1.0, "epoch": 0}
    if ck is not None:
        model.load_state_dict(ck["model"])
        optimizer.load_state_dict(ck["optimizer"])
        if ck.get("scaler"):
            scaler.load_state_dict(ck["scaler"])
        checkpoint.set_rng_state(ck["rng"])
        best = ck.get("best", best)

    epochs = tcfg["epochs"]
    compiled = _fast_path(model, family, device, tcfg)
    if main:
        log.info("config:\n%s", dump_config(cfg))
        log.info("%s; %d batches/epoch/rank, world %d, device %s, amp %s, compiled %s", family.describe(model),
                 len(family.train_batches(start_epoch, rank, world)), world, device, amp, compiled)
    net = model
    if world > 1:
        net = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None)
    if compiled:  # one graph per batch shape; evaluation and checkpoints use the eager model
        net = torch.compile(net, dynamic=False)
    writer = _tensorboard(exp_dir) if main else None
    cfg_plain = checkpoint.plain(cfg)
    stopped = False
    for epoch in range(start_epoch, epochs):
        batches = family.train_batches(epoch, rank, world)
        if len(batches) == 0:
            raise ValueError(f"{family.name}: fewer training items than one batch per rank")
        r = run_epoch(net, family, batches, optimizer, scaler, device, amp, cfg, epoch, epochs,
                      epoch * len(batches), writer)
        loss_sum, correct, n = distributed.all_reduce_sum([r["loss_sum"], r["correct"], r["n"]], device)
        metrics = {"loss": loss_sum / max(n, 1), "acc": correct / max(n, 1), "lr": r["lr"],
                   "time": r["time"], "data_wait": r["data_wait"]}
        msg = (f"epoch {epoch + 1}/{epochs} loss {metrics['loss']:.4f} acc {metrics['acc']:.4f} "
               f"lr {metrics['lr']:.3g} time {r['time']:.1f}s data-wait {100 * r['data_wait']:.0f}%")
        dev = family.evaluate(model, device) if main else None
        if dev is not None:
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
                "model": checkpoint.cpu_state_dict(model), "model_args": model_args,
                "classes": list(family.classes), "config": cfg_plain,
                "optimizer": optimizer.state_dict(), "scaler": scaler.state_dict(),
                "rng": checkpoint.get_rng_state(), "metrics": metrics, "best": best,
                "family": family.name, **family.extra_state(),
            }
            if dev is not None and not math.isnan(dev["ua"]) and dev["ua"] > best["ua"]:
                best = {"ua": dev["ua"], "epoch": epoch + 1}
                state["best"] = best
                checkpoint.atomic_save(checkpoint.model_only(state), os.path.join(exp_dir, "best.pt"))
                log.info("best dev UA so far: %.4f (epoch %d) -> best.pt", best["ua"], epoch + 1)
            checkpoint.atomic_save(state, os.path.join(exp_dir, f"epoch_{epoch + 1}.pt"))
            checkpoint.prune(exp_dir, tcfg["keep_checkpoints"])
        distributed.barrier()
        if stop_after_epochs is not None and epoch + 1 >= stop_after_epochs and epoch + 1 < epochs:
            log.info("stopping after epoch %d (--stop-after-epochs)", epoch + 1)
            stopped = True
            break

    final = os.path.join(exp_dir, "final.pt")
    if main and not stopped:
        last = checkpoint.latest_intact(exp_dir, log)
        if last is None:
            raise RuntimeError(f"{exp_dir}: no epoch checkpoint to finalise")
        checkpoint.atomic_save(checkpoint.model_only(last), final)
        log.info("wrote %s (epoch %d)%s", final, last["epoch"],
                 f"; best dev UA {best['ua']:.4f} at epoch {best['epoch']}" if best["epoch"] else "")
    if writer is not None:
        writer.close()
    distributed.barrier()
    distributed.cleanup()
    return None if stopped else final


def train_and_score_fold(cfg: dict, family, exp_dir, ngpu: int = 1, info: dict | None = None) -> dict:
    """One fold of an emotion recipe: trains ``family`` through the loop in EXP/train
    (resumed after a kill), restores the best-dev-UA checkpoint, saves it for inference
    in EXP/model (family.save) and writes EXP/{dev,test}.logpost.ark (family.score; test
    last: its presence marks the fold done) and EXP/train_history.json. Returns the history."""
    from pathlib import Path

    from emorec.fileio import atomic_write_text, write_scores
    from emorec.runtime import pick_device

    exp_dir = Path(exp_dir)
    t0 = time.time()
    train(cfg, family, str(exp_dir / "train"), resume=True, ngpu=ngpu)
    best = checkpoint.load(str(exp_dir / "train" / "best.pt"))
    device = pick_device("auto" if ngpu > 0 else "cpu")
    model, _ = family.build_model(best)
    model.load_state_dict(best["model"])
    model.to(device).eval()
    family.save(model, best, exp_dir / "model")
    scores = {part: family.score(model, part, device) for part in ("dev", "test")}
    dev = family.evaluate(model, device)
    hist = {"family": family.name, "best_epoch": best["epoch"], "best_dev_ua": best["metrics"]["dev_ua"],
            "config": cfg, "classes": list(family.classes), "train_seconds": round(time.time() - t0, 2),
            **(info or {}), "selected_dev_ua": dev["ua"]}
    atomic_write_text(exp_dir / "train_history.json", json.dumps(hist, indent=2, default=str) + "\n")
    for part in ("dev", "test"):
        write_scores(exp_dir / f"{part}.logpost.ark", *scores[part], list(family.classes))
    return hist
