"""barenet.train: the training loop, run directories (checkpoints), evaluation and metrics.

``train_model(config, out_dir)`` trains from a flat config whose keys match ``barenet train``'s
flags; ``load_run(run_dir)`` loads a trained model for inference; ``evaluate_run`` scores it.
"""
from .api import TrainResult, TrainingInterrupted, resume_training, train_model
from .checkpoint import Run, load_run, save_run
from .config import BASE_DEFAULTS, resolve_config
from .evaluate import evaluate_run
from .trainer import Callback, Trainer, TrainState

__all__ = ["BASE_DEFAULTS", "Callback", "Run", "TrainResult", "TrainState", "Trainer",
           "TrainingInterrupted", "evaluate_run", "load_run", "resolve_config",
           "resume_training", "save_run", "train_model"]
