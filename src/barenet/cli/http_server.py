"""What ``barenet serve`` and ``barenet board`` share: the listening options, their checks,
the request log and the loop that runs a server until Ctrl-C or SIGTERM."""
from __future__ import annotations

import argparse
import signal
import sys
from typing import Any, Callable

from ..errors import ConfigError

LOOPBACK = ("127.0.0.1", "localhost", "::1")


def add_http_args(parser: argparse.ArgumentParser, port: int) -> None:
    """--host, --port, --allow-host, --timeout and --verbose, with ``port`` as the default."""
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (default: 127.0.0.1, this machine only)")
    parser.add_argument("--port", type=int, default=port,
                        help=f"port (default: {port}; 0 picks a free one)")
    parser.add_argument("--allow-host", action="append", default=[], metavar="NAME",
                        help="also answer requests for this Host name (repeatable; '*': any); "
                             "localhost and the listening address are always answered")
    parser.add_argument("--timeout", type=float, default=15.0, metavar="SECONDS",
                        help="time a request may take to arrive whole (default: 15)")
    parser.add_argument("--verbose", action="store_true", help="log every request to stderr")


def check_http_args(args: argparse.Namespace) -> None:
    """One-line errors for a port or a timeout out of range."""
    if not 0 <= args.port <= 65535:
        raise ConfigError(f"--port must be in 0..65535, got {args.port}")
    if not 0 < args.timeout <= 3600:
        raise ConfigError(f"--timeout must be in (0, 3600] seconds, got {args.timeout:g}")


def request_log(command: str, verbose: bool) -> Callable[[str], None]:
    """A log of every request with ``verbose``, else of server-side failures only (5xx and
    tracebacks), on stderr, each line starting with ``barenet COMMAND:``."""
    def log(line: str) -> None:
        print(f"barenet {command}: {line}", file=sys.stderr, flush=True)

    def errors_only(line: str) -> None:
        if line.startswith(("error", "internal error")) or '" 5' in line:
            log(line)

    return log if verbose else errors_only


def listen(make: Callable[[], Any], args: argparse.Namespace) -> Any:
    """``make()`` the server; a port that cannot be had is a one-line error; a warning on
    stderr when the address is reachable from other machines."""
    try:
        server = make()
    except OSError as exc:
        raise ConfigError(f"cannot listen on {args.host}:{args.port}: "
                          f"{exc.strerror or exc}") from None
    if args.host not in LOOPBACK:
        print(f"barenet {args.command}: warning: listening on {args.host}, reachable from "
              "other machines", file=sys.stderr, flush=True)
    return server


def _stop(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def serve_until_stopped(server: Any, command: str) -> None:
    """Serve until Ctrl-C or SIGTERM, then hang up every connection."""
    previous = signal.signal(signal.SIGTERM, _stop)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        print(f"barenet {command}: stopped", file=sys.stderr, flush=True)
    finally:
        signal.signal(signal.SIGTERM, previous)
        server.server_close()
