"""barenet.nn: modules, layers and losses, each with a hand-written backward pass."""
from . import functional, init
from .module import Module, Parameter, Sequential
from .linear import Linear
