"""Training: data preparation, loss, optimisation loop, checkpoints and reports."""
