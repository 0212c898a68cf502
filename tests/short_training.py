"""One short pass of training, for tests that need a model that has learned something."""
from __future__ import annotations

from barenet import nn, optim


def fit_one_pass(model: nn.Module, loader, lr: float = 2e-3) -> nn.Module:
    """One pass of Adam with cross-entropy over ``loader`` (batches of (x, y)); returns the
    model in evaluation mode."""
    criterion = nn.CrossEntropyLoss()
    opt = optim.Adam(model.parameters(), lr=lr)
    for x, y in loader:
        criterion(model(x), y)
        opt.zero_grad()
        model.backward(criterion.backward())
        opt.step()
    return model.eval()
