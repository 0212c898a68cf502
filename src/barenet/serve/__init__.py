"""barenet.serve: a small local web page and JSON API to draw digits and look inside a network.

Standard library HTTP server (``http.server``); see ``app`` for the routes and ``inference`` for
what a prediction returns.
"""
from .app import App
from .server import Server, make_server
from .inference import Predictor

__all__ = ["App", "Server", "make_server", "Predictor"]
