"""barenet.nn: modules, layers and losses, each with a hand-written backward pass."""
from . import functional, init
from .module import Module, Parameter, Sequential
from .linear import Linear
from .conv import Conv2d
from .pooling import AvgPool2d, MaxPool2d
from .activations import LeakyReLU, ReLU, Sigmoid, Softmax, Tanh
from .dropout import Dropout
from .norm import BatchNorm1d, BatchNorm2d
from .shape import Flatten, Identity
from .losses import BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, L1Loss, Loss, MSELoss
