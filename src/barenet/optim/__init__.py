"""barenet.optim: optimizers and learning-rate schedulers with PyTorch's update rules."""
