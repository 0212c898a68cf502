"""Which ``Host`` headers the server answers: a guard against DNS rebinding.

A web page from ``evil.example`` can point its own name at 127.0.0.1 and then call the local
API as if it were same-origin; the browser still sends ``Host: evil.example``. So only these
names are answered: loopback names (``localhost``, ``*.localhost``, 127.x.x.x, ``::1``), the
address the server listens on, any IP address when it listens on all interfaces (a rebinding
page always comes by a name), and the names given with ``--allow-host`` (``*``: any).
"""
from __future__ import annotations

import ipaddress
import re
from typing import Iterable

_NAME = re.compile(r"[a-z0-9_]([a-z0-9_.-]*[a-z0-9_])?")


def host_name(header: str) -> str | None:
    """The name in a ``Host`` header value, lower case, without port or trailing dot; None if
    the value is not ``name[:port]``, ``IPv4[:port]`` or ``[IPv6][:port]``."""
    value = header.strip().lower()
    if value.startswith("["):
        end = value.find("]")
        name, rest = value[1:end], value[end + 1:]
        if end < 0 or not _is_ip(name, 6):
            return None
    else:
        name, _, port = value.partition(":")
        rest = ":" + port if _ else ""
        name = name.removesuffix(".")
        if not _NAME.fullmatch(name):
            return None
    if rest and not (rest[0] == ":" and rest[1:].isascii() and rest[1:].isdigit()
                     and len(rest) <= 6):
        return None
    return name


def _is_ip(name: str, version: int | None = None) -> bool:
    try:
        ip = ipaddress.ip_address(name)
    except ValueError:
        return False
    return version is None or ip.version == version


def is_loopback(name: str) -> bool:
    """``localhost``, a ``.localhost`` name (RFC 6761) or a loopback address."""
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


class HostCheck:
    """``allowed(header)`` for one server: listening on ``bind`` (the ``--host`` value and the
    bound address), answering also to ``extra`` names."""

    def __init__(self, bind: Iterable[str], extra: Iterable[str] = ()) -> None:
        self.names = {n.strip().lower().strip("[]").removesuffix(".") for n in bind}
        self.names |= {n.strip().lower().removesuffix(".") for n in extra}
        self.any_name = "*" in self.names
        self.any_ip = bool(self.names & {"0.0.0.0", "::", ""})

    def allowed(self, header: str) -> bool:
        name = host_name(header)
        if name is None:
            return False
        return (self.any_name or name in self.names or is_loopback(name)
                or (self.any_ip and _is_ip(name)))
