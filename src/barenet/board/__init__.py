"""barenet.board: training curves of the runs in a folder, live in the browser.

``barenet board DIR`` serves a page listing the runs in DIR (as ``barenet runs`` does) and
drawing the selected runs' curves overlaid (loss, accuracy, learning rate, the gradient flow
of runs trained with ``--diagnostics``, and their gradient clipping with ``--clip-grad-norm``);
the page polls ``/api/curves``, so a run being trained grows on screen. ``app`` answers the
routes, ``curves`` reads a metrics.csv as hostile text, ``runfiles`` opens a run's files
without following a symlink, ``server`` is ``barenet serve``'s hardened HTTP server with the
board's routes.
"""
from .app import BoardApp
from .curves import parse_metrics
from .server import BoardHandler, make_board_server

__all__ = ["BoardApp", "BoardHandler", "make_board_server", "parse_metrics"]
