"""The exercises in teaching order: what each asks, the class its stub declares, and where to read.

This is the one table a notebook writer or a teacher reads. Each row names:

- ``name``: what ``barenet exercises start NAME`` and ``barenet.exercises.check(NAME, cls)`` take;
- ``class_name`` and ``signature``: the class the stub declares, with barenet's constructor
  arguments, so the reference layer's ``state_dict`` loads into it;
- ``kind``: ``"module"`` (``forward(x)`` / ``backward(grad_out)`` returning dL/dx),
  ``"loss"`` (``forward(input, target)`` returning a float / ``backward()`` returning
  dL/dinput) or ``"optimizer"`` (``step()``);
- ``reference``: the barenet class the learner's numbers are compared with;
- ``docs`` and ``notebook``: the maths page (``docs/*.md``) and the course notebook.

Every stub class is checked in float64 (the checker passes ``dtype=np.float64`` where the
constructor takes one).
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ExerciseInfo:
    """One exercise's description (the checks themselves live in the ``specs_*`` modules)."""

    name: str
    class_name: str
    signature: str
    kind: str
    reference: str
    asks: str
    docs: str
    notebook: str


_F32 = "dtype=np.float32"

CATALOGUE: tuple[ExerciseInfo, ...] = (
    ExerciseInfo("linear", "Linear",
                 "Linear(in_features: int, out_features: int, bias: bool = True, rng=None, "
                 f"{_F32})",
                 "module", "barenet.nn.Linear",
                 "y = x W^T + b: forward, dL/dx, dL/dW, dL/db", "linear.md",
                 "02-mlp-from-scratch"),
    ExerciseInfo("relu", "ReLU", "ReLU()", "module", "barenet.nn.ReLU",
                 "y = max(x, 0) and its gradient mask", "activations.md", "02-mlp-from-scratch"),
    ExerciseInfo("sigmoid", "Sigmoid", "Sigmoid()", "module", "barenet.nn.Sigmoid",
                 "a stable sigmoid and dy/dx = y (1 - y)", "activations.md",
                 "02-mlp-from-scratch"),
    ExerciseInfo("tanh", "Tanh", "Tanh()", "module", "barenet.nn.Tanh",
                 "tanh and dy/dx = 1 - y^2", "activations.md", "02-mlp-from-scratch"),
    ExerciseInfo("cross_entropy", "CrossEntropyLoss",
                 "CrossEntropyLoss(reduction: str = 'mean', label_smoothing: float = 0.0)",
                 "loss", "barenet.nn.CrossEntropyLoss",
                 "stable log-softmax cross-entropy and (softmax - onehot) / N",
                 "softmax-cross-entropy.md", "02-mlp-from-scratch"),
    ExerciseInfo("mse", "MSELoss", "MSELoss(reduction: str = 'mean')", "loss",
                 "barenet.nn.MSELoss", "mean squared error and 2 (x - t) / n", "losses.md",
                 "02-mlp-from-scratch"),
    ExerciseInfo("conv2d", "Conv2d",
                 "Conv2d(in_channels: int, out_channels: int, kernel_size, stride=1, padding=0, "
                 f"bias: bool = True, rng=None, {_F32})", "module", "barenet.nn.Conv2d",
                 "cross-correlation with stride and zero padding, and its three gradients",
                 "conv-and-pooling.md", "04-cnn"),
    ExerciseInfo("maxpool2d", "MaxPool2d", "MaxPool2d(kernel_size, stride=None, padding=0)",
                 "module", "barenet.nn.MaxPool2d",
                 "window maxima; the gradient goes to each window's maximum only",
                 "conv-and-pooling.md", "04-cnn"),
    ExerciseInfo("dropout", "Dropout", "Dropout(p: float = 0.5, rng=None)", "module",
                 "barenet.nn.Dropout", "inverted dropout: mask, 1/(1-p) scaling, eval identity",
                 "dropout.md", "05-training-craft"),
    ExerciseInfo("batchnorm1d", "BatchNorm1d",
                 "BatchNorm1d(num_features: int, eps: float = 1e-5, momentum: float = 0.1, "
                 f"affine: bool = True, {_F32})", "module", "barenet.nn.BatchNorm1d",
                 "batch statistics, running averages, the full backward", "batchnorm.md",
                 "05-training-craft"),
    ExerciseInfo("sgd_momentum", "SGD",
                 "SGD(params, lr: float = 1e-3, momentum: float = 0.0, dampening: float = 0.0, "
                 "weight_decay: float = 0.0, nesterov: bool = False, maximize: bool = False)",
                 "optimizer", "barenet.optim.SGD",
                 "SGD with momentum, dampening, Nesterov and weight decay (PyTorch's rule)",
                 "optimizers.md", "05-training-craft"),
    ExerciseInfo("adam", "Adam",
                 "Adam(params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8, "
                 "weight_decay: float = 0.0, amsgrad: bool = False, maximize: bool = False)",
                 "optimizer", "barenet.optim.Adam",
                 "Adam with bias correction, L2 weight decay and AMSGrad", "optimizers.md",
                 "05-training-craft"),
    ExerciseInfo("rnn", "RNN",
                 f"RNN(input_size: int, hidden_size: int, bias: bool = True, rng=None, {_F32})",
                 "module", "barenet.nn.RNN",
                 "one tanh layer over time (batch first) and backpropagation through time",
                 "recurrent.md", "08-recurrent"),
    ExerciseInfo("lstm", "LSTM",
                 f"LSTM(input_size: int, hidden_size: int, bias: bool = True, rng=None, {_F32})",
                 "module", "barenet.nn.LSTM",
                 "one LSTM layer (gates i, f, g, o) and backpropagation through time",
                 "recurrent.md", "08-recurrent"),
    ExerciseInfo("layernorm", "LayerNorm",
                 "LayerNorm(normalized_shape: int, eps: float = 1e-5, "
                 "elementwise_affine: bool = True, "
                 f"bias: bool = True, {_F32})",
                 "module", "barenet.nn.LayerNorm",
                 "per-row normalisation over the last axis and its backward", "layernorm.md",
                 "09-attention"),
    ExerciseInfo("attention", "SelfAttention",
                 f"SelfAttention(embed_dim: int, bias: bool = True, rng=None, {_F32})",
                 "module", "barenet.nn.MultiheadAttention(embed_dim, num_heads=1)",
                 "one head of scaled dot-product self-attention: softmax(Q K^T / sqrt(d)) V",
                 "attention.md", "09-attention"),
)

NAMES: tuple[str, ...] = tuple(info.name for info in CATALOGUE)


def info(name: str) -> ExerciseInfo:
    """The catalogue row of exercise ``name``; KeyError (listing the names) if there is none."""
    for row in CATALOGUE:
        if row.name == name:
            return row
    raise KeyError(f"unknown exercise {name!r}, expected one of: {', '.join(NAMES)}")
