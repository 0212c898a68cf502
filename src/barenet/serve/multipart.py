"""The one file of a ``multipart/form-data`` body (RFC 7578), as ``curl -F`` or a browser's
``FormData`` sends it; without the removed ``cgi`` module.

The body is already in memory and bounded by the server's size limit. It is split on its
delimiter by hand (at most ``MAX_PARTS`` parts, each part's headers at most
``MAX_HEADER_BYTES``); the ``email`` package parses only those small header blocks.
Exactly one part must be a file (a ``filename`` in its ``Content-Disposition``); other fields
are ignored; a nested multipart is refused.
"""
from __future__ import annotations

from email.message import Message
from email.parser import BytesHeaderParser
from typing import NamedTuple

MAX_PARTS = 16
MAX_HEADER_BYTES = 2048


class FormError(ValueError):
    """A malformed form, or not exactly one file in it (a one-line message)."""


class FilePart(NamedTuple):
    """The file of a form: field name, file name, declared media type, bytes."""

    name: str
    filename: str
    content_type: str
    data: bytes


def _params(header: str, value: str) -> Message:
    """A message holding one header, so that ``get_param`` parses its parameters."""
    msg = Message()
    msg[header] = value
    return msg


def boundary_of(content_type: str) -> bytes:
    """The boundary parameter of a ``multipart/form-data`` Content-Type (1..70 characters)."""
    boundary = _params("Content-Type", content_type).get_param("boundary")
    if not isinstance(boundary, str) or not 1 <= len(boundary) <= 70 or \
            not boundary.isascii() or boundary.endswith(" "):
        raise FormError("multipart/form-data needs a boundary parameter of 1 to 70 characters")
    return boundary.encode("ascii")


def split_parts(body: bytes, boundary: bytes) -> list[bytes]:
    """The parts between ``--boundary`` lines, each still with its headers; a preamble before
    the first delimiter and an epilogue after the closing one are dropped."""
    delimiter = b"--" + boundary
    if body.startswith(delimiter):
        start = len(delimiter)
    else:
        start = body.find(b"\r\n" + delimiter)
        if start < 0:
            raise FormError("multipart body: no delimiter line (--boundary) found")
        start += 2 + len(delimiter)
    parts: list[bytes] = []
    while True:
        if start >= len(body):
            raise FormError("multipart body: no closing delimiter (--boundary--)")
        if body.startswith(b"--", start):
            return parts  # the closing delimiter "--boundary--"
        if not body.startswith(b"\r\n", start):
            raise FormError("multipart body: a delimiter line must end in CRLF")
        end = body.find(b"\r\n" + delimiter, start + 2)
        if end < 0:
            raise FormError("multipart body: no closing delimiter (--boundary--)")
        if len(parts) == MAX_PARTS:
            raise FormError(f"multipart body: more than {MAX_PARTS} parts")
        parts.append(body[start + 2:end])
        start = end + 2 + len(delimiter)


def _file_of(part: bytes) -> FilePart | None:
    """A part as a FilePart if it carries a file name, else None."""
    head, sep, data = part.partition(b"\r\n\r\n")
    if not sep and part.startswith(b"\r\n"):  # no headers at all
        head, sep, data = b"", b"\r\n", part[2:]
    if not sep or len(head) > MAX_HEADER_BYTES:
        raise FormError(f"multipart part: headers missing, unterminated or over "
                        f"{MAX_HEADER_BYTES} bytes")
    headers = BytesHeaderParser().parsebytes(head + b"\r\n\r\n")
    disposition = headers.get("Content-Disposition")
    if disposition is None:
        raise FormError("multipart part without a Content-Disposition header")
    params = _params("Content-Disposition", str(disposition))
    media = str(headers.get("Content-Type") or "application/octet-stream")
    if media.split(";")[0].strip().lower().startswith("multipart/"):
        raise FormError("multipart part: nested multipart bodies are not supported")
    filename = params.get_filename()
    if filename is None or (filename == "" and not data):  # a file input left empty
        return None
    name = params.get_param("name", header="content-disposition")
    return FilePart(str(name or ""), str(filename), media.split(";")[0].strip().lower(), data)


def file_from_form(content_type: str, body: bytes) -> FilePart:
    """The single file of a ``multipart/form-data`` body; FormError otherwise."""
    parts = split_parts(body, boundary_of(content_type))
    files = [f for f in map(_file_of, parts) if f is not None]
    if len(files) != 1:
        raise FormError("multipart form: no file in it (send one, e.g. curl -F file=@digit.png)"
                        if not files else f"multipart form: expected one file, got {len(files)}")
    return files[0]
