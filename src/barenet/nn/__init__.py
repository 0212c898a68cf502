"""barenet.nn: modules, layers and losses, each with a hand-written backward pass."""
from . import functional, init, kernels
from .module import Module, Parameter
from .layer_args import Arg
from .layer_record import LayerMemory, ShapeMismatch
from .registry import LayerRegistryError, register_layer
from .sequential import Sequential
from .linear import Linear
from .conv import Conv2d
from .pooling import AvgPool2d, MaxPool2d
from .activations import GELU, LeakyReLU, ReLU, Sigmoid, Softmax, Tanh
from .dropout import Dropout
from .norm import BatchNorm1d, BatchNorm2d
from .shape import Flatten, Identity
from .layernorm import LayerNorm
from .embedding import Embedding
from .rnn import RNN
from .lstm import LSTM
from .gru import GRU
from .attention import MultiheadAttention
from .transformer import TransformerEncoderLayer
from .patch import PatchEmbedding
from .sequence import MeanOverTime, SelectStep
from .losses import BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, L1Loss, Loss, MSELoss
from . import architecture  # a model as data: describe(model) -> JSON, build(JSON) -> model
from . import utils  # gradient clipping: utils.clip_grad_norm_, utils.clip_grad_value_
from .summary import Summary, module_summary

Module.summary = module_summary   # one row per layer; defined beside the records it reads

__all__ = [
    "Arg", "LayerMemory", "LayerRegistryError", "ShapeMismatch", "Summary", "register_layer",
    "architecture", "functional", "init", "kernels", "Module", "Parameter", "Sequential", "Linear",
    "Conv2d", "AvgPool2d", "MaxPool2d", "LeakyReLU", "ReLU", "Sigmoid", "Softmax", "Tanh", "Dropout", "BatchNorm1d",
    "BatchNorm2d", "Flatten", "Identity", "BCELoss", "BCEWithLogitsLoss", "CrossEntropyLoss",
    "L1Loss", "Loss", "MSELoss", "GELU", "LayerNorm", "Embedding", "RNN", "LSTM", "GRU",
    "MultiheadAttention", "TransformerEncoderLayer", "PatchEmbedding", "MeanOverTime",
    "SelectStep", "utils",
]
