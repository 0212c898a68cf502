"""``barenet serve RUN``: draw digits in the browser and watch the network (or a committee of
networks, ``--ensemble``) answer."""
from __future__ import annotations

import argparse

from ..errors import ConfigError
from .committee_args import add_committee_args, committee_name, committee_paths, load_committee
from .http_server import add_http_args, check_http_args, listen, request_log, serve_until_stopped

DESCRIPTION = """\
Serve a trained run on a small local web page: draw a digit (mouse or touch), see the
prediction update as you draw, the 28x28 picture the network sees, every hidden layer's
activations and the first layer's weights; ask why (the input gradient of any class as a
heatmap) and teach a private copy of the network your drawing with a few SGD steps. Also a
JSON API:

  GET  /api/model     the network: layers, parameter counts, dataset, classes, test accuracy
  GET  /api/sample    a random test image (784 pixels in 0..255) and its label
  GET  /api/weights   the first layer's weights as small images
  POST /api/predict   a picture (Content-Type image/png, preprocessed like `barenet predict`),
                      a form upload with one picture (multipart/form-data, as `curl -F` sends)
                      or JSON {"pixels": [784 numbers in 0..255, MNIST-style]}
  POST /api/explain   the same bodies (+ "target", "smooth"): the fields of `barenet explain
                      --json`, with the input gradient d log p(target) / d pixel (28x28)
  POST /api/learn     JSON {"pixels", "label", "steps": 1..10, "lr", "token"}: SGD steps on
                      the session's private copy of the model (no token: a new session);
                      probabilities before and after, gradient norms per layer, how the first
                      layer's weights moved, accuracy on the first 1,000 test images per step
  POST /api/learn/reset  JSON {"token"}: the copy gets the run's weights back

Learning runs in eval mode (BatchNorm keeps its running statistics, dropout is off) and never
writes the run directory. Sessions are bounded by --max-sessions and --session-memory (the one
idle longest is dropped first) and expire after --session-idle minutes.

A committee: `serve RUN RUN2 ... --ensemble` (or `RUN --ensemble RUN2`) answers /api/predict
with the mean of the runs' softmax probabilities (the runs must share their dataset, classes
and picture size), adding "committee" (each run's own answer) to it. The layer views, the
weights, why and teach need one network: they use the first RUN, the page names it beside
the runs, and /api/explain and /api/learn answers say so in "note". --tta N averages each
prediction over N views (the picture and its one-pixel shifts, as `barenet evaluate --tta`).

Listens on loopback only unless --host says otherwise, and answers only requests whose Host
header is localhost or the address it listens on (against DNS rebinding; --allow-host adds
names). Every request must arrive whole within --timeout seconds; when all connections are
taken, the one waiting longest for its request is closed to make room. Stop with Ctrl-C."""

EPILOG = """examples:
  barenet serve runs/mlp                      open http://127.0.0.1:8000/
  barenet serve runs/cnn --port 0             any free port (the URL is printed)
  barenet serve runs/cnn --host 0.0.0.0 --allow-host mybox.lan   reachable as mybox.lan
  barenet serve runs/cnn runs/mlp --ensemble  the two as a committee (layers shown: runs/cnn)
  barenet serve runs/cnn --tta 5              each prediction over 5 views
  curl -s -F file=@digit.png http://127.0.0.1:8000/api/predict
  curl -s --data-binary @digit.png -H 'Content-Type: image/png' \\
       http://127.0.0.1:8000/api/predict
  curl -s --data-binary @digit.png -H 'Content-Type: image/png' \\
       'http://127.0.0.1:8000/api/explain?target=3'"""


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "serve", help="draw digits in the browser and watch the network",
        description=DESCRIPTION, epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", metavar="RUN", nargs="+",
                        help="run directory written by `barenet train` (several: with "
                             "--ensemble; the first is the one whose layers are shown)")
    add_http_args(parser, port=8000)
    parser.add_argument("--max-body", type=int, default=2 * 1024 * 1024, metavar="BYTES",
                        help="largest request body accepted (default: 2 MiB)")
    parser.add_argument("--max-sessions", type=int, default=32, metavar="N",
                        help="learning sessions (private model copies) kept at once (default: 32)")
    parser.add_argument("--session-memory", type=int, default=256, metavar="MB",
                        help="memory all learning sessions may hold together (default: 256 MB)")
    parser.add_argument("--session-idle", type=float, default=15.0, metavar="MINUTES",
                        help="a learning session unused this long expires (default: 15)")
    add_committee_args(parser, runs_positional=True)
    parser.set_defaults(func=run, intermixed=True)   # options before, between or after RUNs
    return parser


def run(args: argparse.Namespace) -> int:
    from ..serve.server import make_server
    from ..train.checkpoint import load_run

    check_http_args(args)
    if args.max_body < 1:
        raise ConfigError(f"--max-body must be positive, got {args.max_body}")
    if not 1 <= args.max_sessions <= 10_000:
        raise ConfigError(f"--max-sessions must be in 1..10000, got {args.max_sessions}")
    if not 1 <= args.session_memory <= 1_000_000:
        raise ConfigError(f"--session-memory must be in 1..1000000 MB, got {args.session_memory}")
    if not 0 < args.session_idle <= 24 * 60:
        raise ConfigError(f"--session-idle must be in (0, 1440] minutes, got "
                          f"{args.session_idle:g}")
    paths = committee_paths(args, "serve")
    runs = load_committee(paths) if len(paths) > 1 else [load_run(paths[0])]
    run_ = runs[0]
    server = listen(lambda: make_server(
        run_, args.host, args.port, max_body=args.max_body,
        log=request_log("serve", args.verbose), timeout=args.timeout,
        allow_hosts=args.allow_host, max_sessions=args.max_sessions,
        max_session_bytes=args.session_memory * 2**20, session_ttl=args.session_idle * 60), args)
    if len(runs) > 1 or args.tta > 1:
        try:
            server.app.set_committee(runs[1:], args.tta)
        except BaseException:
            server.server_close()
            raise
    what = paths[0] if len(runs) == 1 else (f"{committee_name(runs)} (a committee; layers, "
                                            f"weights, why and teach: {committee_name(runs[:1])})")
    what += f", {args.tta} views per prediction" if args.tta > 1 else ""
    print(f"barenet serve: {what} on {server.url}  (Ctrl-C to stop)", flush=True)
    serve_until_stopped(server, "serve")
    return 0

