"""Train state, optimizer, train/eval steps, checkpoints, metrics, runs."""
