"""Learning-rate schedules, as a factor of each parameter group's base LR.

``halving`` (Padi et al.): constant for the first ``hold_epochs`` epochs, then halved
every ``halve_every`` epochs (epochs counted from 0):
factor = 1 for e < hold, else 0.5 ** ((e - hold) // halve_every + 1).
``linear``: linear warm-up over ``warmup_steps`` steps (when > 0, as Hugging Face's
Trainer counts them: optimiser steps), else over ``warmup_frac`` of all steps, then linear
decay to 0; without warm-up the LR is constant (paper 000's text model).
Stateless: the LR is a function of (epoch, step), so resuming needs only the epoch.
"""
from __future__ import annotations


def lr_factor(sched: dict, epoch: int, step: int = 0, steps_per_epoch: int = 1, epochs: int = 1) -> float:
    if sched["name"] == "halving":
        hold = sched["hold_epochs"]
        if epoch < hold:
            return 1.0
        return 0.5 ** ((epoch - hold) // max(sched["halve_every"], 1) + 1)
    total = steps_per_epoch * epochs
    warm = sched.get("warmup_steps", 0) or int(round(sched["warmup_frac"] * total))
    if warm <= 0:
        return 1.0
    t = epoch * steps_per_epoch + step
    if t < warm:
        return (t + 1) / warm
    return max(0.0, (total - t) / max(1, total - warm))
