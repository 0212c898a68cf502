"""Every catalogued mistake, planted: (exercise, the mistake's name, a class making it)."""
from __future__ import annotations

from typing import Any

import ex_solutions_mlp as m
import ex_solutions_more as s

#: exercise -> the independently written solution
SOLUTIONS: dict[str, type] = {
    "linear": m.Linear, "relu": m.ReLU, "sigmoid": m.Sigmoid, "tanh": m.Tanh,
    "cross_entropy": m.CrossEntropyLoss, "mse": m.MSELoss, "conv2d": m.Conv2d,
    "maxpool2d": m.MaxPool2d, "dropout": s.Dropout, "batchnorm1d": s.BatchNorm1d,
    "sgd_momentum": s.SGD, "adam": s.Adam, "rnn": s.RNN, "lstm": s.LSTM,
    "layernorm": s.LayerNorm, "attention": s.SelfAttention,
}


def planted(exercise: str, **attrs: Any) -> type:
    """A subclass of the solution with class attributes changed (``mistake=...``)."""
    base = SOLUTIONS[exercise]
    return type(f"Planted{base.__name__}", (base,), attrs)


#: (exercise, catalogued mistake name, switch) for every catalogued mistake
CATALOGUED = [
    ("linear", "weight gradient transposed", dict(mistake="transposed")),
    ("linear", "bias gradient averaged instead of summed over the batch",
     dict(mistake="bias mean")),
    ("linear", "input gradient through W transposed", dict(mistake="dx transposed")),
    ("linear", "gradient assigned instead of added", dict(mistake="assigned")),
    ("relu", "ReLU mask taken from the upstream gradient", dict(mistake="upstream mask")),
    ("relu", "gradient not masked", dict(mistake="unmasked")),
    ("relu", "mask instead of masked gradient", dict(mistake="mask only")),
    ("sigmoid", "sigmoid derivative taken at the input", dict(mistake="at input")),
    ("sigmoid", "sigmoid derivative missing (1 - y)", dict(mistake="no 1-y")),
    ("tanh", "tanh derivative taken at the input", dict(mistake="at input")),
    ("tanh", "tanh derivative not squared", dict(mistake="not squared")),
    ("cross_entropy", "softmax without subtracting the max", dict(mistake="no max")),
    ("cross_entropy", "gradient not divided by the batch size", dict(mistake="no /N")),
    ("cross_entropy", "one-hot target not subtracted", dict(mistake="no onehot")),
    ("mse", "factor 2 missing from the gradient", dict(mistake="no 2")),
    ("mse", "mean over the batch instead of over every element", dict(mistake="batch mean")),
    ("mse", "gradient sign reversed", dict(mistake="sign")),
    ("conv2d", "convolution with the kernel flipped", dict(mistake="flipped")),
    ("conv2d", "bias gradient averaged over the batch", dict(mistake="bias mean")),
    ("conv2d", "bias gradient averaged over the positions", dict(mistake="bias mean all")),
    ("maxpool2d", "max-pool gradient sent to every element of the window", dict(mistake="every")),
    ("maxpool2d", "max-pool gradient averaged over the window", dict(mistake="average")),
    ("dropout", "survivors not scaled by 1/(1-p)", dict(mistake="unscaled")),
    ("dropout", "survivors multiplied by (1-p) instead of divided", dict(mistake="times")),
    ("dropout", "dropout applied in eval mode", dict(mistake="eval")),
    ("dropout", "mask not applied in backward", dict(mistake="backward unmasked")),
    ("batchnorm1d", "BatchNorm backward missing the terms through the mean and variance",
     dict(mistake="no stats terms")),
    ("batchnorm1d", "BatchNorm backward missing the term through the variance",
     dict(mistake="no var term")),
    ("batchnorm1d", "running variance from the biased batch variance",
     dict(mistake="biased running")),
    ("batchnorm1d", "momentum applied the wrong way round", dict(mistake="momentum swapped")),
    ("batchnorm1d", "batch statistics used in eval mode", dict(mistake="batch in eval")),
    ("sgd_momentum", "weight decay not applied", dict(mistake="no decay")),
    ("sgd_momentum", "Nesterov ignored", dict(mistake="no nesterov")),
    ("sgd_momentum", "dampening applied on the first step", dict(mistake="dampen first")),
    ("sgd_momentum", "velocity stored instead of the momentum buffer", dict(mistake="velocity")),
    ("adam", "Adam without bias correction", dict(mistake="no correction")),
    ("adam", "bias correction of the first moment missing", dict(mistake="no correction 1")),
    ("adam", "bias correction of the second moment missing", dict(mistake="no correction 2")),
    ("adam", "eps inside the square root", dict(mistake="eps inside")),
    ("adam", "decoupled weight decay (that is AdamW)", dict(mistake="decoupled")),
    ("rnn", "no backpropagation through time", dict(mistake="no bptt")),
    ("rnn", "W_hh gradient from h_t instead of h_{t-1}", dict(mistake="hh current")),
    ("rnn", "tanh derivative taken at the pre-activation", dict(mistake="at a")),
    ("lstm", "LSTM gates in the wrong order (i, f, o, g)", dict(order=(0, 1, 3, 2))),
    ("lstm", "LSTM input and forget gates swapped", dict(order=(1, 0, 2, 3))),
    ("lstm", "LSTM gates in the order i, g, f, o", dict(order=(0, 2, 1, 3))),
    ("layernorm", "LayerNorm backward missing the terms through the mean and variance",
     dict(mistake="no stats terms")),
    ("layernorm", "normalised over the batch instead of the features", dict(mistake="batch axis")),
    ("layernorm", "unbiased variance in LayerNorm", dict(mistake="unbiased")),
    ("attention", "attention without 1/sqrt(d)", dict(mistake="no scale")),
    ("attention", "softmax over the queries instead of the keys", dict(mistake="query axis")),
    ("attention", "softmax backward taken elementwise", dict(mistake="elementwise softmax")),
]
