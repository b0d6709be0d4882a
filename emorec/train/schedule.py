"""Learning-rate schedule of Padi et al.: constant for the first ``hold_epochs`` epochs,
then halved every ``halve_every`` epochs (epochs counted from 0):
factor(e) = 1 for e < hold, else 0.5 ** ((e - hold) // halve_every + 1).
Stateless: the LR of an epoch is a function of the epoch, so resuming needs only the
epoch number."""
from __future__ import annotations


def lr_factor(epoch: int, hold_epochs: int = 8, halve_every: int = 2) -> float:
    if epoch < hold_epochs:
        return 1.0
    return 0.5 ** ((epoch - hold_epochs) // max(halve_every, 1) + 1)


def set_epoch_lr(optimizer, epoch: int, sched: dict) -> float:
    """Sets each param group's lr = base_lr * factor (>= min_lr); returns the first group's."""
    f = lr_factor(epoch, int(sched.get("hold_epochs", 8)), int(sched.get("halve_every", 2)))
    for g in optimizer.param_groups:
        g["lr"] = max(g["base_lr"] * f, float(sched.get("min_lr", 0.0)))
    return optimizer.param_groups[-1]["lr"]
