"""Training: generic classifier trainer (speaker and emotion recipes), checkpoints,
learning-rate schedule, DDP helpers."""
