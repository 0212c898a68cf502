"""``barenet board [DIR]``: the training curves of the runs in a folder, live in the browser."""
from __future__ import annotations

import argparse

from ..errors import BarenetError, ConfigError
from .common import add_command
from .http_server import add_http_args, check_http_args, listen, request_log, serve_until_stopped

DESCRIPTION = """\
Serve a local web page for the runs in DIR (default: runs), listed as `barenet runs` lists
them: tick runs to overlay their curves (loss and accuracy, training and validation, the
learning rate, and for runs trained with --diagnostics each layer's gradient norm,
update-to-weight ratio and dead ReLU units). The page asks for new epochs every few seconds,
so a run being trained grows on screen. Each run links to its figures and shows the
`barenet serve` command that serves it. Also a JSON API:

  GET /api/runs                   the runs (as `barenet runs --json`), their figures
  GET /api/curves?run=A&run=B     the curves of runs A and B, column by column
  GET /api/figure?run=A&name=curves.png   one of a run's figures

Every metrics.csv is read as untrusted: size and rows capped, unknown columns ignored, NaN and
infinity shown as gaps, a half-written last line left for later; no symlink inside DIR is
followed, and a run named in a request must be one of those listed. The server is barenet
serve's: loopback only unless --host says otherwise, only requests whose Host header is
localhost or the listening address (--allow-host adds names), each request due whole within
--timeout seconds. Stop with Ctrl-C."""

EXAMPLES = """\
  barenet board                       the runs under ./runs on http://127.0.0.1:6006/
  barenet board experiments/ --port 0 another folder, any free port (the URL is printed)
  barenet train --out runs/cnn --model cnn &  barenet board   watch it train
  curl -s 'http://127.0.0.1:6006/api/curves?run=cnn'"""


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = add_command(subparsers, "board", "training curves of the runs in a folder, live in the "
                    "browser", DESCRIPTION, EXAMPLES)
    p.add_argument("dir", nargs="?", default="runs", metavar="DIR",
                   help="the folder holding run directories (default: runs)")
    add_http_args(p, port=6006)
    p.add_argument("--refresh", type=float, default=3.0, metavar="SECONDS",
                   help="how often the page asks for new epochs (default: 3)")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    from ..board.server import make_board_server
    from ..train.fileio import printable
    from ..train.listing import list_runs

    check_http_args(args)
    if not 0.5 <= args.refresh <= 3600:
        raise ConfigError(f"--refresh must be in [0.5, 3600] seconds, got {args.refresh:g}")
    try:
        runs, _ = list_runs(args.dir)
    except BarenetError as exc:
        hint = " (train a model first: barenet train)" if args.dir == "runs" else ""
        raise BarenetError(f"{exc}{hint}") from None
    server = listen(lambda: make_board_server(
        args.dir, args.host, args.port, log=request_log("board", args.verbose),
        timeout=args.timeout, allow_hosts=args.allow_host, refresh=args.refresh), args)
    count = f"{len(runs)} run{'s' if len(runs) != 1 else ''}"
    print(f"barenet board: {printable(args.dir, 200)} ({count}) on {server.url}  "
          "(Ctrl-C to stop)", flush=True)
    serve_until_stopped(server, "board")
    return 0
